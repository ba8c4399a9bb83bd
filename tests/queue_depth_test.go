package tests

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/taskmanager/taskmanager-infra/internal/mockengine"
	"github.com/taskmanager/taskmanager-infra/internal/queuedepth"
	"github.com/taskmanager/taskmanager-infra/stacks"
)

// queueDepthStacks are the stacks whose worker autoscales, and so scales on the queue too: the
// queue-depth function runs there and nowhere else.
var queueDepthStacks = map[string]bool{"dev": false, "staging": true, "production": true}

// backlogPerTask is the worker's queue-depth target per stack: 20 waiting tasks per worker task,
// five per worker process at CELERY_WORKER_CONCURRENCY 4.
var backlogPerTask = map[string]float64{"staging": 20, "production": 20}

// The function gets exactly the configuration docs/queue-depth.md lists, naming the worker
// service as the service itself is named and the broker secret the app reads, and the function's
// own configuration loader accepts it.
func TestQueueDepthFunction(t *testing.T) {
	for _, stack := range allStacks {
		t.Run(stack, func(t *testing.T) {
			rec := runStack(t, stack)
			fn, ok := rec.Find("aws:lambda/function:Function", stack+"-queue-depth")
			require.Equal(t, queueDepthStacks[stack], ok, "the function runs where the worker autoscales")
			if !ok {
				assert.Empty(t, rec.All("taskmanager:queuedepth:QueueDepth"))
				for _, typ := range []string{"aws:ec2/securityGroup:SecurityGroup", "aws:cloudwatch/eventRule:EventRule", "aws:cloudwatch/logGroup:LogGroup"} {
					_, found := rec.Find(typ, stack+"-queue-depth")
					assert.False(t, found, "%s: no %s for a function that does not run", stack, typ)
				}
				return
			}
			component := one(t, rec, "taskmanager:queuedepth:QueueDepth", stack)
			assert.Equal(t, component.URN, fn.Parent)

			cluster := one(t, rec, "aws:ecs/cluster:Cluster", stack)
			worker := one(t, rec, "aws:ecs/service:Service", stack+"-worker")
			env := functionEnv(fn)
			assert.Equal(t, map[string]any{
				// Its own read-only login, not the app's broker URL and token.
				"BROKER_SECRET_ARN": secretArn(stack, "queue-depth-redis-url"),
				"ECS_CLUSTER":       cluster.Inputs["name"],
				"ECS_SERVICE":       worker.Inputs["name"],
				"QUEUES":            "celery",
				"METRIC_NAMESPACE":  "TaskManager/Celery",
			}, env)
			assert.Equal(t, stack+"-taskmanager", env["ECS_CLUSTER"])
			assert.Equal(t, "worker", env["ECS_SERVICE"])
			cfg, err := queuedepth.LoadConfig(func(k string) string { s, _ := env[k].(string); return s })
			require.NoError(t, err, "the function starts with this configuration")
			assert.Equal(t, queuedepth.DefaultSentAtHeader, cfg.SentAtHeader, "the header the app's signal handler stamps")

			assert.Equal(t, stack+"-taskmanager-queue-depth", fn.Inputs["name"])
			assert.Equal(t, "provided.al2023", fn.Inputs["runtime"])
			assert.Equal(t, []any{"arm64"}, fn.Inputs["architectures"])
			assert.Equal(t, "bootstrap", fn.Inputs["handler"])
			assert.Equal(t, 128.0, fn.Inputs["memorySize"])
			assert.Equal(t, 30.0, fn.Inputs["timeout"], "the Redis session is bounded to 20 s")
			assert.Equal(t, map[string]any{
				"subnetIds":        []any{"subnet-" + stack + "-private-0", "subnet-" + stack + "-private-1"},
				"securityGroupIds": []any{stack + "-queue-depth-id"},
			}, fn.Inputs["vpcConfig"], "in the private subnets, with a group of its own")
			assert.True(t, fn.DeleteBeforeReplace, "the name is the runbook's: a replacement deletes the old one first")

			logs := one(t, rec, "aws:cloudwatch/logGroup:LogGroup", stack+"-queue-depth")
			assert.Equal(t, "/aws/lambda/"+fn.Inputs["name"].(string), logs.Inputs["name"], "the group Lambda writes to")
			stackCfg, err := stacks.Load(mockengine.WithExternalSecrets(loadStack(t, stack)))
			require.NoError(t, err)
			assert.Equal(t, float64(stackCfg.Logging.RetentionDays), logs.Inputs["retentionInDays"], "retention as the stack's other logs")
			assert.Equal(t, keyArn(stack), logs.Inputs["kmsKeyId"])
			assert.True(t, dependsOnTransitively(rec, fn, logs), "the group exists before Lambda would create one without retention or key")

			role := one(t, rec, "aws:iam/role:Role", stack+"-queue-depth")
			assert.JSONEq(t, `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"lambda.amazonaws.com"},"Action":["sts:AssumeRole"]}]}`,
				role.Inputs["assumeRolePolicy"].(string))
			assert.Equal(t, fmt.Sprintf("arn:aws:iam:us-east-1:%s:%s-queue-depth", mockengine.Account, stack), fn.Inputs["role"])
		})
	}
}

