package plan

import (
	"testing"

	"github.com/taskmanager/taskmanager-infra/internal/mockengine"
)

// The queue-depth function's metrics and calls, by hand: 3 + 2 per queue custom metrics at
// $0.30, and 43,800 calls a month (730 h × 60) of PutMetricData ($0.01 per 1,000) and of
// GetSecretValue ($0.05 per 10,000). A function without a metric namespace publishes nothing.
func TestCostQueueDepthMetrics(t *testing.T) {
	fn := func(name string, vars map[string]any) *mockengine.Resource {
		return fake(typeLambda, name, map[string]any{"environment": map[string]any{"variables": vars}})
	}
	e := mustEstimate(t,
		fn("staging-queue-depth", map[string]any{"METRIC_NAMESPACE": "TaskManager/Celery", "QUEUES": "celery"}),
		fn("two-queues", map[string]any{"METRIC_NAMESPACE": "TaskManager/Celery", "QUEUES": "celery,mail"}),
		fn("default-queue", map[string]any{"METRIC_NAMESPACE": "TaskManager/Celery"}),
		fn("staging-rotate-database", map[string]any{"ROTATION_KIND": "database"}),
	)
	near(t, "one queue's metrics", lineFor(t, e, compCloudWatch, "5 custom metrics", "staging-queue-depth").Monthly, 1.50)
	near(t, "two queues' metrics", lineFor(t, e, compCloudWatch, "7 custom metrics", "two-queues").Monthly, 2.10)
	near(t, "the default queue's metrics", lineFor(t, e, compCloudWatch, "5 custom metrics", "default-queue").Monthly, 1.50)
	near(t, "PutMetricData", lineFor(t, e, compCloudWatch, "PutMetricData", "staging-queue-depth").Monthly, 0.438)
	near(t, "GetSecretValue", lineFor(t, e, compSecrets, "GetSecretValue", "staging-queue-depth").Monthly, 0.219)
	for _, l := range e.Lines {
		if l.Resources == "lambda/function staging-rotate-database" && l.Component != compLambda {
			t.Errorf("the rotation function publishes no metrics: %+v", l)
		}
	}
	// 3 × (0.438 + 0.219) for the calls, 1.50 + 2.10 + 1.50 for the metrics; the functions are free.
	near(t, "total", e.Total, 3*(0.438+0.219)+1.50+2.10+1.50)
	if len(e.Missing) != 0 {
		t.Errorf("missing = %v, want none", e.Missing)
	}
}
