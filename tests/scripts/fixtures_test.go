package scripts_test

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"
)

const (
	account = "123456789012"
	oldTag  = "main-0000000"
	newTag  = "main-abc1234"
	// The task definition revisions before and after `pulumi up`, and the migrations copy.
	oldRev, newRev, copyRev = 4, 5, 77
	migrationTask           = "arn:aws:ecs:us-east-1:123456789012:task/%s-taskmanager/0a1b2c3d4e"
	deploymentID            = "d-ABCDEF123"
)

var stacks = []string{"dev", "staging", "production"}

// alertTopic is production's output alertTopicArn: the SNS topic its alarms mail through.
const alertTopic = "arn:aws:sns:us-east-1:123456789012:production-alerts-1a2b3c4"

func cluster(stack string) string { return stack + "-taskmanager" }

func repoURL(stack string) string {
	return fmt.Sprintf("%s.dkr.ecr.us-east-1.amazonaws.com/taskmanager-%s", account, stack)
}

// keyArn is the stack's KMS key (output kmsKeyArn): its account is the one the stack was deployed to.
func keyArn(stack string) string {
	return fmt.Sprintf("arn:aws:kms:us-east-1:%s:key/%s-1111-2222-3333-444455556666", account, stack)
}

func tdArn(stack, workload string, rev int) string {
	return fmt.Sprintf("arn:aws:ecs:us-east-1:%s:task-definition/%s-taskmanager-%s:%d", account, stack, workload, rev)
}

// outputs is `pulumi stack output --json` of a stack whose task definitions are at rev.
func outputs(t *testing.T, stack string, rev int) string {
	t.Helper()
	o := map[string]any{
		"url":                         "https://" + stack + ".taskmanager.com",
		"loadBalancerDnsName":         stack + "-alb-1234.us-east-1.elb.amazonaws.com",
		"clusterName":                 cluster(stack),
		"serviceNames":                []string{"api", "worker"},
		"repositoryUrl":               repoURL(stack),
		"apiTaskDefinitionArn":        tdArn(stack, "api", rev),
		"workerTaskDefinitionArn":     tdArn(stack, "worker", rev),
		"migrationsTaskDefinitionArn": tdArn(stack, "migrations", rev),
		"migrationsTaskFamily":        stack + "-taskmanager-migrations",
		"migrationsSubnetIds":         []string{"subnet-0aaa", "subnet-0bbb"},
		"migrationsSecurityGroupId":   "sg-0migrations",
		"apiSubnetIds":                []string{"subnet-0aaa", "subnet-0bbb"},
		"apiSecurityGroupId":          "sg-0api",
		"databaseIdentifier":          stack + "-taskmanager-db",
		"kmsKeyArn":                   keyArn(stack),
		"secretArns":                  map[string]string{"database-url": "arn:aws:secretsmanager:us-east-1:123456789012:secret:taskmanager/" + stack + "/database-url-AbCdEf"},
	}
	switch stack {
	case "dev":
		o["url"] = "http://dev.taskmanager.internal"
		o["loadBalancerDnsName"] = "internal-dev-alb-1234.us-east-1.elb.amazonaws.com"
	case "staging":
		o["smokeTestHeaderSecretArn"] = "arn:aws:secretsmanager:us-east-1:123456789012:secret:taskmanager/staging/smoke-test-header-AbCdEf"
		o["dataRefreshSecurityGroupId"] = "sg-0datarefresh"
	case "production":
		o["url"] = "https://taskmanager.com"
		o["codeDeployApplication"] = "production-taskmanager-api"
		o["codeDeployDeploymentGroup"] = "api"
		o["alertTopicArn"] = alertTopic
	}
	b, err := json.Marshal(o)
	require.NoError(t, err)
	return string(b)
}

