// Package queuedepth implements the queue-depth Lambda of the Task Management System: every
// minute it measures the backlog of the Celery queues in Redis (the broker) and the age of their
// oldest waiting task, reads how many tasks the worker service runs, and publishes Backlog,
// BacklogPerTask and OldestTaskAgeSeconds to CloudWatch, where a target-tracking policy scales
// the workers on BacklogPerTask and an alarm watches OldestTaskAgeSeconds. docs/queue-depth.md
// is the contract with the program that deploys it.
//
// Nothing here logs or returns the broker URL or its token: errors and log lines carry the
// secret's ARN, Redis's address and queue names only.
package queuedepth

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
)

// The metrics, in the namespace METRIC_NAMESPACE.
const (
	// MetricBacklog is the number of waiting messages (Count): per queue, with the Queue
	// dimension, and for the service, the sum over QUEUES, without it.
	MetricBacklog = "Backlog"
	// MetricBacklogPerTask is the service's Backlog divided by its running tasks, at least one
	// (Count; without the Queue dimension). The scaling policy tracks it.
	MetricBacklogPerTask = "BacklogPerTask"
	// MetricOldestTaskAge is how long the oldest waiting message has waited (Seconds): per queue,
	// and for the service, the largest over QUEUES. Published only when known; 0 when nothing waits.
	MetricOldestTaskAge = "OldestTaskAgeSeconds"
)

// The dimensions of every metric: the worker service's cluster and name, and Queue on the
// per-queue metrics.
const (
	DimensionCluster = "Cluster"
	DimensionService = "Service"
	DimensionQueue   = "Queue"
)

// maxClockSkew is how far in the future a message's publish time may be (the app's clock against
// Lambda's) and still count as "just sent". Further than that, the header is not what the
// function expects (milliseconds instead of seconds, say) and the age is unknown.
const maxClockSkew = 5 * time.Minute

// Secrets is the part of the Secrets Manager API the function calls; *secretsmanager.Client
// implements it.
type Secrets interface {
	GetSecretValue(ctx context.Context, in *secretsmanager.GetSecretValueInput, optFns ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error)
}

// ECS is the part of the ECS API the function calls; *ecs.Client implements it.
type ECS interface {
	DescribeServices(ctx context.Context, in *ecs.DescribeServicesInput, optFns ...func(*ecs.Options)) (*ecs.DescribeServicesOutput, error)
}

// CloudWatch is the part of the CloudWatch API the function calls; *cloudwatch.Client
// implements it.
type CloudWatch interface {
	PutMetricData(ctx context.Context, in *cloudwatch.PutMetricDataInput, optFns ...func(*cloudwatch.Options)) (*cloudwatch.PutMetricDataOutput, error)
}

// Measurer measures and publishes. Every field but Log and Now is required.
type Measurer struct {
	Secrets    Secrets
	ECS        ECS
	CloudWatch CloudWatch
	Dial       Dial
	Config     Config
	Log        *slog.Logger
	Now        func() time.Time
}

// QueueResult is one queue's measurement.
type QueueResult struct {
	Queue   string `json:"queue"`
	Backlog int64  `json:"backlog"`
	// OldestTaskAgeSeconds is nil when the oldest message carries no usable publish time.
	OldestTaskAgeSeconds *float64 `json:"oldestTaskAgeSeconds,omitempty"`
}

// Result is what one invocation measured; the handler returns it, so that a manual invocation
// shows it.
type Result struct {
	Backlog int64 `json:"backlog"`
	// RunningTasks and BacklogPerTask are nil when ECS could not be read.
	RunningTasks   *int32   `json:"runningTasks,omitempty"`
	BacklogPerTask *float64 `json:"backlogPerTask,omitempty"`
	// OldestTaskAgeSeconds is the largest of the queues' ages, nil when one of them is unknown.
	OldestTaskAgeSeconds *float64      `json:"oldestTaskAgeSeconds,omitempty"`
	Queues               []QueueResult `json:"queues"`
	// Metrics is how many datums were published.
	Metrics int `json:"metrics"`
}

