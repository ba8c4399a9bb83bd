package scripts_test

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"

	"github.com/taskmanager/taskmanager-infra/access/pipeline"
)

// The workflows and the access program (access/, its table access/pipeline) agree: every GitHub
// environment a job binds is one the access program makes, accepting exactly the refs the job's
// trigger runs on; every role a job assumes is the table's, for a role that trusts that job's
// environment, with a maximum session at least what the job asks for; branch protection requires
// checks that exist.

// binding is one run of a job: the environment it binds and the roles it assumes.
type binding struct {
	where       string
	environment string
	refs        pipeline.Refs // what the job's trigger and condition let it run on
	roles       []assumed
}

type assumed struct {
	variable string
	seconds  int
}

var (
	varsExpr   = regexp.MustCompile(`^\$\{\{\s*vars\.([A-Za-z0-9_]+)\s*\}\}$`)
	inputsExpr = regexp.MustCompile(`^\$\{\{\s*inputs\.([A-Za-z0-9_-]+)\s*\}\}$`)
	matrixExpr = regexp.MustCompile(`^\$\{\{\s*matrix\.([A-Za-z0-9_-]+)\s*\}\}$`)
)

// refsOf is what a job of a workflow runs on: version tags for a tag push, any branch for a pull
// request, and main for a job that refuses other refs.
func refsOf(t *testing.T, w *workflow, j *job) pipeline.Refs {
	t.Helper()
	var doc struct {
		On map[string]struct {
			Tags []string `yaml:"tags"`
		} `yaml:"on"`
	}
	_ = yaml.Unmarshal([]byte(w.raw), &doc)
	switch {
	case w.triggeredBy("pull_request", "pull_request_target"):
		return pipeline.AnyBranch
	case len(doc.On["push"].Tags) > 0:
		require.Equal(t, []string{"v*.*.*"}, doc.On["push"].Tags, w.file)
		return pipeline.VersionTags
	case strings.Contains(j.If, "github.ref == 'refs/heads/main'"):
		return pipeline.MainBranch
	}
	t.Errorf("%s binds an environment and runs on any ref of %v: refuse all but main (if: github.ref == 'refs/heads/main')", j.key(), w.triggers)
	return ""
}

// credentialSteps are a job's configure-aws-credentials steps: role-to-assume and seconds.
func credentialSteps(t *testing.T, j *job) [][2]string {
	var out [][2]string
	for _, s := range j.Steps {
		if strings.HasPrefix(s.Uses, "aws-actions/configure-aws-credentials@") {
			role, _ := s.With["role-to-assume"].(string)
			out = append(out, [2]string{role, fmt.Sprint(s.With["role-duration-seconds"])})
		}
	}
	return out
}

// bindings resolves every job's environment and roles, through reusable workflows' inputs and
// matrices; an expression it cannot resolve fails the test (the check would be blind to it).
func bindings(t *testing.T) []binding {
	all := loadWorkflows(t)
	var out []binding
	for _, file := range sortedKeys(all) {
		w := all[file]
		if slices.Equal(w.triggers, []string{"workflow_call"}) {
			continue // resolved through its callers
		}
		for _, id := range sortedKeys(w.jobs) {
			j := w.jobs[id]
			if called := j.calls(); called != "" {
				callee := all[called]
				require.NotNil(t, callee, "%s calls %s", j.key(), called)
				for _, cid := range sortedKeys(callee.jobs) {
					cj := callee.jobs[cid]
					b := binding{where: j.key() + " -> " + cj.key(), environment: resolve(t, cj.environment(), j.With, nil)}
					require.False(t, cj.environment() != "" && b.environment == "", "%s: the environment %s resolves to nothing", b.where, cj.environment())
					if b.environment != "" {
						b.refs = refsOf(t, w, j)
					}
					for _, c := range credentialSteps(t, cj) {
						b.roles = append(b.roles, assumed{variable: variableOf(t, b.where, resolve(t, c[0], j.With, nil)), seconds: atoi(t, c[1])})
					}
					out = append(out, b)
				}
				continue
			}
			x, _ := extras(t, w, id)
			entries := x.Strategy.Matrix.Include
			if len(entries) == 0 {
				entries = []map[string]string{nil}
			}
			for _, m := range entries {
				b := binding{where: j.key(), environment: resolve(t, j.environment(), nil, m)}
				if m != nil {
					b.where += fmt.Sprintf(" (%v)", m)
				}
				if b.environment != "" {
					b.refs = refsOf(t, w, j)
				}
				for _, c := range credentialSteps(t, j) {
					b.roles = append(b.roles, assumed{variable: variableOf(t, b.where, resolve(t, c[0], nil, m)), seconds: atoi(t, c[1])})
				}
				out = append(out, b)
			}
		}
	}
	return out
}

