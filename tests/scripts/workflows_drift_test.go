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

// The drift check: nightly and by hand, never on a pull request, from main only; one job per
// stack, bound to an environment that accepts main and has no reviewers, assuming that stack's
// read-only drift role; the image the stack runs set before `pulumi preview --expect-no-changes`
// (through scripts/report-drift.sh); minimal permissions; tokens in the steps that use them;
// Slack only where the webhook is set, from a step's env.
func TestDriftCheckRunsNightlyAfterMerge(t *testing.T) {
	t.Parallel()
	all := loadWorkflows(t)
	require.Contains(t, all, "drift.yml")
	w := all["drift.yml"]
	sorted := append([]string(nil), w.triggers...)
	slices.Sort(sorted)
	assert.Equal(t, []string{"schedule", "workflow_dispatch"}, sorted, "drift.yml: triggers")
	assert.Regexp(t, `(?m)^\s+- cron: "\d+ \d+ \* \* \*"`, w.raw, "drift.yml: a nightly cron")

	require.Len(t, w.jobs, 1)
	j := w.jobs["drift"]
	require.NotNil(t, j)
	assert.Contains(t, j.If, "github.ref == 'refs/heads/main'", "a manual run on another branch must check nothing")
	assert.Equal(t, "${{ matrix.environment }}", j.environment())

	x, top := extras(t, w, "drift")
	assert.Equal(t, map[string]string{"contents": "read"}, top, "drift.yml: workflow permissions")
	assert.Equal(t, map[string]string{"contents": "read", "id-token": "write", "issues": "write"}, x.Permissions, "drift.yml: job permissions")
	if assert.NotNil(t, x.Strategy.FailFast) {
		assert.False(t, *x.Strategy.FailFast, "one stack's drift must not cancel the others' checks")
	}
	// Each stack once, with its own drift environment and role: never the deploy's environment,
	// whose subject the deploy role trusts (access/pipeline).
	want := map[string][2]string{
		"dev":        {"dev-drift", "${{ vars.AWS_DRIFT_ROLE_ARN_DEV }}"},
		"staging":    {"staging-drift", "${{ vars.AWS_DRIFT_ROLE_ARN_STAGING }}"},
		"production": {"production-drift", "${{ vars.AWS_DRIFT_ROLE_ARN_PRODUCTION }}"},
	}
	got := map[string][2]string{}
	for _, entry := range x.Strategy.Matrix.Include {
		_, dup := got[entry["stack"]]
		assert.False(t, dup, "stack %s twice", entry["stack"])
		got[entry["stack"]] = [2]string{entry["environment"], entry["role"]}
	}
	assert.Equal(t, want, got)

	// No role but the matrix's drift role; never a deploy role.
	for _, m := range varRef.FindAllStringSubmatch(j.text, -1) {
		if strings.HasPrefix(m[1], "AWS_") && m[1] != "AWS_REGION" {
			assert.Regexp(t, `^AWS_DRIFT_ROLE_ARN_(DEV|STAGING|PRODUCTION)$`, m[1])
		}
	}
	credentials := -1
	for i, s := range j.Steps {
		if strings.HasPrefix(s.Uses, "aws-actions/configure-aws-credentials@") {
			credentials = i
			assert.Equal(t, "${{ matrix.role }}", s.With["role-to-assume"])
		}
	}
	require.NotEqual(t, -1, credentials, "drift.yml assumes no role")

	// It changes nothing: no pulumi up, destroy, refresh (the command; the preview's --refresh
	// flag changes nothing), state or import; no deploy.
	changes := regexp.MustCompile(`pulumi\s+(up|destroy|refresh|import|cancel|state|stack\s+(export|import|rm|change-secrets-provider))\b|scripts/(create|destroy)-environment\.sh`)
	for _, s := range j.Steps {
		assert.NotRegexp(t, changes, s.Run, "step %q changes a stack", s.Name)
		for _, line := range strings.Split(s.Run, "\n") {
			if strings.Contains(line, "scripts/deploy.sh") {
				assert.Contains(t, line, "--running-image", "step %q deploys", s.Name)
			}
		}
		assert.False(t, strings.HasPrefix(s.Uses, "pulumi/actions@") && s.With["command"] != nil, "step %q runs a pulumi command through the action", s.Name)
	}

	// Production's check only on the schedule: the first step refuses any other run, before
	// the credentials (production-drift has no reviewer to see a person's run).
	require.NotEmpty(t, j.Steps)
	guard := j.Steps[0]
	assert.Equal(t, "matrix.stack == 'production' && github.event_name != 'schedule'", guard.If)
	assert.Contains(t, guard.Run, "exit 1")

	// The running image first, then the check, with its token; then Slack and the failure.
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

	slack, slackStep := stepRunning(j, "SLACK_WEBHOOK_URL")
	require.NotEqual(t, -1, slack, "no Slack step")
	assert.Greater(t, slack, check)
	assert.Equal(t, "${{ secrets.SLACK_WEBHOOK_URL }}", slackStep.Env["SLACK_WEBHOOK_URL"])
	assert.Contains(t, slackStep.Run, `if [[ -z $SLACK_WEBHOOK_URL ]]`, "Slack only where the webhook is set")
	for i, s := range j.Steps {
		if i != slack {
			assert.NotContains(t, s.text(t), "SLACK_WEBHOOK_URL", "step %q", s.Name)
		}
	}
	// Secrets: the GitHub token, the environment's Pulumi token, the webhook; nothing else.
	for _, name := range secretsIn(j.text) {
		assert.Contains(t, []string{"GITHUB_TOKEN", "PULUMI_ACCESS_TOKEN", "SLACK_WEBHOOK_URL"}, name)
	}
}

func readScript(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile("../../scripts/" + name)
	require.NoError(t, err)
	return string(b)
}
