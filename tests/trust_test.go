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
)

// unconditionedServices may assume roles without aws:SourceAccount: they assume a role for the
// one function, instance or deployment group that names it, and do not document sending the key.
var unconditionedServices = map[string]bool{
	"lambda.amazonaws.com": true, "ec2.amazonaws.com": true, "codedeploy.amazonaws.com": true,
}

// A sample resource of this account per service, which the role's aws:SourceArn must admit, and
// the same in another account, which it must not.
var sourceOf = map[string]string{
	"ecs-tasks.amazonaws.com":      "arn:aws:ecs:us-east-1:%s:task/%s-taskmanager/0123456789abcdef",
	"vpc-flow-logs.amazonaws.com":  "arn:aws:ec2:us-east-1:%s:vpc-flow-log/fl-0123456789abcdef0",
	"firehose.amazonaws.com":       "arn:aws:firehose:us-east-1:%s:deliverystream/%s-taskmanager-log-archive",
	"monitoring.rds.amazonaws.com": "arn:aws:rds:us-east-1:%s:db:%s-taskmanager-db",
	"logs.us-east-1.amazonaws.com": "arn:aws:logs:us-east-1:%s:log-group:/ecs/%s-taskmanager-api:*",
	"rds.amazonaws.com":            "arn:aws:rds:us-east-1:%s:db-proxy:prx-%s0123456789abcdef",
}

// Roles that AWS services assume carry aws:SourceAccount and aws:SourceArn, as AWS recommends
// against the confused deputy.
func TestServiceRolesTrustOnlyThisAccountsResources(t *testing.T) {
	for _, stack := range allStacks {
		t.Run(stack, func(t *testing.T) {
			rec := runStack(t, stack)
			seen := map[string]bool{}
			// ECS is documented to send aws:SourceArn when it assumes a task role, not an
			// execution role: those trust aws:SourceAccount alone (infra/compute's executionTrust).
			execution := map[string]bool{}
			for _, td := range rec.All("aws:ecs/taskDefinition:TaskDefinition") {
				execution[fmt.Sprint(td.Inputs["executionRoleArn"])] = true
			}
			require.NotEmpty(t, execution)
			for _, role := range rec.All("aws:iam/role:Role") {
				isExecution := execution[fmt.Sprintf("arn:aws:iam:us-east-1:%s:%s", mockengine.Account, role.Name)]
				var doc struct {
					Statement []struct {
						Principal struct{ Service any }
						Condition map[string]map[string]string
					}
				}
				require.NoError(t, json.Unmarshal([]byte(role.Inputs["assumeRolePolicy"].(string)), &doc), role.Name)
				for _, st := range doc.Statement {
					service, _ := st.Principal.Service.(string)
					if service == "" || unconditionedServices[service] {
						continue
					}
					seen[service] = true
					assert.Equal(t, mockengine.Account, st.Condition["StringEquals"]["aws:SourceAccount"], "%s (%s)", role.Name, service)
					if isExecution {
						seen["ecs-tasks.amazonaws.com (execution)"] = true
						assert.NotContains(t, st.Condition, "ArnLike", "%s: an execution role may not require aws:SourceArn, which ECS is not documented to send for it", role.Name)
						continue
					}
					pattern, ok := sourceOf[service]
					if !assert.True(t, ok, "%s: a role for %s needs a sample source here", role.Name, service) {
						continue
					}
					arnLike := st.Condition["ArnLike"]["aws:SourceArn"]
					assert.True(t, iamMatch(arnLike, fmt.Sprintf(pattern, mockengine.Account, stack)), "%s: %q admits this account's %s", role.Name, arnLike, service)
					assert.False(t, iamMatch(arnLike, fmt.Sprintf(pattern, "999999999999", stack)), "%s: %q admits another account", role.Name, arnLike)
				}
			}
			want := []string{"ecs-tasks.amazonaws.com", "ecs-tasks.amazonaws.com (execution)", "vpc-flow-logs.amazonaws.com"}
			if stack != "dev" { // Enhanced Monitoring
				want = append(want, "monitoring.rds.amazonaws.com")
			}
			if stack == "production" { // the log archive
				want = append(want, "firehose.amazonaws.com", "logs.us-east-1.amazonaws.com")
			}
			for _, s := range want {
				assert.True(t, seen[s], "%s has a role for %s", stack, s)
			}
		})
	}
}

// A role that may use the environment's key does so only through the AWS service it works with
// (kms:ViaService): a stolen task or function credential cannot decrypt what it reads elsewhere
// (a snapshot, another secret's ciphertext) with the key directly.
func TestKeyUsersGoThroughTheirService(t *testing.T) {
	for _, stack := range allStacks {
		rec := runStack(t, stack)
		var docs []struct{ owner, policy string }
		for _, p := range rec.All("aws:iam/rolePolicy:RolePolicy") {
			docs = append(docs, struct{ owner, policy string }{p.Name, p.Inputs["policy"].(string)})
		}
		for _, r := range rec.All("aws:iam/role:Role") {
			inline, _ := r.Inputs["inlinePolicies"].([]any)
			for _, p := range inline {
				p := p.(map[string]any)
				docs = append(docs, struct{ owner, policy string }{r.Name + "/" + p["name"].(string), p["policy"].(string)})
			}
		}
		checked := 0
		for _, d := range docs {
			var doc struct {
				Statement []struct {
					Effect    string
					Action    []string
					Condition map[string]map[string]any
				}
			}
			require.NoError(t, json.Unmarshal([]byte(d.policy), &doc), d.owner)
			for _, st := range doc.Statement {
				if st.Effect != "Allow" || !slices.ContainsFunc(st.Action, func(a string) bool { return strings.HasPrefix(a, "kms:") }) {
					continue
				}
				checked++
				assert.NotEmpty(t, st.Condition["StringEquals"]["kms:ViaService"], "%s %s: %v on the key without kms:ViaService", stack, d.owner, st.Action)
			}
		}
		assert.NotZero(t, checked, stack)
	}
}
