package tests

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/taskmanager/taskmanager-infra/internal/mockengine"
)

// appSecrets are the secret variables of the API and worker: each secret name and JSON key.
var appSecrets = map[string]string{
	"DATABASE_URL": "database-url:url::", "DATABASE_READER_URL": "database-reader-url:url::",
	"REDIS_URL": "redis-url", "CELERY_BROKER_URL": "celery-broker-url", "CELERY_RESULT_BACKEND": "celery-result-backend",
	"JWT_SECRET_KEY": "jwt-secret:current::", "JWT_SECRET_KEY_PREVIOUS": "jwt-secret:previous::",
	"SMTP_USERNAME": "smtp:username::", "SMTP_PASSWORD": "smtp:password::",
	"OAUTH_GOOGLE_CLIENT_ID": "oauth-google:client_id::", "OAUTH_GOOGLE_CLIENT_SECRET": "oauth-google:client_secret::",
	"OAUTH_GITHUB_CLIENT_ID": "oauth-github:client_id::", "OAUTH_GITHUB_CLIENT_SECRET": "oauth-github:client_secret::",
	"SENTRY_DSN": "sentry-dsn", "DATADOG_API_KEY": "datadog-api-key",
}

type container struct {
	Name                   string
	Image                  string
	Command                []string
	User                   string
	ReadonlyRootFilesystem bool
	Privileged             bool
	StopTimeout            int
	PortMappings           []struct{ ContainerPort int }
	Environment            []struct{ Name, Value string }
	Secrets                []struct{ Name, ValueFrom string }
	HealthCheck            *struct {
		Command                                 []string
		Interval, Timeout, Retries, StartPeriod int
	}
	LogConfiguration struct {
		LogDriver string
		Options   map[string]string
	}
}

func containerOf(t *testing.T, rec *mockengine.Recorder, stack, workload string) (*mockengine.Resource, container) {
	t.Helper()
	td := one(t, rec, "aws:ecs/taskDefinition:TaskDefinition", stack+"-"+workload)
	var defs []container
	require.NoError(t, json.Unmarshal([]byte(td.Inputs["containerDefinitions"].(string)), &defs))
	require.Len(t, defs, 1)
	return td, defs[0]
}

