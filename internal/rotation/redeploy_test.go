package rotation

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	cdtypes "github.com/aws/aws-sdk-go-v2/service/codedeploy/types"
	ecstypes "github.com/aws/aws-sdk-go-v2/service/ecs/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const (
	prodCluster = "taskmanager-production"
	prodAPI     = "taskmanager-production-api"
	prodWorker  = "taskmanager-production-worker"
	taskDefARN  = "arn:aws:ecs:eu-west-1:111122223333:task-definition/taskmanager-production-api:"
)

// blueGreenAPI is production's API service as DescribeServices shows it during a release: the
// PRIMARY task set serves traffic with revision 7, the replacement (ACTIVE) set runs revision
// 8, and the service's own fields are those it was created with (revision 5).
func blueGreenAPI() ecstypes.Service {
	network := func(subnets ...string) *ecstypes.NetworkConfiguration {
		return &ecstypes.NetworkConfiguration{AwsvpcConfiguration: &ecstypes.AwsVpcConfiguration{
			Subnets: subnets, SecurityGroups: []string{"sg-api"}, AssignPublicIp: ecstypes.AssignPublicIpDisabled,
		}}
	}
	return ecstypes.Service{
		ServiceName:          aws.String(prodAPI),
		ServiceArn:           aws.String("arn:aws:ecs:eu-west-1:111122223333:service/" + prodCluster + "/" + prodAPI),
		Status:               aws.String("ACTIVE"),
		DeploymentController: &ecstypes.DeploymentController{Type: ecstypes.DeploymentControllerTypeCodeDeploy},
		TaskDefinition:       aws.String(taskDefARN + "5"),
		NetworkConfiguration: network("subnet-created-with"),
		PlatformVersion:      aws.String("LATEST"),
		RunningCount:         5,
		LoadBalancers: []ecstypes.LoadBalancer{{
			ContainerName:  aws.String("api"),
			ContainerPort:  aws.Int32(8000),
			TargetGroupArn: aws.String("arn:aws:elasticloadbalancing:eu-west-1:111122223333:targetgroup/tm-prod-api-blue/1"),
		}},
		CapacityProviderStrategy: []ecstypes.CapacityProviderStrategyItem{
			{CapacityProvider: aws.String("FARGATE"), Base: 2, Weight: 1},
			{CapacityProvider: aws.String("FARGATE_SPOT"), Base: 0, Weight: 3},
		},
		TaskSets: []ecstypes.TaskSet{
			{Status: aws.String("ACTIVE"), TaskDefinition: aws.String(taskDefARN + "8"), NetworkConfiguration: network("subnet-replacement")},
			{Status: aws.String("PRIMARY"), TaskDefinition: aws.String(taskDefARN + "7"), NetworkConfiguration: network("subnet-a", "subnet-b")},
		},
	}
}

func rollingService(name string) ecstypes.Service {
	return ecstypes.Service{
		ServiceName:          aws.String(name),
		Status:               aws.String("ACTIVE"),
		DeploymentController: &ecstypes.DeploymentController{Type: ecstypes.DeploymentControllerTypeEcs},
		RunningCount:         2,
	}
}

// newProdFixture is the database rotation of production: a blue/green API and a rolling worker.
func newProdFixture(t *testing.T) *dbFixture {
	t.Helper()
	fx := newDBFixture(t)
	fx.rotator.Config.ECSCluster = prodCluster
	fx.rotator.Config.ECSServices = []string{prodAPI, prodWorker}
	fx.rotator.Config.CodeDeployApplication = "taskmanager-production-api"
	fx.rotator.Config.CodeDeployDeploymentGroup = "taskmanager-production-api-dg"
	fx.ecs.described = map[string]ecstypes.Service{prodAPI: blueGreenAPI(), prodWorker: rollingService(prodWorker)}
	return fx
}

// appSpecOf decodes the AppSpec of a CreateDeployment call without the production types, so
// that the test sees the key names CodeDeploy sees.
func appSpecOf(t *testing.T, rev *cdtypes.RevisionLocation) map[string]any {
	t.Helper()
	require.NotNil(t, rev)
	assert.Equal(t, cdtypes.RevisionLocationTypeAppSpecContent, rev.RevisionType)
	require.NotNil(t, rev.AppSpecContent)
	var spec map[string]any
	require.NoError(t, json.Unmarshal([]byte(aws.ToString(rev.AppSpecContent.Content)), &spec))
	return spec
}

