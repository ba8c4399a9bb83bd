package tests

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/taskmanager/taskmanager-infra/internal/mockengine"
	"github.com/taskmanager/taskmanager-infra/internal/rotation"
)

// dependsOnTransitively reports whether from waits for to, directly or through what it waits for.
func dependsOnTransitively(rec *mockengine.Recorder, from, to *mockengine.Resource) bool {
	byURN := map[string]*mockengine.Resource{}
	for _, r := range rec.Resources() {
		byURN[r.URN] = r
	}
	seen := map[string]bool{}
	queue := slices.Clone(from.DependsOn)
	for len(queue) > 0 {
		u := queue[0]
		queue = queue[1:]
		if u == to.URN {
			return true
		}
		if seen[u] || byURN[u] == nil {
			continue
		}
		seen[u] = true
		queue = append(queue, byURN[u].DependsOn...)
	}
	return false
}

func functionEnv(fn *mockengine.Resource) map[string]any {
	return fn.Inputs["environment"].(map[string]any)["variables"].(map[string]any)
}

// The rotation function reads its configuration from its environment at start: the program
// must set what the function requires, or every invocation fails, the bootstrap included.
func TestRotationFunctionsGetTheConfigurationTheyRequire(t *testing.T) {
	for _, stack := range allStacks {
		t.Run(stack, func(t *testing.T) {
			rec := runStack(t, stack)
			for _, kind := range []string{"database", "jwt"} {
				env := functionEnv(one(t, rec, "aws:lambda/function:Function", stack+"-rotate-"+kind))
				cfg, err := rotation.LoadConfig(func(k string) string { s, _ := env[k].(string); return s })
				require.NoError(t, err, kind)
				assert.Equal(t, []string{"api", "worker"}, cfg.ECSServices)
				if stack == "production" {
					group := one(t, rec, "aws:codedeploy/deploymentGroup:DeploymentGroup", "production")
					app := one(t, rec, "aws:codedeploy/application:Application", "production")
					assert.Equal(t, app.Inputs["name"], cfg.CodeDeployApplication, "the API's CodeDeploy application")
					assert.Equal(t, group.Inputs["deploymentGroupName"], cfg.CodeDeployDeploymentGroup)
				} else {
					assert.Empty(t, cfg.CodeDeployApplication, "%s deploys rolling only", stack)
				}
			}
			env := functionEnv(one(t, rec, "aws:lambda/function:Function", stack+"-rotate-database"))
			assert.Equal(t, secretArn(stack, "database-url"), env["SECRET_ARN"], "the bootstrap creates the login of database-url")
		})
	}
}

// The first database login exists before anything reads database-url: the bootstrap invocation
// runs before the services and before the first rotation, and the first rotation (which ends by
// redeploying the services) waits for the services it redeploys.
func TestFirstLoginExistsBeforeTheServicesStart(t *testing.T) {
	for _, stack := range allStacks {
		t.Run(stack, func(t *testing.T) {
			rec := runStack(t, stack)
			invocations := rec.All("aws:lambda/invocation:Invocation")
			require.Len(t, invocations, 1)
			boot := invocations[0]
			assert.Equal(t, stack+"-taskmanager-rotate-database", boot.Inputs["functionName"])
			assert.JSONEq(t, `{"Action":"bootstrap"}`, boot.Inputs["input"].(string))
			triggers := map[string]any{"database": "db-" + strings.ToUpper(stack)}
			if stack != "dev" {
				// With RDS Proxy, new login secrets get the current login's password again.
				for _, user := range []string{"taskmanager_app", "taskmanager_app_clone"} {
					triggers["login-"+user] = fmt.Sprintf("arn:aws:secretsmanager:us-east-1:%s:secret:%s-login-%s-AbCdEf", mockengine.Account, stack, user)
				}
			}
			assert.Equal(t, triggers, boot.Inputs["triggers"], "a replaced database instance gets its login again")
			fn := one(t, rec, "aws:lambda/function:Function", stack+"-rotate-database")
			assert.True(t, dependsOnTransitively(rec, boot, fn))
			// It reads the secrets' first values and crosses the network to the database.
			for _, name := range []string{"database-url", "migrations-database-url"} {
				v := one(t, rec, "aws:secretsmanager/secretVersion:SecretVersion", stack+"-"+name)
				assert.True(t, dependsOnTransitively(rec, boot, v), "the bootstrap waits for %s's first value", name)
			}
			for _, rule := range []string{stack + "-rotation-out-5432-database", stack + "-database-in-5432-rotation", stack + "-rotation-out-443-any4"} {
				typ := "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"
				if strings.Contains(rule, "-out-") {
					typ = "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule"
				}
				assert.True(t, dependsOnTransitively(rec, boot, one(t, rec, typ, rule)), "the bootstrap waits for %s", rule)
			}
			var rotations []*mockengine.Resource
			for _, r := range rec.All("aws:secretsmanager/secretRotation:SecretRotation") {
				rotations = append(rotations, r)
				if r.Inputs["secretId"] == secretArn(stack, "database-url") {
					assert.True(t, dependsOnTransitively(rec, r, boot), "the first rotation follows the bootstrap")
				}
			}
			require.Len(t, rotations, 2)
			for _, svc := range rec.All("aws:ecs/service:Service") {
				assert.True(t, dependsOnTransitively(rec, svc, boot), "%s waits for the first login", svc.Name)
				for _, r := range rotations {
					assert.True(t, dependsOnTransitively(rec, r, svc), "%s's first rotation redeploys %s: it waits for it", r.Name, svc.Name)
				}
			}
			for _, g := range rec.All("aws:codedeploy/deploymentGroup:DeploymentGroup") {
				for _, r := range rotations {
					assert.True(t, dependsOnTransitively(rec, r, g), "%s waits for the deployment group it deploys through", r.Name)
				}
			}
		})
	}
}