// The role allows exactly what docs/queue-depth.md lists, each on its one resource: the broker
// secret, the key through Secrets Manager only, the worker service, the metrics' namespace, its
// own log group, and the network interfaces Lambda manages in the VPC.
func TestQueueDepthRoleIsLeastPrivilege(t *testing.T) {
	for stack, runs := range queueDepthStacks {
		if !runs {
			continue
		}
		t.Run(stack, func(t *testing.T) {
			rec := runStack(t, stack)
			policy := one(t, rec, "aws:iam/rolePolicy:RolePolicy", stack+"-queue-depth")
			assert.Equal(t, stack+"-queue-depth", policy.Inputs["role"])
			logGroup := fmt.Sprintf("arn:aws:cloudwatch:us-east-1:%s:%s-queue-depth", mockengine.Account, stack)
			assert.JSONEq(t, fmt.Sprintf(`{"Version":"2012-10-17","Statement":[
				{"Effect":"Allow","Action":["secretsmanager:GetSecretValue"],"Resource":[%q]},
				{"Effect":"Allow","Action":["kms:Decrypt"],"Resource":[%q],
				 "Condition":{"StringEquals":{"kms:ViaService":"secretsmanager.us-east-1.amazonaws.com"}}},
				{"Effect":"Allow","Action":["ecs:DescribeServices"],"Resource":["arn:aws:ecs:us-east-1:%s:service/%s-taskmanager/worker"]},
				{"Effect":"Allow","Action":["cloudwatch:PutMetricData"],"Resource":["*"],
				 "Condition":{"StringEquals":{"cloudwatch:namespace":"TaskManager/Celery"}}},
				{"Effect":"Allow","Action":["ec2:DescribeNetworkInterfaces"],"Resource":["*"]},
				{"Effect":"Allow","Action":["ec2:CreateNetworkInterface"],"Resource":["arn:aws:ec2:us-east-1:%[3]s:network-interface/*"]},
				{"Effect":"Allow","Action":["ec2:CreateNetworkInterface"],
				 "Resource":["arn:aws:ec2:us-east-1:%[3]s:subnet/*","arn:aws:ec2:us-east-1:%[3]s:security-group/*"],
				 "Condition":{"ArnEquals":{"ec2:Vpc":"arn:aws:ec2:us-east-1:%[3]s:vpc/vpc-%[4]s"}}},
				{"Effect":"Allow","Action":["ec2:DeleteNetworkInterface","ec2:AssignPrivateIpAddresses","ec2:UnassignPrivateIpAddresses"],
				 "Resource":["arn:aws:ec2:us-east-1:%[3]s:network-interface/*"],
				 "Condition":{"ArnEquals":{"ec2:Vpc":"arn:aws:ec2:us-east-1:%[3]s:vpc/vpc-%[4]s"}}},
				{"Effect":"Allow","Action":["logs:CreateLogStream","logs:PutLogEvents"],"Resource":[%[5]q]}]}`,
				secretArn(stack, "queue-depth-redis-url"), keyArn(stack), mockengine.Account, stack, logGroup+":*"),
				policy.Inputs["policy"].(string))
			fn := one(t, rec, "aws:lambda/function:Function", stack+"-queue-depth")
			assert.True(t, dependsOnTransitively(rec, fn, policy), "the function starts with its permissions")
		})
	}
}