func TestRedeployBlueGreenServiceThroughCodeDeploy(t *testing.T) {
	fx := newProdFixture(t)
	rotate(t, fx.sm, fx.rotator, dbSecretID)

	require.Len(t, fx.ecs.describeCalls, 1, "one DescribeServices call for both services")
	assert.Equal(t, prodCluster, aws.ToString(fx.ecs.describeCalls[0].Cluster))
	assert.Equal(t, []string{prodAPI, prodWorker}, fx.ecs.describeCalls[0].Services)

	assert.Equal(t, []string{prodWorker}, fx.ecs.services(), "the rolling worker is force-redeployed, the blue/green API is not")
	assert.True(t, fx.ecs.calls[0].ForceNewDeployment)

	require.Len(t, fx.cd.calls, 1)
	in := fx.cd.calls[0]
	assert.Equal(t, "taskmanager-production-api", aws.ToString(in.ApplicationName))
	assert.Equal(t, "taskmanager-production-api-dg", aws.ToString(in.DeploymentGroupName))
	assert.Nil(t, in.DeploymentConfigName, "the deployment group's canary configuration applies")
	assert.Equal(t, map[string]any{
		"version": "0.0",
		"Resources": []any{map[string]any{"TargetService": map[string]any{
			"Type": "AWS::ECS::Service",
			"Properties": map[string]any{
				"TaskDefinition":   taskDefARN + "7",
				"LoadBalancerInfo": map[string]any{"ContainerName": "api", "ContainerPort": float64(8000)},
				"CapacityProviderStrategy": []any{
					map[string]any{"Base": float64(2), "CapacityProvider": "FARGATE", "Weight": float64(1)},
					map[string]any{"Base": float64(0), "CapacityProvider": "FARGATE_SPOT", "Weight": float64(3)},
				},
				"NetworkConfiguration": map[string]any{"AwsvpcConfiguration": map[string]any{
					"Subnets": []any{"subnet-a", "subnet-b"}, "SecurityGroups": []any{"sg-api"}, "AssignPublicIp": "DISABLED",
				}},
				"PlatformVersion": "LATEST",
			},
		}}},
	}, appSpecOf(t, in.Revision))
	assert.Contains(t, fx.logs.String(), "d-FAKE0001", "the log names the deployment")
}

func TestRedeployBlueGreenFallsBackToServiceFields(t *testing.T) {
	fx := newProdFixture(t)
	api := blueGreenAPI()
	api.TaskSets = []ecstypes.TaskSet{{Status: aws.String("DRAINING"), TaskDefinition: aws.String(taskDefARN + "4")}}
	api.CapacityProviderStrategy, api.PlatformVersion = nil, nil
	api.NetworkConfiguration.AwsvpcConfiguration.AssignPublicIp = ""
	fx.ecs.described[prodAPI] = api
	rotate(t, fx.sm, fx.rotator, dbSecretID)

	require.Len(t, fx.cd.calls, 1)
	props := appSpecOf(t, fx.cd.calls[0].Revision)["Resources"].([]any)[0].(map[string]any)["TargetService"].(map[string]any)["Properties"].(map[string]any)
	assert.Equal(t, map[string]any{
		"TaskDefinition":   taskDefARN + "5",
		"LoadBalancerInfo": map[string]any{"ContainerName": "api", "ContainerPort": float64(8000)},
		"NetworkConfiguration": map[string]any{"AwsvpcConfiguration": map[string]any{
			"Subnets": []any{"subnet-created-with"}, "SecurityGroups": []any{"sg-api"}, "AssignPublicIp": "DISABLED",
		}},
	}, props, "no PRIMARY task set: the service's task definition and network; empty fields left out")
}

func TestRedeployBlueGreenNeedsCodeDeployConfig(t *testing.T) {
	fx := newProdFixture(t)
	fx.rotator.Config.CodeDeployApplication, fx.rotator.Config.CodeDeployDeploymentGroup = "", ""
	token := fx.sm.startRotation(dbSecretID)
	for _, step := range []string{StepCreate, StepSet, StepTest} {
		require.NoError(t, fx.step(t, token, step))
	}
	err := fx.step(t, token, StepFinish)
	require.Error(t, err)
	for _, want := range []string{prodAPI, EnvCodeDeployApplication, EnvCodeDeployGroup} {
		assert.Contains(t, err.Error(), want)
	}
	assert.Empty(t, fx.cd.calls)
	assert.Equal(t, []string{prodWorker}, fx.ecs.services(), "the worker is still redeployed")
	assert.Equal(t, token, fx.sm.currentID(dbSecretID))
}