// A blue/green service is redeployed through CodeDeploy: the functions may create a deployment
// in that one group and pass exactly the API task's two roles; a rolling stack grants neither.
func TestRotationMayRedeployThroughCodeDeploy(t *testing.T) {
	for _, stack := range allStacks {
		t.Run(stack, func(t *testing.T) {
			rec := runStack(t, stack)
			for _, kind := range []string{"database", "jwt"} {
				actions := map[string][]string{}
				var passConditions []any
				for _, p := range rec.All("aws:iam/rolePolicy:RolePolicy") {
					if p.Inputs["role"] != fmt.Sprintf("%s-rotate-%s", stack, kind) {
						continue
					}
					var doc struct {
						Statement []struct {
							Action    []string
							Resource  []string
							Condition any
						}
					}
					require.NoError(t, json.Unmarshal([]byte(p.Inputs["policy"].(string)), &doc))
					for _, s := range doc.Statement {
						for _, a := range s.Action {
							actions[a] = append(actions[a], s.Resource...)
							if a == "iam:PassRole" {
								passConditions = append(passConditions, s.Condition)
							}
						}
					}
				}
				services := []string{
					fmt.Sprintf("arn:aws:ecs:us-east-1:%s:service/%s-taskmanager/api", mockengine.Account, stack),
					fmt.Sprintf("arn:aws:ecs:us-east-1:%s:service/%s-taskmanager/worker", mockengine.Account, stack),
				}
				assert.Equal(t, services, actions["ecs:DescribeServices"], kind)
				assert.Equal(t, services, actions["ecs:UpdateService"], kind)
				if stack != "production" {
					for _, a := range []string{"codedeploy:CreateDeployment", "iam:PassRole"} {
						assert.Nil(t, actions[a], "%s %s: rolling services need no %s", stack, kind, a)
					}
					continue
				}
				assert.Equal(t, []string{"arn:aws:codedeploy:us-east-1:123456789012:deploymentgroup:production-taskmanager-api/api"},
					actions["codedeploy:CreateDeployment"], kind)
				assert.Equal(t, []string{"arn:aws:codedeploy:us-east-1:123456789012:application:production-taskmanager-api"},
					actions["codedeploy:RegisterApplicationRevision"], kind)
				// Exactly the API task definition's execution and task roles.
				api := one(t, rec, "aws:ecs/taskDefinition:TaskDefinition", "production-api")
				assert.ElementsMatch(t, []any{api.Inputs["executionRoleArn"], api.Inputs["taskRoleArn"]}, toAnyList(actions["iam:PassRole"]), kind)
				assert.Equal(t, []any{map[string]any{"StringEquals": map[string]any{"iam:PassedToService": "ecs-tasks.amazonaws.com"}}}, passConditions)
			}
		})
	}
}

func toAnyList(ss []string) []any {
	out := make([]any, len(ss))
	for i, s := range ss {
		out[i] = s
	}
	return out
}

// A function invoked during `pulumi up` reads or writes the secrets it is triggered by and those
// its environment names: it runs after every first value (SecretVersion) of each, or a
// placeholder written later could land on top of what it wrote (RDS Proxy's login secrets: the
// proxy would then hold a password nobody knows).
func TestInvocationsWaitForEverySecretVersionTheyTouch(t *testing.T) {
	for _, stack := range allStacks {
		t.Run(stack, func(t *testing.T) {
			rec := runStack(t, stack)
			invocations := rec.All("aws:lambda/invocation:Invocation")
			require.NotEmpty(t, invocations)
			for _, inv := range invocations {
				// What the invocation is about: its triggers and its function's environment.
				var about []string
				for _, v := range inv.Inputs["triggers"].(map[string]any) {
					about = append(about, fmt.Sprint(v))
				}
				for _, fn := range rec.All("aws:lambda/function:Function") {
					if fn.Inputs["name"] == inv.Inputs["functionName"] {
						env, _ := fn.Inputs["environment"].(map[string]any)
						vars, _ := env["variables"].(map[string]any)
						for _, v := range vars {
							about = append(about, fmt.Sprint(v))
						}
					}
				}
				touched := 0
				for _, secret := range rec.All("aws:secretsmanager/secret:Secret") {
					arn := secretArnOf(secret)
					if !slices.ContainsFunc(about, func(s string) bool { return strings.Contains(s, arn) }) {
						continue
					}
					for _, v := range rec.All("aws:secretsmanager/secretVersion:SecretVersion") {
						if v.Inputs["secretId"] == secret.Name+"-id" || v.Inputs["secretId"] == arn {
							touched++
							assert.True(t, dependsOnTransitively(rec, inv, v), "%s must wait for %s, the first value of %s", inv.Name, v.Name, secret.Name)
						}
					}
				}
				want := 2 // database-url and migrations-database-url
				if stack != "dev" {
					want += 2 + 1 // RDS Proxy's two login secrets, and database-reader-url
				}
				assert.GreaterOrEqual(t, touched, want, "%s: the secret versions the bootstrap touches were not all found", inv.Name)
			}
		})
	}
}

// secretArnOf is the mocks' ARN of a Secrets Manager secret.
func secretArnOf(secret *mockengine.Resource) string {
	return fmt.Sprintf("arn:aws:secretsmanager:us-east-1:%s:secret:%s-AbCdEf", mockengine.Account, secret.Name)
}