// resolve replaces an inputs.* or matrix.* expression by the caller's with or the matrix entry.
func resolve(t *testing.T, expr string, with map[string]any, matrix map[string]string) string {
	t.Helper()
	if m := inputsExpr.FindStringSubmatch(expr); m != nil {
		// An input the caller does not pass is its default: "" for the optional source role.
		s, _ := with[m[1]].(string)
		return s
	}
	if m := matrixExpr.FindStringSubmatch(expr); m != nil {
		v, ok := matrix[m[1]]
		require.True(t, ok, "matrix.%s is not in the matrix", m[1])
		return v
	}
	if varsExpr.MatchString(expr) {
		return expr // a role's variable, checked against the table
	}
	require.NotContains(t, expr, "${{", "an expression this test cannot resolve: %s", expr)
	return expr
}

func variableOf(t *testing.T, where, expr string) string {
	t.Helper()
	if expr == "" {
		return "" // an optional role the caller did not pass
	}
	m := varsExpr.FindStringSubmatch(expr)
	require.NotNil(t, m, "%s assumes %q: want a role from a repository variable (${{ vars.NAME }})", where, expr)
	return m[1]
}

func atoi(t *testing.T, s string) int {
	t.Helper()
	n, err := strconv.Atoi(s)
	require.NoError(t, err, "role-duration-seconds %q", s)
	return n
}

func TestWorkflowsAndTheAccessProgramAgree(t *testing.T) {
	t.Parallel()
	boundEnvs, usedVars := map[string]bool{}, map[string]bool{}
	for _, b := range bindings(t) {
		if b.environment != "" {
			env, ok := pipeline.EnvironmentNamed(b.environment)
			if assert.True(t, ok, "%s binds the environment %s, which the access program does not make", b.where, b.environment) {
				assert.Equal(t, b.refs, env.Refs, "%s: the environment %s accepts %s; the job runs on %s", b.where, env.Name, env.Refs, b.refs)
				boundEnvs[env.Name] = true
			}
		}
		for _, r := range b.roles {
			if r.variable == "" {
				continue
			}
			role, ok := pipeline.RoleForVariable(r.variable)
			if !assert.True(t, ok, "%s assumes vars.%s, which the access program does not set", b.where, r.variable) {
				continue
			}
			usedVars[r.variable] = true
			assert.Equal(t, b.environment, role.Environment, "%s assumes %s, which trusts the environment %s, not the job's", b.where, r.variable, role.Environment)
			assert.LessOrEqual(t, r.seconds, role.MaxSessionSeconds, "%s asks %s for longer than its maximum session", b.where, r.variable)
		}
	}
	// Nothing in the table that no job uses: an unused environment or role is access no one needs.
	for _, e := range pipeline.Environments {
		assert.True(t, boundEnvs[e.Name], "no job binds the environment %s", e.Name)
	}
	for _, r := range pipeline.Roles {
		assert.True(t, usedVars[r.Variable], "no job assumes %s", r.Variable)
	}
}

// The checks branch protection requires are the check names of jobs a pull request runs: a job's
// name (or id), and a called workflow's jobs as "<caller> / <job>".
func TestRequiredChecksExist(t *testing.T) {
	t.Parallel()
	all := loadWorkflows(t)
	name := func(j *job) string {
		var n struct {
			Name string `yaml:"name"`
		}
		_ = yaml.Unmarshal([]byte(j.text), &n)
		if n.Name == "" {
			return j.id
		}
		return n.Name
	}
	var checks []string
	for _, file := range sortedKeys(all) {
		w := all[file]
		if !w.triggeredBy("pull_request") {
			continue
		}
		for _, id := range sortedKeys(w.jobs) {
			j := w.jobs[id]
			if called := j.calls(); called != "" {
				for _, cid := range sortedKeys(all[called].jobs) {
					checks = append(checks, name(j)+" / "+name(all[called].jobs[cid]))
				}
				continue
			}
			checks = append(checks, name(j))
		}
	}
	for _, c := range pipeline.RequiredChecks {
		assert.Contains(t, checks, c, "branch protection requires %q, which no pull request job reports", c)
	}
	for _, c := range checks {
		_, optional := pipeline.OptionalChecks[c]
		assert.True(t, optional || slices.Contains(pipeline.RequiredChecks, c), "pull request check %q is neither required nor listed as optional with its reason", c)
	}
}
