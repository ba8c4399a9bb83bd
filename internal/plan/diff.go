package plan

import (
	"cmp"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"regexp"
	"slices"
	"strings"

	"github.com/taskmanager/taskmanager-infra/internal/mockengine"
)

// StackPlaceholder replaces a stack's name in names and values, so that dev-api and
// production-api compare as <stack>-api and only real differences remain.
const StackPlaceholder = "<stack>"

// absent stands for a path or resource one side does not have.
const absent = "(absent)"

// Change is one setting or input that differs.
type Change struct {
	Path string
	A, B string // the values, absent when one side lacks the path
}

// ResourceKey names a resource across stacks: type and normalised logical name, and the types
// of its parents (two components may each have a child of the same type and name).
type ResourceKey struct{ Type, Name, Parents string }

func (k ResourceKey) String() string { return k.Type + " " + k.Name }

// parentTypes reads the parents' type chain from a URN:
// urn:pulumi:<stack>::<project>::<parent types>$<type>::<name>.
func parentTypes(urn string) string {
	parts := strings.SplitN(urn, "::", 4)
	if len(parts) < 4 {
		return ""
	}
	if i := strings.LastIndex(parts[2], "$"); i >= 0 {
		return parts[2][:i]
	}
	return ""
}

// ResourceChanges are the differing inputs of a resource both stacks have.
type ResourceChanges struct {
	Key     ResourceKey
	Changes []Change
}

// StackDiff is what differs between two stacks.
type StackDiff struct {
	A, B         string
	Settings     []Change // the stack files' values
	OnlyA, OnlyB []ResourceKey
	Changed      []ResourceChanges
	// shared marks the type-and-name pairs that more than one resource has (under different
	// parents): their labels name the parent.
	shared map[string]bool
}

// Label names a resource in the report, with its parent where its type and name are not unique.
func (d *StackDiff) Label(k ResourceKey) string {
	if d.shared[k.String()] && k.Parents != "" {
		parents := strings.Split(k.Parents, "$")
		return k.String() + " (in " + parents[len(parents)-1] + ")"
	}
	return k.String()
}

// DiffStacks compares two evaluated stacks.
func DiffStacks(a, b *Stack) (*StackDiff, error) {
	d := &StackDiff{A: a.Name, B: b.Name, Settings: compareFlat(flattenSettings(a), flattenSettings(b))}

	ra, err := indexResources(a)
	if err != nil {
		return nil, err
	}
	rb, err := indexResources(b)
	if err != nil {
		return nil, err
	}
	d.shared = map[string]bool{}
	for _, side := range []map[ResourceKey]map[string]string{ra, rb} {
		seen := map[string]bool{}
		for k := range side {
			if seen[k.String()] {
				d.shared[k.String()] = true
			}
			seen[k.String()] = true
		}
	}
	for _, k := range sortedKeys(ra) {
		fb, ok := rb[k]
		if !ok {
			d.OnlyA = append(d.OnlyA, k)
			continue
		}
		if ch := compareFlat(ra[k], fb); len(ch) > 0 {
			d.Changed = append(d.Changed, ResourceChanges{Key: k, Changes: ch})
		}
	}
	for _, k := range sortedKeys(rb) {
		if _, ok := ra[k]; !ok {
			d.OnlyB = append(d.OnlyB, k)
		}
	}
	return d, nil
}

// Find returns the changes of one resource, by type and normalised name.
func (d *StackDiff) Find(typ, name string) []Change {
	for _, rc := range d.Changed {
		if rc.Key.Type == typ && rc.Key.Name == name {
			return rc.Changes
		}
	}
	return nil
}

func sortedKeys(m map[ResourceKey]map[string]string) []ResourceKey {
	return slices.SortedFunc(maps.Keys(m), func(a, b ResourceKey) int {
		return cmp.Or(cmp.Compare(a.String(), b.String()), cmp.Compare(a.Parents, b.Parents))
	})
}

