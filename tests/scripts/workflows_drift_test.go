package scripts_test

import (
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"
)

// The nightly drift check (drift.yml), read from .github/workflows like the rules of
// workflows_test.go; the helpers are shared with workflows_refresh_test.go.

// jobExtras are the parts of a job that workflows_test.go's job does not read.
type jobExtras struct {
	Permissions map[string]string `yaml:"permissions"`
	Strategy    struct {
		FailFast *bool `yaml:"fail-fast"`
		Matrix   struct {
			Include []map[string]string `yaml:"include"`
		} `yaml:"matrix"`
	} `yaml:"strategy"`
}

// extras are the extra parts of one job of a workflow, and the workflow's own permissions.
func extras(t *testing.T, w *workflow, id string) (jobExtras, map[string]string) {
	t.Helper()
	var doc struct {
		Permissions map[string]string    `yaml:"permissions"`
		Jobs        map[string]jobExtras `yaml:"jobs"`
	}
	require.NoError(t, yaml.Unmarshal([]byte(w.raw), &doc), w.file)
	require.Contains(t, doc.Jobs, id, w.file)
	return doc.Jobs[id], doc.Permissions
}

// stepRunning is the first step whose run contains text, or the zero step.
func stepRunning(j *job, text string) (int, step) {
	for i, s := range j.Steps {
		if strings.Contains(s.Run, text) {
			return i, s
		}
	}
	return -1, step{}
}