// Handle is the Lambda handler; the schedule's event carries nothing it needs. It publishes
// nothing when Redis cannot be read. When ECS cannot be read it still publishes what Redis told
// (Backlog, OldestTaskAgeSeconds) and returns the error, so the invocation counts as failed.
func (m *Measurer) Handle(ctx context.Context) (Result, error) {
	log := m.logger().With("cluster", m.Config.ECSCluster, "service", m.Config.ECSService)
	now := time.Now()
	if m.Now != nil {
		now = m.Now()
	}
	res, err := m.measureQueues(ctx, now, log)
	if err != nil {
		return Result{}, err
	}
	running, ecsErr := m.runningTasks(ctx)
	if ecsErr == nil {
		perTask := float64(res.Backlog) / float64(max(running, 1))
		res.RunningTasks, res.BacklogPerTask = &running, &perTask
	}
	in := m.metricData(res, now)
	res.Metrics = len(in.MetricData)
	if _, err := m.CloudWatch.PutMetricData(ctx, in); err != nil {
		return res, errors.Join(ecsErr, fmt.Errorf("put %d metrics in namespace %s: %w", len(in.MetricData), m.Config.MetricNamespace, err))
	}
	attrs := []any{"backlog", res.Backlog, "metrics", res.Metrics}
	if res.RunningTasks != nil {
		attrs = append(attrs, "runningTasks", *res.RunningTasks, "backlogPerTask", *res.BacklogPerTask)
	}
	if res.OldestTaskAgeSeconds != nil {
		attrs = append(attrs, "oldestTaskAgeSeconds", *res.OldestTaskAgeSeconds)
	}
	for _, q := range res.Queues {
		qa := []any{"backlog", q.Backlog}
		if q.OldestTaskAgeSeconds != nil {
			qa = append(qa, "oldestTaskAgeSeconds", *q.OldestTaskAgeSeconds)
		}
		attrs = append(attrs, slog.Group("queue."+q.Queue, qa...))
	}
	log.Info("queue depth published", attrs...)
	if ecsErr != nil {
		log.Error("running tasks unknown; BacklogPerTask not published", "error", ecsErr)
	}
	return res, ecsErr
}

func (m *Measurer) logger() *slog.Logger {
	if m.Log != nil {
		return m.Log
	}
	return slog.New(slog.DiscardHandler)
}

// measureQueues reads every queue's lists from Redis in one round trip.
func (m *Measurer) measureQueues(ctx context.Context, now time.Time, log *slog.Logger) (Result, error) {
	u, err := m.brokerURL(ctx)
	if err != nil {
		return Result{}, err
	}
	broker, err := m.Dial(ctx, u)
	if err != nil {
		return Result{}, err
	}
	defer broker.Close()
	var keys []string
	for _, q := range m.Config.Queues {
		keys = append(keys, queueKeys(q)...)
	}
	tails, err := broker.Tails(ctx, keys)
	if err != nil {
		return Result{}, err
	}
	if len(tails) != len(keys) {
		return Result{}, fmt.Errorf("redis answered %d lists of %d", len(tails), len(keys))
	}
	res := Result{Queues: make([]QueueResult, len(m.Config.Queues))}
	var oldest float64
	allKnown := true
	for i, q := range m.Config.Queues {
		qr := QueueResult{Queue: q}
		age, known := 0.0, true
		for j, tail := range tails[i*len(priorityLists) : (i+1)*len(priorityLists)] {
			qr.Backlog += tail.Len
			// A list may be empty (no message to date), or its message too large to read.
			if tail.Oldest == nil && !tail.OldestTooLarge {
				continue
			}
			a, err := m.messageAge(tail, now)
			if err != nil {
				known = false
				log.Warn("age of the oldest waiting task unknown", "queue", q, "priorityList", priorityName(j), "reason", err.Error())
				continue
			}
			age = max(age, a)
		}
		if known {
			qr.OldestTaskAgeSeconds = &age
			oldest = max(oldest, age)
		}
		allKnown = allKnown && known
		res.Backlog += qr.Backlog
		res.Queues[i] = qr
	}
	if allKnown {
		res.OldestTaskAgeSeconds = &oldest
	}
	return res, nil
}

// priorityName names a priority list for the logs: the plain list is step 0.
func priorityName(i int) string {
	return [...]string{"0", "3", "6", "9"}[i]
}

// brokerURL reads the broker secret. Its errors say what is wrong, never what the value is.
func (m *Measurer) brokerURL(ctx context.Context) (BrokerURL, error) {
	arn := m.Config.BrokerSecretARN
	out, err := m.Secrets.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(arn)})
	if err != nil {
		return BrokerURL{}, fmt.Errorf("get secret %s: %w", arn, err)
	}
	if out.SecretString == nil {
		return BrokerURL{}, fmt.Errorf("secret %s has no string value", arn)
	}
	u, err := ParseBrokerURL(*out.SecretString)
	if err != nil {
		return BrokerURL{}, fmt.Errorf("secret %s: %w", arn, err)
	}
	return u, nil
}

