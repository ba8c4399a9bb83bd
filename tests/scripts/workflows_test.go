package scripts_test

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"

	"github.com/taskmanager/taskmanager-infra/access/pipeline"
)

// The pipeline's reach into production, read from the workflows themselves (.github/workflows):
// a pull request's code previews dev only and never holds a token or role that can read staging
// or production; secrets reach only the steps that need them; the Pulumi tokens are used only by
// the jobs allowed to; dev and staging deploy from main only, production from version tags only;
// every third-party action is pinned to a commit.

const workflowsDir = "../../.github/workflows"

type workflow struct {
	file     string // e.g. ci.yml
	raw      string
	triggers []string
	env      map[string]string
	jobs     map[string]*job
}

type job struct {
	id, file    string
	If          string            `yaml:"if"`
	RunsOn      string            `yaml:"runs-on"`
	Uses        string            `yaml:"uses"`
	With        map[string]any    `yaml:"with"`
	Secrets     yaml.Node         `yaml:"secrets"`
	Environment yaml.Node         `yaml:"environment"`
	Env         map[string]string `yaml:"env"`
	Steps       []step            `yaml:"steps"`
	text        string            // the job as YAML, without comments
}

type step struct {
	Name            string            `yaml:"name"`
	If              string            `yaml:"if"`
	ContinueOnError bool              `yaml:"continue-on-error"`
	Uses            string            `yaml:"uses"`
	Run             string            `yaml:"run"`
	With            map[string]any    `yaml:"with"`
	Env             map[string]string `yaml:"env"`
}

func (j *job) key() string { return j.file + "/" + j.id }

// environment is the name of the GitHub environment the job is bound to, "" if none.
func (j *job) environment() string {
	switch j.Environment.Kind {
	case yaml.ScalarNode:
		return j.Environment.Value
	case yaml.MappingNode:
		var e struct {
			Name string `yaml:"name"`
		}
		if err := j.Environment.Decode(&e); err == nil {
			return e.Name
		}
	}
	return ""
}

// calls is the local reusable workflow the job calls ("deploy-stack.yml"), "" if none.
func (j *job) calls() string {
	if rest, ok := strings.CutPrefix(j.Uses, "./.github/workflows/"); ok {
		return rest
	}
	return ""
}

func (s step) text(t *testing.T) string {
	t.Helper()
	b, err := yaml.Marshal(s)
	require.NoError(t, err)
	return string(b)
}

func loadWorkflows(t *testing.T) map[string]*workflow {
	t.Helper()
	paths, err := filepath.Glob(filepath.Join(workflowsDir, "*.yml"))
	require.NoError(t, err)
	require.NotEmpty(t, paths)
	out := map[string]*workflow{}
	for _, path := range paths {
		b, err := os.ReadFile(path)
		require.NoError(t, err)
		var doc struct {
			On   yaml.Node            `yaml:"on"`
			Env  map[string]string    `yaml:"env"`
			Jobs map[string]yaml.Node `yaml:"jobs"`
		}
		require.NoError(t, yaml.Unmarshal(b, &doc), path)
		w := &workflow{file: filepath.Base(path), raw: string(b), env: doc.Env, jobs: map[string]*job{}}
		switch doc.On.Kind {
		case yaml.ScalarNode:
			w.triggers = []string{doc.On.Value}
		case yaml.SequenceNode:
			for _, n := range doc.On.Content {
				w.triggers = append(w.triggers, n.Value)
			}
		case yaml.MappingNode:
			for i := 0; i < len(doc.On.Content); i += 2 {
				w.triggers = append(w.triggers, doc.On.Content[i].Value)
			}
		}
		require.NotEmpty(t, w.triggers, "%s: no trigger (on:)", path)
		for id, node := range doc.Jobs {
			j := &job{id: id, file: w.file}
			require.NoError(t, node.Decode(j), "%s: job %s", path, id)
			var plain any
			require.NoError(t, node.Decode(&plain))
			text, err := yaml.Marshal(plain)
			require.NoError(t, err)
			j.text = string(text)
			w.jobs[id] = j
		}
		out[w.file] = w
	}
	return out
}

