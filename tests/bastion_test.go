package tests

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestBastionIsReachedOnlyThroughSessionManager(t *testing.T) {
	// Staging's is the data refresh's way in (docs/runbook.md, "Refresh staging's data").
	for _, stack := range []string{"dev", "staging", "production"} {
		t.Run(stack, func(t *testing.T) {
			rec := runStack(t, stack)
			vm := one(t, rec, "aws:ec2/instance:Instance", stack+"-bastion")
			assert.Equal(t, false, vm.Inputs["associatePublicIpAddress"], "no public IP")
			assert.Equal(t, "subnet-"+stack+"-private-0", vm.Inputs["subnetId"], "in a private subnet")
			assert.Equal(t, []any{stack + "-bastion-id"}, vm.Inputs["vpcSecurityGroupIds"])
			assert.Equal(t, "required", vm.Inputs["metadataOptions"].(map[string]any)["httpTokens"], "IMDSv2 only")
			assert.Equal(t, true, vm.Inputs["rootBlockDevice"].(map[string]any)["encrypted"])
			assert.Nil(t, vm.Inputs["keyName"], "no SSH key")
			assert.Contains(t, vm.IgnoreChanges, "ami")

			for _, r := range rec.All("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule") {
				assert.NotEqual(t, stack+"-bastion-id", r.Inputs["securityGroupId"], "nothing may reach the bastion (no SSH): %s", r.Name)
				assert.NotEqual(t, 22.0, r.Inputs["fromPort"], "no SSH anywhere: %s", r.Name)
			}
			role := one(t, rec, "aws:iam/role:Role", stack+"-bastion")
			assert.Equal(t, []any{"arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore"}, role.Inputs["managedPolicyArns"])

			doc := one(t, rec, "aws:ssm/document:Document", stack+"-bastion-session")
			assert.Equal(t, stack+"-taskmanager-session", doc.Inputs["name"])
			var content struct {
				SessionType string
				Inputs      map[string]any
			}
			require.NoError(t, json.Unmarshal([]byte(doc.Inputs["content"].(string)), &content))
			assert.Equal(t, "Standard_Stream", content.SessionType)
			assert.Equal(t, "/ssm/"+stack+"-taskmanager-sessions", content.Inputs["cloudWatchLogGroupName"], "sessions are audit logged")
			assert.Equal(t, true, content.Inputs["cloudWatchEncryptionEnabled"])
			logs := one(t, rec, "aws:cloudwatch/logGroup:LogGroup", stack+"-bastion-sessions")
			assert.Equal(t, keyArn(stack), logs.Inputs["kmsKeyId"])

			// Session logging cannot be skipped: people get sessions with the stack's logged document or
			// port forwarding only, and SSM checks the document even when none is named (the
			// account's default shell document, unlogged, is refused).
			users := one(t, rec, "aws:iam/policy:Policy", stack+"-bastion-users")
			var policy struct {
				Statement []struct {
					Action, Resource []string
					Condition        map[string]map[string]string
				}
			}
			require.NoError(t, json.Unmarshal([]byte(users.Inputs["policy"].(string)), &policy))
			require.Len(t, policy.Statement, 2)
			start := policy.Statement[0]
			assert.Equal(t, []string{"ssm:StartSession"}, start.Action)
			assert.ElementsMatch(t, []string{
				"arn:aws:ec2:us-east-1:123456789012:instance/" + stack + "-bastion-id",
				"arn:aws:ssm:us-east-1:123456789012:document/" + stack + "-taskmanager-session",
				"arn:aws:ssm:us-east-1::document/AWS-StartPortForwardingSessionToRemoteHost",
			}, start.Resource)
			assert.Equal(t, "true", start.Condition["BoolIfExists"]["ssm:SessionDocumentAccessCheck"])
			assert.NotContains(t, users.Inputs["policy"], "SSM-SessionManagerRunShell")
			assert.Equal(t, []string{"arn:aws:ssm:us-east-1:123456789012:session/${aws:userid}-*"}, policy.Statement[1].Resource, "people end their own sessions only")

			out := rec.Outputs()
			assert.Equal(t, stack+"-bastion-id", out["bastionInstanceId"].Value)
			assert.Equal(t, users.Name, strings.TrimPrefix(out["bastionUsersPolicyArn"].Value.(string), "arn:aws:iam:us-east-1:123456789012:"))
		})
	}
}
