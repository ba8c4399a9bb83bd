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
// SQL the person gave. Never on a pull request.
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
	assert.Contains(t, runStep.Run, `--sanitize-sql "$SANITIZE_SQL"`)
	assert.Equal(t, "${{ inputs.sanitize-sql }}", runStep.Env["SANITIZE_SQL"])
	assert.NotContains(t, runStep.Run, "${{", "inputs reach the script through env only")
	changes := regexp.MustCompile(`pulumi\s+(up|destroy|refresh|import|state)\b|scripts/deploy\.sh|--stack\s+production`)
	for _, s := range j.Steps {
		for _, line := range strings.Split(s.Run, "\n") {
			if line = strings.TrimSpace(line); !strings.HasPrefix(line, "echo ") {
				assert.NotRegexp(t, changes, line, "step %q", s.Name)
			}
		}
	}
}