func TestTaskDefinitionsMatchSpec(t *testing.T) {
	for _, stack := range allStacks {
		t.Run(stack, func(t *testing.T) {
			rec := runStack(t, stack)
			for _, w := range []string{"api", "worker", "migrations"} {
				td, c := containerOf(t, rec, stack, w)
				assert.Equal(t, stack+"-taskmanager-"+w, td.Inputs["family"])
				size, _ := specOf(t, stack).TFVars.Service("worker") // the migration task borrows the worker's size
				if w == "api" {
					size, _ = specOf(t, stack).TFVars.Service("api")
				}
				assert.Equal(t, fmt.Sprint(size.CPU), td.Inputs["cpu"], w)
				assert.Equal(t, fmt.Sprint(size.Memory), td.Inputs["memory"], w)
				assert.Equal(t, "awsvpc", td.Inputs["networkMode"])
				assert.Equal(t, []any{"FARGATE"}, td.Inputs["requiresCompatibilities"])
				assert.NotEqual(t, td.Inputs["executionRoleArn"], td.Inputs["taskRoleArn"], "execution and task roles differ")
				assert.Equal(t, true, td.Inputs["skipDestroy"], "earlier revisions stay registered for rollbacks")

				assert.Equal(t, fmt.Sprintf("%s.dkr.ecr.us-east-1.amazonaws.com/taskmanager-%s:bootstrap", mockengine.Account, stack), c.Image)
				assert.Equal(t, "1000:1000", c.User)
				assert.True(t, c.ReadonlyRootFilesystem)
				assert.False(t, c.Privileged)
				assert.Equal(t, "awslogs", c.LogConfiguration.LogDriver)
				assert.Equal(t, "/ecs/"+stack+"-taskmanager-"+w, c.LogConfiguration.Options["awslogs-group"])

				plain := map[string]string{}
				for _, e := range c.Environment {
					plain[e.Name] = e.Value
				}
				secret := map[string]string{}
				for _, s := range c.Secrets {
					secret[s.Name] = s.ValueFrom
					assert.NotContains(t, plain, s.Name, "%s: %s is secret and must not be in the plain environment", w, s.Name)
				}
				for _, v := range plain {
					assert.NotContains(t, v, "mock-", "%s: a secret value leaked into the plain environment", w)
				}
				// Every plain variable of the spec's environment blocks and behaviours.
				specEnv := specOf(t, stack).AppEnvironment()
				if w == "migrations" {
					assert.Equal(t, map[string]string{"ENVIRONMENT": specEnv["ENVIRONMENT"], "LOG_LEVEL": specEnv["LOG_LEVEL"]}, plain)
					// The schema owner's login, which the API and the worker never get.
					assert.Equal(t, map[string]string{"DATABASE_URL": secretArn(stack, "migrations-database-url") + ":url::"}, secret)
					assert.Equal(t, []string{"alembic", "upgrade", "head"}, c.Command)
					continue
				}
				if w == "api" && stack == "staging" {
					// Behind the load balancer's sign-in, the API's /logout ends on Cognito's logout
					// (edge_test.go holds the URL).
					assert.Contains(t, plain["SIGN_OUT_REDIRECT"], ".amazoncognito.com/logout?client_id=")
					delete(plain, "SIGN_OUT_REDIRECT")
				}
				assert.Equal(t, specEnv, plain, "%s: every plain variable, exactly", w)
				want := map[string]string{}
				for name, ref := range appSecrets {
					secretName, key, _ := strings.Cut(ref, ":")
					want[name] = secretArn(stack, secretName)
					if key != "" {
						want[name] += ":" + key
					}
				}
				assert.Equal(t, want, secret, "%s: every secret through valueFrom", w)
				require.NotNil(t, c.HealthCheck, w)
			}
			_, worker := containerOf(t, rec, stack, "worker")
			assert.Equal(t, 120, worker.StopTimeout, "Celery's warm shutdown gets Fargate's maximum stop timeout")
			_, api := containerOf(t, rec, stack, "api")
			assert.Equal(t, 8000, api.PortMappings[0].ContainerPort)
		})
	}
}

func TestLogRetentionPerEnvironment(t *testing.T) {
	for _, stack := range allStacks {
		want := float64(specOf(t, stack).TFVars.LogRetentionDays)
		rec := runStack(t, stack)
		groups := rec.All("aws:cloudwatch/logGroup:LogGroup")
		require.NotEmpty(t, groups)
		for _, g := range groups {
			assert.Equal(t, want, g.Inputs["retentionInDays"], "%s: %s", stack, g.Name)
		}
		for _, w := range []string{"api", "worker", "migrations"} {
			one(t, rec, "aws:cloudwatch/logGroup:LogGroup", stack+"-"+w)
		}
	}
}

