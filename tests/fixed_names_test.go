package tests

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

// How a resource with a name of its own is replaced, decided per type. A replacement creates
// the new resource before it deletes the old one, which fails with "already exists" where AWS
// wants names unique. So:
const (
	// deleteFirst: the name is part of the contract (the runbook, the pipeline, AWS's own naming
	// rule for the group a service writes to): a replacement deletes the old one first, and
	// `pulumi preview` shows it as a replacement before anyone agrees to it.
	deleteFirst = "delete before replace"
	// mustFail: stateful; a replacement must fail ("already exists") rather than delete data
	// first. Replacing one is a decision made by hand, with a snapshot.
	mustFail = "stateful: replacement fails first"
	// notUnique: AWS lets two share the name, so create-then-delete works.
	notUnique = "name need not be unique"
)

var fixedNameDecisions = map[string]string{
	"aws:cloudwatch/logGroup:LogGroup":                          deleteFirst,
	"aws:cloudwatch/metricAlarm:MetricAlarm":                    deleteFirst,
	"aws:cloudwatch/dashboard:Dashboard":                        deleteFirst,
	"aws:lambda/function:Function":                              deleteFirst,
	"aws:ecs/cluster:Cluster":                                   deleteFirst,
	"aws:ecs/service:Service":                                   deleteFirst,
	"aws:codedeploy/application:Application":                    deleteFirst,
	"aws:codedeploy/deploymentGroup:DeploymentGroup":            deleteFirst,
	"aws:kms/alias:Alias":                                       deleteFirst,
	"aws:kinesis/firehoseDeliveryStream:FirehoseDeliveryStream": deleteFirst,
	"aws:ssm/document:Document":                                 deleteFirst,
	"aws:route53/record:Record":                                 deleteFirst,
	"aws:rds/proxy:Proxy":                                       deleteFirst, // its name is its endpoint's first label
	"aws:rds/instance:Instance":                                 mustFail,
	"aws:secretsmanager/secret:Secret":                          mustFail,
	"aws:ecr/repository:Repository":                             mustFail,
	"aws:cognito/userPool:UserPool":                             mustFail,
	"aws:cognito/userPoolClient:UserPoolClient":                 notUnique,
	"aws:ecs/taskDefinition:TaskDefinition":                     notUnique, // a family takes revisions
	"aws:route53/zone:Zone":                                     notUnique,
}

// ownNameKeys are the inputs that name the resource itself (not another one it refers to).
var ownNameKeys = []string{"name", "identifier", "deploymentGroupName", "dashboardName"}

func TestFixedNamesAreReplacedAsDecided(t *testing.T) {
	for _, stack := range allStacks {
		t.Run(stack, func(t *testing.T) {
			for _, r := range runStack(t, stack).Resources() {
				named := r.Type == "aws:ecs/taskDefinition:TaskDefinition"
				for _, k := range ownNameKeys {
					if v, ok := r.Inputs[k].(string); ok && v != "" {
						named = true
					}
				}
				if !r.Custom || !named {
					continue
				}
				decision, ok := fixedNameDecisions[r.Type]
				if !assert.True(t, ok, "%s %s has a fixed name: decide how it is replaced (fixedNameDecisions), or let AWS name it", r.Type, r.Name) {
					continue
				}
				assert.Equal(t, decision == deleteFirst, r.DeleteBeforeReplace, "%s %s: %s", r.Type, r.Name, decision)
			}
		})
	}
}