// indexResources flattens every resource's inputs under its normalised key.
func indexResources(s *Stack) (map[ResourceKey]map[string]string, error) {
	norm := normalizer(s.Name)
	out := map[ResourceKey]map[string]string{}
	for _, r := range s.Resources {
		k := ResourceKey{Type: r.Type, Name: norm(r.Name), Parents: parentTypes(r.URN)}
		if _, dup := out[k]; dup {
			return nil, fmt.Errorf("stack %s: two %s resources normalise to %q; the diff cannot tell them apart", s.Name, r.Type, k.Name)
		}
		out[k] = flattenResource(r, norm)
	}
	return out, nil
}

// flattenResource turns a resource's inputs into path → value. Secret inputs are never shown:
// they read [secret] on both sides. Inside the task definitions' containerDefinitions, the
// environment variables are the app's settings and compare literally, by name.
func flattenResource(r *mockengine.Resource, norm func(string) string) map[string]string {
	out := map[string]string{}
	for k, v := range r.Inputs {
		if r.SecretInputs[k] {
			out[k] = "[secret]"
			continue
		}
		flatten(v, k, out, norm)
	}
	return out
}

// literalPath is a container's plain environment variable value.
var literalPath = regexp.MustCompile(`^containerDefinitions\[[^\]]*\]\.environment\[[^\]]*\]\.value`)

// listKeys are the fields that name a list's elements: a list whose elements all have a distinct
// one is keyed by it (environment[DEBUG]) rather than by position, so that an insertion does
// not shift every later element.
var listKeys = []string{"name", "Name", "Sid", "containerName"}

func flatten(v any, path string, out map[string]string, norm func(string) string) {
	switch x := v.(type) {
	case map[string]any:
		if len(x) == 0 {
			out[path] = "{}"
			return
		}
		for k, e := range x {
			flatten(e, path+"."+k, out, norm)
		}
	case []any:
		if len(x) == 0 {
			out[path] = "[]"
			return
		}
		key := elementKey(x)
		for i, e := range x {
			if key == "" {
				flatten(e, fmt.Sprintf("%s[%d]", path, i), out, norm)
				continue
			}
			// The element's name is in its path: the rest of it is what can differ.
			m := e.(map[string]any)
			rest := make(map[string]any, len(m)-1)
			for k, v := range m {
				if k != key {
					rest[k] = v
				}
			}
			flatten(rest, fmt.Sprintf("%s[%s]", path, norm(m[key].(string))), out, norm)
		}
	case string:
		if t := strings.TrimSpace(x); strings.HasPrefix(t, "{") || strings.HasPrefix(t, "[") {
			// JSON in a string (container definitions, policies, WAF rules): compare inside it.
			if parsed, err := parseJSON(t); err == nil {
				flatten(parsed, path, out, norm)
				return
			}
		}
		if literalPath.MatchString(path) {
			out[path] = x
			return
		}
		out[path] = norm(x)
	case nil:
		out[path] = "null"
	case float64:
		out[path] = trimFloat(x)
	default:
		out[path] = fmt.Sprint(x)
	}
}

// elementKey returns the field that names every element of a list, or "".
func elementKey(l []any) string {
	for _, key := range listKeys {
		seen := map[string]bool{}
		ok := true
		for _, e := range l {
			m, isMap := e.(map[string]any)
			name, isStr := m[key].(string)
			if !isMap || !isStr || seen[name] {
				ok = false
				break
			}
			seen[name] = true
		}
		if ok {
			return key
		}
	}
	return ""
}

func parseJSON(s string) (any, error) {
	var v any
	err := json.Unmarshal([]byte(s), &v)
	return v, err
}

// normalizer replaces the stack's name where it stands as a word of a name or value
// (dev-api, taskmanager/dev/jwt-secret, taskmanager-dev:bootstrap), not inside another word
// (development, device).
func normalizer(stack string) func(string) string {
	isWord := func(b byte) bool {
		return b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z' || b >= '0' && b <= '9'
	}
	return func(s string) string {
		if stack == "" || !strings.Contains(s, stack) {
			return s
		}
		var b strings.Builder
		for i := 0; i < len(s); {
			if strings.HasPrefix(s[i:], stack) &&
				(i == 0 || !isWord(s[i-1])) &&
				(i+len(stack) == len(s) || !isWord(s[i+len(stack)])) {
				b.WriteString(StackPlaceholder)
				i += len(stack)
				continue
			}
			b.WriteByte(s[i])
			i++
		}
		return b.String()
	}
}

