package tests

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/taskmanager/taskmanager-infra/internal/configdoc"
)

// The claims the documents make, by class, held against the code: the config keys they name, the
// script invocations they show, and the resource and secret names they give. (The generated
// sections are held by their own currency tests: docs/costs.md and docs/environments.md in
// internal/plan, docs/configuration.md in internal/configdoc.)

// documents are what an operator reads: the README, docs/*.md, and the stack files' comments.
func documents(t *testing.T) map[string]string {
	t.Helper()
	out := map[string]string{}
	paths, err := filepath.Glob(filepath.Join(projectDir, "docs", "*.md"))
	require.NoError(t, err)
	paths = append(paths, filepath.Join(projectDir, "README.md"))
	for _, p := range paths {
		b, err := os.ReadFile(p)
		require.NoError(t, err)
		out[filepath.Base(p)] = string(b)
	}
	for _, stack := range allStacks {
		b, err := os.ReadFile(filepath.Join(projectDir, "Pulumi."+stack+".yaml"))
		require.NoError(t, err)
		var comments []string
		for _, line := range strings.Split(string(b), "\n") {
			if _, c, ok := strings.Cut(line, "#"); ok {
				comments = append(comments, c)
			}
		}
		out["Pulumi."+stack+".yaml"] = strings.Join(comments, "\n")
	}
	require.NotEmpty(t, out["runbook.md"])
	return out
}

var configKey = regexp.MustCompile(`\btaskmanager:[a-zA-Z]+(?:\.[a-zA-Z][a-zA-Z0-9]*)*`)

// Every config key a document names (taskmanager:<group>.<key>...) is a key of the config types:
// a renamed or removed key cannot live on in the docs.
func TestDocumentedConfigKeysExist(t *testing.T) {
	groups, err := configdoc.Groups(projectDir)
	require.NoError(t, err)
	keys := configdoc.Paths(groups)
	seen := 0
	for name, text := range documents(t) {
		for _, k := range configKey.FindAllString(text, -1) {
			seen++
			if k == "taskmanager:databse" {
				continue // the README's example of the error a misspelt key gives
			}
			assert.True(t, slices.Contains(keys, k), "%s names %s, which is not a config key (docs/configuration.md lists them)", name, k)
		}
	}
	assert.Greater(t, seen, 100, "the documents name config keys")
}

var invocation = regexp.MustCompile(`scripts/([a-z-]+)\.sh((?:[ \t]+[^\s` + "`" + `|;&()]+)*)`)

// scriptHelp are the scripts whose invocations the documents show, and each one's --help.
var scriptsWithHelp = []string{"deploy", "create-environment", "destroy-environment", "build-lambdas", "report-drift", "refresh-staging-data", "reap-refresh-copies"}

// Every script invocation in the documents uses only options that script's --help lists: a mode or
// flag removed or renamed (or never there) fails here, not when an operator follows the doc.
func TestDocumentedScriptInvocationsUseTheirOptions(t *testing.T) {
	help := map[string]string{}
	for _, s := range scriptsWithHelp {
		out, err := exec.Command("bash", filepath.Join(projectDir, "scripts", s+".sh"), "--help").Output()
		require.NoError(t, err, "%s.sh --help", s)
		require.Contains(t, string(out), "Usage", "%s.sh --help", s)
		help[s] = string(out)
	}
	option := regexp.MustCompile(`^--?[a-z][a-z-]*`)
	checked := map[string]int{}
	for name, text := range documents(t) {
		for _, m := range invocation.FindAllStringSubmatch(text, -1) {
			script, args := m[1], strings.Fields(m[2])
			if script == "test" || script == "install-test-servers" || script == "lib" {
				continue // test.sh takes go test's test flags; the others take none
			}
			h, ok := help[script]
			if !assert.True(t, ok, "%s invokes scripts/%s.sh, which is not a script with --help", name, script) {
				continue
			}
			for _, a := range args {
				opt := option.FindString(a)
				if opt == "" {
					continue
				}
				checked[script]++
				assert.Regexp(t, `(^|[\s,\[])`+regexp.QuoteMeta(opt)+`($|[\s,\]=])`, h,
					"%s: `%s` uses %s, which `scripts/%s.sh --help` does not list", name, strings.TrimSpace(m[0]), opt, script)
			}
		}
	}
	for _, s := range []string{"deploy", "create-environment"} {
		assert.Positive(t, checked[s], "the documents show %s.sh with options", s)
	}
}