func TestRedeployBlueGreenDeploymentInProgress(t *testing.T) {
	fx := newProdFixture(t)
	fx.cd.err = &cdtypes.DeploymentLimitExceededException{Message: aws.String("The Deployment Group already has an active Deployment.")}
	token := fx.sm.startRotation(dbSecretID)
	for _, step := range []string{StepCreate, StepSet, StepTest} {
		require.NoError(t, fx.step(t, token, step))
	}
	err := fx.step(t, token, StepFinish)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "a deployment is already in progress")
	assert.Contains(t, err.Error(), "take the new secret anyway")
	assert.Contains(t, err.Error(), prodAPI)
	var busy *cdtypes.DeploymentLimitExceededException
	assert.ErrorAs(t, err, &busy)
	assert.Equal(t, []string{prodWorker}, fx.ecs.services())
	assert.Equal(t, token, fx.sm.currentID(dbSecretID))
}

func TestRedeployOneDeploymentGroupForOneService(t *testing.T) {
	fx := newProdFixture(t)
	second := blueGreenAPI()
	second.ServiceName = aws.String(prodWorker)
	fx.ecs.described[prodWorker] = second
	token := fx.sm.startRotation(dbSecretID)
	for _, step := range []string{StepCreate, StepSet, StepTest} {
		require.NoError(t, fx.step(t, token, step))
	}
	err := fx.step(t, token, StepFinish)
	require.ErrorContains(t, err, prodWorker+" was not redeployed")
	assert.Len(t, fx.cd.calls, 1, "only the first blue/green service goes through the deployment group")
	assert.Empty(t, fx.ecs.calls)
}

func TestRedeploySkipsWhatDescribeServicesDoesNotFind(t *testing.T) {
	t.Run("service missing or inactive", func(t *testing.T) {
		fx := newProdFixture(t)
		delete(fx.ecs.described, prodAPI)
		worker := rollingService(prodWorker)
		worker.Status = aws.String("INACTIVE")
		fx.ecs.described[prodWorker] = worker
		rotate(t, fx.sm, fx.rotator, dbSecretID)
		assert.Empty(t, fx.ecs.calls)
		assert.Empty(t, fx.cd.calls)
		assert.Equal(t, 2, countLines(fx.logs.String(), "nothing to redeploy"))
	})
	t.Run("cluster missing", func(t *testing.T) {
		fx := newProdFixture(t)
		fx.ecs.describeErr = &ecstypes.ClusterNotFoundException{Message: aws.String("Cluster not found.")}
		rotate(t, fx.sm, fx.rotator, dbSecretID)
		assert.Empty(t, fx.ecs.calls)
		assert.Empty(t, fx.cd.calls)
		assert.Contains(t, fx.logs.String(), "ECS cluster not found")
	})
	t.Run("other DescribeServices errors fail the step", func(t *testing.T) {
		fx := newProdFixture(t)
		fx.ecs.describeErr = errors.New("AccessDeniedException: not authorized to perform ecs:DescribeServices")
		token := fx.sm.startRotation(dbSecretID)
		for _, step := range []string{StepCreate, StepSet, StepTest} {
			require.NoError(t, fx.step(t, token, step))
		}
		require.ErrorContains(t, fx.step(t, token, StepFinish), "describe ECS services "+prodAPI+", "+prodWorker)
		assert.Empty(t, fx.ecs.calls)
		assert.Empty(t, fx.cd.calls)
	})
}

func countLines(s, substr string) int {
	n := 0
	for line := range strings.Lines(s) {
		if strings.Contains(line, substr) {
			n++
		}
	}
	return n
}

// A service that runs no task has nobody to restart: on a new environment the first rotation
// finds its services so (no image deployed yet), and a CodeDeploy deployment would hold the
// deployment group against the release that follows.
func TestRedeploySkipsServicesThatRunNoTask(t *testing.T) {
	fx := newProdFixture(t)
	api, worker := blueGreenAPI(), rollingService(prodWorker)
	api.RunningCount, worker.RunningCount = 0, 0
	fx.ecs.described = map[string]ecstypes.Service{prodAPI: api, prodWorker: worker}
	require.NoError(t, fx.rotator.redeploy(t.Context(), fx.rotator.logger()))
	assert.Empty(t, fx.cd.calls, "no CodeDeploy deployment")
	assert.Empty(t, fx.ecs.services(), "no forced deployment")

	// A task that is starting may already have read the previous value: it is redeployed.
	worker.PendingCount = 1
	fx.ecs.described[prodWorker] = worker
	require.NoError(t, fx.rotator.redeploy(t.Context(), fx.rotator.logger()))
	assert.Equal(t, []string{prodWorker}, fx.ecs.services())
}
