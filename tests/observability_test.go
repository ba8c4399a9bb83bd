package tests

import (
	"encoding/json"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/taskmanager/taskmanager-infra/internal/mockengine"
)

func TestAlarmsPerStack(t *testing.T) {
	// Every alarm every stack has, by name without the stack prefix, with its threshold.
	common := map[string]float64{
		"alb-5xx-rate": 5, "alb-p99-latency": 2, "alb-unhealthy-targets-0": 0,
		"api-cpu": 85, "api-memory": 85, "worker-cpu": 85, "worker-memory": 85,
		"database-cpu": 80, "database-free-storage": 5 * (1 << 30),
		"cache-001-memory": 80, "cache-001-evictions": 0, "cache-001-cpu": 80,
		// One failure of a rotation is enough: left alone, the next one costs the app its login.
		"rotation-database-errors": 1, "rotation-jwt-errors": 1, "rotation-failed": 1,
	}
	extra := map[string]map[string]float64{
		"dev": {},
		"staging": {"database-replica-lag": 60,
			"cache-002-memory": 80, "cache-002-evictions": 0, "cache-002-cpu": 80,
			"worker-oldest-task-age": 300, "queue-depth-errors": 1},
		"production": {"database-replica-lag": 60, "alb-unhealthy-targets-1": 0,
			"cache-002-memory": 80, "cache-002-evictions": 0, "cache-002-cpu": 80,
			"cache-003-memory": 80, "cache-003-evictions": 0, "cache-003-cpu": 80,
			"worker-oldest-task-age": 300, "queue-depth-errors": 1,
			// The log archive: Firehose's delivery (three 5-minute buffers stale, or a delivery
			// failed) and each object's lock.
			"log-archive-freshness": 900, "log-archive-delivery": 1, "archive-lock-errors": 1},
	}
	for _, stack := range allStacks {
		t.Run(stack, func(t *testing.T) {
			rec := runStack(t, stack)
			want := map[string]float64{}
			for k, v := range common {
				want[k] = v
			}
			for k, v := range extra[stack] {
				want[k] = v
			}
			got := map[string]float64{}
			for _, a := range rec.All("aws:cloudwatch/metricAlarm:MetricAlarm") {
				if strings.Contains(a.Name, "-api-deploy-") {
					continue // the blue/green deployment alarms, tested with CodeDeploy
				}
				if strings.HasPrefix(a.Name, stack+"-nat-") {
					continue // the NAT instance's recovery: EC2 actions, not notifications (nat_test.go)
				}
				got[strings.TrimPrefix(a.Name, stack+"-")] = a.Inputs["threshold"].(float64)
				alerting := stack == "production"
				assert.Equal(t, alerting, a.Inputs["actionsEnabled"], "%s: only production pages", a.Name)
				if alerting {
					assert.Equal(t, []any{"arn:aws:sns:us-east-1:123456789012:production-alerts"}, a.Inputs["alarmActions"], a.Name)
				} else {
					assert.Nil(t, a.Inputs["alarmActions"], a.Name)
				}
				assert.Equal(t, "notBreaching", a.Inputs["treatMissingData"])
			}
			assert.Equal(t, want, got)

			p99 := one(t, rec, "aws:cloudwatch/metricAlarm:MetricAlarm", stack+"-alb-p99-latency")
			assert.Equal(t, "p99", p99.Inputs["extendedStatistic"])
			assert.Equal(t, "TargetResponseTime", p99.Inputs["metricName"])
			rate := one(t, rec, "aws:cloudwatch/metricAlarm:MetricAlarm", stack+"-alb-5xx-rate")
			// The load balancer's own 5xx (no healthy target, 502/504) count as errors, and the
			// 503s it answers before choosing a target (not in RequestCount) as requests too.
			metrics := map[string]string{}
			var expression any
			for _, q := range rate.Inputs["metricQueries"].([]any) {
				q := q.(map[string]any)
				if m, ok := q["metric"].(map[string]any); ok {
					metrics[q["id"].(string)] = m["metricName"].(string)
					assert.Equal(t, "Sum", m["stat"])
				} else {
					expression = q["expression"]
					assert.Equal(t, true, q["returnData"])
				}
			}
			assert.Equal(t, map[string]string{"target5xx": "HTTPCode_Target_5XX_Count", "elb5xx": "HTTPCode_ELB_5XX_Count", "requests": "RequestCount"}, metrics)
			assert.Equal(t, "IF(FILL(requests, 0) + FILL(elb5xx, 0) > 0, 100 * (FILL(target5xx, 0) + FILL(elb5xx, 0)) / (FILL(requests, 0) + FILL(elb5xx, 0)), 0)", expression)
			evictions := one(t, rec, "aws:cloudwatch/metricAlarm:MetricAlarm", stack+"-cache-001-evictions")
			assert.Equal(t, map[string]any{"CacheClusterId": stack + "-id-001"}, evictions.Inputs["dimensions"])
		})
	}
}

