package tests

import (
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// pythonStartup is the time a cold Python process needs to start and import before a health
// check command does its work, on the smallest Fargate size (0.25 vCPU). Celery imports the
// whole app first, so the worker's allowance is larger.
var pythonStartup = map[string]int{"api": 5, "worker": 20}

// ownTimeout is the bound a health check command puts on its own wait (urllib's timeout=N,
// celery's --timeout N).
var ownTimeout = regexp.MustCompile(`(?:--timeout[ =]|timeout=)(\d+)`)

// ECS kills a container health check that outlives its timeout and counts it failed: a check
// whose timeout is shorter than its command's own wait kills healthy tasks under load.
func TestHealthChecksOutlastTheirCommands(t *testing.T) {
	for _, stack := range allStacks {
		rec := runStack(t, stack)
		for _, workload := range []string{"api", "worker"} {
			_, c := containerOf(t, rec, stack, workload)
			hc := c.HealthCheck
			require.NotNil(t, hc, "%s %s has a health check", stack, workload)
			cmd := strings.Join(hc.Command, " ")
			m := ownTimeout.FindStringSubmatch(cmd)
			require.NotNil(t, m, "%s %s: the check's command bounds its own wait: %s", stack, workload, cmd)
			own, _ := strconv.Atoi(m[1])
			assert.GreaterOrEqual(t, hc.Timeout, own+pythonStartup[workload],
				"%s %s: the timeout covers the command's %d s and %d s of start-up", stack, workload, own, pythonStartup[workload])
			assert.Greater(t, hc.Interval, hc.Timeout, "%s %s: checks never overlap", stack, workload)
			assert.GreaterOrEqual(t, hc.StartPeriod, 3*hc.Timeout, "%s %s: a new task has time to start before failures count", stack, workload)
			// ECS's ranges.
			assert.True(t, hc.Interval >= 5 && hc.Interval <= 300, "interval %d", hc.Interval)
			assert.True(t, hc.Timeout >= 2 && hc.Timeout <= 120, "timeout %d", hc.Timeout)
			assert.True(t, hc.StartPeriod >= 0 && hc.StartPeriod <= 300, "startPeriod %d", hc.StartPeriod)
			assert.True(t, hc.Retries >= 1 && hc.Retries <= 10, "retries %d", hc.Retries)
		}
		_, worker := containerOf(t, rec, stack, "worker")
		assert.Equal(t, []int{60, 30, 3, 180}, []int{worker.HealthCheck.Interval, worker.HealthCheck.Timeout, worker.HealthCheck.Retries, worker.HealthCheck.StartPeriod}, stack)
		_, api := containerOf(t, rec, stack, "api")
		assert.Equal(t, []int{30, 10, 3, 60}, []int{api.HealthCheck.Interval, api.HealthCheck.Timeout, api.HealthCheck.Retries, api.HealthCheck.StartPeriod}, stack)
	}
}