// names the documents give that no stack's program makes: what the scripts make (the destroy
// script's final snapshot, the refresh's temporary instance, the restore's), and examples.
var notTheProgramsNames = []string{
	"staging-taskmanager-refresh", "<stack>-taskmanager-restore", "$stack-taskmanager-restore",
}

var namePattern = regexp.MustCompile("`([^`\\s]*(?:taskmanager/(?:<stack>|dev|staging|production)/[a-z0-9_<>-]+|(?:<stack>|dev|staging|production)-(?:taskmanager[a-z0-9<>-]*|[a-z0-9-]+-(?:errors|freshness|delivery|failed))))`")

// Every resource or secret name the documents give in the program's patterns (secrets
// `taskmanager/<stack>/<name>`; `<stack>-taskmanager-…` clusters, functions, families, databases;
// `<stack>-…-errors|freshness|delivery|failed` alarms) is a name the program gives a resource of
// that stack: <stack> for any of the three, a concrete stack for that one; other <placeholders>
// for any characters.
func TestDocumentedResourceNamesExist(t *testing.T) {
	names := map[string][]string{}
	for _, stack := range allStacks {
		set := map[string]bool{}
		for _, r := range runStack(t, stack).Resources() {
			collectStrings(r.Inputs, set)
		}
		for n := range set {
			names[stack] = append(names[stack], n)
		}
		sort.Strings(names[stack])
	}
	placeholder := regexp.MustCompile(`<[a-z -]+>`)
	checked := 0
	for doc, text := range documents(t) {
		for _, m := range namePattern.FindAllStringSubmatch(text, -1) {
			token := strings.TrimRight(m[1], ".,:;")
			if i := strings.Index(token, "|"); i != -1 {
				token = token[:i]
			}
			if strings.ContainsAny(token, "…*$") || slices.Contains(notTheProgramsNames, token) || strings.HasPrefix(token, "arn:") {
				continue
			}
			if i := strings.LastIndex(token, ":"); i != -1 {
				token = token[i+1:] // an ARN's resource part: snapshot:<name>, db:<name>
			}
			if slices.Contains(notTheProgramsNames, token) {
				continue
			}
			if i := strings.Index(token, "taskmanager/"); i > 0 {
				token = token[i:]
			}
			stacks := allStacks
			for _, s := range allStacks {
				if strings.HasPrefix(token, s+"-") || strings.HasPrefix(token, "taskmanager/"+s+"/") {
					stacks = []string{s}
				}
			}
			var re strings.Builder
			re.WriteString("^")
			rest := token
			for {
				loc := placeholder.FindStringIndex(rest)
				if loc == nil {
					re.WriteString(regexp.QuoteMeta(rest))
					break
				}
				re.WriteString(regexp.QuoteMeta(rest[:loc[0]]))
				if rest[loc[0]:loc[1]] == "<stack>" {
					re.WriteString("(?:dev|staging|production)")
				} else {
					re.WriteString(".+")
				}
				rest = rest[loc[1]:]
			}
			re.WriteString("$")
			pattern := regexp.MustCompile(re.String())
			found := false
			for _, s := range stacks {
				if slices.ContainsFunc(names[s], pattern.MatchString) {
					found = true
					break
				}
			}
			checked++
			assert.True(t, found, "%s gives the name %q, which no resource of %s has", doc, token, strings.Join(stacks, ", "))
		}
	}
	assert.Greater(t, checked, 30, "the documents give resource and secret names")
}

// collectStrings adds every string in v (maps and lists descended) to set.
func collectStrings(v any, set map[string]bool) {
	switch x := v.(type) {
	case string:
		set[x] = true
	case map[string]any:
		for _, e := range x {
			collectStrings(e, set)
		}
	case []any:
		for _, e := range x {
			collectStrings(e, set)
		}
	}
}
