package rotation

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/codedeploy"
	cdtypes "github.com/aws/aws-sdk-go-v2/service/codedeploy/types"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	ecstypes "github.com/aws/aws-sdk-go-v2/service/ecs/types"
)

// describeBatch is the most services one DescribeServices call accepts.
const describeBatch = 10

// redeploy restarts every configured service, because ECS reads secrets only when it starts a
// task. A rolling service gets a forced new deployment. ECS refuses that for a blue/green
// (CODE_DEPLOY) service, so that one gets a CodeDeploy deployment of the task definition it
// already runs. All services are tried even if one fails, so a single bad name does not leave
// the other service on old credentials.
func (r *Rotator) redeploy(ctx context.Context, log *slog.Logger) error {
	cluster := r.Config.ECSCluster
	if cluster == "" || len(r.Config.ECSServices) == 0 {
		return nil
	}
	if r.ECS == nil {
		return errors.New("ECS services are configured but the rotator has no ECS client")
	}
	services, err := r.describeServices(ctx)
	if isMissingService(err) {
		// On a fresh stack the first rotation runs before the cluster exists; services created
		// later read the new AWSCURRENT when their tasks start.
		log.Warn("ECS cluster not found; nothing to redeploy", "cluster", cluster, "error", err)
		return nil
	}
	if err != nil {
		return err
	}
	var errs []error
	blueGreen := "" // the service the deployment group belongs to
	for _, name := range r.Config.ECSServices {
		svc, ok := services[name]
		if !ok || aws.ToString(svc.Status) != "ACTIVE" {
			log.Warn("ECS service not found or not active; nothing to redeploy", "cluster", cluster, "service", name)
			continue
		}
		if svc.RunningCount == 0 && svc.PendingCount == 0 {
			// No task holds the previous credentials: the next ones read AWSCURRENT when they start.
			// A new environment's first rotation finds its services so (no image deployed yet), and
			// a CodeDeploy deployment of a task definition that cannot start would block the
			// deployment group for the release that follows.
			log.Info("ECS service runs no task; nothing to redeploy", "cluster", cluster, "service", name)
			continue
		}
		if svc.DeploymentController == nil || svc.DeploymentController.Type != ecstypes.DeploymentControllerTypeCodeDeploy {
			errs = append(errs, r.forceNewDeployment(ctx, name, log))
			continue
		}
		if blueGreen != "" {
			// A deployment group targets one service: deploying a second service's task
			// definition through it would replace the first service's tasks.
			errs = append(errs, fmt.Errorf("ECS services %s and %s both use CodeDeploy, but %s names one deployment group; %s was not redeployed", blueGreen, name, EnvCodeDeployGroup, name))
			continue
		}
		blueGreen = name
		errs = append(errs, r.deployBlueGreen(ctx, name, svc, log))
	}
	return errors.Join(errs...)
}

// describeServices returns the configured services ECS knows, by name and by ARN (ECS_SERVICES
// may use either). Services ECS does not know are absent; ECS reports them as failures.
func (r *Rotator) describeServices(ctx context.Context) (map[string]ecstypes.Service, error) {
	found := map[string]ecstypes.Service{}
	for names := range slices.Chunk(r.Config.ECSServices, describeBatch) {
		out, err := r.ECS.DescribeServices(ctx, &ecs.DescribeServicesInput{
			Cluster:  aws.String(r.Config.ECSCluster),
			Services: names,
		})
		if err != nil {
			return nil, fmt.Errorf("describe ECS services %s in cluster %s: %w", strings.Join(names, ", "), r.Config.ECSCluster, err)
		}
		for _, svc := range out.Services {
			found[aws.ToString(svc.ServiceName)] = svc
			found[aws.ToString(svc.ServiceArn)] = svc
		}
	}
	return found, nil
}

