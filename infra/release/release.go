// Package release is how the API's new versions reach production: a CodeDeploy blue/green
// deployment between the edge's two target groups, which rolls back on its own alarms.
package release

import (
	"fmt"

	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/cloudwatch"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/codedeploy"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/iam"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/taskmanager/taskmanager-infra/internal/iampolicy"
)

const blueGreenType = "taskmanager:release:BlueGreen"

// The spec's canary (10% → 50% → 100%) has three steps; CodeDeploy's have two: 10% of the
// traffic for 15 minutes, then all of it. The old tasks stay for the spec's rollback window.
const (
	canaryConfig       = "CodeDeployDefault.ECSCanary10Percent15Minutes"
	rollbackWindowMins = 60
)

// Targets are what CodeDeploy shifts traffic between: the load balancer's two target groups
// and the listeners that route to them. It mirrors edge.BlueGreenTargets field for field, so
// that the composition converts one into the other (components do not import each other) and
// the compiler keeps the two in step.
type Targets struct {
	BlueName, GreenName        pulumi.StringOutput // the target groups' names
	ProdListener, TestListener pulumi.StringOutput // the listeners' ARNs
	// The metric dimensions of the load balancer and the two target groups (their ARN
	// suffixes), which the deployment alarms watch.
	LoadBalancerSuffix, BlueSuffix, GreenSuffix pulumi.StringOutput
}

// Args configures a BlueGreen release.
type Args struct {
	// ClusterName and ServiceName are the ECS service CodeDeploy deploys (its deployment
	// controller is CODE_DEPLOY).
	ClusterName, ServiceName pulumi.StringInput
	// ApplicationName and DeploymentGroupName are the application's and the deployment group's
	// names, which the pipeline and the rotation functions are given before they exist (the
	// namer's: compute.CodeDeployApplicationName, compute.BlueGreenGroup).
	ApplicationName, DeploymentGroupName string
	Targets                              Targets
	// PreviousParent, when set, is the component the release's resources were registered under
	// before the release had a component of its own (the compute). Each carries an alias with
	// it as parent, so that `pulumi up` moves them instead of replacing them: keep it while a
	// stack may still hold them there.
	PreviousParent pulumi.Resource
}

// BlueGreen is the API's CodeDeploy application, its deployment group and the alarms that roll
// a deployment back.
type BlueGreen struct {
	pulumi.ResourceState
	Application     pulumi.StringOutput      `pulumi:"application"`
	DeploymentGroup pulumi.StringOutput      `pulumi:"deploymentGroup"`
	AlarmNames      pulumi.StringArrayOutput `pulumi:"alarmNames"`
	// Group is the deployment group: what deploys through it (the rotation functions) depends
	// on this resource, not on the component. The Go SDK expands a component in DependsOn to
	// the children registered so far, and children register asynchronously.
	Group pulumi.Resource
}

