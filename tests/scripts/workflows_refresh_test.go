package scripts_test

import (
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Staging's data refresh: by hand only, from main only, bound to its own environment and its
// refresh role; it names no production secret, variable or role, and runs the script with the
// repository's fixed SQL. Never on a pull request.
func TestStagingDataRefreshIsManualAndStagingOnly(t *testing.T) {
	t.Parallel()
	all := loadWorkflows(t)
	require.Contains(t, all, "refresh-staging-data.yml")
	w := all["refresh-staging-data.yml"]
	assert.Equal(t, []string{"workflow_dispatch"}, w.triggers)
	require.Len(t, w.jobs, 1)
	j := w.jobs["refresh"]
	require.NotNil(t, j)
	assert.Equal(t, "staging-data-refresh", j.environment())
	assert.Contains(t, j.If, "github.ref == 'refs/heads/main'")
	x, top := extras(t, w, "refresh")
	assert.Equal(t, map[string]string{"contents": "read"}, top)
	assert.Equal(t, map[string]string{"contents": "read", "id-token": "write"}, x.Permissions)

	for _, m := range varRef.FindAllStringSubmatch(j.text, -1) {
		if strings.HasPrefix(m[1], "AWS_") && m[1] != "AWS_REGION" {
			assert.Equal(t, "AWS_DATA_REFRESH_ROLE_ARN_STAGING", m[1])
		}
		assert.NotContains(t, m[1], "PRODUCTION")
	}
	for _, name := range secretsIn(j.text) {
		assert.Contains(t, []string{"PULUMI_ACCESS_TOKEN"}, name)
	}
	run, runStep := stepRunning(j, "scripts/refresh-staging-data.sh")
	require.NotEqual(t, -1, run)
	// Issue 18, item 3: the sanitization is the repository's one fixed file (and its verification),
	// the data owners' by CODEOWNERS: no input, no option chooses another.
	assert.Equal(t, "scripts/refresh-staging-data.sh --through-bastion", strings.TrimSpace(runStep.Run))
	assert.NotContains(t, w.raw, "inputs:", "the workflow takes no input")
	assert.NotContains(t, j.text, "inputs.")
	owners := readRepoFile(t, ".github/CODEOWNERS")
	assert.Regexp(t, `(?m)^/sanitize/ @\S+`, owners, "the sanitization has code owners")
	for _, f := range []string{"sanitize/staging.sql", "sanitize/staging-verify.sql"} {
		assert.NotEmpty(t, strings.TrimSpace(readRepoFile(t, f)), f)
	}
	changes := regexp.MustCompile(`pulumi\s+(up|destroy|refresh|import|state)\b|scripts/deploy\.sh|--stack\s+production`)
	for _, s := range j.Steps {
		for _, line := range strings.Split(s.Run, "\n") {
			if line = strings.TrimSpace(line); !strings.HasPrefix(line, "echo ") {
				assert.NotRegexp(t, changes, line, "step %q", s.Name)
			}
		}
	}
}