func (r *Rotator) forceNewDeployment(ctx context.Context, service string, log *slog.Logger) error {
	_, err := r.ECS.UpdateService(ctx, &ecs.UpdateServiceInput{
		Cluster:            aws.String(r.Config.ECSCluster),
		Service:            aws.String(service),
		ForceNewDeployment: true,
	})
	if isMissingService(err) {
		// Deleted since DescribeServices: there are no tasks left to restart.
		log.Warn("ECS service not found or not active; nothing to redeploy", "cluster", r.Config.ECSCluster, "service", service)
		return nil
	}
	if err != nil {
		return fmt.Errorf("force new deployment of ECS service %s in cluster %s: %w", service, r.Config.ECSCluster, err)
	}
	log.Info("forced new ECS deployment", "cluster", r.Config.ECSCluster, "service", service)
	return nil
}

// deployBlueGreen starts a CodeDeploy deployment of the task definition the service already
// runs: the replacement tasks read the new AWSCURRENT when they start. The deployment group's
// own configuration (canary, rollback, wait before the old tasks end) applies.
func (r *Rotator) deployBlueGreen(ctx context.Context, service string, svc ecstypes.Service, log *slog.Logger) error {
	app, group := r.Config.CodeDeployApplication, r.Config.CodeDeployDeploymentGroup
	if app == "" || group == "" {
		return fmt.Errorf("ECS service %s in cluster %s deploys through CodeDeploy (blue/green), which ECS cannot force-redeploy; set %s and %s to redeploy it", service, r.Config.ECSCluster, EnvCodeDeployApplication, EnvCodeDeployGroup)
	}
	if r.CodeDeploy == nil {
		return fmt.Errorf("ECS service %s deploys through CodeDeploy but the rotator has no CodeDeploy client", service)
	}
	spec, err := ecsAppSpec(svc)
	if err != nil {
		return fmt.Errorf("AppSpec for ECS service %s in cluster %s: %w", service, r.Config.ECSCluster, err)
	}
	out, err := r.CodeDeploy.CreateDeployment(ctx, &codedeploy.CreateDeploymentInput{
		ApplicationName:     aws.String(app),
		DeploymentGroupName: aws.String(group),
		Description:         aws.String("Secret rotation: restart the tasks so that they read the new secret value"),
		Revision: &cdtypes.RevisionLocation{
			RevisionType:   cdtypes.RevisionLocationTypeAppSpecContent,
			AppSpecContent: &cdtypes.AppSpecContent{Content: aws.String(spec)},
		},
	})
	var busy *cdtypes.DeploymentLimitExceededException
	if errors.As(err, &busy) {
		return fmt.Errorf("CodeDeploy deployment of ECS service %s not started: a deployment is already in progress in application %s, group %s (a release, or this rotation's own deployment on a retry). "+
			"AWSCURRENT has already moved, so the tasks that the running deployment starts take the new secret anyway; tasks started before keep the previous credentials, which stay valid until the next rotation: %w", service, app, group, err)
	}
	if err != nil {
		return fmt.Errorf("create CodeDeploy deployment of ECS service %s (application %s, group %s): %w", service, app, group, err)
	}
	log.Info("started CodeDeploy deployment", "cluster", r.Config.ECSCluster, "service", service,
		"application", app, "deployment_group", group, "deployment", aws.ToString(out.DeploymentId))
	return nil
}

func isMissingService(err error) bool {
	var noCluster *ecstypes.ClusterNotFoundException
	var noService *ecstypes.ServiceNotFoundException
	var inactive *ecstypes.ServiceNotActiveException
	return errors.As(err, &noCluster) || errors.As(err, &noService) || errors.As(err, &inactive)
}

// appSpec is the AppSpec of an ECS deployment, as CodeDeploy reads it from AppSpecContent.
type appSpec struct {
	Version   string            `json:"version"`
	Resources []appSpecResource `json:"Resources"`
}

type appSpecResource struct {
	TargetService appSpecTarget `json:"TargetService"`
}