func TestServicesMatchSpec(t *testing.T) {
	for _, stack := range allStacks {
		t.Run(stack, func(t *testing.T) {
			rec := runStack(t, stack)
			cluster := one(t, rec, "aws:ecs/cluster:Cluster", stack)
			assert.Equal(t, stack+"-taskmanager", cluster.Inputs["name"])
			// The matrix's Basic monitoring is AWS's free metrics: Container Insights only above it.
			insights := "enabled"
			if specMatrix(t, "Monitoring", stack) == "Basic" {
				insights = "disabled"
			}
			assert.Equal(t, []any{map[string]any{"name": "containerInsights", "value": insights}}, cluster.Inputs["settings"])
			autoscaling := specMatrix(t, "Auto Scaling", stack) == "Enabled"
			for _, name := range []string{"api", "worker"} {
				size, _ := specOf(t, stack).TFVars.Service(name)
				svc := one(t, rec, "aws:ecs/service:Service", stack+"-"+name)
				assert.Equal(t, name, svc.Inputs["name"])
				assert.Equal(t, float64(size.Desired), svc.Inputs["desiredCount"])
				net := svc.Inputs["networkConfiguration"].(map[string]any)
				assert.Equal(t, false, net["assignPublicIp"])
				assert.Equal(t, []any{"subnet-" + stack + "-private-0", "subnet-" + stack + "-private-1"}, net["subnets"])
				assert.Equal(t, []any{stack + "-" + name + "-id"}, net["securityGroups"])
				assert.Equal(t, "SERVICE", svc.Inputs["propagateTags"])
				assert.Equal(t, 100.0, svc.Inputs["deploymentMinimumHealthyPercent"], "no capacity lost during a deploy")
				assert.Equal(t, 200.0, svc.Inputs["deploymentMaximumPercent"])
				assert.Equal(t, false, svc.Inputs["enableExecuteCommand"])

				target, ok := rec.Find("aws:appautoscaling/target:Target", stack+"-"+name)
				assert.Equal(t, autoscaling, ok, "%s: auto scaling", name)
				if ok {
					assert.Equal(t, float64(size.Min), target.Inputs["minCapacity"])
					assert.Equal(t, float64(size.Max), target.Inputs["maxCapacity"])
					assert.Contains(t, svc.IgnoreChanges, "desiredCount", "pulumi up must not fight the autoscaler")
					cpu := one(t, rec, "aws:appautoscaling/policy:Policy", stack+"-"+name+"-cpu")
					spec := cpu.Inputs["targetTrackingScalingPolicyConfiguration"].(map[string]any)["predefinedMetricSpecification"].(map[string]any)
					assert.Equal(t, "ECSServiceAverageCPUUtilization", spec["predefinedMetricType"])
				} else {
					assert.NotContains(t, svc.IgnoreChanges, "desiredCount")
				}
			}
			_, byRequests := rec.Find("aws:appautoscaling/policy:Policy", stack+"-api-requests")
			assert.Equal(t, stack == "staging", byRequests, "the API scales on requests per target, except with blue/green")

			// Deployments: circuit breaker and rollback, except production's API, which CodeDeploy deploys.
			api := one(t, rec, "aws:ecs/service:Service", stack+"-api")
			worker := one(t, rec, "aws:ecs/service:Service", stack+"-worker")
			assert.Equal(t, 60.0, api.Inputs["healthCheckGracePeriodSeconds"], "slow starts are not killed")
			breaker := map[string]any{"enable": true, "rollback": true}
			assert.Equal(t, breaker, worker.Inputs["deploymentCircuitBreaker"])
			if stack == "production" {
				assert.Equal(t, map[string]any{"type": "CODE_DEPLOY"}, api.Inputs["deploymentController"])
				assert.Subset(t, api.IgnoreChanges, []string{"taskDefinition", "loadBalancers"})
				assert.Nil(t, api.Inputs["deploymentCircuitBreaker"])
			} else {
				assert.Equal(t, breaker, api.Inputs["deploymentCircuitBreaker"])
				assert.Nil(t, api.Inputs["deploymentController"])
			}
			provider := map[string]string{"dev": "FARGATE_SPOT", "staging": "FARGATE", "production": "FARGATE"}[stack]
			assert.Equal(t, []any{map[string]any{"capacityProvider": provider, "weight": 1.0}}, api.Inputs["capacityProviderStrategies"])
			assert.Equal(t, []any{map[string]any{
				"targetGroupArn": fmt.Sprintf("arn:aws:lb:us-east-1:%s:%s-blue", mockengine.Account, stack),
				"containerName":  "api", "containerPort": 8000.0,
			}}, api.Inputs["loadBalancers"])
		})
	}
}

