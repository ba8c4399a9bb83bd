package tests

import (
	"encoding/json"
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

			out := rec.Outputs()
			assert.Equal(t, stack+"-bastion-id", out["bastionInstanceId"].Value)
		})
	}
}
