package observability

import (
	"encoding/json"
	"fmt"
	"slices"

	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/cloudwatch"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/rds"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/sns"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/taskmanager/taskmanager-infra/internal/naming"
)

const observabilityType = "taskmanager:observability:Observability"

// Args configures the monitoring.
type Args struct {
	Config MonitoringConfig
	Stack  string
	Region string
	KeyArn pulumi.StringInput
	// Metric dimensions of what is watched.
	LoadBalancerSuffix pulumi.StringInput
	// TargetGroupSuffixes are the API's target groups (blue, and green with blue/green).
	TargetGroupSuffixes []pulumi.StringInput
	Cluster             string
	Services            []string
	// DatabaseIdentifier and ReplicaIdentifier (nil without a replica) are the instances'
	// outputs: RDS refuses an event subscription to an instance that does not exist yet.
	DatabaseIdentifier pulumi.StringInput
	ReplicaIdentifier  pulumi.StringInput
	// CacheGroupID and CacheNodes name the Redis nodes: <group id>-001, -002, ...
	CacheGroupID pulumi.StringInput
	CacheNodes   int
	// RotationFunctions are the secret rotation functions by kind, whose failures page.
	RotationFunctions map[string]pulumi.StringOutput
	// EventRetentionDays keeps the record of failed rotations; an allowed CloudWatch value.
	EventRetentionDays int
	// QueueDepth, where the queue-depth function runs, is what its alarms watch (nil: none).
	QueueDepth *QueueDepth
}

// Observability is the alarms, the dashboards and, where alerting, the topic that pages.
type Observability struct {
	pulumi.ResourceState
	AlarmNames pulumi.StringArrayOutput `pulumi:"alarmNames"`
	TopicArn   pulumi.StringOutput      `pulumi:"topicArn"` // "" without alerting
	// AlarmActions are where alarms go: the alert topic, or nothing without alerting.
	AlarmActions pulumi.Array
}

// alarm is one static-threshold alarm.
type alarm struct {
	name, description       string
	namespace, metric, stat string // stat: Average, Sum, Maximum, Minimum or a percentile (p99)
	dimensions              pulumi.StringMap
	comparison              string
	threshold               float64
	// math, when set, alarms on an expression of these metric queries instead of one metric.
	math []cloudwatch.MetricAlarmMetricQueryInput
	// once alarms on one breaching period instead of three: for events, not levels.
	once bool
	// period is the seconds of one datapoint; 0 is a minute.
	period int
}

// NewObservability creates the alarms and, per level, the dashboards and the alert topic.
func NewObservability(ctx *pulumi.Context, name string, args *Args, opts ...pulumi.ResourceOption) (*Observability, error) {
	cfg := args.Config
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	o := &Observability{TopicArn: pulumi.String("").ToStringOutput()}
	if err := ctx.RegisterComponentResource(observabilityType, name, o, opts...); err != nil {
		return nil, err
	}
	parent := pulumi.Parent(o)

	var actions pulumi.Array
	if cfg.Level == Alerting {
		topic, err := sns.NewTopic(ctx, name+"-alerts", &sns.TopicArgs{
			DisplayName:    pulumi.Sprintf("taskmanager %s alerts", args.Stack),
			KmsMasterKeyId: args.KeyArn,
		}, parent)
		if err != nil {
			return nil, err
		}
		for i, email := range cfg.AlertEmails {
			if _, err := sns.NewTopicSubscription(ctx, fmt.Sprintf("%s-alerts-%d", name, i), &sns.TopicSubscriptionArgs{
				Topic: topic.Arn, Protocol: pulumi.String("email"), Endpoint: pulumi.String(email),
			}, parent); err != nil {
				return nil, err
			}
		}
		actions = pulumi.Array{topic.Arn}
		o.TopicArn, o.AlarmActions = topic.Arn, actions
		// RDS's own events (failover, failure, maintenance, low storage) page too (FSBP RDS.20).
		ids := pulumi.StringArray{args.DatabaseIdentifier}
		if args.ReplicaIdentifier != nil {
			ids = append(ids, args.ReplicaIdentifier)
		}
		if _, err := rds.NewEventSubscription(ctx, name+"-database-events", &rds.EventSubscriptionArgs{
			SnsTopic:        topic.Arn,
			SourceType:      pulumi.String("db-instance"),
			SourceIds:       ids,
			EventCategories: pulumi.ToStringArray([]string{"availability", "failover", "failure", "low storage", "maintenance", "recovery"}),
		}, parent); err != nil {
			return nil, err
		}
	}

	rotation, err := rotationWatch(ctx, name, args, parent)
	if err != nil {
		return nil, err
	}
	names, err := newAlarms(ctx, name, slices.Concat(alarms(args), rotation, queueAlarms(args)), actions, parent)
	if err != nil {
		return nil, err
	}
	o.AlarmNames = names.ToStringArrayOutput()

	if cfg.Level != Basic {
		for _, d := range dashboards(args) {
			if _, err := cloudwatch.NewDashboard(ctx, fmt.Sprintf("%s-%s", name, d.key), &cloudwatch.DashboardArgs{
				DashboardName: pulumi.String(naming.For(args.Stack).Resource(d.key)),
				DashboardBody: d.body,
			}, parent, pulumi.DeleteBeforeReplace(true)); err != nil { // named by the spec's checklist
				return nil, err
			}
		}
	}
	return o, ctx.RegisterResourceOutputs(o, pulumi.Map{"alarmNames": o.AlarmNames, "topicArn": o.TopicArn})
}