func TestProductionDeploysBlueGreenThroughCodeDeploy(t *testing.T) {
	rec := runStack(t, "production")
	group := one(t, rec, "aws:codedeploy/deploymentGroup:DeploymentGroup", "production")
	in := group.Inputs
	assert.Equal(t, "CodeDeployDefault.ECSCanary10Percent15Minutes", in["deploymentConfigName"], "10% for 15 minutes, then 100%")
	assert.Equal(t, map[string]any{"enabled": true, "events": []any{"DEPLOYMENT_FAILURE", "DEPLOYMENT_STOP_ON_ALARM"}}, in["autoRollbackConfiguration"])
	alarms := in["alarmConfiguration"].(map[string]any)
	assert.Equal(t, true, alarms["enabled"])
	assert.Len(t, alarms["alarms"], 4)
	bg := in["blueGreenDeploymentConfig"].(map[string]any)
	assert.Equal(t, 60.0, bg["terminateBlueInstancesOnDeploymentSuccess"].(map[string]any)["terminationWaitTimeInMinutes"], "the old tasks are kept for the rollback hour")
	pair := in["loadBalancerInfo"].(map[string]any)["targetGroupPairInfo"].(map[string]any)
	assert.Equal(t, []any{map[string]any{"name": "production-blue"}, map[string]any{"name": "production-green"}}, pair["targetGroups"])

	out := rec.Outputs()
	assert.Equal(t, "production-taskmanager-api", out["codeDeployApplication"].Value)
	assert.Equal(t, "api", out["codeDeployDeploymentGroup"].Value)
	assert.Contains(t, out, "apiTaskDefinitionArn", "the pipeline deploys the new task definition")
	for _, stack := range []string{"dev", "staging"} {
		_, ok := runStack(t, stack).Find("aws:codedeploy/deploymentGroup:DeploymentGroup", stack)
		assert.False(t, ok, stack)
	}
}

// Production's blue/green deployment is the release's: the CodeDeploy application, group, role
// and alarms. They were the compute's: each carries an alias of its URN there, so that
// `pulumi up` moves it instead of replacing it. The group deploys the compute's API service.
func TestReleaseOwnsTheBlueGreenDeployment(t *testing.T) {
	rec := runStack(t, "production")
	release := one(t, rec, "taskmanager:release:BlueGreen", "production")
	var children []string
	for _, r := range rec.Resources() {
		if r.Parent != release.URN {
			continue
		}
		children = append(children, r.Type+" "+r.Name)
		was := strings.Replace(r.URN, "::taskmanager:release:BlueGreen$", "::taskmanager:compute:Compute$", 1)
		assert.Equal(t, []string{was}, r.Aliases, "%s: moved from the compute", r.Name)
	}
	alarm := "aws:cloudwatch/metricAlarm:MetricAlarm production-api-deploy-"
	assert.ElementsMatch(t, []string{
		"aws:iam/role:Role production-codedeploy",
		"aws:codedeploy/application:Application production",
		"aws:codedeploy/deploymentGroup:DeploymentGroup production",
		alarm + "blue-HTTPCode_Target_5XX_Count", alarm + "blue-UnHealthyHostCount",
		alarm + "green-HTTPCode_Target_5XX_Count", alarm + "green-UnHealthyHostCount",
	}, children)

	group := one(t, rec, "aws:codedeploy/deploymentGroup:DeploymentGroup", "production")
	assert.Equal(t, map[string]any{"clusterName": "production-taskmanager", "serviceName": "api"}, group.Inputs["ecsService"])
	api := one(t, rec, "aws:ecs/service:Service", "production-api")
	assert.True(t, dependsOnTransitively(rec, group, api), "the group waits for the service it deploys")

	for _, stack := range []string{"dev", "staging"} {
		for _, r := range runStack(t, stack).Resources() {
			assert.NotEqual(t, "taskmanager:release:BlueGreen", r.Type, "%s deploys rolling", stack)
		}
	}
}