func TestDashboardsAndAlerting(t *testing.T) {
	for _, stack := range allStacks {
		rec := runStack(t, stack)
		var names []string
		for _, d := range rec.All("aws:cloudwatch/dashboard:Dashboard") {
			names = append(names, d.Inputs["dashboardName"].(string))
			var body struct{ Widgets []map[string]any }
			require.NoError(t, json.Unmarshal([]byte(d.Inputs["dashboardBody"].(string)), &body))
			assert.NotEmpty(t, body.Widgets)
		}
		sort.Strings(names)
		if stack == "dev" {
			assert.Empty(t, names, "dev's monitoring is Basic: no dashboards")
		} else {
			assert.Equal(t, []string{stack + "-taskmanager-api-performance", stack + "-taskmanager-system-health"}, names,
				"the spec's System Health and API Performance dashboards")
		}
		topics := rec.All("aws:sns/topic:Topic")
		if stack != "production" {
			assert.Empty(t, topics, "%s does not page", stack)
			continue
		}
		require.Len(t, topics, 1)
		assert.Equal(t, keyArn(stack), topics[0].Inputs["kmsMasterKeyId"])
		sub := one(t, rec, "aws:sns/topicSubscription:TopicSubscription", "production-alerts-0")
		assert.Equal(t, "email", sub.Inputs["protocol"])
		assert.Equal(t, "oncall@taskmanager.com", sub.Inputs["endpoint"])
		key := one(t, rec, "aws:kms/key:Key", stack)
		// AWS's documented statement for services publishing to encrypted topics, exactly: a
		// condition on a key those services do not send would drop every alert silently.
		var policy struct{ Statement []map[string]any }
		require.NoError(t, json.Unmarshal([]byte(key.Inputs["policy"].(string)), &policy))
		publishers := slices.IndexFunc(policy.Statement, func(s map[string]any) bool {
			return reflect.DeepEqual(s["Principal"], map[string]any{"Service": []any{"cloudwatch.amazonaws.com", "events.rds.amazonaws.com"}})
		})
		require.GreaterOrEqual(t, publishers, 0, "alarms and RDS events can publish to the encrypted topic")
		assert.Equal(t, []any{"kms:Decrypt", "kms:GenerateDataKey*"}, policy.Statement[publishers]["Action"])
		assert.Nil(t, policy.Statement[publishers]["Condition"])
		events := one(t, rec, "aws:rds/eventSubscription:EventSubscription", stack+"-database-events")
		assert.Equal(t, "arn:aws:sns:us-east-1:123456789012:production-alerts", events.Inputs["snsTopic"])
		assert.Equal(t, []any{"production-taskmanager-db", "production-taskmanager-db-replica"}, events.Inputs["sourceIds"])
		assert.Contains(t, events.Inputs["eventCategories"], "failover")
	}
}

func TestMonitoringConfigRules(t *testing.T) {
	dev := loadStack(t, "dev")
	assert.Contains(t, runInvalid(t, mutate(t, dev, "taskmanager:monitoring", func(m map[string]any) { m["level"] = "alerting" })),
		"taskmanager:monitoring.alertEmails: is empty, and level alerting pages someone; want at least one address")
	assert.Contains(t, runInvalid(t, mutate(t, dev, "taskmanager:monitoring", func(m map[string]any) { m["level"] = "verbose" })),
		`taskmanager:monitoring.level: "verbose" is not a monitoring level; want one of basic, full, alerting`)
	assert.Contains(t, runInvalid(t, mutate(t, dev, "taskmanager:monitoring", func(m map[string]any) {
		m["thresholds"].(map[string]any)["serviceCpuPercent"] = 120
	})), "taskmanager:monitoring.thresholds.serviceCpuPercent: 120 is not a percentage; want more than 0 and at most 100")
}

