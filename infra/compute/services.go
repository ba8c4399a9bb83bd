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

// CodeDeployOwned are the service inputs that ECS's UpdateService refuses under the CODE_DEPLOY
// deployment controller ("only the desired count, deployment configuration, health check grace
// period, task placement constraints and strategies, enable ECS managed tags option, and propagate
// tags can be updated using this API. If the network configuration, platform version, task
// definition, or load balancer need to be updated, create a new CodeDeploy deployment": Amazon ECS
// API Reference, UpdateService). `pulumi up` leaves them to the next CodeDeploy deployment, whose
// AppSpec carries the task definition, the network configuration and the capacity provider
// strategy (scripts/deploy.sh), instead of sending an UpdateService that ECS refuses.
var CodeDeployOwned = []string{
	"taskDefinition", "loadBalancers", "networkConfiguration", "capacityProviderStrategies",
	"platformVersion", "enableExecuteCommand", "serviceRegistries", "serviceConnectConfiguration",
	"volumeConfiguration", "vpcLatticeConfigurations", "availabilityZoneRebalancing",
	"forceNewDeployment", "triggers", // both force a new deployment through UpdateService
}

// QueueMetric is the custom metric the worker scales on beside CPU: the tasks waiting in its
// queues per running worker task, published with the cluster's and the service's names as
// dimensions (the queue-depth function's BacklogPerTask; docs/queue-depth.md).
type QueueMetric struct {
	Namespace, Name                    string
	ClusterDimension, ServiceDimension string
}

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
			ignore = append(ignore, CodeDeployOwned...)
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
			var queue *queueScaling
			if m := args.WorkerQueueMetric; svc.name == Worker && m != nil && args.Worker.BacklogPerTask != nil {
				queue = &queueScaling{metric: *m, target: *args.Worker.BacklogPerTask}
			}
			if err := newAutoscaling(ctx, name, svc.name, svc.config, cluster, service, isAPI && !blueGreen, lb, queue, parent); err != nil {
				return err
			}
		}
	}
	return nil
}

// queueScaling is the worker's queue-depth policy: the metric and the backlog per task to hold.
type queueScaling struct {
	metric QueueMetric
	target float64
}

// tracking is a target-tracking policy's configuration.
type tracking = appautoscaling.PolicyTargetTrackingScalingPolicyConfigurationArgs

// newAutoscaling tracks CPU, and for an API behind a stable target group, requests per task.
// With blue/green the target group changes at every deployment, so the API scales on CPU alone.
// With queue, the worker also tracks its backlog per task: Celery workers waiting on I/O show
// low CPU while the queue grows. Application Auto Scaling scales out when either policy asks
// for more tasks, and in only when both allow it; while the queue metric is missing (its
// function failing) that policy does nothing and CPU still scales.
func newAutoscaling(ctx *pulumi.Context, name, svc string, cfg ServiceConfig, cluster *ecs.Cluster, service *ecs.Service, byRequests bool, lb LoadBalancer, queue *queueScaling, parent pulumi.ResourceOption) error {
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
	// policy holds at value the metric that metric puts in the configuration.
	policy := func(suffix string, value float64, metric func(*tracking)) error {
		config := tracking{
			TargetValue:      pulumi.Float64(value),
			ScaleOutCooldown: pulumi.Int(scaleOutCooldown),
			ScaleInCooldown:  pulumi.Int(scaleInCooldown),
		}
		metric(&config)
		_, err := appautoscaling.NewPolicy(ctx, base+"-"+suffix, &appautoscaling.PolicyArgs{
			PolicyType:                               pulumi.String("TargetTrackingScaling"),
			ServiceNamespace:                         target.ServiceNamespace,
			ScalableDimension:                        target.ScalableDimension,
			ResourceId:                               target.ResourceId,
			TargetTrackingScalingPolicyConfiguration: config,
		}, parent)
		return err
	}
	predefined := func(metric string, label pulumi.StringInput) func(*tracking) {
		return func(c *tracking) {
			c.PredefinedMetricSpecification = appautoscaling.PolicyTargetTrackingScalingPolicyConfigurationPredefinedMetricSpecificationArgs{
				PredefinedMetricType: pulumi.String(metric),
				ResourceLabel:        label,
			}
		}
	}
	if err := policy("cpu", cpuTarget, predefined("ECSServiceAverageCPUUtilization", nil)); err != nil {
		return err
	}
	if byRequests {
		if err := policy("requests", requestsPerTarget, predefined("ALBRequestCountPerTarget", lb.RequestLabel)); err != nil {
			return err
		}
	}
	if queue == nil {
		return nil
	}
	// The function publishes one datapoint a minute, so Average over the policy's minute is that
	// datapoint. The dimensions are the names the function publishes under: the service's own.
	m := queue.metric
	return policy("backlog", queue.target, func(c *tracking) {
		c.CustomizedMetricSpecification = appautoscaling.PolicyTargetTrackingScalingPolicyConfigurationCustomizedMetricSpecificationArgs{
			Namespace:  pulumi.String(m.Namespace),
			MetricName: pulumi.String(m.Name),
			Statistic:  pulumi.String("Average"),
			Dimensions: appautoscaling.PolicyTargetTrackingScalingPolicyConfigurationCustomizedMetricSpecificationDimensionArray{
				appautoscaling.PolicyTargetTrackingScalingPolicyConfigurationCustomizedMetricSpecificationDimensionArgs{
					Name: pulumi.String(m.ClusterDimension), Value: cluster.Name,
				},
				appautoscaling.PolicyTargetTrackingScalingPolicyConfigurationCustomizedMetricSpecificationDimensionArgs{
					Name: pulumi.String(m.ServiceDimension), Value: service.Name,
				},
			},
		}
	})
}
