package scripts_test

import (
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"
)

// Issue 18, item 10. A job that runs a pull request's code (it checks it out, or is a called
// workflow's) holds a read-only GitHub token: no write permission but id-token (OIDC). A job that
// writes (pull-requests: write, to comment) checks out and runs nothing: no action, only gh and the
// shell, its data from the environment.
func TestPullRequestCodeRunsWithoutAWriteToken(t *testing.T) {
	t.Parallel()
	all := loadWorkflows(t)
	runsCode := regexp.MustCompile(`(^|\s)(go|make|npm|npx|node|python3?|bash|sh|\./|scripts/|pulumi)\S*`)
	permsOf := func(w *workflow, j *job) map[string]string {
		var doc struct {
			Permissions map[string]string `yaml:"permissions"`
		}
		require.NoError(t, yaml.Unmarshal([]byte(j.text), &doc))
		if doc.Permissions != nil {
			return doc.Permissions
		}
		require.NoError(t, yaml.Unmarshal([]byte(w.raw), &doc))
		return doc.Permissions
	}
	commenters := 0
	for _, j := range runByPullRequests(t, all) {
		if j.calls() != "" {
			continue
		}
		perms := permsOf(all[j.file], j)
		require.NotNil(t, perms, "%s: no permissions: the default token may write", j.key())
		writes := false
		for scope, level := range perms {
			if scope != "id-token" && level == "write" {
				writes = true
			}
		}
		if !writes {
			continue
		}
		commenters++
		assert.Empty(t, j.environment(), "%s writes and is bound to an environment", j.key())
		for _, s := range j.Steps {
			assert.Empty(t, s.Uses, "%s writes and uses %s (an action, or the pull request's code)", j.key(), s.Uses)
			for _, line := range strings.Split(s.Run, "\n") {
				assert.NotRegexp(t, runsCode, strings.TrimSpace(line), "%s writes and runs %q", j.key(), line)
			}
			assert.NotContains(t, s.Run, "${{", "%s: no expression is pasted into the script's text", j.key())
		}
	}
	assert.GreaterOrEqual(t, commenters, 2, "the cost and the preview comments")

	// The preview: read-only token, no GitHub token handed to the action; its diff reaches the
	// comment job as an output.
	ci := all["ci.yml"]
	require.NotNil(t, ci)
	preview, comment := ci.jobs["preview"], ci.jobs["comment"]
	require.NotNil(t, preview)
	require.NotNil(t, comment)
	assert.Equal(t, map[string]string{"contents": "read", "id-token": "write"}, permsOf(ci, preview))
	assert.NotContains(t, preview.text, "GITHUB_TOKEN")
	assert.NotContains(t, preview.text, "github.token")
	for _, s := range preview.Steps {
		assert.Nil(t, s.With["comment-on-pr"], "step %q comments from the job that runs the pull request's code", s.Name)
		assert.Nil(t, s.With["github-token"], "step %q", s.Name)
	}
	assert.Equal(t, map[string]string{"pull-requests": "write"}, permsOf(ci, comment))
	require.Len(t, comment.Steps, 1)
	assert.Equal(t, "${{ needs.preview.outputs.report }}", comment.Steps[0].Env["REPORT"])
	assert.Contains(t, preview.text, "steps.preview.outputs.output")
}

// Issue 18, item 11: the pipeline on main accepts only an image built from main (main-<sha>) or
// "current" (what dev runs), before dev and so before staging's promotion; staging's deploy
// promotes dev's image (scripts/deploy.sh checks its tag again: deploy_test.go).
func TestMainPipelineTakesOnlyMainBuilds(t *testing.T) {
	t.Parallel()
	w := loadWorkflows(t)["deploy.yml"]
	require.NotNil(t, w)
	resolve := w.jobs["resolve"]
	require.NotNil(t, resolve)
	require.Len(t, resolve.Steps, 1)
	assert.Contains(t, resolve.Steps[0].Run, `if [[ $REQUESTED != current && ! $REQUESTED =~ ^main-[0-9a-f]{7,40}$ ]]; then`)
	assert.Contains(t, resolve.Steps[0].Run, "exit 1")
	staging := w.jobs["staging"]
	require.NotNil(t, staging)
	assert.Equal(t, "${{ needs.dev.outputs.image }}", staging.With["source-image"], "staging promotes dev's image")
	assert.Equal(t, "${{ needs.dev.outputs.image-tag }}", staging.With["image-tag"])
	deploy := loadWorkflows(t)["deploy-stack.yml"].jobs["deploy"]
	_, step := stepRunning(deploy, `scripts/deploy.sh "${promote[@]}" "$STACK" "$TAG"`)
	assert.Contains(t, step.Run, "--promote-from", "the promotion goes through deploy.sh's check")
}