func TestProductionArchivesLogsFor365Days(t *testing.T) {
	rec := runStack(t, "production")
	stream := one(t, rec, "aws:kinesis/firehoseDeliveryStream:FirehoseDeliveryStream", "production-log-archive")
	s3 := stream.Inputs["extendedS3Configuration"].(map[string]any)
	assert.Equal(t, "arn:aws:s3:::production-log-archive", s3["bucketArn"], "the archive's own bucket, not the access logs'")
	var groups []string
	for _, f := range rec.All("aws:cloudwatch/logSubscriptionFilter:LogSubscriptionFilter") {
		groups = append(groups, f.Inputs["logGroup"].(string))
		assert.Equal(t, "arn:aws:firehose:us-east-1:123456789012:deliverystream/production-taskmanager-log-archive", f.Inputs["destinationArn"])
	}
	// The app's logs, and production's audit logs: the database's (connections, DDL, slow
	// statements) on both instances, the WAF's requests and the bastion's sessions.
	assert.ElementsMatch(t, []string{"/ecs/production-taskmanager-api", "/ecs/production-taskmanager-worker", "/ecs/production-taskmanager-migrations",
		"/aws/rds/instance/production-taskmanager-db/postgresql", "/aws/rds/instance/production-taskmanager-db-replica/postgresql",
		"aws-waf-logs-taskmanager-production", "/ssm/production-taskmanager-sessions"}, groups)
	// Each archived group exists first: a subscription filter's create fails on a missing group.
	for _, f := range rec.All("aws:cloudwatch/logSubscriptionFilter:LogSubscriptionFilter") {
		found := false
		for _, g := range rec.All("aws:cloudwatch/logGroup:LogGroup") {
			if g.Inputs["name"] == f.Inputs["logGroup"] {
				found = true
				assert.True(t, dependsOnTransitively(rec, f, g), "%s waits for %s", f.Name, g.Name)
			}
		}
		assert.True(t, found, "%s archives %v, which the stack does not create", f.Name, f.Inputs["logGroup"])
	}
	// Firehose writes under its prefix and, for records it cannot deliver, under its error
	// prefix: its role may write both, or failed records are lost without a trace.
	role := one(t, rec, "aws:iam/role:Role", "production-log-archive-delivery")
	puts := policyResources(t, role.Inputs["inlinePolicies"].([]any)[0].(map[string]any)["policy"].(string))["s3:PutObject"]
	assert.Equal(t, []string{keyArn("production")}, policyResources(t, role.Inputs["inlinePolicies"].([]any)[0].(map[string]any)["policy"].(string))["kms:GenerateDataKey"],
		"the archive's bucket encrypts with the environment's key")
	for _, key := range []string{"prefix", "errorOutputPrefix"} {
		prefix := s3[key].(string)
		object := "arn:aws:s3:::production-log-archive/" + prefix[:strings.Index(prefix, "!{")] + "2026/11/28/part-1"
		assert.True(t, slices.ContainsFunc(puts, func(p string) bool { return iamMatch(p, object) }), "the delivery role may not put %s (%s %q); it may put %v", object, key, prefix, puts)
	}
	// CloudWatch keeps 30 days (hot); the bucket keeps the archive 365 days (cold).
	life := one(t, rec, "aws:s3/bucketLifecycleConfigurationV2:BucketLifecycleConfigurationV2", "production-logs")
	assert.Equal(t, map[string]any{"days": 365.0}, life.Inputs["rules"].([]any)[0].(map[string]any)["expiration"])
	for _, stack := range []string{"dev", "staging"} {
		assert.Empty(t, runStack(t, stack).All("aws:kinesis/firehoseDeliveryStream:FirehoseDeliveryStream"), "%s has no archive", stack)
	}
	// The archive brings its own bucket: dev, with no logs bucket, may archive too.
	devArchive, err := mockengine.RunSource(mockengine.WithExternalSecrets(mutate(t, loadStack(t, "dev"), "taskmanager:logging", func(m map[string]any) { m["archiveDays"] = 365 })))
	require.NoError(t, err)
	one(t, devArchive, "aws:s3/bucketV2:BucketV2", "dev-log-archive")
}

// iamMatch is IAM's resource matching: '*' is any run of characters, '/' included.
func iamMatch(pattern, arn string) bool {
	re := "^" + strings.ReplaceAll(regexp.QuoteMeta(pattern), `\*`, ".*") + "$"
	return regexp.MustCompile(re).MatchString(arn)
}