// EventBridge runs the function every minute, may invoke it from that rule only, and Lambda does
// not retry a failed sample: the next minute measures again.
func TestQueueDepthSchedule(t *testing.T) {
	for stack, runs := range queueDepthStacks {
		if !runs {
			continue
		}
		t.Run(stack, func(t *testing.T) {
			rec := runStack(t, stack)
			fn := one(t, rec, "aws:lambda/function:Function", stack+"-queue-depth")
			fnArn := fmt.Sprintf("arn:aws:lambda:us-east-1:%s:%s-queue-depth", mockengine.Account, stack)
			rule := one(t, rec, "aws:cloudwatch/eventRule:EventRule", stack+"-queue-depth")
			ruleArn := fmt.Sprintf("arn:aws:cloudwatch:us-east-1:%s:%s-queue-depth", mockengine.Account, stack)
			assert.Equal(t, "rate(1 minute)", rule.Inputs["scheduleExpression"])
			assert.Nil(t, rule.Inputs["eventPattern"])

			target := one(t, rec, "aws:cloudwatch/eventTarget:EventTarget", stack+"-queue-depth")
			assert.Equal(t, fnArn, target.Inputs["arn"])
			assert.Equal(t, stack+"-queue-depth", target.Inputs["rule"])

			permission := one(t, rec, "aws:lambda/permission:Permission", stack+"-queue-depth")
			assert.Equal(t, map[string]any{
				"action": "lambda:InvokeFunction", "function": fn.Inputs["name"],
				"principal": "events.amazonaws.com", "sourceArn": ruleArn,
			}, permission.Inputs, "only this rule may invoke it")

			retries := one(t, rec, "aws:lambda/functionEventInvokeConfig:FunctionEventInvokeConfig", stack+"-queue-depth")
			assert.Equal(t, map[string]any{
				"functionName": fn.Inputs["name"], "maximumRetryAttempts": 0.0, "maximumEventAgeInSeconds": 60.0,
			}, retries.Inputs)

			// The schedule starts once an invocation can succeed: allowed, not retried, with the
			// broker's URL in its secret and the network open to Redis.
			cacheIngress := one(t, rec, "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule", stack+"-cache-in-6379-queue-depth")
			brokerValue := one(t, rec, "aws:secretsmanager/secretVersion:SecretVersion", stack+"-celery-broker-url")
			for _, before := range []*mockengine.Resource{permission, retries, cacheIngress, brokerValue} {
				assert.True(t, dependsOnTransitively(rec, target, before), "the schedule waits for %s", before.Name)
			}
		})
	}
}

// The worker scales on its backlog per task beside CPU, where it autoscales, on exactly the
// metric the function publishes: its namespace, name and dimensions, with the service's names.
func TestWorkerScalesOnBacklogPerTask(t *testing.T) {
	for _, stack := range allStacks {
		t.Run(stack, func(t *testing.T) {
			rec := runStack(t, stack)
			_, apiBacklog := rec.Find("aws:appautoscaling/policy:Policy", stack+"-api-backlog")
			assert.False(t, apiBacklog, "the API does not scale on the queue")
			backlog, ok := rec.Find("aws:appautoscaling/policy:Policy", stack+"-worker-backlog")
			require.Equal(t, queueDepthStacks[stack], ok)
			if !ok {
				return
			}
			one(t, rec, "aws:appautoscaling/policy:Policy", stack+"-worker-cpu") // beside CPU, not instead
			target := one(t, rec, "aws:appautoscaling/target:Target", stack+"-worker")
			assert.Equal(t, "TargetTrackingScaling", backlog.Inputs["policyType"])
			assert.Equal(t, "service/"+stack+"-taskmanager/worker", backlog.Inputs["resourceId"])
			assert.Equal(t, target.Inputs["resourceId"], backlog.Inputs["resourceId"])
			assert.Equal(t, map[string]any{
				"targetValue":      backlogPerTask[stack],
				"scaleOutCooldown": 60.0,
				"scaleInCooldown":  300.0,
				"customizedMetricSpecification": map[string]any{
					"namespace":  queuedepth.DefaultMetricNamespace,
					"metricName": queuedepth.MetricBacklogPerTask,
					"statistic":  "Average",
					"dimensions": []any{
						map[string]any{"name": "Cluster", "value": stack + "-taskmanager"},
						map[string]any{"name": "Service", "value": "worker"},
					},
				},
			}, backlog.Inputs["targetTrackingScalingPolicyConfiguration"])
			fn := one(t, rec, "aws:lambda/function:Function", stack+"-queue-depth")
			env := functionEnv(fn)
			assert.Equal(t, env["METRIC_NAMESPACE"], queuedepth.DefaultMetricNamespace, "the policy reads the namespace the function writes")
		})
	}
}

