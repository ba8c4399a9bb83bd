package scripts_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/taskmanager/taskmanager-infra/internal/testserver"
)

// pipelineRunner is the runner image every workflow job runs on; its jq is testserver.JQVersion.
const pipelineRunner = "ubuntu-24.04"

// The scripts run in the pipeline on GitHub's ubuntu-24.04 runners, whose jq is the one these
// tests give them. Another runner image would be another jq to test against.
func TestWorkflowsRunOnTheRunnerWhoseJQIsTested(t *testing.T) {
	all := loadWorkflows(t)
	for _, name := range sortedKeys(all) {
		w := all[name]
		for _, id := range sortedKeys(w.jobs) {
			j := w.jobs[id]
			if j.Uses != "" {
				continue // a reusable workflow's jobs are checked in its own file
			}
			assert.Equal(t, pipelineRunner, j.RunsOn, "%s runs on %q", j.key(), j.RunsOn)
		}
	}
}

// The scripts meet jq 1.7.1 here, as in the pipeline, unless $SCRIPTS_TEST_JQ names another
// (.ci/run runs them under Debian 12's jq 1.6 too).
func TestScriptsRunUnderThePipelinesJQ(t *testing.T) {
	if path := os.Getenv(testserver.JQEnv); path != "" {
		t.Skipf("%s=%s names the jq", testserver.JQEnv, path)
	}
	_, err := testserver.JQ()
	testserver.Require(t, err)
	s := newSandbox(t)
	out, err := exec.Command(filepath.Join(s.dir, "bin", "jq"), "--version").Output()
	require.NoError(t, err)
	assert.Equal(t, "jq-"+testserver.JQVersion, strings.TrimSpace(string(out)))
}
