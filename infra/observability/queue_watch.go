package observability

import (
	"fmt"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// QueueDepth is the queue-depth function (docs/queue-depth.md) as its alarms see it.
type QueueDepth struct {
	// FunctionName is the function's, whose errors alarm.
	FunctionName pulumi.StringInput
	// Namespace and OldestTaskAge name the metric of the oldest waiting task's age.
	Namespace, OldestTaskAge string
	// Dimensions are the service-level metrics' dimensions (Cluster and Service), with the
	// values the function publishes under.
	Dimensions pulumi.StringMap
}

// queueAlarms are the Celery queue's: its oldest task waiting longer than the threshold (the
// workers do not keep up, or none runs), and the function that measures it failing. While the
// function fails the worker scales on CPU alone and the age alarm sees no data, so its failure
// is noticed on its own.
func queueAlarms(args *Args) []alarm {
	q := args.QueueDepth
	if q == nil {
		return nil
	}
	t := args.Config.Thresholds
	return []alarm{
		// The age already counts the time the task has waited: one minute above the threshold is
		// the condition itself, not a spike. Missing data is not breaching: the age is absent on
		// purpose while the app does not stamp sent_at.
		{name: "worker-oldest-task-age", once: true,
			description: fmt.Sprintf("A Celery task has waited more than %gs in the queue: see docs/queue-depth.md", t.OldestTaskAgeSeconds),
			namespace:   q.Namespace, metric: q.OldestTaskAge, stat: "Maximum", dimensions: q.Dimensions,
			comparison: "GreaterThanThreshold", threshold: t.OldestTaskAgeSeconds},
		// Three failed minutes in a row: one failed sample is noise, three mean the worker has lost
		// its queue-depth scaling.
		{name: "queue-depth-errors",
			description: "The queue-depth function failed three minutes running: the worker scales on CPU alone; see docs/queue-depth.md",
			namespace:   "AWS/Lambda", metric: "Errors", stat: "Sum", dimensions: pulumi.StringMap{"FunctionName": q.FunctionName},
			comparison: "GreaterThanOrEqualToThreshold", threshold: 1},
	}
}
