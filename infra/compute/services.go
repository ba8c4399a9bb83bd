package compute

import (
	"fmt"

	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/appautoscaling"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/cloudwatch"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/codedeploy"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/ecs"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/iam"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/taskmanager/taskmanager-infra/internal/iampolicy"
)

// Auto scaling targets.
const (
	cpuTarget          = 60.0   // average CPU %
	requestsPerTarget  = 1000.0 // ALB requests per task per minute
	scaleOutCooldown   = 60
	scaleInCooldown    = 300
	canaryConfig       = "CodeDeployDefault.ECSCanary10Percent15Minutes"
	rollbackWindowMins = 60 // the spec's rollback deadline: old tasks are kept an hour
)

// newServices creates the services once the cluster offers their capacity provider.
func newServices(ctx *pulumi.Context, name string, args *Args, c *Compute, cluster *ecs.Cluster, providers *ecs.ClusterCapacityProviders, parent pulumi.ResourceOption) error {
	lb := args.LoadBalancer
	blueGreen := lb.BlueGreen != nil
	for _, svc := range []struct {
		name   string
		config ServiceConfig
	}{{API, args.API.ServiceConfig}, {Worker, args.Worker.ServiceConfig}} {
		isAPI := svc.name == API
		sa := &ecs.ServiceArgs{
			Name:           pulumi.String(svc.name),
			Cluster:        cluster.Arn,
			TaskDefinition: c.TaskDefinition[svc.name],
			DesiredCount:   pulumi.Int(svc.config.DesiredCount),
			CapacityProviderStrategies: ecs.ServiceCapacityProviderStrategyArray{ecs.ServiceCapacityProviderStrategyArgs{
				CapacityProvider: pulumi.String(args.Compute.CapacityProvider), Weight: pulumi.Int(1),
			}},
			NetworkConfiguration: ecs.ServiceNetworkConfigurationArgs{
				Subnets:        args.SubnetIDs,
				SecurityGroups: pulumi.StringArray{args.SecurityGroups[svc.name]},
				AssignPublicIp: pulumi.Bool(false),
			},
			DeploymentMinimumHealthyPercent: pulumi.Int(100),
			DeploymentMaximumPercent:        pulumi.Int(200),
			EnableExecuteCommand:            pulumi.Bool(false),
			// Tasks carry the service's tags (Environment, Project, ManagedBy).
			PropagateTags:        pulumi.String("SERVICE"),
			EnableEcsManagedTags: pulumi.Bool(true),
		}
		var ignore []string
		if svc.config.Autoscaling {
			// The autoscaler owns the count once the service exists.
			ignore = append(ignore, "desiredCount")
		}
		deps := append([]pulumi.Resource{providers}, args.ServicesAfter...)
		if isAPI {
			sa.LoadBalancers = ecs.ServiceLoadBalancerArray{ecs.ServiceLoadBalancerArgs{
				TargetGroupArn: lb.TargetGroupArn, ContainerName: pulumi.String(API), ContainerPort: pulumi.Int(args.API.ContainerPort),
			}}
			sa.HealthCheckGracePeriodSeconds = pulumi.Int(60)
			deps = append(deps, lb.Listeners...)
		}
		if isAPI && blueGreen {
			// CodeDeploy owns the task definition and the target group of a running service:
			// `pulumi up` registers new task definitions, the pipeline deploys them.
			sa.DeploymentController = ecs.ServiceDeploymentControllerArgs{Type: pulumi.String("CODE_DEPLOY")}
			ignore = append(ignore, "taskDefinition", "loadBalancers")
		} else {
			sa.DeploymentCircuitBreaker = ecs.ServiceDeploymentCircuitBreakerArgs{Enable: pulumi.Bool(true), Rollback: pulumi.Bool(true)}
		}
		service, err := ecs.NewService(ctx, fmt.Sprintf("%s-%s", name, svc.name), sa, parent,
			pulumi.IgnoreChanges(ignore), pulumi.DependsOn(deps))
		if err != nil {
			return err
		}
		c.Services = append(c.Services, service)
		if svc.config.Autoscaling {
			if err := newAutoscaling(ctx, name, svc.name, svc.config, cluster, service, isAPI && !blueGreen, lb, parent); err != nil {
				return err
			}
		}
		if isAPI && blueGreen {
			if err := newBlueGreen(ctx, name, c, cluster, service, lb.BlueGreen, parent); err != nil {
				return err
			}
		}
	}
	return nil
}