type appSpecTarget struct {
	Type       string            `json:"Type"`
	Properties appSpecProperties `json:"Properties"`
}

type appSpecProperties struct {
	TaskDefinition           string                    `json:"TaskDefinition"`
	LoadBalancerInfo         appSpecLoadBalancer       `json:"LoadBalancerInfo"`
	CapacityProviderStrategy []appSpecCapacityProvider `json:"CapacityProviderStrategy,omitempty"`
	NetworkConfiguration     *appSpecNetwork           `json:"NetworkConfiguration,omitempty"`
	PlatformVersion          string                    `json:"PlatformVersion,omitempty"`
}

type appSpecLoadBalancer struct {
	ContainerName string `json:"ContainerName"`
	ContainerPort int32  `json:"ContainerPort"`
}

type appSpecCapacityProvider struct {
	Base             int32  `json:"Base"`
	CapacityProvider string `json:"CapacityProvider"`
	Weight           int32  `json:"Weight"`
}

type appSpecNetwork struct {
	AwsvpcConfiguration appSpecAwsvpc `json:"AwsvpcConfiguration"`
}

type appSpecAwsvpc struct {
	Subnets        []string `json:"Subnets"`
	SecurityGroups []string `json:"SecurityGroups,omitempty"`
	AssignPublicIP string   `json:"AssignPublicIp"`
}

// ecsAppSpec describes the service as it runs now, so that the deployment changes nothing but
// the tasks. In a blue/green service the PRIMARY task set is the one serving traffic; the
// service's own task definition and network are those it was created with, which a release
// may since have replaced.
func ecsAppSpec(svc ecstypes.Service) (string, error) {
	taskDef, network := aws.ToString(svc.TaskDefinition), svc.NetworkConfiguration
	for _, ts := range svc.TaskSets {
		if aws.ToString(ts.Status) != "PRIMARY" {
			continue
		}
		if ts.TaskDefinition != nil {
			taskDef = *ts.TaskDefinition
		}
		if ts.NetworkConfiguration != nil {
			network = ts.NetworkConfiguration
		}
		break
	}
	if taskDef == "" {
		return "", errors.New("no task definition in the PRIMARY task set or the service")
	}
	if len(svc.LoadBalancers) == 0 || svc.LoadBalancers[0].ContainerName == nil || svc.LoadBalancers[0].ContainerPort == nil {
		return "", errors.New("the service has no load balancer with a container name and port")
	}
	props := appSpecProperties{
		TaskDefinition: taskDef,
		LoadBalancerInfo: appSpecLoadBalancer{
			ContainerName: *svc.LoadBalancers[0].ContainerName,
			ContainerPort: *svc.LoadBalancers[0].ContainerPort,
		},
		PlatformVersion: aws.ToString(svc.PlatformVersion),
	}
	for _, c := range svc.CapacityProviderStrategy {
		props.CapacityProviderStrategy = append(props.CapacityProviderStrategy, appSpecCapacityProvider{
			Base: c.Base, CapacityProvider: aws.ToString(c.CapacityProvider), Weight: c.Weight,
		})
	}
	if network != nil && network.AwsvpcConfiguration != nil {
		vpc := network.AwsvpcConfiguration
		assign := vpc.AssignPublicIp
		if assign == "" {
			assign = ecstypes.AssignPublicIpDisabled // the ECS default
		}
		props.NetworkConfiguration = &appSpecNetwork{AwsvpcConfiguration: appSpecAwsvpc{
			Subnets: vpc.Subnets, SecurityGroups: vpc.SecurityGroups, AssignPublicIP: string(assign),
		}}
	}
	b, err := json.Marshal(appSpec{
		Version:   "0.0",
		Resources: []appSpecResource{{TargetService: appSpecTarget{Type: "AWS::ECS::Service", Properties: props}}},
	})
	if err != nil {
		return "", err
	}
	return string(b), nil
}