// flattenSettings flattens a stack file's values; the person-supplied secrets are left out
// (they are stand-ins offline, and secret).
func flattenSettings(s *Stack) map[string]string {
	out := map[string]string{}
	for key, raw := range s.Source.Values {
		if slices.Contains(s.Source.SecretKeys, key) {
			continue
		}
		v, err := parseJSON(raw)
		if err != nil {
			out[key] = raw // a plain string value
			continue
		}
		flatten(v, key, out, func(x string) string { return x })
	}
	return out
}

// compareFlat lists the paths whose values differ, sorted.
func compareFlat(a, b map[string]string) []Change {
	paths := maps.Clone(a)
	maps.Copy(paths, b)
	var out []Change
	for _, p := range slices.Sorted(maps.Keys(paths)) {
		va, okA := a[p]
		vb, okB := b[p]
		if okA && okB && va == vb {
			continue
		}
		if !okA {
			va = absent
		}
		if !okB {
			vb = absent
		}
		out = append(out, Change{Path: p, A: va, B: vb})
	}
	return out
}

// WriteDiff writes what differs between two stacks.
func WriteDiff(w io.Writer, a, b *Stack, f Format) error {
	d, err := DiffStacks(a, b)
	if err != nil {
		return err
	}
	heading(w, f, 2, fmt.Sprintf("Diff: %s → %s", a.Name, b.Name))
	para(w, fmt.Sprintf("Resources are matched by type and logical name with the stack's name read as %s, and so are their inputs' values "+
		"(ARNs, names): what remains differs for real. Values are written %s → %s. Inside the task definitions, containers, "+
		"environment variables and secrets are compared by name (the spec's \"Environment Drift Detection\"). %s",
		code(f, StackPlaceholder), a.Name, b.Name, StandInNote))

	heading(w, f, 3, fmt.Sprintf("Settings: %d differ", len(d.Settings)))
	if len(d.Settings) > 0 {
		if f == Markdown {
			t := &table{header: []string{"Key", a.Name, b.Name}}
			for _, c := range d.Settings {
				t.add(code(f, c.Path), c.A, c.B)
			}
			if err := t.write(w, f); err != nil {
				return err
			}
		} else {
			for _, c := range d.Settings {
				fmt.Fprintf(w, "  %s: %s → %s\n", c.Path, c.A, c.B)
			}
		}
		fmt.Fprintln(w)
	}
	for _, side := range []struct {
		name string
		keys []ResourceKey
	}{{a.Name, d.OnlyA}, {b.Name, d.OnlyB}} {
		heading(w, f, 3, fmt.Sprintf("Only in %s: %d resources", side.name, len(side.keys)))
		if len(side.keys) == 0 {
			continue
		}
		t := &table{header: []string{"Type", "Name"}}
		for _, k := range side.keys {
			name := strings.TrimPrefix(d.Label(k), k.Type+" ")
			t.add(k.Type, name)
		}
		if err := t.write(w, f); err != nil {
			return err
		}
		fmt.Fprintln(w)
	}
	heading(w, f, 3, fmt.Sprintf("In both, with different inputs: %d resources", len(d.Changed)))
	if len(d.Changed) > 0 && f != Markdown {
		for _, rc := range d.Changed {
			fmt.Fprintf(w, "  %s\n", d.Label(rc.Key))
			for _, c := range rc.Changes {
				fmt.Fprintf(w, "      %s: %s → %s\n", c.Path, c.A, c.B)
			}
		}
		fmt.Fprintln(w)
	}
	if len(d.Changed) > 0 && f == Markdown {
		t := &table{header: []string{"Resource", "Input", a.Name, b.Name}}
		for _, rc := range d.Changed {
			for i, c := range rc.Changes {
				res := ""
				if i == 0 {
					res = d.Label(rc.Key)
				}
				t.add(res, code(f, c.Path), c.A, c.B)
			}
		}
		if err := t.write(w, f); err != nil {
			return err
		}
		fmt.Fprintln(w)
	}
	return nil
}