// taskDefinition is `aws ecs describe-task-definition --include TAGS --output json`.
func taskDefinition(t *testing.T, stack, workload string, rev int, tag, status string) string {
	t.Helper()
	td := map[string]any{
		"taskDefinition": map[string]any{
			"taskDefinitionArn": tdArn(stack, workload, rev),
			"family":            stack + "-taskmanager-" + workload,
			"revision":          rev,
			"status":            status,
			"containerDefinitions": []map[string]any{{
				"name": workload, "image": repoURL(stack) + ":" + tag, "essential": true,
				"command": []string{"alembic", "upgrade", "head"}, "user": "1000:1000",
				"secrets": []map[string]string{{"name": "DATABASE_URL", "valueFrom": "arn:aws:secretsmanager:us-east-1:123456789012:secret:taskmanager/" + stack + "/database-url-AbCdEf:url::"}},
			}},
			"cpu": "512", "memory": "1024", "networkMode": "awsvpc",
			"executionRoleArn":        "arn:aws:iam::123456789012:role/" + workload + "-execution",
			"taskRoleArn":             "arn:aws:iam::123456789012:role/" + workload + "-task",
			"requiresCompatibilities": []string{"FARGATE"},
			"compatibilities":         []string{"EC2", "FARGATE"},
			"requiresAttributes":      []map[string]string{{"name": "ecs.capability.secrets.asm.environment-variables"}},
			"registeredAt":            "2025-10-30T14:00:00Z",
			"registeredBy":            "arn:aws:sts::123456789012:assumed-role/deploy/ci",
		},
		"tags": []map[string]string{{"key": "Environment", "value": stack}, {"key": "ManagedBy", "value": "pulumi"}},
	}
	b, err := json.Marshal(td)
	require.NoError(t, err)
	return string(b)
}

// computeConfig is taskmanager:compute of the real stack file, Pulumi.<stack>.yaml: what
// `pulumi config get` answers in these tests, so that they follow the stack files.
type computeConfig struct {
	CapacityProvider  string   `yaml:"capacityProvider"`
	MigrationsCommand []string `yaml:"migrationsCommand"`
}

func stackCompute(t *testing.T, stack string) computeConfig {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "Pulumi."+stack+".yaml"))
	require.NoError(t, err)
	var file struct {
		Config struct {
			Compute computeConfig `yaml:"taskmanager:compute"`
		} `yaml:"config"`
	}
	require.NoError(t, yaml.Unmarshal(b, &file))
	c := file.Config.Compute
	require.NotEmpty(t, c.CapacityProvider, "Pulumi.%s.yaml: taskmanager:compute.capacityProvider", stack)
	require.NotEmpty(t, c.MigrationsCommand, "Pulumi.%s.yaml: taskmanager:compute.migrationsCommand", stack)
	return c
}

// migrationsCopy is `aws ecs describe-task-definition --output json` of the migrations copy the
// deploy registers: the new image, and the command the program gives the migration container
// (taskmanager:compute.migrationsCommand, infra/compute).
func migrationsCopy(t *testing.T, stack string) string {
	t.Helper()
	var td map[string]any
	require.NoError(t, json.Unmarshal([]byte(taskDefinition(t, stack, "migrations", copyRev, newTag, "ACTIVE")), &td))
	td["taskDefinition"].(map[string]any)["containerDefinitions"].([]any)[0].(map[string]any)["command"] = stackCompute(t, stack).MigrationsCommand
	b, err := json.Marshal(td)
	require.NoError(t, err)
	return string(b)
}

// serviceRows is `aws ecs describe-services --query services[].[serviceName,taskDefinition,...]`.
func serviceRows(stack string, rev int, services ...string) string {
	out := ""
	for _, s := range services {
		state := "COMPLETED"
		if stack == "production" && s == "api" {
			state = "None" // a CODE_DEPLOY service has task sets, not deployments
		}
		out += fmt.Sprintf("%s\t%s\t%s\t2\t2\n", s, tdArn(stack, s, rev), state)
	}
	return out
}