// newAlarms creates the alarms, named <name>-<alarm>, acting on actions (none: visible, paging
// nobody), and returns their names.
func newAlarms(ctx *pulumi.Context, name string, list []alarm, actions pulumi.Array, parent pulumi.ResourceOption) (pulumi.StringArray, error) {
	var names pulumi.StringArray
	for _, a := range list {
		alarmName := fmt.Sprintf("%s-%s", name, a.name)
		periods := 3
		if a.once {
			periods = 1
		}
		ma := &cloudwatch.MetricAlarmArgs{
			Name:               pulumi.String(alarmName),
			AlarmDescription:   pulumi.String(a.description),
			ComparisonOperator: pulumi.String(a.comparison),
			Threshold:          pulumi.Float64(a.threshold),
			EvaluationPeriods:  pulumi.Int(periods),
			DatapointsToAlarm:  pulumi.Int(periods),
			TreatMissingData:   pulumi.String("notBreaching"),
			// Basic and full monitoring keep the alarms visible without paging anyone.
			ActionsEnabled: pulumi.Bool(len(actions) > 0),
			AlarmActions:   actions,
			OkActions:      actions,
		}
		if a.math != nil {
			ma.MetricQueries = cloudwatch.MetricAlarmMetricQueryArray(a.math)
		} else {
			ma.Namespace = pulumi.String(a.namespace)
			ma.MetricName = pulumi.String(a.metric)
			ma.Dimensions = a.dimensions
			ma.Period = pulumi.Int(60)
			if a.period > 0 {
				ma.Period = pulumi.Int(a.period)
			}
			if a.stat[0] == 'p' {
				ma.ExtendedStatistic = pulumi.String(a.stat)
			} else {
				ma.Statistic = pulumi.String(a.stat)
			}
		}
		// The alarm's name is what the runbook and the pipeline read: a replacement deletes the old
		// alarm first, since two cannot share it.
		al, err := cloudwatch.NewMetricAlarm(ctx, alarmName, ma, parent, pulumi.DeleteBeforeReplace(true))
		if err != nil {
			return nil, err
		}
		names = append(names, al.Name)
	}
	return names, nil
}