// The oldest waiting task alarms past the stack's threshold, on the function's service-level age;
// a function that keeps failing alarms too. Both page where the stack's alarms page.
func TestQueueAlarms(t *testing.T) {
	for stack, runs := range queueDepthStacks {
		t.Run(stack, func(t *testing.T) {
			rec := runStack(t, stack)
			age, ok := rec.Find("aws:cloudwatch/metricAlarm:MetricAlarm", stack+"-worker-oldest-task-age")
			_, errorsAlarm := rec.Find("aws:cloudwatch/metricAlarm:MetricAlarm", stack+"-queue-depth-errors")
			require.Equal(t, runs, ok)
			require.Equal(t, runs, errorsAlarm)
			if !runs {
				return
			}
			assert.Equal(t, "TaskManager/Celery", age.Inputs["namespace"])
			assert.Equal(t, queuedepth.MetricOldestTaskAge, age.Inputs["metricName"])
			assert.Equal(t, map[string]any{"Cluster": stack + "-taskmanager", "Service": "worker"}, age.Inputs["dimensions"],
				"the service-level age, not a queue's")
			assert.Equal(t, "Maximum", age.Inputs["statistic"])
			assert.Equal(t, 60.0, age.Inputs["period"])
			assert.Equal(t, 300.0, age.Inputs["threshold"])
			assert.Equal(t, "GreaterThanThreshold", age.Inputs["comparisonOperator"])
			assert.Equal(t, 1.0, age.Inputs["evaluationPeriods"], "the age is already a duration: one minute above is the condition")
			assert.Equal(t, 1.0, age.Inputs["datapointsToAlarm"])
			assert.Equal(t, "notBreaching", age.Inputs["treatMissingData"], "no age while the app does not stamp sent_at")

			failing := one(t, rec, "aws:cloudwatch/metricAlarm:MetricAlarm", stack+"-queue-depth-errors")
			assert.Equal(t, "AWS/Lambda", failing.Inputs["namespace"])
			assert.Equal(t, "Errors", failing.Inputs["metricName"])
			assert.Equal(t, map[string]any{"FunctionName": stack + "-taskmanager-queue-depth"}, failing.Inputs["dimensions"])
			assert.Equal(t, "Sum", failing.Inputs["statistic"])
			assert.Equal(t, 1.0, failing.Inputs["threshold"])
			assert.Equal(t, "GreaterThanOrEqualToThreshold", failing.Inputs["comparisonOperator"])
			assert.Equal(t, 3.0, failing.Inputs["evaluationPeriods"], "three failed minutes running")

			for _, a := range []*mockengine.Resource{age, failing} {
				assert.Equal(t, stack == "production", a.Inputs["actionsEnabled"], "%s pages where the stack's alarms page", a.Name)
			}
		})
	}
}

func TestQueueDepthConfigRules(t *testing.T) {
	dev, staging := loadStack(t, "dev"), loadStack(t, "staging")
	worker := func(src stacks.Source, edit func(m map[string]any)) stacks.Source {
		return mutate(t, src, "taskmanager:worker", edit)
	}
	threshold := func(src stacks.Source, edit func(th map[string]any)) stacks.Source {
		return mutate(t, src, "taskmanager:monitoring", func(m map[string]any) { edit(m["thresholds"].(map[string]any)) })
	}
	cases := []struct {
		name string
		src  stacks.Source
		want string
	}{
		{"autoscaling without a backlog target", worker(staging, func(m map[string]any) { delete(m, "backlogPerTask") }),
			"taskmanager:worker.backlogPerTask: missing, and autoscaling is on; want the waiting tasks per worker task to scale on, e.g. 5 × concurrency"},
		{"turning autoscaling on needs a backlog target", worker(dev, func(m map[string]any) { m["autoscaling"] = true }),
			"taskmanager:worker.backlogPerTask: missing, and autoscaling is on; want the waiting tasks per worker task to scale on, e.g. 5 × concurrency"},
		{"zero backlog target", worker(staging, func(m map[string]any) { m["backlogPerTask"] = 0 }),
			"taskmanager:worker.backlogPerTask: 0 is not allowed; want more than 0 waiting tasks per worker task"},
		{"negative backlog target", worker(dev, func(m map[string]any) { m["backlogPerTask"] = -2.5 }),
			"taskmanager:worker.backlogPerTask: -2.5 is not allowed; want more than 0 waiting tasks per worker task"},
		{"backlog target not a number", worker(staging, func(m map[string]any) { m["backlogPerTask"] = "twenty" }),
			`taskmanager:worker.backlogPerTask: "twenty" is not a number`},
		{"zero age threshold", threshold(staging, func(th map[string]any) { th["oldestTaskAgeSeconds"] = 0 }),
			"taskmanager:monitoring.thresholds.oldestTaskAgeSeconds: 0 is not allowed; want more than 0"},
		{"missing age threshold", threshold(dev, func(th map[string]any) { delete(th, "oldestTaskAgeSeconds") }),
			"taskmanager:monitoring.thresholds.oldestTaskAgeSeconds: missing; this key is required"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			assert.Contains(t, runInvalid(t, c.src), c.want)
		})
	}
	// A target where nothing autoscales is valid, and deploys nothing: the function runs only
	// where the worker scales on it.
	rec, err := mockengine.RunSource(worker(dev, func(m map[string]any) { m["backlogPerTask"] = 10 }))
	require.NoError(t, err)
	_, ok := rec.Find("aws:lambda/function:Function", "dev-queue-depth")
	assert.False(t, ok)
}
