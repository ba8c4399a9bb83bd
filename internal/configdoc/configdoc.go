// Package configdoc generates the configuration reference (docs/configuration.md) from the config
// types themselves, as terraform-docs does for a Terraform module's variables: every stack-file key
// with its type, whether it is required (and when), its default, its allowed values and the doc
// comment of its Go field. The structure (keys, types, optional or not) comes from the types by
// reflection, starting at stacks.Groups; the descriptions from the fields' doc comments, read with
// go/parser from the packages' sources. A field without a doc comment is an error, so that no key
// goes undocumented.
package configdoc

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"

	"github.com/taskmanager/taskmanager-infra/infra/compute"
	"github.com/taskmanager/taskmanager-infra/infra/database"
	"github.com/taskmanager/taskmanager-infra/infra/edge"
	"github.com/taskmanager/taskmanager-infra/infra/network"
	"github.com/taskmanager/taskmanager-infra/infra/observability"
	"github.com/taskmanager/taskmanager-infra/internal/awslimits"
	"github.com/taskmanager/taskmanager-infra/stacks"
)

// Module is the Go module whose packages hold the config types.
const Module = "github.com/taskmanager/taskmanager-infra"

// Path is where the reference is written, relative to the project directory.
const Path = "docs/configuration.md"

// Key is one stack-file key.
type Key struct {
	// Path is the full key, as `pulumi config set --path` takes it: taskmanager:database.replica.instanceClass.
	Path string
	// Type is string, integer, number, boolean, object, or a list of one of them.
	Type string
	// Required is "yes", "no", or "yes, where ..." / "where ..." for a conditional key.
	Required string
	// Default is what an omitted optional key means; "" for a required key.
	Default string
	// Allowed are the values the validation accepts, where it takes a closed set.
	Allowed string
	// Doc is the Go field's doc comment, as one paragraph.
	Doc string
	// Secret keys are set with `pulumi config set --secret` only.
	Secret bool
}

// Group is one taskmanager:<key> and its keys.
type Group struct {
	Key  string // taskmanager:database
	Doc  string // the type's doc comment
	Keys []Key
}

// allowed are the closed sets of values the validation takes, from the same variables it reads.
func allowed() map[string]string {
	return map[string]string{
		"environment":                        list(stacks.Environments),
		"network.natGateways":                list(network.NatStrategies),
		"network.flowLogTrafficType":         list([]string{"ALL", "REJECT"}),
		"database.monitoringIntervalSeconds": list(database.MonitoringIntervals),
		"api.cpu":                            list(awslimits.FargateCPUs),
		"worker.cpu":                         list(awslimits.FargateCPUs),
		"api.memory":                         "a Fargate memory size for `cpu` (MiB)",
		"worker.memory":                      "a Fargate memory size for `cpu` (MiB)",
		"app.jwt.algorithm":                  list(compute.JWTAlgorithms),
		"logging.retentionDays":              list(awslimits.LogRetentionDays),
		"logging.level":                      list(observability.LogLevels),
		"edge.waf.managedRuleGroups":         "each one of " + list(edge.ManagedRuleGroups),
		"compute.capacityProvider":           list([]string{compute.Fargate, compute.FargateSpot}),
		"compute.apiDeployment":              list([]string{compute.Rolling, compute.BlueGreen}),
		"monitoring.level":                   list(observability.Levels),
	}
}

// conditions say when a key is required, where that depends on another key.
var conditions = map[string]string{
	"worker.backlogPerTask":  "where `worker.autoscaling` is true",
	"monitoring.alertEmails": "where `monitoring.level` is `alerting` (refused otherwise)",
	"bastion.instanceType":   "yes (checked where `bastion.enabled` is true)",
	"edge.waf":               "where `edge.adminAllowCidrs` is set",
}

// defaults say what an omitted optional key means.
var defaults = map[string]string{
	"database.replica":               "no replica",
	"database.proxy":                 "no proxy: the app connects to the primary",
	"worker.backlogPerTask":          "no queue-depth scaling or function",
	"app.randomSeed":                 "no fixed seed",
	"app.jwt.refreshTokenExpireDays": "the app's own",
	"logging.archiveDays":            "no archive",
	"edge.alternativeNames":          "none",
	"edge.adminAllowCidrs":           "`/admin` open like every path",
	"edge.waf":                       "no WAF",
	"secrets.keyPrincipals":          "no such deny: IAM decides",
	"monitoring.alertEmails":         "none",
}