// newAutoscaling tracks CPU, and for an API behind a stable target group, requests per task.
// With blue/green the target group changes at every deployment, so the API scales on CPU alone.
func newAutoscaling(ctx *pulumi.Context, name, svc string, cfg ServiceConfig, cluster *ecs.Cluster, service *ecs.Service, byRequests bool, lb LoadBalancer, parent pulumi.ResourceOption) error {
	base := fmt.Sprintf("%s-%s", name, svc)
	target, err := appautoscaling.NewTarget(ctx, base, &appautoscaling.TargetArgs{
		ServiceNamespace:  pulumi.String("ecs"),
		ScalableDimension: pulumi.String("ecs:service:DesiredCount"),
		ResourceId:        pulumi.Sprintf("service/%s/%s", cluster.Name, service.Name),
		MinCapacity:       pulumi.Int(cfg.MinCapacity),
		MaxCapacity:       pulumi.Int(cfg.MaxCapacity),
	}, parent)
	if err != nil {
		return err
	}
	policy := func(suffix, metric string, value float64, label pulumi.StringInput) error {
		spec := appautoscaling.PolicyTargetTrackingScalingPolicyConfigurationPredefinedMetricSpecificationArgs{
			PredefinedMetricType: pulumi.String(metric),
			ResourceLabel:        label,
		}
		_, err := appautoscaling.NewPolicy(ctx, base+"-"+suffix, &appautoscaling.PolicyArgs{
			PolicyType:        pulumi.String("TargetTrackingScaling"),
			ServiceNamespace:  target.ServiceNamespace,
			ScalableDimension: target.ScalableDimension,
			ResourceId:        target.ResourceId,
			TargetTrackingScalingPolicyConfiguration: appautoscaling.PolicyTargetTrackingScalingPolicyConfigurationArgs{
				TargetValue:                   pulumi.Float64(value),
				ScaleOutCooldown:              pulumi.Int(scaleOutCooldown),
				ScaleInCooldown:               pulumi.Int(scaleInCooldown),
				PredefinedMetricSpecification: spec,
			},
		}, parent)
		return err
	}
	if err := policy("cpu", "ECSServiceAverageCPUUtilization", cpuTarget, nil); err != nil {
		return err
	}
	if byRequests {
		return policy("requests", "ALBRequestCountPerTarget", requestsPerTarget, lb.RequestLabel)
	}
	return nil
}

// newBlueGreen deploys the API through CodeDeploy: 10% of traffic to the new tasks for 15
// minutes, then all of it; a failure or a firing alarm rolls back; the old tasks stay for an hour.
func newBlueGreen(ctx *pulumi.Context, name string, c *Compute, cluster *ecs.Cluster, service *ecs.Service, bg *BlueGreenTargets, parent pulumi.ResourceOption) error {
	role, err := iam.NewRole(ctx, name+"-codedeploy", &iam.RoleArgs{
		Description:       pulumi.String("CodeDeploy shifts the API's traffic between target groups"),
		AssumeRolePolicy:  iampolicy.AssumeRole("codedeploy.amazonaws.com"),
		ManagedPolicyArns: pulumi.StringArray{pulumi.String("arn:aws:iam::aws:policy/AWSCodeDeployRoleForECS")},
	}, parent)
	if err != nil {
		return err
	}
	alarms, err := deploymentAlarms(ctx, name, bg, parent)
	if err != nil {
		return err
	}
	app, err := codedeploy.NewApplication(ctx, name, &codedeploy.ApplicationArgs{
		Name:            pulumi.Sprintf("%s-api", cluster.Name), // CodeDeployApplicationName
		ComputePlatform: pulumi.String("ECS"),
	}, parent)
	if err != nil {
		return err
	}
	group, err := codedeploy.NewDeploymentGroup(ctx, name, &codedeploy.DeploymentGroupArgs{
		AppName:              app.Name,
		DeploymentGroupName:  pulumi.String(BlueGreenGroup),
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
			ClusterName: cluster.Name,
			ServiceName: service.Name,
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
	}, parent)
	if err != nil {
		return err
	}
	c.CodeDeployApplication = app.Name
	c.CodeDeployGroup = group.DeploymentGroupName
	c.Services = append(c.Services, group)
	return nil
}

// deploymentAlarms fire when the API's new tasks fail: 5xx answers or unhealthy targets, in
// either target group (blue and green swap roles at every deployment).
func deploymentAlarms(ctx *pulumi.Context, name string, bg *BlueGreenTargets, parent pulumi.ResourceOption) (pulumi.StringArray, error) {
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
			}, parent)
			if err != nil {
				return nil, err
			}
			names = append(names, alarm.Name)
		}
	}
	return names, nil
}