// messageAge is how long the message at the tail of a list has waited, from the publish time the
// app puts in its headers (SENT_AT_HEADER). Celery's message carries no such time of its own.
func (m *Measurer) messageAge(tail ListTail, now time.Time) (float64, error) {
	if tail.OldestTooLarge {
		return 0, fmt.Errorf("message larger than %d bytes is not read", maxMessage)
	}
	sent, err := sentAt(tail.Oldest, m.Config.SentAtHeader)
	if err != nil {
		return 0, err
	}
	if sent.After(now.Add(maxClockSkew)) {
		return 0, fmt.Errorf("header %q is more than %s in the future (want Unix seconds, not milliseconds)", m.Config.SentAtHeader, maxClockSkew)
	}
	age := max(now.Sub(sent).Seconds(), 0)
	return math.Round(age*1000) / 1000, nil
}

// sentAt reads the publish time from a Celery message as kombu's Redis transport stores it: a
// JSON envelope {"body": ..., "headers": {...}, "properties": {...}}. The header is Unix seconds
// (a JSON number, as Python's time.time() gives) or an RFC 3339 string with an offset. The errors
// never quote the message, which holds the task's arguments.
func sentAt(msg []byte, header string) (time.Time, error) {
	var env struct {
		Headers map[string]json.RawMessage `json:"headers"`
	}
	if err := json.Unmarshal(msg, &env); err != nil {
		return time.Time{}, errors.New("message is not a JSON envelope with headers")
	}
	raw, ok := env.Headers[header]
	if !ok || string(raw) == "null" {
		return time.Time{}, fmt.Errorf("message has no %q header", header)
	}
	var secs float64
	if err := json.Unmarshal(raw, &secs); err == nil {
		if secs <= 0 || math.IsInf(secs, 0) || math.IsNaN(secs) {
			return time.Time{}, fmt.Errorf("header %q is not a positive Unix time", header)
		}
		whole, frac := math.Modf(secs)
		return time.Unix(int64(whole), int64(frac*1e9)), nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err == nil {
		if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("header %q is neither Unix seconds nor an RFC 3339 time with an offset", header)
}

// runningTasks is the worker service's running task count.
func (m *Measurer) runningTasks(ctx context.Context) (int32, error) {
	cluster, service := m.Config.ECSCluster, m.Config.ECSService
	out, err := m.ECS.DescribeServices(ctx, &ecs.DescribeServicesInput{Cluster: aws.String(cluster), Services: []string{service}})
	if err != nil {
		return 0, fmt.Errorf("describe ECS service %s in cluster %s: %w", service, cluster, err)
	}
	if len(out.Failures) > 0 {
		return 0, fmt.Errorf("describe ECS service %s in cluster %s: %s", service, cluster, aws.ToString(out.Failures[0].Reason))
	}
	for _, svc := range out.Services {
		if aws.ToString(svc.ServiceName) != service {
			continue
		}
		if status := aws.ToString(svc.Status); status != "ACTIVE" {
			return 0, fmt.Errorf("ECS service %s in cluster %s is %s, not ACTIVE", service, cluster, status)
		}
		return svc.RunningCount, nil
	}
	return 0, fmt.Errorf("ECS service %s in cluster %s not found", service, cluster)
}

// metricData is the one PutMetricData call: the service's metrics first, then each queue's.
func (m *Measurer) metricData(res Result, now time.Time) *cloudwatch.PutMetricDataInput {
	var data []cwtypes.MetricDatum
	add := func(name string, value float64, unit cwtypes.StandardUnit, queue string) {
		dims := []cwtypes.Dimension{
			{Name: aws.String(DimensionCluster), Value: aws.String(m.Config.ECSCluster)},
			{Name: aws.String(DimensionService), Value: aws.String(m.Config.ECSService)},
		}
		if queue != "" {
			dims = append(dims, cwtypes.Dimension{Name: aws.String(DimensionQueue), Value: aws.String(queue)})
		}
		data = append(data, cwtypes.MetricDatum{
			MetricName: aws.String(name),
			Dimensions: dims,
			Timestamp:  aws.Time(now),
			Unit:       unit,
			Value:      aws.Float64(value),
		})
	}
	add(MetricBacklog, float64(res.Backlog), cwtypes.StandardUnitCount, "")
	if res.BacklogPerTask != nil {
		add(MetricBacklogPerTask, *res.BacklogPerTask, cwtypes.StandardUnitCount, "")
	}
	if res.OldestTaskAgeSeconds != nil {
		add(MetricOldestTaskAge, *res.OldestTaskAgeSeconds, cwtypes.StandardUnitSeconds, "")
	}
	for _, q := range res.Queues {
		add(MetricBacklog, float64(q.Backlog), cwtypes.StandardUnitCount, q.Queue)
		if q.OldestTaskAgeSeconds != nil {
			add(MetricOldestTaskAge, *q.OldestTaskAgeSeconds, cwtypes.StandardUnitSeconds, q.Queue)
		}
	}
	return &cloudwatch.PutMetricDataInput{Namespace: aws.String(m.Config.MetricNamespace), MetricData: data}
}
