package plan

import (
	"fmt"
	"strings"

	"github.com/taskmanager/taskmanager-infra/internal/mockengine"
)

// priceQueueMetrics prices what the queue-depth function costs beside its runs (docs/queue-depth.md):
// the custom metrics it publishes, three for the worker service and two per queue, and its one
// PutMetricData and one GetSecretValue a minute. It is the function configured with a metric
// namespace.
func priceQueueMetrics(res []*mockengine.Resource, add adder) {
	for _, r := range ofType(res, typeLambda) {
		if str(r, "environment", "variables", "METRIC_NAMESPACE") == "" {
			continue
		}
		queues := 1 // the function's default: Celery's one queue
		if q := str(r, "environment", "variables", "QUEUES"); q != "" {
			queues = len(strings.Split(q, ","))
		}
		metrics := 3 + 2*queues
		calls := hours(60 * queueDepthCallsPerMinute)
		add(Line{Component: compCloudWatch, Item: fmt.Sprintf("%d custom metrics: queue depth (3 for the worker, 2 per queue)", metrics),
			Resources: label(r), Quantity: float64(metrics), Unit: "metric-month", UnitPrice: customMetricMonth})
		add(Line{Component: compCloudWatch, Item: "PutMetricData: one call a minute", Resources: label(r),
			Quantity: calls, Unit: "request", UnitPrice: putMetricDataRequest})
		add(Line{Component: compSecrets, Item: "GetSecretValue: the broker's URL once a minute", Resources: label(r),
			Quantity: calls, Unit: "call", UnitPrice: secretsAPICall})
	}
}
