package tests

import (
	"reflect"
	"strings"
	"testing"

	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/ecs"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// What `pulumi up` may do to an ECS service under the CODE_DEPLOY deployment controller, for every
// input the provider's ecs.Service has. ECS's UpdateService accepts there "only the desired count,
// deployment configuration, health check grace period, task placement constraints and strategies,
// enable ECS managed tags option, and propagate tags"; the network configuration, platform
// version, task definition and load balancers change through a CodeDeploy deployment (Amazon ECS
// API Reference, UpdateService).
var codeDeployServiceInputs = map[string]string{
	// UpdateService accepts them.
	"desiredCount": "update", "deploymentMinimumHealthyPercent": "update", "deploymentMaximumPercent": "update",
	"alarms": "update", "deploymentCircuitBreaker": "update", "healthCheckGracePeriodSeconds": "update",
	"placementConstraints": "update", "orderedPlacementStrategies": "update",
	"enableEcsManagedTags": "update", "propagateTags": "update",
	// Tags go through TagResource, not UpdateService.
	"tags": "update", "tagsAll": "update",
	// A change replaces the service (the provider creates a new one).
	"name": "replace", "cluster": "replace", "deploymentController": "replace", "launchType": "replace",
	"schedulingStrategy": "replace", "iamRole": "replace",
	// The provider's own settings, never sent to ECS.
	"forceDelete": "provider", "waitForSteadyState": "provider",
	// UpdateService refuses them: only a CodeDeploy deployment changes them.
	"taskDefinition": "codedeploy", "loadBalancers": "codedeploy", "networkConfiguration": "codedeploy",
	"capacityProviderStrategies": "codedeploy", "platformVersion": "codedeploy", "enableExecuteCommand": "codedeploy",
	"serviceRegistries": "codedeploy", "serviceConnectConfiguration": "codedeploy", "volumeConfiguration": "codedeploy",
	"vpcLatticeConfigurations": "codedeploy", "availabilityZoneRebalancing": "codedeploy",
	"forceNewDeployment": "codedeploy", "triggers": "codedeploy",
}

// Day N of production: a replaced security group, a subnet or a capacity provider change must not
// make `pulumi up` send an UpdateService that CODE_DEPLOY refuses. Every input UpdateService
// refuses there is left to the next CodeDeploy deployment (ignoreChanges), whether the program
// sets it today or not; every input the provider knows is classified above, so a new one is
// decided before it is used.
func TestCodeDeployServiceIgnoresWhatUpdateServiceRefuses(t *testing.T) {
	args := reflect.TypeOf(ecs.ServiceArgs{})
	for i := range args.NumField() {
		tag := strings.Split(args.Field(i).Tag.Get("pulumi"), ",")[0]
		if tag != "" {
			assert.Contains(t, codeDeployServiceInputs, tag, "ecs.Service input %s: say what UpdateService does with it under CODE_DEPLOY", tag)
		}
	}
	services := 0
	for _, stack := range allStacks {
		for _, svc := range runStack(t, stack).All("aws:ecs/service:Service") {
			if ctl, _ := svc.Inputs["deploymentController"].(map[string]any); ctl["type"] != "CODE_DEPLOY" {
				continue
			}
			services++
			for input, kind := range codeDeployServiceInputs {
				if kind == "codedeploy" {
					assert.Contains(t, svc.IgnoreChanges, input, "%s/%s: UpdateService refuses %s under CODE_DEPLOY", stack, svc.Name, input)
				}
			}
			for input := range svc.Inputs {
				kind, known := codeDeployServiceInputs[input]
				require.True(t, known, "%s/%s: input %s is not classified", stack, svc.Name, input)
				if kind == "codedeploy" {
					assert.Contains(t, svc.IgnoreChanges, input)
				}
			}
		}
	}
	assert.Equal(t, 1, services, "production's API is the one blue/green service")
}