// alarms are what breaks this system: the load balancer's errors and latency, unhealthy targets,
// the services' CPU and memory, the database's CPU, storage and replica lag, and Redis's memory,
// evictions and CPU.
func alarms(args *Args) []alarm {
	t := args.Config.Thresholds
	lb := pulumi.StringMap{"LoadBalancer": args.LoadBalancerSuffix}
	query := func(id, metric string) cloudwatch.MetricAlarmMetricQueryArgs {
		return cloudwatch.MetricAlarmMetricQueryArgs{Id: pulumi.String(id), Metric: cloudwatch.MetricAlarmMetricQueryMetricArgs{
			Namespace: pulumi.String("AWS/ApplicationELB"), MetricName: pulumi.String(metric), Dimensions: lb,
			Period: pulumi.Int(60), Stat: pulumi.String("Sum"),
		}}
	}
	out := []alarm{
		// The API's own 5xx and the load balancer's (502/503/504: no healthy target, a target that
		// hung up or timed out). RequestCount leaves out the requests the load balancer refused
		// before choosing a target (503 with no healthy target), so they join the denominator:
		// with every target down the rate is 100%, not 0/0. The 502s and 504s of a chosen target
		// are in RequestCount already and so count twice below the line: the rate understates them
		// (all 502 reads 50%), which still crosses any sensible threshold.
		{name: "alb-5xx-rate", description: fmt.Sprintf("More than %g%% of requests answered 5xx by the API or the load balancer", t.ALB5xxPercent),
			comparison: "GreaterThanThreshold", threshold: t.ALB5xxPercent,
			math: []cloudwatch.MetricAlarmMetricQueryInput{
				query("target5xx", "HTTPCode_Target_5XX_Count"),
				query("elb5xx", "HTTPCode_ELB_5XX_Count"),
				query("requests", "RequestCount"),
				cloudwatch.MetricAlarmMetricQueryArgs{Id: pulumi.String("rate"), Label: pulumi.String("5xx %"),
					Expression: pulumi.String("IF(FILL(requests, 0) + FILL(elb5xx, 0) > 0, " +
						"100 * (FILL(target5xx, 0) + FILL(elb5xx, 0)) / (FILL(requests, 0) + FILL(elb5xx, 0)), 0)"),
					ReturnData: pulumi.Bool(true)},
			}},
		{name: "alb-p99-latency", description: fmt.Sprintf("API p99 response time above %gs", t.P99LatencySeconds),
			namespace: "AWS/ApplicationELB", metric: "TargetResponseTime", stat: "p99", dimensions: lb,
			comparison: "GreaterThanThreshold", threshold: t.P99LatencySeconds},
	}
	for i, suffix := range args.TargetGroupSuffixes {
		out = append(out, alarm{name: fmt.Sprintf("alb-unhealthy-targets-%d", i), description: "API tasks failing the load balancer's health check",
			namespace: "AWS/ApplicationELB", metric: "UnHealthyHostCount", stat: "Maximum",
			dimensions: pulumi.StringMap{"LoadBalancer": args.LoadBalancerSuffix, "TargetGroup": suffix},
			comparison: "GreaterThanThreshold", threshold: 0})
	}
	for _, svc := range args.Services {
		dims := pulumi.StringMap{"ClusterName": pulumi.String(args.Cluster), "ServiceName": pulumi.String(svc)}
		out = append(out,
			alarm{name: svc + "-cpu", description: fmt.Sprintf("%s CPU above %g%%", svc, t.ServiceCPUPercent),
				namespace: "AWS/ECS", metric: "CPUUtilization", stat: "Average", dimensions: dims,
				comparison: "GreaterThanThreshold", threshold: t.ServiceCPUPercent},
			alarm{name: svc + "-memory", description: fmt.Sprintf("%s memory above %g%%", svc, t.ServiceMemoryPercent),
				namespace: "AWS/ECS", metric: "MemoryUtilization", stat: "Average", dimensions: dims,
				comparison: "GreaterThanThreshold", threshold: t.ServiceMemoryPercent},
		)
	}
	db := pulumi.StringMap{"DBInstanceIdentifier": args.DatabaseIdentifier}
	out = append(out,
		alarm{name: "database-cpu", description: fmt.Sprintf("PostgreSQL CPU above %g%%", t.DatabaseCPUPercent),
			namespace: "AWS/RDS", metric: "CPUUtilization", stat: "Average", dimensions: db,
			comparison: "GreaterThanThreshold", threshold: t.DatabaseCPUPercent},
		alarm{name: "database-free-storage", description: fmt.Sprintf("PostgreSQL free storage below %g GiB", t.DatabaseFreeStorageGiB),
			namespace: "AWS/RDS", metric: "FreeStorageSpace", stat: "Minimum", dimensions: db,
			comparison: "LessThanThreshold", threshold: t.DatabaseFreeStorageGiB * (1 << 30)},
	)
	if args.ReplicaIdentifier != nil {
		out = append(out, alarm{name: "database-replica-lag", description: fmt.Sprintf("Read replica more than %gs behind", t.ReplicaLagSeconds),
			namespace: "AWS/RDS", metric: "ReplicaLag", stat: "Maximum",
			dimensions: pulumi.StringMap{"DBInstanceIdentifier": args.ReplicaIdentifier},
			comparison: "GreaterThanThreshold", threshold: t.ReplicaLagSeconds})
	}
	for i := 1; i <= args.CacheNodes; i++ {
		node := pulumi.StringMap{"CacheClusterId": pulumi.Sprintf("%s-%03d", args.CacheGroupID, i)}
		out = append(out,
			alarm{name: fmt.Sprintf("cache-%03d-memory", i), description: fmt.Sprintf("Redis node %d memory above %g%%", i, t.CacheMemoryPercent),
				namespace: "AWS/ElastiCache", metric: "DatabaseMemoryUsagePercentage", stat: "Maximum", dimensions: node,
				comparison: "GreaterThanThreshold", threshold: t.CacheMemoryPercent},
			alarm{name: fmt.Sprintf("cache-%03d-evictions", i), description: "Redis evicted keys: queued tasks may be lost",
				namespace: "AWS/ElastiCache", metric: "Evictions", stat: "Sum", dimensions: node,
				comparison: "GreaterThanThreshold", threshold: t.CacheEvictions},
			alarm{name: fmt.Sprintf("cache-%03d-cpu", i), description: fmt.Sprintf("Redis node %d engine CPU above %g%%", i, t.CacheCPUPercent),
				namespace: "AWS/ElastiCache", metric: "EngineCPUUtilization", stat: "Average", dimensions: node,
				comparison: "GreaterThanThreshold", threshold: t.CacheCPUPercent},
		)
	}
	return out
}