// apiService is `aws ecs describe-services --services api --output json` of a blue/green API whose
// PRIMARY task set runs revision rev in security group sg, on the stack's capacity provider.
func apiService(t *testing.T, stack string, rev int, sg string) string {
	t.Helper()
	set := map[string]any{
		"status": "PRIMARY", "taskDefinition": tdArn(stack, "api", rev),
		"networkConfiguration": map[string]any{"awsvpcConfiguration": map[string]any{
			"subnets": []string{"subnet-0bbb", "subnet-0aaa"}, "securityGroups": []string{sg}, "assignPublicIp": "DISABLED",
		}},
		"capacityProviderStrategy": []map[string]any{{"capacityProvider": stackCompute(t, stack).CapacityProvider, "weight": 1, "base": 0}},
	}
	b, err := json.Marshal(map[string]any{"services": []map[string]any{{
		"serviceName": "api", "taskDefinition": tdArn(stack, "api", 1), "taskSets": []any{set},
	}}})
	require.NoError(t, err)
	return string(b)
}

// deployRules answers every call of a successful `deploy.sh <stack> main-abc1234` that moves the
// stack from main-0000000 (revision 4) to main-abc1234 (revision 5). Tests add rules before these
// to change one answer.
func deployRules(t *testing.T, s *sandbox, stack string) {
	t.Helper()
	c := cluster(stack)
	s.once("pulumi stack output --json --stack "+stack, 0, outputs(t, stack, oldRev))
	s.on("pulumi stack output --json --stack "+stack, 0, outputs(t, stack, newRev))
	// Before the deploy: what --rollback would go back to.
	s.once("aws ecs describe-services --cluster "+c+" --services api worker *", 0, serviceRows(stack, oldRev, "api", "worker"))
	s.on("aws ecs describe-services --cluster "+c+" --services api worker *", 0, serviceRows(stack, newRev, "api", "worker"))
	s.on("aws ecs describe-services --cluster "+c+" --services worker *", 0, serviceRows(stack, newRev, "worker"))
	s.on("aws ecs describe-services --cluster "+c+" --services api --query*", 0, serviceRows(stack, oldRev, "api"))
	s.on("aws ecs describe-services --cluster "+c+" --services api --output json", 0, apiService(t, stack, oldRev, "sg-0api"))
	s.on("aws ecr describe-images --repository-name taskmanager-"+stack+" --image-ids imageTag=* *", 0, "COMPLETE")
	s.on("aws ecr describe-image-scan-findings *", 0, `{"HIGH": 1, "MEDIUM": 3}`)
	s.on("aws ecs describe-task-definition --task-definition "+stack+"-taskmanager-migrations --include TAGS *", 0,
		taskDefinition(t, stack, "migrations", oldRev, oldTag, "ACTIVE"))
	s.on("aws ecs register-task-definition *", 0, tdArn(stack, "migrations", copyRev))
	s.on("aws ecs describe-task-definition --task-definition "+tdArn(stack, "migrations", copyRev)+" --output json", 0, migrationsCopy(t, stack))
	s.on("aws ecs run-task *", 0, fmt.Sprintf(migrationTask, stack))
	s.on("aws ecs describe-tasks *", 0, "0\tEssential container in task exited")
	s.on("aws ecs deregister-task-definition *", 0, "INACTIVE")
	// Production's API: CodeDeploy.
	s.on("aws ecs describe-task-definition --task-definition "+tdArn(stack, "api", oldRev)+" --output json", 0,
		taskDefinition(t, stack, "api", oldRev, oldTag, "INACTIVE"))
	s.on("aws ecs describe-task-definition --task-definition "+tdArn(stack, "api", newRev)+" --output json", 0,
		taskDefinition(t, stack, "api", newRev, newTag, "ACTIVE"))
	s.on("pulumi config get --path taskmanager:api.containerPort *", 0, "8000")
	s.on("pulumi config get --path taskmanager:compute.capacityProvider --stack "+stack, 0, stackCompute(t, stack).CapacityProvider)
	s.on("aws deploy create-deployment *", 0, deploymentID)
	s.once("aws deploy get-deployment *", 0, "InProgress\tFalse\tNone")
	s.on("aws deploy get-deployment *", 0, "InProgress\tTrue\tNone")
}

// promoteRules: --promote-from's calls, the tag not yet in the stack's repository.
func promoteRules(s *sandbox) {
	s.on("skopeo inspect *", 0, "sha256:1111")
	s.failOn("aws ecr describe-images *.imageDigest *", 254, imageNotFound)
	s.on("aws ecr get-login-password*", 0, ecrPassword)
}
