package configcheck

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"reflect"
	"slices"
	"sort"
	"strings"
)

// Decode reads one structured config value (the JSON that Pulumi hands the program for a stack-file
// key) into the struct pointed to by into, strictly: an unknown key, a missing required key or a
// value of the wrong type is a problem, and every problem is reported, not just the first.
//
// A field is required unless it is a pointer, a slice or a map, or its json tag says omitempty. Zero
// never stands for "unset": a key that may be absent is a pointer or omitempty, so that a value
// typed as 0 or false in the stack file is taken as written.
func Decode(raw string, into any) error {
	var tree any
	dec := json.NewDecoder(strings.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(&tree); err != nil {
		// Pulumi passes a plain string value as it is, not as JSON.
		tree = raw
	}
	var ps Problems
	decodeValue("", tree, reflect.ValueOf(into).Elem(), &ps)
	return ps.Err()
}

func decodeValue(path string, v any, dst reflect.Value, ps *Problems) {
	t := dst.Type()
	switch t.Kind() {
	case reflect.Pointer:
		if v == nil {
			return
		}
		elem := reflect.New(t.Elem())
		decodeValue(path, v, elem.Elem(), ps)
		dst.Set(elem)
	case reflect.Struct:
		obj, ok := v.(map[string]any)
		if !ok {
			ps.Addf(path, "%s is not an object; want the keys %s", describe(v), strings.Join(fieldNames(t), ", "))
			return
		}
		decodeStruct(path, obj, dst, ps)
	case reflect.Slice:
		list, ok := v.([]any)
		if !ok {
			ps.Addf(path, "%s is not a list", describe(v))
			return
		}
		out := reflect.MakeSlice(t, len(list), len(list))
		for i, item := range list {
			decodeValue(fmt.Sprintf("%s[%d]", path, i), item, out.Index(i), ps)
		}
		dst.Set(out)
	case reflect.Map:
		obj, ok := v.(map[string]any)
		if !ok || t.Key().Kind() != reflect.String {
			ps.Addf(path, "%s is not a map of names to values", describe(v))
			return
		}
		out := reflect.MakeMapWithSize(t, len(obj))
		for _, k := range slices.Sorted(maps.Keys(obj)) {
			elem := reflect.New(t.Elem()).Elem()
			decodeValue(join(path, k), obj[k], elem, ps)
			out.SetMapIndex(reflect.ValueOf(k).Convert(t.Key()), elem)
		}
		dst.Set(out)
	case reflect.String:
		s, ok := v.(string)
		if !ok {
			ps.Addf(path, "%s is not a string; quote it", describe(v))
			return
		}
		dst.SetString(s)
	case reflect.Bool:
		b, ok := v.(bool)
		if !ok {
			ps.Addf(path, "%s is not a boolean; want true or false", describe(v))
			return
		}
		dst.SetBool(b)
	case reflect.Int, reflect.Int32, reflect.Int64:
		n, ok := v.(json.Number)
		i, err := n.Int64()
		if !ok || err != nil || i < math.MinInt32 || i > math.MaxInt32 {
			ps.Addf(path, "%s is not a whole number", describe(v))
			return
		}
		dst.SetInt(i)
	case reflect.Float64:
		n, ok := v.(json.Number)
		f, err := n.Float64()
		if !ok || err != nil {
			ps.Addf(path, "%s is not a number", describe(v))
			return
		}
		dst.SetFloat(f)
	default:
		// A programming error, not a config error: say so plainly instead of panicking.
		ps.Addf(path, "cannot be read into a Go %s", t)
	}
}

func decodeStruct(path string, obj map[string]any, dst reflect.Value, ps *Problems) {
	fields := structFields(dst.Type())
	names := make([]string, len(fields))
	known := map[string]bool{}
	for i, f := range fields {
		names[i], known[f.name] = f.name, true
		v, present := obj[f.name]
		if !present {
			if !f.optional {
				ps.Addf(join(path, f.name), "missing; this key is required")
			}
			continue
		}
		decodeValue(join(path, f.name), v, dst.FieldByIndex(f.index), ps)
	}
	sort.Strings(names)
	for _, k := range slices.Sorted(maps.Keys(obj)) {
		if known[k] {
			continue
		}
		if near, ok := Closest(k, names); ok {
			ps.Addf(join(path, k), "unknown key; did you mean %q?", near)
		} else {
			ps.Addf(join(path, k), "unknown key; allowed keys: %s", strings.Join(names, ", "))
		}
	}
}

type field struct {
	name     string
	optional bool
	index    []int
}

// structFields lists the keys of a config struct; an embedded struct without a json tag lends its
// keys to the outer one, as encoding/json does.
func structFields(t reflect.Type) []field {
	var out []field
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if f.Anonymous && f.Type.Kind() == reflect.Struct && f.Tag.Get("json") == "" {
			for _, inner := range structFields(f.Type) {
				inner.index = append([]int{i}, inner.index...)
				out = append(out, inner)
			}
			continue
		}
		if name, optional, ok := jsonField(f); ok {
			out = append(out, field{name: name, optional: optional, index: []int{i}})
		}
	}
	return out
}

// jsonField returns a struct field's key, whether it may be absent, and whether it is read at all.
func jsonField(f reflect.StructField) (name string, optional, ok bool) {
	if !f.IsExported() {
		return "", false, false
	}
	tag := f.Tag.Get("json")
	if tag == "-" {
		return "", false, false
	}
	parts := strings.Split(tag, ",")
	name = parts[0]
	if name == "" {
		name = f.Name
	}
	for _, opt := range parts[1:] {
		if opt == "omitempty" {
			optional = true
		}
	}
	switch f.Type.Kind() {
	case reflect.Pointer, reflect.Slice, reflect.Map:
		optional = true
	}
	return name, optional, true
}

func fieldNames(t reflect.Type) []string {
	var names []string
	for _, f := range structFields(t) {
		names = append(names, f.name)
	}
	sort.Strings(names)
	return names
}

// describe renders a config value as the stack file would show it.
func describe(v any) string {
	switch v := v.(type) {
	case nil:
		return "null"
	case string:
		return fmt.Sprintf("%q", v)
	case map[string]any:
		return "an object"
	case []any:
		return "a list"
	default:
		var b bytes.Buffer
		_ = json.NewEncoder(&b).Encode(v)
		return strings.TrimSpace(b.String())
	}
}