// The drift check: nightly and by hand, never on a pull request, from main only; one job per stack
// through drift-stack.yml, each bound to its own drift environment and assuming that stack's
// describe-only drift role; production's nightly job binds production-drift (no reviewers) and runs
// on the schedule only, a person's run binds production-drift-manual (reviewed, its own role)
// instead (issue 18, item 2). The image the stack runs is set before `pulumi preview
// --expect-no-changes` (through scripts/report-drift.sh); minimal permissions; tokens in the steps
// that use them; Slack from a job of its own that runs nothing of the repository.
func TestDriftCheckRunsNightlyAfterMerge(t *testing.T) {
	t.Parallel()
	all := loadWorkflows(t)
	require.Contains(t, all, "drift.yml")
	require.Contains(t, all, "drift-stack.yml")
	w := all["drift.yml"]
	sorted := append([]string(nil), w.triggers...)
	slices.Sort(sorted)
	assert.Equal(t, []string{"schedule", "workflow_dispatch"}, sorted, "drift.yml: triggers")
	assert.Regexp(t, `(?m)^\s+- cron: "\d+ \d+ \* \* \*"`, w.raw, "drift.yml: a nightly cron")
	_, top := extras(t, w, "dev")
	assert.Equal(t, map[string]string{"contents": "read"}, top, "drift.yml: workflow permissions")

	// Each stack once per trigger, with its own environment and role: never the deploy's
	// environment, whose subject the deploy role trusts (access/pipeline).
	type entry struct{ environment, role, when string }
	want := map[string]entry{
		"dev":               {"dev-drift", "${{ vars.AWS_DRIFT_ROLE_ARN_DEV }}", ""},
		"staging":           {"staging-drift", "${{ vars.AWS_DRIFT_ROLE_ARN_STAGING }}", ""},
		"production":        {"production-drift", "${{ vars.AWS_DRIFT_ROLE_ARN_PRODUCTION }}", " && github.event_name == 'schedule'"},
		"production-manual": {"production-drift-manual", "${{ vars.AWS_DRIFT_MANUAL_ROLE_ARN_PRODUCTION }}", " && github.event_name == 'workflow_dispatch'"},
	}
	for id, e := range want {
		j := w.jobs[id]
		if !assert.NotNil(t, j, "drift.yml has no job %s", id) {
			continue
		}
		assert.Equal(t, "drift-stack.yml", j.calls(), id)
		assert.Equal(t, "github.ref == 'refs/heads/main'"+e.when, j.If, "%s: a manual run on another branch must check nothing", id)
		assert.Equal(t, e.environment, j.With["environment"], id)
		assert.Equal(t, e.role, j.With["role"], id)
		assert.Equal(t, strings.TrimSuffix(id, "-manual"), j.With["stack"], id)
		x, _ := extras(t, w, id)
		assert.Equal(t, map[string]string{"contents": "read", "id-token": "write", "issues": "write"}, x.Permissions, id)
		assert.True(t, j.Secrets.IsZero(), "%s passes secrets to the check", id)
	}
	// production-drift, which has no reviewer, is bound on the schedule only.
	for id, j := range w.jobs {
		if j.With["environment"] == "production-drift" {
			assert.Contains(t, j.If, "github.event_name == 'schedule'", id)
		}
	}

	d := all["drift-stack.yml"]
	assert.Equal(t, []string{"workflow_call"}, d.triggers)
	require.Len(t, d.jobs, 1)
	j := d.jobs["drift"]
	require.NotNil(t, j)
	assert.Equal(t, "${{ inputs.environment }}", j.environment())
	x, top := extras(t, d, "drift")
	assert.Equal(t, map[string]string{"contents": "read"}, top, "drift-stack.yml: workflow permissions")
	assert.Equal(t, map[string]string{"contents": "read", "id-token": "write", "issues": "write"}, x.Permissions, "drift-stack.yml: job permissions")
	assert.NotRegexp(t, `vars\.AWS_[A-Z_]*ROLE`, j.text, "the role comes from the caller only")
	credentials := -1
	for i, s := range j.Steps {
		if strings.HasPrefix(s.Uses, "aws-actions/configure-aws-credentials@") {
			credentials = i
			assert.Equal(t, "${{ inputs.role }}", s.With["role-to-assume"])
		}
	}
	require.NotEqual(t, -1, credentials, "drift-stack.yml assumes no role")

	// It changes nothing: no pulumi up, destroy, refresh (the command; the preview's --refresh
	// flag changes nothing), state or import; no deploy.
	changes := regexp.MustCompile(`pulumi\s+(up|destroy|refresh|import|cancel|state|stack\s+(import|rm|change-secrets-provider))\b|scripts/(create|destroy)-environment\.sh`)
	for _, s := range j.Steps {
		assert.NotRegexp(t, changes, s.Run, "step %q changes a stack", s.Name)
		for _, line := range strings.Split(s.Run, "\n") {
			if strings.Contains(line, "scripts/deploy.sh") {
				assert.Contains(t, line, "--running-image", "step %q deploys", s.Name)
			}
		}
		assert.False(t, strings.HasPrefix(s.Uses, "pulumi/actions@") && s.With["command"] != nil, "step %q runs a pulumi command through the action", s.Name)
	}

	// The running image first, then the check, with its token; then the failure.
	image, imageStep := stepRunning(j, "scripts/deploy.sh --running-image")
	check, checkStep := stepRunning(j, "scripts/report-drift.sh")
	require.NotEqual(t, -1, image, "the image the stack runs is not set")
	require.NotEqual(t, -1, check, "scripts/report-drift.sh is not run")
	assert.Less(t, credentials, image)
	assert.Less(t, image, check)
	assert.Contains(t, imageStep.Run, "pulumi config set --path taskmanager:compute.imageTag")
	assert.Equal(t, "${{ secrets.PULUMI_ACCESS_TOKEN }}", checkStep.Env["PULUMI_ACCESS_TOKEN"])
	assert.Equal(t, "${{ secrets.PULUMI_ACCESS_TOKEN }}", imageStep.Env["PULUMI_ACCESS_TOKEN"])
	assert.Equal(t, "${{ secrets.GITHUB_TOKEN }}", checkStep.Env["GH_TOKEN"])
	assert.Contains(t, checkStep.Run, `scripts/report-drift.sh "$STACK"`)
	script := readScript(t, "report-drift.sh")
	assert.Contains(t, script, "pulumi preview --refresh --expect-no-changes")
	fails, failStep := stepRunning(j, "exit 1")
	assert.Greater(t, fails, check)
	assert.Equal(t, "steps.drift.outputs.drift == 'true'", failStep.If)
	for _, name := range secretsIn(j.text) {
		assert.Contains(t, []string{"GITHUB_TOKEN", "PULUMI_ACCESS_TOKEN"}, name)
	}

	// Slack: one job after the checks, runs nothing of the repository, only where the webhook is set.
	slack := w.jobs["slack"]
	require.NotNil(t, slack, "no Slack job")
	for _, s := range slack.Steps {
		assert.Empty(t, s.Uses, "the Slack job checks out nothing")
		assert.Contains(t, s.Run, `if [[ -z $SLACK_WEBHOOK_URL ]]`, "Slack only where the webhook is set")
		assert.Equal(t, "${{ secrets.SLACK_WEBHOOK_URL }}", s.Env["SLACK_WEBHOOK_URL"])
	}
	for id, jj := range w.jobs {
		for _, name := range secretsIn(jj.text) {
			assert.Equal(t, "slack", id, "drift.yml/%s reads the secret %s", id, name)
			assert.Equal(t, "SLACK_WEBHOOK_URL", name)
		}
	}
}

func readScript(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile("../../scripts/" + name)
	require.NoError(t, err)
	return string(b)
}