// NewBlueGreen deploys the service through CodeDeploy: 10% of traffic to the new tasks for 15
// minutes, then all of it; a failure or a firing alarm rolls back; the old tasks stay for an hour.
func NewBlueGreen(ctx *pulumi.Context, name string, args *Args, opts ...pulumi.ResourceOption) (*BlueGreen, error) {
	if args.ApplicationName == "" || args.DeploymentGroupName == "" {
		return nil, fmt.Errorf("release %s: ApplicationName or DeploymentGroupName is empty", name)
	}
	b := &BlueGreen{}
	if err := ctx.RegisterComponentResource(blueGreenType, name, b, opts...); err != nil {
		return nil, err
	}
	childOpts := []pulumi.ResourceOption{pulumi.Parent(b)}
	if args.PreviousParent != nil {
		childOpts = append(childOpts, pulumi.Aliases([]pulumi.Alias{{Parent: args.PreviousParent}}))
	}
	bg := args.Targets

	role, err := iam.NewRole(ctx, name+"-codedeploy", &iam.RoleArgs{
		Description:       pulumi.String("CodeDeploy shifts the API's traffic between target groups"),
		AssumeRolePolicy:  iampolicy.AssumeRole("codedeploy.amazonaws.com"),
		ManagedPolicyArns: pulumi.StringArray{pulumi.String("arn:aws:iam::aws:policy/AWSCodeDeployRoleForECS")},
	}, childOpts...)
	if err != nil {
		return nil, err
	}
	alarms, err := deploymentAlarms(ctx, name, bg, childOpts)
	if err != nil {
		return nil, err
	}
	app, err := codedeploy.NewApplication(ctx, name, &codedeploy.ApplicationArgs{
		Name:            pulumi.String(args.ApplicationName),
		ComputePlatform: pulumi.String("ECS"),
	}, append(childOpts, pulumi.DeleteBeforeReplace(true))...) // the pipeline and the rotation deploy through these names
	if err != nil {
		return nil, err
	}
	group, err := codedeploy.NewDeploymentGroup(ctx, name, &codedeploy.DeploymentGroupArgs{
		AppName:              app.Name,
		DeploymentGroupName:  pulumi.String(args.DeploymentGroupName),
		DeploymentConfigName: pulumi.String(canaryConfig),
		ServiceRoleArn:       role.Arn,
		AutoRollbackConfiguration: codedeploy.DeploymentGroupAutoRollbackConfigurationArgs{
			Enabled: pulumi.Bool(true),
			Events:  pulumi.ToStringArray([]string{"DEPLOYMENT_FAILURE", "DEPLOYMENT_STOP_ON_ALARM"}),
		},
		AlarmConfiguration: codedeploy.DeploymentGroupAlarmConfigurationArgs{
			Enabled: pulumi.Bool(true),
			Alarms:  alarms,
		},
		BlueGreenDeploymentConfig: codedeploy.DeploymentGroupBlueGreenDeploymentConfigArgs{
			DeploymentReadyOption: codedeploy.DeploymentGroupBlueGreenDeploymentConfigDeploymentReadyOptionArgs{
				ActionOnTimeout: pulumi.String("CONTINUE_DEPLOYMENT"),
			},
			TerminateBlueInstancesOnDeploymentSuccess: codedeploy.DeploymentGroupBlueGreenDeploymentConfigTerminateBlueInstancesOnDeploymentSuccessArgs{
				Action:                       pulumi.String("TERMINATE"),
				TerminationWaitTimeInMinutes: pulumi.Int(rollbackWindowMins),
			},
		},
		DeploymentStyle: codedeploy.DeploymentGroupDeploymentStyleArgs{
			DeploymentOption: pulumi.String("WITH_TRAFFIC_CONTROL"),
			DeploymentType:   pulumi.String("BLUE_GREEN"),
		},
		EcsService: codedeploy.DeploymentGroupEcsServiceArgs{
			ClusterName: args.ClusterName,
			ServiceName: args.ServiceName,
		},
		LoadBalancerInfo: codedeploy.DeploymentGroupLoadBalancerInfoArgs{
			TargetGroupPairInfo: codedeploy.DeploymentGroupLoadBalancerInfoTargetGroupPairInfoArgs{
				ProdTrafficRoute: codedeploy.DeploymentGroupLoadBalancerInfoTargetGroupPairInfoProdTrafficRouteArgs{
					ListenerArns: pulumi.StringArray{bg.ProdListener},
				},
				TestTrafficRoute: codedeploy.DeploymentGroupLoadBalancerInfoTargetGroupPairInfoTestTrafficRouteArgs{
					ListenerArns: pulumi.StringArray{bg.TestListener},
				},
				TargetGroups: codedeploy.DeploymentGroupLoadBalancerInfoTargetGroupPairInfoTargetGroupArray{
					codedeploy.DeploymentGroupLoadBalancerInfoTargetGroupPairInfoTargetGroupArgs{Name: bg.BlueName},
					codedeploy.DeploymentGroupLoadBalancerInfoTargetGroupPairInfoTargetGroupArgs{Name: bg.GreenName},
				},
			},
		},
	}, append(childOpts, pulumi.DeleteBeforeReplace(true))...)
	if err != nil {
		return nil, err
	}
	b.Application = app.Name
	b.DeploymentGroup = group.DeploymentGroupName
	b.AlarmNames = alarms.ToStringArrayOutput()
	b.Group = group
	return b, ctx.RegisterResourceOutputs(b, pulumi.Map{
		"application": b.Application, "deploymentGroup": b.DeploymentGroup, "alarmNames": b.AlarmNames,
	})
}

// deploymentAlarms fire when the new tasks fail: 5xx answers or unhealthy targets, in either
// target group (blue and green swap roles at every deployment).
func deploymentAlarms(ctx *pulumi.Context, name string, bg Targets, opts []pulumi.ResourceOption) (pulumi.StringArray, error) {
	var names pulumi.StringArray
	for _, tg := range []struct {
		color  string
		suffix pulumi.StringInput
	}{{"blue", bg.BlueSuffix}, {"green", bg.GreenSuffix}} {
		for _, m := range []struct {
			metric, stat, what string
			threshold          float64
		}{
			{"HTTPCode_Target_5XX_Count", "Sum", "5xx answers", 10},
			{"UnHealthyHostCount", "Maximum", "unhealthy tasks", 0},
		} {
			alarmName := fmt.Sprintf("%s-api-deploy-%s-%s", name, tg.color, m.metric)
			alarm, err := cloudwatch.NewMetricAlarm(ctx, alarmName, &cloudwatch.MetricAlarmArgs{
				Name:               pulumi.String(alarmName),
				AlarmDescription:   pulumi.Sprintf("API %s in the %s target group: rolls a blue/green deployment back", m.what, tg.color),
				Namespace:          pulumi.String("AWS/ApplicationELB"),
				MetricName:         pulumi.String(m.metric),
				Statistic:          pulumi.String(m.stat),
				Period:             pulumi.Int(60),
				EvaluationPeriods:  pulumi.Int(2),
				DatapointsToAlarm:  pulumi.Int(2),
				Threshold:          pulumi.Float64(m.threshold),
				ComparisonOperator: pulumi.String("GreaterThanThreshold"),
				TreatMissingData:   pulumi.String("notBreaching"),
				Dimensions:         pulumi.StringMap{"LoadBalancer": bg.LoadBalancerSuffix, "TargetGroup": tg.suffix},
			}, append(opts, pulumi.DeleteBeforeReplace(true))...) // the deployment group names it
			if err != nil {
				return nil, err
			}
			names = append(names, alarm.Name)
		}
	}
	return names, nil
}