// dashboard is one CloudWatch dashboard.
type dashboard struct {
	key  string // system-health, api-performance
	body pulumi.StringOutput
}

// dashboards are the two the spec's approval checklist watches: "System Health" and
// "API Performance".
func dashboards(args *Args) []dashboard {
	widget := func(title string, metrics [][]any, x, y int) map[string]any {
		return map[string]any{"type": "metric", "x": x, "y": y, "width": 12, "height": 6, "properties": map[string]any{
			"title": title, "region": args.Region, "metrics": metrics, "period": 60, "view": "timeSeries",
		}}
	}
	render := func(widgets func(lb, tg, group, database string) []map[string]any) pulumi.StringOutput {
		return pulumi.All(args.LoadBalancerSuffix, args.TargetGroupSuffixes[0], args.CacheGroupID, args.DatabaseIdentifier).ApplyT(func(v []any) (string, error) {
			b, err := json.Marshal(map[string]any{"widgets": widgets(v[0].(string), v[1].(string), v[2].(string), v[3].(string))})
			return string(b), err
		}).(pulumi.StringOutput)
	}
	system := render(func(lb, tg, group, database string) []map[string]any {
		var ecsCPU, ecsMem [][]any
		for _, s := range args.Services {
			ecsCPU = append(ecsCPU, []any{"AWS/ECS", "CPUUtilization", "ClusterName", args.Cluster, "ServiceName", s})
			ecsMem = append(ecsMem, []any{"AWS/ECS", "MemoryUtilization", "ClusterName", args.Cluster, "ServiceName", s})
		}
		db := []any{"AWS/RDS", "CPUUtilization", "DBInstanceIdentifier", database}
		return []map[string]any{
			widget("ECS CPU %", ecsCPU, 0, 0),
			widget("ECS memory %", ecsMem, 12, 0),
			widget("PostgreSQL CPU % and connections", [][]any{db, {"AWS/RDS", "DatabaseConnections", "DBInstanceIdentifier", database}}, 0, 6),
			widget("PostgreSQL free storage", [][]any{{"AWS/RDS", "FreeStorageSpace", "DBInstanceIdentifier", database}}, 12, 6),
			widget("Redis memory % and evictions", [][]any{
				{"AWS/ElastiCache", "DatabaseMemoryUsagePercentage", "CacheClusterId", group + "-001"},
				{"AWS/ElastiCache", "Evictions", "CacheClusterId", group + "-001"},
			}, 0, 12),
			widget("Healthy API tasks", [][]any{{"AWS/ApplicationELB", "HealthyHostCount", "LoadBalancer", lb, "TargetGroup", tg}}, 12, 12),
		}
	})
	api := render(func(lb, tg, _, _ string) []map[string]any {
		return []map[string]any{
			widget("Requests", [][]any{{"AWS/ApplicationELB", "RequestCount", "LoadBalancer", lb, map[string]any{"stat": "Sum"}}}, 0, 0),
			widget("Response time p50 / p99", [][]any{
				{"AWS/ApplicationELB", "TargetResponseTime", "LoadBalancer", lb, map[string]any{"stat": "p50"}},
				{"AWS/ApplicationELB", "TargetResponseTime", "LoadBalancer", lb, map[string]any{"stat": "p99"}},
			}, 12, 0),
			widget("5xx answers", [][]any{
				{"AWS/ApplicationELB", "HTTPCode_Target_5XX_Count", "LoadBalancer", lb, map[string]any{"stat": "Sum"}},
				{"AWS/ApplicationELB", "HTTPCode_ELB_5XX_Count", "LoadBalancer", lb, map[string]any{"stat": "Sum"}},
			}, 0, 6),
			widget("Targets", [][]any{
				{"AWS/ApplicationELB", "HealthyHostCount", "LoadBalancer", lb, "TargetGroup", tg},
				{"AWS/ApplicationELB", "UnHealthyHostCount", "LoadBalancer", lb, "TargetGroup", tg},
			}, 12, 6),
		}
	})
	return []dashboard{{"system-health", system}, {"api-performance", api}}
}
