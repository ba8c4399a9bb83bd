package scripts_test

import (
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"
)

// costWorkflow is .github/workflows/cost.yml with what these tests read.
type costWorkflow struct {
	On struct {
		PullRequest struct {
			Branches []string `yaml:"branches"`
			Types    []string `yaml:"types"`
		} `yaml:"pull_request"`
	} `yaml:"on"`
	Permissions map[string]string `yaml:"permissions"`
	Env         map[string]string `yaml:"env"`
	Jobs        map[string]struct {
		Needs       any               `yaml:"needs"`
		If          string            `yaml:"if"`
		Permissions map[string]string `yaml:"permissions"`
		Outputs     map[string]string `yaml:"outputs"`
		Steps       []step            `yaml:"steps"`
	} `yaml:"jobs"`
}

// The cost of every pull request (issue 20): one job runs plan delta for every stack against the
// pull request's base with no secret and a read-only token; another, which checks out and runs
// nothing of the pull request, posts the comment; a stack over budget fails the check unless the
// pull request carries the label README names.
func TestCostWorkflowShape(t *testing.T) {
	t.Parallel()
	all := loadWorkflows(t)
	w, ok := all["cost.yml"]
	require.True(t, ok, "no .github/workflows/cost.yml")
	var c costWorkflow
	require.NoError(t, yaml.Unmarshal([]byte(w.raw), &c))

	assert.Equal(t, []string{"pull_request"}, w.triggers, "pull_request only: never pull_request_target, which hands a fork's code a write token")
	assert.Equal(t, []string{"main"}, c.On.PullRequest.Branches)
	// A label added or removed runs the check again: the approval path.
	assert.Subset(t, c.On.PullRequest.Types, []string{"opened", "synchronize", "reopened", "labeled", "unlabeled"})
	assert.Equal(t, map[string]string{"contents": "read"}, c.Permissions)
	assert.Len(t, c.Jobs, 2)

	// The estimate: the pull request's code, read-only, no secret.
	delta := c.Jobs["delta"]
	assert.Equal(t, map[string]string{"contents": "read"}, delta.Permissions, "the delta job's token is read-only")
	assert.Empty(t, secretsIn(w.jobs["delta"].text), "the delta job reads no secret")
	assert.NotContains(t, w.jobs["delta"].text, "github.token", "the delta job hands its token to nothing")
	assert.Empty(t, w.jobs["delta"].environment())
	var checkout, runsDelta, gates, uploads bool
	for _, s := range delta.Steps {
		if strings.HasPrefix(s.Uses, "actions/upload-artifact@") {
			uploads = true
			assert.Regexp(t, `^actions/upload-artifact@[0-9a-f]{40}$`, s.Uses, "pinned to a commit")
			assert.Equal(t, "delta.md\ndelta.err\n", s.With["path"], "the report and the errors, as the comment shows them")
			assert.Contains(t, s.If, "always()", "uploaded whether or not a stack is over its budget")
			assert.Equal(t, true, s.ContinueOnError, "a failed upload must not skip the budget check")
		}
		if strings.HasPrefix(s.Uses, "actions/checkout@") {
			checkout = true
			assert.Equal(t, 0, s.With["fetch-depth"], "the base commit must be in the clone")
			assert.Equal(t, false, s.With["persist-credentials"], "the pull request's code must not find the token in .git/config")
		}
		if strings.Contains(s.Run, "./cmd/plan delta") {
			runsDelta = true
			// Every stack: no stack is named after the flags.
			assert.Regexp(t, `go run \./cmd/plan delta --base "\$BASE" --markdown >`, s.Run)
			assert.Equal(t, "${{ github.event.pull_request.base.sha }}", s.Env["BASE"])
		}
		if strings.Contains(s.Run, "APPROVAL_LABEL") {
			gates = true
			assert.Equal(t, "${{ contains(github.event.pull_request.labels.*.name, env.APPROVAL_LABEL) }}", s.Env["APPROVED"])
			// Over budget (exit 3) fails unless approved; any other failure always fails.
			assert.Regexp(t, `(?s)3\)\s+if \[ "\$APPROVED" = true \].*exit 1`, s.Run)
			assert.Regexp(t, `(?s)\*\)\s+echo "::error::plan delta failed.*exit 1`, s.Run)
		}
	}
	assert.True(t, checkout && runsDelta && gates && uploads, "the delta job checks out, runs plan delta, uploads the report and gates on the budget")
	assert.Contains(t, delta.Outputs, "report")
	assert.Contains(t, delta.Outputs, "status")

	// The comment: runs nothing of the pull request.
	comment := c.Jobs["comment"]
	assert.Equal(t, "delta", comment.Needs)
	assert.Equal(t, map[string]string{"pull-requests": "write"}, comment.Permissions)
	assert.Contains(t, comment.If, "github.event.pull_request.head.repo.full_name == github.repository", "a fork's read-only token cannot comment")
	assert.Empty(t, secretsIn(w.jobs["comment"].text), "the comment job reads no secret: the job's own token only")
	require.NotEmpty(t, comment.Steps)
	runsCode := regexp.MustCompile(`(^|\s)(go|make|npm|npx|node|python3?|bash|sh|\./|scripts/)\S*`)
	for _, s := range comment.Steps {
		assert.Empty(t, s.Uses, "the comment job uses no action (no checkout, nothing of the pull request): %q", s.Name)
		for _, line := range strings.Split(s.Run, "\n") {
			assert.NotRegexp(t, runsCode, strings.TrimSpace(line), "the comment job runs only gh and the shell's builtins: %q", line)
		}
		assert.Equal(t, "${{ needs.delta.outputs.report }}", s.Env["REPORT"], "the report reaches the script as data, in its environment")
		assert.NotContains(t, s.Run, "${{", "no expression is pasted into the script's text")
		assert.Contains(t, s.Run, "<!-- taskmanager-cost-delta -->", "one comment, found again by its marker")
	}

	// The label is the one README names as the approval path.
	label := c.Env["APPROVAL_LABEL"]
	require.NotEmpty(t, label)
	readme, err := os.ReadFile("../../README.md")
	require.NoError(t, err)
	assert.Contains(t, string(readme), "the label `"+label+"`", "README names the label that approves a stack over its budget")
}