func (w *workflow) triggeredBy(events ...string) bool {
	for _, e := range events {
		if slices.Contains(w.triggers, e) {
			return true
		}
	}
	return false
}

// runByPullRequests is every job a pull request runs: the jobs of the workflows it triggers and of
// the local reusable workflows they call, all the way down.
func runByPullRequests(t *testing.T, all map[string]*workflow) []*job {
	t.Helper()
	var out []*job
	seen := map[string]bool{}
	var visit func(w *workflow)
	visit = func(w *workflow) {
		if seen[w.file] {
			return
		}
		seen[w.file] = true
		for _, id := range sortedKeys(w.jobs) {
			j := w.jobs[id]
			out = append(out, j)
			if called := j.calls(); called != "" {
				require.Contains(t, all, called, "%s calls a workflow that does not exist", j.key())
				visit(all[called])
			}
		}
	}
	for _, file := range sortedKeys(all) {
		if all[file].triggeredBy("pull_request", "pull_request_target") {
			visit(all[file])
		}
	}
	return out
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

var (
	secretRef = regexp.MustCompile(`secrets\s*(?:\.\s*([A-Za-z_][A-Za-z0-9_]*)|\[)`)
	varRef    = regexp.MustCompile(`vars\s*\.\s*([A-Za-z_][A-Za-z0-9_]*)`)
)

// secretsIn are the names of the secrets text refers to ("[" for an index expression).
func secretsIn(text string) []string {
	var names []string
	for _, m := range secretRef.FindAllStringSubmatch(text, -1) {
		name := m[1]
		if name == "" {
			name = "["
		}
		if !slices.Contains(names, name) {
			names = append(names, name)
		}
	}
	return names
}

// A pull request's code (the program, the build, whatever its workflow runs) previews dev only:
// no job a pull request runs is bound to an environment, names staging or production, holds a
// secret other than the GitHub token and dev's read-only Pulumi token, assumes a role other than
// dev's read-only preview role, or runs anything that changes a stack.
func TestPullRequestsPreviewDevOnly(t *testing.T) {
	t.Parallel()
	all := loadWorkflows(t)
	jobs := runByPullRequests(t, all)
	require.NotEmpty(t, jobs, "no workflow runs on pull requests")
	changes := regexp.MustCompile(`pulumi\s+(up|destroy|refresh|import|cancel|state|stack\s+(export|import|rm|change-secrets-provider))\b|scripts/(create|destroy)-environment\.sh`)
	previewsDev := false
	for _, j := range jobs {
		// Only the preview, to dev's preview environment: the subject dev's describe-only preview
		// role trusts (access/pipeline).
		if j.key() == "ci.yml/preview" {
			assert.Equal(t, "dev-preview", j.environment())
		} else {
			assert.Empty(t, j.environment(), "%s runs on pull requests and is bound to an environment", j.key())
		}
		assert.NotEqual(t, "deploy-stack.yml", j.calls(), "%s runs on pull requests and deploys", j.key())
		assert.NotRegexp(t, `(?i)staging|production`, j.text, "%s runs on pull requests and names staging or production", j.key())
		for _, name := range secretsIn(j.text) {
			assert.Contains(t, []string{"GITHUB_TOKEN", "PULUMI_PREVIEW_TOKEN_DEV"}, name, "%s runs on pull requests and reads the secret %s", j.key(), name)
		}
		for _, m := range varRef.FindAllStringSubmatch(j.text, -1) {
			if strings.HasPrefix(m[1], "AWS_") && m[1] != "AWS_REGION" {
				assert.Equal(t, "AWS_PREVIEW_ROLE_ARN_DEV", m[1], "%s runs on pull requests and assumes %s", j.key(), m[1])
			}
		}
		assert.NotContains(t, j.text, "vars[", "%s: a role chosen by expression cannot be checked", j.key())
		assert.NotEqual(t, "inherit", j.Secrets.Value, "%s passes every secret on", j.key())
		for _, s := range j.Steps {
			assert.NotRegexp(t, changes, s.Run, "%s: step %q changes a stack", j.key(), s.Name)
			if strings.Contains(s.Run, "scripts/deploy.sh") {
				for _, line := range strings.Split(s.Run, "\n") {
					if strings.Contains(line, "scripts/deploy.sh") {
						assert.Contains(t, line, "--running-image", "%s: step %q deploys", j.key(), s.Name)
					}
				}
			}
			if strings.HasPrefix(s.Uses, "pulumi/actions@") {
				command, _ := s.With["command"].(string)
				assert.Contains(t, []string{"", "preview"}, command, "%s: pulumi/actions %s", j.key(), command)
				if command == "preview" {
					stack, _ := s.With["stack-name"].(string)
					assert.Regexp(t, `(^|/|')dev('|$)`, stack, "%s previews %q", j.key(), stack)
					previewsDev = true
				}
			}
		}
	}
	assert.True(t, previewsDev, "pull requests preview dev")
}

// Secrets go to the steps that use them: never to a whole workflow or job (where every step, and
// every action a step runs, would get them), never passed on wholesale.
func TestSecretsOnlyInSteps(t *testing.T) {
	t.Parallel()
	for _, w := range loadWorkflows(t) {
		for k, v := range w.env {
			assert.Empty(t, secretsIn(v), "%s: workflow-level env %s holds a secret", w.file, k)
		}
		for _, j := range w.jobs {
			for k, v := range j.Env {
				assert.Empty(t, secretsIn(v), "%s: job-level env %s holds a secret", j.key(), k)
			}
			assert.NotEqual(t, "inherit", j.Secrets.Value, "%s: secrets: inherit", j.key())
		}
	}
}

// The Pulumi tokens are used only where allowed. PULUMI_ACCESS_TOKEN, which can read staging and
// production, is the GitHub environments' own secret, used by the jobs bound to an environment:
// the deploy job, the nightly drift check (drift-stack.yml) and staging's data refresh
// (refresh-staging-data.yml); PULUMI_PREVIEW_TOKEN_DEV, which reads dev only, by the pull
// request's preview of dev. No caller passes a Pulumi token to a reusable workflow.
func TestPulumiTokensOnlyInAllowedJobs(t *testing.T) {
	t.Parallel()
	allowed := map[string][]string{
		"PULUMI_ACCESS_TOKEN":      {"deploy-stack.yml/deploy", "drift-stack.yml/drift", "refresh-staging-data.yml/refresh"},
		"PULUMI_PREVIEW_TOKEN_DEV": {"ci.yml/preview"},
	}
	all := loadWorkflows(t)
	byPullRequests := map[string]bool{}
	for _, j := range runByPullRequests(t, all) {
		byPullRequests[j.key()] = true
	}
	used := map[string]bool{}
	for _, w := range all {
		for _, j := range w.jobs {
			var passed strings.Builder
			_ = yaml.NewEncoder(&passed).Encode(&j.Secrets)
			for _, name := range secretsIn(passed.String()) {
				assert.NotContains(t, name, "PULUMI", "%s passes %s to %s", j.key(), name, j.Uses)
			}
			for _, s := range j.Steps {
				for _, name := range secretsIn(s.text(t)) {
					if !strings.HasPrefix(name, "PULUMI") {
						continue
					}
					want, ok := allowed[name]
					if assert.True(t, ok, "%s: step %q uses an unknown Pulumi secret %s", j.key(), s.Name, name) {
						assert.Contains(t, want, j.key(), "%s: step %q uses %s", j.key(), s.Name, name)
						used[name] = true
					}
					if name == "PULUMI_ACCESS_TOKEN" {
						// The environment's secret: only a job bound to one has it, and none that a
						// pull request runs.
						assert.NotEmpty(t, j.environment(), "%s uses %s without an environment", j.key(), name)
						assert.False(t, byPullRequests[j.key()], "%s uses %s and runs on pull requests", j.key(), name)
					}
				}
			}
		}
	}
	for name := range allowed {
		assert.True(t, used[name], "%s is used nowhere: is this test still reading the workflows right?", name)
	}
	// The jobs that may use PULUMI_ACCESS_TOKEN are bound to the stack's environment and run on no
	// pull request: the environment's secret is the only one of that name.
	deploy := all["deploy-stack.yml"].jobs["deploy"]
	assert.Equal(t, "${{ inputs.stack }}", deploy.environment())
	assert.Equal(t, []string{"workflow_call"}, all["deploy-stack.yml"].triggers)
	for _, j := range runByPullRequests(t, all) {
		assert.NotEqual(t, "deploy-stack.yml/deploy", j.key())
	}
}

// Dev and staging deploy from main only, production from version tags only: each through
// deploy-stack.yml, whose job is bound to the stack's GitHub environment (whose deployment
// branches, and whose OIDC subject the deploy role trusts, say the same).
func TestStacksDeployFromTheirRefsOnly(t *testing.T) {
	t.Parallel()
	all := loadWorkflows(t)
	deployedBy := map[string][]string{}
	for _, w := range all {
		for _, j := range w.jobs {
			if j.calls() != "deploy-stack.yml" {
				continue
			}
			stack, _ := j.With["stack"].(string)
			deployedBy[stack] = append(deployedBy[stack], j.key())
			assert.False(t, w.triggeredBy("pull_request", "pull_request_target"), "%s deploys on pull requests", j.key())
			var on map[string]struct {
				Branches []string `yaml:"branches"`
				Tags     []string `yaml:"tags"`
			}
			var doc struct {
				On yaml.Node `yaml:"on"`
			}
			require.NoError(t, yaml.Unmarshal([]byte(w.raw), &doc))
			require.NoError(t, doc.On.Decode(&on), w.file)
			switch stack {
			case "dev", "staging":
				// A manual run (workflow_dispatch) can start on any branch: the job must refuse it.
				assert.Contains(t, j.If, "github.ref == 'refs/heads/main'", "%s deploys %s from any branch", j.key(), stack)
				if push, ok := on["push"]; ok {
					assert.Equal(t, []string{"main"}, push.Branches, "%s: push branches", w.file)
					assert.Empty(t, push.Tags, "%s: push tags", w.file)
				}
			case "production":
				assert.Equal(t, []string{"push"}, w.triggers, "%s: production deploys on a tag push only", w.file)
				assert.Equal(t, []string{"v*.*.*"}, on["push"].Tags, w.file)
				assert.Empty(t, on["push"].Branches, w.file)
			default:
				t.Errorf("%s deploys %q", j.key(), stack)
			}
		}
	}
	for _, stack := range stacks {
		assert.Len(t, deployedBy[stack], 1, "the jobs deploying %s: %v", stack, deployedBy[stack])
	}
}

// Every third-party action is pinned to a full commit SHA, with its tag in a comment (what
// Dependabot updates); one action, one pin across the workflows.
func TestActionsArePinnedToCommits(t *testing.T) {
	t.Parallel()
	usesLine := regexp.MustCompile(`^\s*(?:-\s+)?uses:\s*(\S+)(.*)$`)
	pinned := regexp.MustCompile(`^([A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+)(?:/[^@]+)?@([0-9a-f]{40})$`)
	tagComment := regexp.MustCompile(`^\s+#\s+(v\d+(?:\.\d+){0,2})\s*$`)
	all := loadWorkflows(t)
	pins := map[string]string{}
	for _, file := range sortedKeys(all) {
		w := all[file]
		// Every uses the YAML holds is on a line of its own (block style): the lines are checked.
		var parsed []string
		for _, j := range w.jobs {
			if j.Uses != "" {
				parsed = append(parsed, j.Uses)
			}
			for _, s := range j.Steps {
				if s.Uses != "" {
					parsed = append(parsed, s.Uses)
				}
			}
		}
		var lines []string
		for i, line := range strings.Split(w.raw, "\n") {
			m := usesLine.FindStringSubmatch(line)
			if m == nil {
				continue
			}
			lines = append(lines, m[1])
			if strings.HasPrefix(m[1], "./") {
				continue
			}
			p := pinned.FindStringSubmatch(m[1])
			if !assert.NotNil(t, p, "%s:%d: %s is not owner/repo@<40-hex commit>", file, i+1, m[1]) {
				continue
			}
			c := tagComment.FindStringSubmatch(m[2])
			if !assert.NotNil(t, c, "%s:%d: %s has no tag comment (# vX.Y.Z)", file, i+1, m[1]) {
				continue
			}
			pin := p[2] + " # " + c[1]
			if prev, ok := pins[p[1]]; ok {
				assert.Equal(t, prev, pin, "%s:%d: %s is pinned differently elsewhere", file, i+1, p[1])
			}
			pins[p[1]] = pin
		}
		sort.Strings(parsed)
		sort.Strings(lines)
		assert.Equal(t, parsed, lines, "%s: a uses that is not on a line of its own", file)
	}
	assert.NotEmpty(t, pins)
}

// Dependabot keeps the pinned actions and the Go modules current.
func TestDependabotKeepsActionsAndModulesCurrent(t *testing.T) {
	t.Parallel()
	b, err := os.ReadFile("../../.github/dependabot.yml")
	require.NoError(t, err)
	var cfg struct {
		Version int `yaml:"version"`
		Updates []struct {
			Ecosystem string `yaml:"package-ecosystem"`
			Directory string `yaml:"directory"`
			Schedule  struct {
				Interval string `yaml:"interval"`
			} `yaml:"schedule"`
		} `yaml:"updates"`
	}
	require.NoError(t, yaml.Unmarshal(b, &cfg))
	assert.Equal(t, 2, cfg.Version)
	got := map[string]string{}
	for _, u := range cfg.Updates {
		got[u.Ecosystem+" "+u.Directory] = u.Schedule.Interval
	}
	assert.Equal(t, "weekly", got["github-actions /"])
	assert.Equal(t, "weekly", got["gomod /"])
}

// The runbook's one-time setup says what the access program makes: every role's variable on a row
// with the subject it trusts (access/pipeline), no staging or production preview role, and the
// refs dev and staging accept.
func TestRunbookRolesAndEnvironments(t *testing.T) {
	t.Parallel()
	b, err := os.ReadFile("../../docs/runbook.md")
	require.NoError(t, err)
	runbook := string(b)
	rowWith := func(variable string) string {
		// A row names a variable in full, or as a suffix after the first of its family
		// (`AWS_DRIFT_ROLE_ARN_DEV`, `_STAGING`, ...).
		for _, line := range strings.Split(runbook, "\n") {
			if !strings.HasPrefix(strings.TrimSpace(line), "| `AWS_") {
				continue
			}
			cell := strings.Split(line, "|")[1]
			if strings.Contains(cell, "`"+variable+"`") {
				return line
			}
			family := variable[:strings.LastIndex(variable, "_")]
			if strings.Contains(cell, "`"+family+"_") && strings.Contains(cell, "`"+variable[len(family):]+"`") {
				return line
			}
		}
		t.Errorf("the runbook has no row for %s", variable)
		return ""
	}
	for _, r := range pipeline.Roles {
		assert.Contains(t, rowWith(r.Variable), "`environment:"+r.Environment+"`", r.Variable)
	}
	for _, line := range strings.Split(runbook, "\n") {
		if strings.HasPrefix(strings.TrimSpace(line), "|") {
			assert.NotRegexp(t, "AWS_PREVIEW_ROLE_ARN_(STAGING|PRODUCTION)", line, "a table of the runbook lists a staging or production preview role")
		}
	}
	const environments = "`dev` and `staging`: deployment branch `main`\nonly"
	assert.True(t, strings.Contains(runbook, environments), "the runbook does not say %q", environments)
}
