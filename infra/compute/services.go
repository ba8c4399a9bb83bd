package compute

import (
	"fmt"

	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/appautoscaling"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/ecs"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// Auto scaling targets.
const (
	cpuTarget         = 60.0   // average CPU %
	requestsPerTarget = 1000.0 // ALB requests per task per minute
	scaleOutCooldown  = 60
	scaleInCooldown   = 300
)

// newServices creates the services once the cluster offers their capacity provider.
func newServices(ctx *pulumi.Context, name string, args *Args, c *Compute, cluster *ecs.Cluster, providers *ecs.ClusterCapacityProviders, parent pulumi.ResourceOption) error {
	lb := args.LoadBalancer
	blueGreen := lb.BlueGreen
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
			// CodeDeploy (infra/release) owns the task definition and the target group of a
			// running service: `pulumi up` registers new task definitions, the pipeline deploys them.
			sa.DeploymentController = ecs.ServiceDeploymentControllerArgs{Type: pulumi.String("CODE_DEPLOY")}
			ignore = append(ignore, "taskDefinition", "loadBalancers")
		} else {
			sa.DeploymentCircuitBreaker = ecs.ServiceDeploymentCircuitBreakerArgs{Enable: pulumi.Bool(true), Rollback: pulumi.Bool(true)}
		}
		// "api" and "worker" are the runbook's and the pipeline's names: a replacement (a new
		// cluster, a change of deployment controller) stops the old service first, and the
		// preview shows it as a replacement before anyone agrees to it.
		service, err := ecs.NewService(ctx, fmt.Sprintf("%s-%s", name, svc.name), sa, parent,
			pulumi.IgnoreChanges(ignore), pulumi.DependsOn(deps), pulumi.DeleteBeforeReplace(true))
		if err != nil {
			return err
		}
		c.Services = append(c.Services, service)
		c.ServiceNames[svc.name] = service.Name
		if svc.config.Autoscaling {
			if err := newAutoscaling(ctx, name, svc.name, svc.config, cluster, service, isAPI && !blueGreen, lb, parent); err != nil {
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