// A failed rotation pages (where a topic pages at all): the functions' errors and Secrets
// Manager's RotationFailed events, each on its first occurrence.
func TestFailedRotationsAlarm(t *testing.T) {
	for _, stack := range allStacks {
		t.Run(stack, func(t *testing.T) {
			rec := runStack(t, stack)
			for _, kind := range []string{"database", "jwt"} {
				a := one(t, rec, "aws:cloudwatch/metricAlarm:MetricAlarm", stack+"-rotation-"+kind+"-errors")
				assert.Equal(t, "AWS/Lambda", a.Inputs["namespace"])
				assert.Equal(t, "Errors", a.Inputs["metricName"])
				assert.Equal(t, map[string]any{"FunctionName": stack + "-taskmanager-rotate-" + kind}, a.Inputs["dimensions"])
				assert.Equal(t, "GreaterThanOrEqualToThreshold", a.Inputs["comparisonOperator"])
				assert.Equal(t, 1.0, a.Inputs["evaluationPeriods"])
				assert.Equal(t, 1.0, a.Inputs["datapointsToAlarm"])
			}
			rule := one(t, rec, "aws:cloudwatch/eventRule:EventRule", stack+"-rotation-failed")
			var pattern map[string]any
			require.NoError(t, json.Unmarshal([]byte(rule.Inputs["eventPattern"].(string)), &pattern))
			assert.Equal(t, []any{"aws.secretsmanager"}, pattern["source"])
			assert.Equal(t, map[string]any{"eventName": []any{"RotationFailed"}}, pattern["detail"])
			target := one(t, rec, "aws:cloudwatch/eventTarget:EventTarget", stack+"-rotation-failed")
			group := one(t, rec, "aws:cloudwatch/logGroup:LogGroup", stack+"-rotation-failed")
			assert.Equal(t, "/aws/events/"+stack+"-taskmanager-rotation-failed", group.Inputs["name"])
			assert.Equal(t, "arn:aws:cloudwatch:us-east-1:123456789012:"+stack+"-rotation-failed", target.Inputs["arn"])
			policy := one(t, rec, "aws:cloudwatch/logResourcePolicy:LogResourcePolicy", stack+"-rotation-failed")
			var doc struct {
				Statement []struct {
					Action    []string
					Resource  []string
					Condition map[string]map[string]string
				}
			}
			require.NoError(t, json.Unmarshal([]byte(policy.Inputs["policyDocument"].(string)), &doc))
			require.Len(t, doc.Statement, 2)
			// EventBridge creates the stream without naming the rule; only its PutLogEvents carries
			// aws:SourceArn, so only that statement may require it.
			assert.Equal(t, []string{"logs:CreateLogStream"}, doc.Statement[0].Action)
			assert.Nil(t, doc.Statement[0].Condition)
			assert.Equal(t, []string{"logs:PutLogEvents"}, doc.Statement[1].Action)
			assert.Equal(t, "arn:aws:cloudwatch:us-east-1:123456789012:"+stack+"-rotation-failed", doc.Statement[1].Condition["ArnEquals"]["aws:SourceArn"],
				"only this rule writes events to the group")
			for _, st := range doc.Statement {
				assert.Equal(t, []string{target.Inputs["arn"].(string) + ":*"}, st.Resource)
			}
			failed := one(t, rec, "aws:cloudwatch/metricAlarm:MetricAlarm", stack+"-rotation-failed")
			assert.Equal(t, "AWS/Events", failed.Inputs["namespace"])
			assert.Equal(t, "TriggeredRules", failed.Inputs["metricName"])
			assert.Equal(t, map[string]any{"RuleName": stack + "-rotation-failed"}, failed.Inputs["dimensions"])
			assert.Equal(t, stack == "production", failed.Inputs["actionsEnabled"], "pages where a topic does")
		})
	}
}

// A failing log archive is noticed the day it fails, not a year later: Firehose's own delivery
// metrics, per 5-minute buffer, on the stream the archive writes through.
func TestLogArchiveDeliveryAlarms(t *testing.T) {
	rec := runStack(t, "production")
	stream := one(t, rec, "aws:kinesis/firehoseDeliveryStream:FirehoseDeliveryStream", "production-log-archive")
	for name, want := range map[string]struct{ metric, stat, comparison string }{
		"production-log-archive-freshness": {"DeliveryToS3.DataFreshness", "Maximum", "GreaterThanThreshold"},
		"production-log-archive-delivery":  {"DeliveryToS3.Success", "Minimum", "LessThanThreshold"},
	} {
		a := one(t, rec, "aws:cloudwatch/metricAlarm:MetricAlarm", name)
		assert.Equal(t, "AWS/Firehose", a.Inputs["namespace"], name)
		assert.Equal(t, want.metric, a.Inputs["metricName"], name)
		assert.Equal(t, want.stat, a.Inputs["statistic"], name)
		assert.Equal(t, want.comparison, a.Inputs["comparisonOperator"], name)
		assert.Equal(t, map[string]any{"DeliveryStreamName": stream.Inputs["name"]}, a.Inputs["dimensions"], name)
		assert.Equal(t, 300.0, a.Inputs["period"], "%s: Firehose delivers every 5 minutes", name)
	}
	lock := one(t, rec, "aws:cloudwatch/metricAlarm:MetricAlarm", "production-archive-lock-errors")
	assert.Equal(t, map[string]any{"FunctionName": "production-taskmanager-archive-lock"}, lock.Inputs["dimensions"])
	assert.Equal(t, 1.0, lock.Inputs["evaluationPeriods"], "one unlocked object pages")
}