func TestMigrationTaskOutputs(t *testing.T) {
	for _, stack := range allStacks {
		out := runStack(t, stack).Outputs()
		assert.Equal(t, stack+"-taskmanager", out["clusterName"].Value)
		assert.Equal(t, stack+"-taskmanager-migrations", out["migrationsTaskFamily"].Value)
		assert.Equal(t, []string{"subnet-" + stack + "-private-0", "subnet-" + stack + "-private-1"}, out["migrationsSubnetIds"].Value)
		assert.Equal(t, stack+"-migrations-id", out["migrationsSecurityGroupId"].Value)
		assert.Equal(t, []string{"api", "worker"}, out["serviceNames"].Value)
		// What a blue/green API's CodeDeploy AppSpec carries (scripts/deploy.sh): the service's
		// own network, as the program gives it.
		api := one(t, runStack(t, stack), "aws:ecs/service:Service", stack+"-api").Inputs["networkConfiguration"].(map[string]any)
		assert.Equal(t, api["subnets"], toAnyList(out["apiSubnetIds"].Value.([]string)))
		assert.Equal(t, api["securityGroups"], []any{out["apiSecurityGroupId"].Value})
	}
}

// policyResources returns, per action, the resources an IAM policy document allows.
func policyResources(t *testing.T, doc string) map[string][]string {
	t.Helper()
	var d struct {
		Statement []struct {
			Effect   string
			Action   []string
			Resource []string
		}
	}
	require.NoError(t, json.Unmarshal([]byte(doc), &d))
	out := map[string][]string{}
	for _, s := range d.Statement {
		require.Equal(t, "Allow", s.Effect)
		for _, a := range s.Action {
			out[a] = append(out[a], s.Resource...)
			sort.Strings(out[a])
		}
	}
	return out
}

func TestExecutionRolesReadExactlyTheirSecrets(t *testing.T) {
	for _, stack := range allStacks {
		rec := runStack(t, stack)
		for _, w := range []string{"api", "worker", "migrations"} {
			role := one(t, rec, "aws:iam/role:Role", stack+"-"+w+"-execution")
			policies := role.Inputs["inlinePolicies"].([]any)
			require.Len(t, policies, 1)
			got := policyResources(t, policies[0].(map[string]any)["policy"].(string))
			want := []string{secretArn(stack, "migrations-database-url")}
			if w != "migrations" {
				want = nil
				for _, n := range secretNames {
					if n != "migrations-database-url" {
						want = append(want, secretArn(stack, n))
					}
				}
				sort.Strings(want)
			}
			assert.Equal(t, map[string][]string{"secretsmanager:GetSecretValue": want, "kms:Decrypt": {keyArn(stack)}}, got, "%s %s", stack, w)
			assert.Equal(t, []any{"arn:aws:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy"}, role.Inputs["managedPolicyArns"])

			task := one(t, rec, "aws:iam/role:Role", stack+"-"+w+"-task")
			assert.Nil(t, task.Inputs["inlinePolicies"], "the app calls no AWS API: its task role grants nothing")
			assert.Nil(t, task.Inputs["managedPolicyArns"])
		}
	}
}

func TestRepositoryScansAndExpires(t *testing.T) {
	for _, stack := range allStacks {
		rec := runStack(t, stack)
		repo := one(t, rec, "aws:ecr/repository:Repository", stack)
		assert.Equal(t, "taskmanager-"+stack, repo.Inputs["name"])
		assert.Equal(t, "IMMUTABLE", repo.Inputs["imageTagMutability"])
		assert.Equal(t, map[string]any{"scanOnPush": true}, repo.Inputs["imageScanningConfiguration"])
		assert.Equal(t, stack == "production", repo.Protect)
		assert.Equal(t, stack != "production", repo.Inputs["forceDelete"])
		policy := one(t, rec, "aws:ecr/lifecyclePolicy:LifecyclePolicy", stack)
		assert.Contains(t, policy.Inputs["policy"], `"countType":"imageCountMoreThan"`)
	}
}