func list[T any](vs []T) string {
	var out []string
	for _, v := range vs {
		out = append(out, fmt.Sprintf("`%v`", v))
	}
	return strings.Join(out, ", ")
}

// typeDocs are the doc comments of a package's types and of their fields.
type typeDocs struct {
	pkg    string // the package's doc comment
	types  map[string]string
	fields map[string]map[string]string // type -> field -> doc
}

// reader parses each package once.
type reader struct {
	root string
	pkgs map[string]typeDocs
}

func (r *reader) docs(pkgPath string) (typeDocs, error) {
	if d, ok := r.pkgs[pkgPath]; ok {
		return d, nil
	}
	rel, ok := strings.CutPrefix(pkgPath, Module+"/")
	if !ok {
		return typeDocs{}, fmt.Errorf("package %s is outside module %s", pkgPath, Module)
	}
	fset := token.NewFileSet()
	dir := filepath.Join(r.root, filepath.FromSlash(rel))
	entries, err := os.ReadDir(dir)
	if err != nil {
		return typeDocs{}, err
	}
	d := typeDocs{types: map[string]string{}, fields: map[string]map[string]string{}}
	for _, e := range entries {
		if e.IsDir() || !strings.HasSuffix(e.Name(), ".go") || strings.HasSuffix(e.Name(), "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, filepath.Join(dir, e.Name()), nil, parser.ParseComments)
		if err != nil {
			return typeDocs{}, err
		}
		if f.Doc != nil {
			d.pkg = f.Doc.Text()
		}
		for _, decl := range f.Decls {
			gen, ok := decl.(*ast.GenDecl)
			if !ok || gen.Tok != token.TYPE {
				continue
			}
			for _, spec := range gen.Specs {
				ts := spec.(*ast.TypeSpec)
				doc := ts.Doc.Text()
				if doc == "" && len(gen.Specs) == 1 {
					doc = gen.Doc.Text()
				}
				d.types[ts.Name.Name] = doc
				if st, ok := ts.Type.(*ast.StructType); ok {
					d.fields[ts.Name.Name] = fieldDocs(st)
				}
			}
		}
	}
	r.pkgs[pkgPath] = d
	return d, nil
}

// fieldDocs are each field's doc comment (or line comment). A field without one shares the
// nearest preceding comment that names it ("MinCapacity and MaxCapacity bound auto scaling").
func fieldDocs(st *ast.StructType) map[string]string {
	out := map[string]string{}
	var last string
	for _, f := range st.Fields.List {
		doc := f.Doc.Text()
		if doc == "" {
			doc = f.Comment.Text()
		}
		for _, name := range f.Names {
			switch {
			case doc != "":
				out[name.Name] = doc
			case last != "" && regexp.MustCompile(`\b`+name.Name+`\b`).MatchString(last):
				out[name.Name] = last
			}
		}
		if doc != "" {
			last = doc
		}
	}
	return out
}

var space = regexp.MustCompile(`\s+`)

// camel is a Go name of two or more words (MaxCapacity, SMTPPassword): one that, in a doc comment,
// can only be the field's name.
var camel = regexp.MustCompile(`^[A-Z][A-Za-z0-9]*[A-Z][A-Za-z0-9]*$`)

// paragraph is a doc comment on one line, with the Go name it starts with replaced by the key, and
// the struct's other multi-word field names (names) by theirs.
func paragraph(doc, goName, key string, names map[string]string) string {
	doc = strings.TrimSpace(space.ReplaceAllString(doc, " "))
	if goName != "" {
		if rest, ok := strings.CutPrefix(doc, goName+" "); ok {
			doc = "`" + key + "` " + rest
		} else if rest, ok := strings.CutPrefix(doc, goName+", "); ok {
			doc = "`" + key + "`, " + rest
		}
	}
	for _, g := range slices.Sorted(maps.Keys(names)) {
		if camel.MatchString(g) && strings.ToUpper(g) != g {
			doc = regexp.MustCompile(`\b`+g+`\b`).ReplaceAllString(doc, "`"+names[g]+"`")
		}
	}
	return strings.ReplaceAll(doc, "|", `\|`)
}

// groupDoc is what a group is: its type's doc comment, without a first sentence that only says
// which key it decodes ("Config is the stack file's taskmanager:edge."), and then the package's.
func groupDoc(typeDoc, pkgDoc, typeName, key string) string {
	doc := paragraph(typeDoc, typeName, key, nil)
	only := regexp.MustCompile("^`[^`]+` (?:is|are) (?:the stack file's )?" + key + "(?: \\([^)]*\\))?(?:(: )|\\.(?: |$)|$)")
	if m := only.FindStringSubmatchIndex(doc); m != nil {
		doc = doc[m[1]:]
		if doc == "" {
			doc = regexp.MustCompile(`^Package \w+ (?:is )?`).ReplaceAllString(strings.TrimSpace(space.ReplaceAllString(pkgDoc, " ")), "")
		}
		if doc != "" {
			doc = strings.ToUpper(doc[:1]) + doc[1:]
		}
	}
	return doc
}

// Groups are the reference: every group of a stack file, each with every key under it.
func Groups(root string) ([]Group, error) {
	r := &reader{root: root, pkgs: map[string]typeDocs{}}
	var out []Group
	for _, g := range stacks.Groups() {
		group := Group{Key: stacks.Namespace + ":" + g.Key}
		if g.Type.Kind() == reflect.Struct {
			d, err := r.docs(g.Type.PkgPath())
			if err != nil {
				return nil, err
			}
			group.Doc = groupDoc(d.types[g.Type.Name()], d.pkg, g.Type.Name(), group.Key)
			keys, err := r.fields(g.Type, g.Key, "yes", g.Secret)
			if err != nil {
				return nil, err
			}
			group.Keys = keys
		} else {
			// A plain value: taskmanager:environment.
			group.Doc = "The application's `ENVIRONMENT` and the value of the `Environment` tag."
			group.Keys = []Key{{Path: group.Key, Type: typeName(g.Type), Required: "yes", Allowed: allowed()[g.Key],
				Doc: "The environment this stack is: `development` (stack `dev`), `staging` or `production`; it must equal `aws:defaultTags.tags.Environment`."}}
		}
		out = append(out, group)
	}
	return out, nil
}

// fields lists the keys of struct t under prefix (relative to taskmanager:), each required as
// parent says when the struct itself is required.
func (r *reader) fields(t reflect.Type, prefix, parent string, secret bool) ([]Key, error) {
	d, err := r.docs(t.PkgPath())
	if err != nil {
		return nil, err
	}
	names := jsonNames(t)
	var out []Key
	for i := range t.NumField() {
		f := t.Field(i)
		if f.Anonymous {
			keys, err := r.fields(f.Type, prefix, parent, secret)
			if err != nil {
				return nil, err
			}
			out = append(out, keys...)
			continue
		}
		name, opts, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "" || name == "-" {
			continue
		}
		rel := prefix + "." + name
		doc := d.fields[t.Name()][f.Name]
		if doc == "" {
			return nil, fmt.Errorf("%s.%s.%s (taskmanager:%s) has no doc comment: document it on the field", t.PkgPath(), t.Name(), f.Name, rel)
		}
		optional := f.Type.Kind() == reflect.Pointer || strings.Contains(opts, "omitempty")
		required := parent
		if optional {
			required = "no"
		}
		if c, ok := conditions[rel]; ok {
			required = c
		}
		if secret {
			required = "where `secrets.requireExternal` is true (production)"
		}
		k := Key{
			Path: stacks.Namespace + ":" + rel, Type: typeName(f.Type), Required: required,
			Default: defaults[rel], Allowed: allowed()[rel], Doc: paragraph(doc, f.Name, name, names), Secret: secret,
		}
		if optional && k.Default == "" {
			k.Default = "unset"
			if secret {
				k.Default = "unset: the secret holds no value and its integration is off"
			}
		}
		out = append(out, k)
		if elem := deref(f.Type); elem.Kind() == reflect.Struct {
			childParent := parent
			if optional {
				childParent = "where `" + rel + "` is set"
			}
			keys, err := r.fields(elem, rel, childParent, secret)
			if err != nil {
				return nil, err
			}
			out = append(out, keys...)
		}
	}
	return out, nil
}

// jsonNames are the stack-file keys of struct t's fields (embedded structs' too), by Go name.
func jsonNames(t reflect.Type) map[string]string {
	out := map[string]string{}
	for i := range t.NumField() {
		f := t.Field(i)
		if f.Anonymous {
			maps.Copy(out, jsonNames(f.Type))
			continue
		}
		if name, _, _ := strings.Cut(f.Tag.Get("json"), ","); name != "" && name != "-" {
			out[f.Name] = name
		}
	}
	return out
}

func deref(t reflect.Type) reflect.Type {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	return t
}

func typeName(t reflect.Type) string {
	t = deref(t)
	switch t.Kind() {
	case reflect.String:
		return "string"
	case reflect.Int, reflect.Int32, reflect.Int64:
		return "integer"
	case reflect.Float32, reflect.Float64:
		return "number"
	case reflect.Bool:
		return "boolean"
	case reflect.Slice:
		return "list of " + typeName(t.Elem())
	case reflect.Map:
		return "map of " + typeName(t.Elem())
	case reflect.Struct:
		return "object"
	}
	return t.Kind().String()
}

// Paths are every key of the reference, group keys included.
func Paths(groups []Group) []string {
	var out []string
	for _, g := range groups {
		out = append(out, g.Key)
		for _, k := range g.Keys {
			out = append(out, k.Path)
		}
	}
	return slices.Compact(slices.Sorted(slices.Values(out)))
}

// Markdown is docs/configuration.md.
func Markdown(root string) (string, error) {
	groups, err := Groups(root)
	if err != nil {
		return "", err
	}
	var b strings.Builder
	b.WriteString(`# Configuration reference

<!-- Generated by ` + "`go run ./cmd/configdoc`" + ` from the config types (stacks/, infra/*/): do not edit by hand.
     internal/configdoc's test fails when this file is not what the types say. -->

Every key a stack file (` + "`Pulumi.<stack>.yaml`" + `) may hold, generated from the Go types the program
decodes it into: the type, whether the key is required (and when), what an omitted optional key
means, the values the validation allows where it takes a closed set, and the field's doc comment.
` + "`pulumi preview`" + ` fails before anything is registered on an unknown or misspelt key, a missing
required one or a value the validation refuses, naming each (README, "Configuration"). Set a
nested key with ` + "`pulumi config set --path taskmanager:<group>.<key> <value> --stack <stack>`" + `.

Besides these: ` + "`aws:region`" + ` (the AWS region, e.g. ` + "`us-east-1`" + `; the availability zones
must be in it) and ` + "`aws:defaultTags`" + ` (` + "`tags:`" + ` with ` + strings.Join(quote(stacks.RequiredTags), ", ") + `, put on every
resource), both required.

| group | what |
| --- | --- |
`)
	for _, g := range groups {
		fmt.Fprintf(&b, "| [`%s`](#%s) | %s |\n", g.Key, anchor(g.Key), firstSentence(g.Doc))
	}
	for _, g := range groups {
		fmt.Fprintf(&b, "\n## `%s`\n\n%s\n\n", g.Key, g.Doc)
		if g.Keys[0].Secret {
			b.WriteString("Every value is **secret**: set it with `pulumi config set --secret --path " + g.Key + ".<key>`; a plain-text value is refused.\n\n")
		}
		b.WriteString("| key | type | required | default | allowed | description |\n| --- | --- | --- | --- | --- | --- |\n")
		for _, k := range g.Keys {
			fmt.Fprintf(&b, "| `%s` | %s | %s | %s | %s | %s |\n", k.Path, k.Type, k.Required, dash(k.Default), dash(k.Allowed), k.Doc)
		}
	}
	return b.String(), nil
}

func quote(vs []string) []string {
	var out []string
	for _, v := range vs {
		out = append(out, "`"+v+"`")
	}
	return out
}

func dash(s string) string {
	if s == "" {
		return "—"
	}
	return s
}

func anchor(key string) string {
	return strings.NewReplacer(":", "", ".", "").Replace(strings.ToLower(key))
}

func firstSentence(doc string) string {
	if i := strings.Index(doc, ". "); i != -1 {
		return doc[:i+1]
	}
	return doc
}
