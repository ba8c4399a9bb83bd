package compute

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strconv"

	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/cloudwatch"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/ecr"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/ecs"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/iam"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/taskmanager/taskmanager-infra/internal/iampolicy"
	"github.com/taskmanager/taskmanager-infra/internal/naming"
)

const computeType = "taskmanager:compute:Compute"

// Service and container names, which the spec's runbook uses (aws ecs update-service --service api).
const (
	API        = "api"
	Worker     = "worker"
	Migrations = "migrations"
)

// ClusterName is the ECS cluster's name, which the spec's runbook uses.
func ClusterName(stack string) string { return naming.For(stack).Resource() }

// CodeDeployApplicationName and BlueGreenGroup are the API's blue/green deployment, which the
// pipeline and the rotation functions start.
func CodeDeployApplicationName(stack string) string { return naming.For(stack).Resource(API) }

// BlueGreenGroup is the deployment group of the API's blue/green deployments.
const BlueGreenGroup = "api"

// RepositoryName is the stack's image repository in ECR.
func RepositoryName(stack string) string { return naming.For(stack).Project() }

// LogGroupName is the log group of a workload (api, worker, migrations).
func LogGroupName(stack, workload string) string {
	return naming.For(stack).LogGroup("/ecs", workload)
}

// Args configures the compute.
type Args struct {
	Stack, Region, AccountID string
	Settings                 Settings
	API                      APIConfig
	Worker                   WorkerConfig
	Compute                  Config
	// SubnetIDs are the private subnets; SecurityGroups the api, worker and migrations groups.
	SubnetIDs      pulumi.StringArrayInput
	SecurityGroups map[string]pulumi.StringInput
	KeyArn         pulumi.StringInput
	// APIEnvironment are plain variables of the API whose values other components make (the
	// sign-in's SIGN_OUT_REDIRECT); none is secret.
	APIEnvironment map[string]pulumi.StringInput
	// AppSecrets and MigrationSecrets are the secret variables of the API and worker, and of the
	// migration task, as the secrets component resolves them.
	AppSecrets, MigrationSecrets SecretEnv
	LogRetentionDays             int
	// LoadBalancer is where the API takes traffic.
	LoadBalancer LoadBalancer
	// Protect keeps the image repository (production).
	Protect bool
	// ServicesAfter must exist before the services start tasks: the first database login.
	ServicesAfter []pulumi.Resource
	// ContainerInsights turns on the cluster's Container Insights (observability.MonitoringConfig).
	ContainerInsights bool
	// WorkerQueueMetric, where the worker autoscales, is the queue-depth metric it also tracks,
	// at Worker.BacklogPerTask (nil: CPU alone).
	WorkerQueueMetric *QueueMetric
}

// LoadBalancer is the part of the edge the API service is wired to.
type LoadBalancer struct {
	// TargetGroupArn is the target group the API registers in (blue, with blue/green).
	TargetGroupArn pulumi.StringInput
	// RequestLabel is the ALB request-count metric's resource label (app/…/targetgroup/…).
	RequestLabel pulumi.StringInput
	// Listeners must exist before the service: ECS refuses a target group without a load balancer.
	Listeners []pulumi.Resource
	// BlueGreen: CodeDeploy deploys the API (infra/release), not ECS. The service takes the
	// CODE_DEPLOY controller and leaves its task definition and target group to CodeDeploy, and
	// scales on CPU alone (the target group changes at every deployment).
	BlueGreen bool
}

// Compute is the ECS cluster with the API and worker services and the migration task.
type Compute struct {
	pulumi.ResourceState
	ClusterName    pulumi.StringOutput            `pulumi:"clusterName"`
	RepositoryURL  pulumi.StringOutput            `pulumi:"repositoryUrl"`
	TaskDefinition map[string]pulumi.StringOutput // ARNs by api, worker, migrations
	LogGroupNames  map[string]pulumi.StringOutput // by api, worker, migrations
	// TaskRoleArns are each workload's execution role and task role, which whoever registers
	// or deploys its task definition must be allowed to pass.
	TaskRoleArns map[string][]pulumi.StringOutput
	// TaskFamilies are the task definitions' families by workload (the pipeline runs the
	// migration task by its family).
	TaskFamilies map[string]pulumi.StringOutput
	// Services are the ECS services: what a redeploy acts on. They are the resources to depend
	// on, not this component: the Go SDK expands a component in DependsOn to the children
	// registered so far, and children register asynchronously.
	Services []pulumi.Resource
	// ServiceNames are the services' names by api and worker, once they exist.
	ServiceNames map[string]pulumi.StringOutput
}

// NewCompute creates the cluster, the task definitions and the services.
func NewCompute(ctx *pulumi.Context, name string, args *Args, opts ...pulumi.ResourceOption) (*Compute, error) {
	for _, v := range []interface{ Validate() error }{args.API, args.Worker, args.Compute, args.Settings.App} {
		if err := v.Validate(); err != nil {
			return nil, err
		}
	}
	c := &Compute{
		TaskDefinition: map[string]pulumi.StringOutput{},
		LogGroupNames:  map[string]pulumi.StringOutput{},
		TaskRoleArns:   map[string][]pulumi.StringOutput{},
		TaskFamilies:   map[string]pulumi.StringOutput{},
		ServiceNames:   map[string]pulumi.StringOutput{},
	}
	if err := ctx.RegisterComponentResource(computeType, name, c, opts...); err != nil {
		return nil, err
	}
	parent := pulumi.Parent(c)
	clusterName := ClusterName(args.Stack)

	// Set either way: left out, the account's default setting would decide.
	insights := "disabled"
	if args.ContainerInsights {
		insights = "enabled"
	}
	cluster, err := ecs.NewCluster(ctx, name, &ecs.ClusterArgs{
		Name: pulumi.String(clusterName),
		Settings: ecs.ClusterSettingArray{ecs.ClusterSettingArgs{
			Name: pulumi.String("containerInsights"), Value: pulumi.String(insights),
		}},
	}, parent, pulumi.DeleteBeforeReplace(true)) // the runbook's and the pipeline's cluster
	if err != nil {
		return nil, err
	}
	providers, err := ecs.NewClusterCapacityProviders(ctx, name, &ecs.ClusterCapacityProvidersArgs{
		ClusterName:       cluster.Name,
		CapacityProviders: pulumi.ToStringArray([]string{Fargate, FargateSpot}),
	}, parent)
	if err != nil {
		return nil, err
	}
	c.ClusterName = cluster.Name

	repo, err := newRepository(ctx, name, args, parent)
	if err != nil {
		return nil, err
	}
	c.RepositoryURL = repo.RepositoryUrl
	image := pulumi.Sprintf("%s:%s", repo.RepositoryUrl, args.Compute.ImageTag)

	workloads := []workload{
		{name: API, service: &args.API.ServiceConfig, secrets: args.AppSecrets, port: args.API.ContainerPort,
			healthCheck: apiHealthCheck(args.API.ContainerPort, args.API.HealthCheckPath),
			command:     args.API.Command, stopTimeout: 30},
		// Celery's warm shutdown finishes the tasks in hand: give it Fargate's maximum.
		{name: Worker, service: &args.Worker.ServiceConfig, secrets: args.AppSecrets,
			healthCheck: workerHealthCheck, command: args.Worker.Command, stopTimeout: 120},
		{name: Migrations, secrets: args.MigrationSecrets, command: args.Compute.MigrationsCommand, stopTimeout: 30,
			size: &ServiceConfig{CPU: args.Worker.CPU, Memory: args.Worker.Memory}},
	}
	for _, w := range workloads {
		td, err := newTaskDefinition(ctx, name, args, w, image, parent)
		if err != nil {
			return nil, err
		}
		c.TaskDefinition[w.name] = td.Arn
		c.LogGroupNames[w.name] = td.LogGroup
		c.TaskRoleArns[w.name] = []pulumi.StringOutput{td.ExecutionRole, td.TaskRole}
		c.TaskFamilies[w.name] = td.Family
	}
	if err := newServices(ctx, name, args, c, cluster, providers, parent); err != nil {
		return nil, err
	}
	// Every public output, so that the component can be published as a Pulumi component.
	maps := func(m map[string]pulumi.StringOutput) pulumi.StringMap {
		out := pulumi.StringMap{}
		for k, v := range m {
			out[k] = v
		}
		return out
	}
	return c, ctx.RegisterResourceOutputs(c, pulumi.Map{
		"clusterName": c.ClusterName, "repositoryUrl": c.RepositoryURL,
		"taskDefinitions": maps(c.TaskDefinition), "logGroupNames": maps(c.LogGroupNames),
		"taskFamilies": maps(c.TaskFamilies), "serviceNames": maps(c.ServiceNames),
	})
}

// workload is one task definition.
type workload struct {
	name        string
	service     *ServiceConfig // nil for the migration task, which is no service
	size        *ServiceConfig // CPU and memory when service is nil
	secrets     SecretEnv
	port        int
	healthCheck *healthCheck
	command     []string
	stopTimeout int
}

func (w workload) cpuMemory() (int, int) {
	if w.service != nil {
		return w.service.CPU, w.service.Memory
	}
	return w.size.CPU, w.size.Memory
}

// newRepository is the environment's image repository. Images are built once and promoted by
// copying the same digest from dev's repository to staging's and production's, so no
// repository is shared between stacks.
func newRepository(ctx *pulumi.Context, name string, args *Args, parent pulumi.ResourceOption) (*ecr.Repository, error) {
	repo, err := ecr.NewRepository(ctx, name, &ecr.RepositoryArgs{
		Name:               pulumi.String(RepositoryName(args.Stack)),
		ImageTagMutability: pulumi.String("IMMUTABLE"),
		ImageScanningConfiguration: ecr.RepositoryImageScanningConfigurationArgs{
			ScanOnPush: pulumi.Bool(true),
		},
		EncryptionConfigurations: ecr.RepositoryEncryptionConfigurationArray{ecr.RepositoryEncryptionConfigurationArgs{
			EncryptionType: pulumi.String("KMS"), KmsKey: args.KeyArn,
		}},
		// Outside production an environment can be destroyed and recreated with its images.
		ForceDelete: pulumi.Bool(!args.Protect),
	}, parent, pulumi.Protect(args.Protect), pulumi.RetainOnDelete(args.Protect))
	if err != nil {
		return nil, err
	}
	policy, _ := json.Marshal(map[string]any{"rules": []any{
		map[string]any{
			"rulePriority": 1, "description": "Drop untagged images after 7 days",
			"selection": map[string]any{"tagStatus": "untagged", "countType": "sinceImagePushed", "countUnit": "days", "countNumber": 7},
			"action":    map[string]any{"type": "expire"},
		},
		map[string]any{
			"rulePriority": 2, "description": "Keep the last 50 images",
			"selection": map[string]any{"tagStatus": "any", "countType": "imageCountMoreThan", "countNumber": 50},
			"action":    map[string]any{"type": "expire"},
		},
	}})
	if _, err := ecr.NewLifecyclePolicy(ctx, name, &ecr.LifecyclePolicyArgs{
		Repository: repo.Name, Policy: pulumi.String(string(policy)),
	}, parent); err != nil {
		return nil, err
	}
	return repo, nil
}

// containerDefinition is the ECS JSON of one container; ECS's own key names.
type containerDefinition struct {
	Name                   string           `json:"name"`
	Image                  string           `json:"image"`
	Essential              bool             `json:"essential"`
	Command                []string         `json:"command"`
	User                   string           `json:"user"`
	ReadonlyRootFilesystem bool             `json:"readonlyRootFilesystem"`
	Privileged             bool             `json:"privileged"`
	StopTimeout            int              `json:"stopTimeout"`
	PortMappings           []portMapping    `json:"portMappings,omitempty"`
	Environment            []nameValue      `json:"environment"`
	Secrets                []secretValue    `json:"secrets"`
	MountPoints            []mountPoint     `json:"mountPoints"`
	HealthCheck            *healthCheck     `json:"healthCheck,omitempty"`
	LogConfiguration       logConfiguration `json:"logConfiguration"`
}

type portMapping struct {
	ContainerPort int    `json:"containerPort"`
	Protocol      string `json:"protocol"`
}
type nameValue struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}
type secretValue struct {
	Name      string `json:"name"`
	ValueFrom string `json:"valueFrom"`
}
type mountPoint struct {
	SourceVolume  string `json:"sourceVolume"`
	ContainerPath string `json:"containerPath"`
	ReadOnly      bool   `json:"readOnly"`
}
type healthCheck struct {
	Command     []string `json:"command"`
	Interval    int      `json:"interval"`
	Timeout     int      `json:"timeout"`
	Retries     int      `json:"retries"`
	StartPeriod int      `json:"startPeriod"`
}
type logConfiguration struct {
	LogDriver string            `json:"logDriver"`
	Options   map[string]string `json:"options"`
}

// Container health checks. ECS kills a check that outlives its timeout and counts it failed,
// so each timeout is the command's own bound plus the time Python needs to start and import on
// the smallest size (0.25 vCPU), and each interval is longer than its timeout so that checks
// never overlap. ECS allows an interval of 5-300 s, a timeout of 2-120 s, a start period of
// 0-300 s and 1-10 retries.

// apiHealthCheck asks the API's health endpoint, waiting at most 4 s for the answer; a cold
// `python -c` with urllib takes up to about 5 s more at 0.25 vCPU.
func apiHealthCheck(port int, path string) *healthCheck {
	return &healthCheck{
		Command:  []string{"CMD-SHELL", fmt.Sprintf("python -c \"import urllib.request; urllib.request.urlopen('http://localhost:%d%s', timeout=4)\"", port, path)},
		Interval: 30, Timeout: 10, Retries: 3, StartPeriod: 60,
	}
}

// workerHealthCheck pings this worker through the broker, waiting at most 10 s for its answer.
// `celery -A app.worker` imports the whole app before it sends the ping: at 0.25 vCPU that
// alone can take 10-20 s, so the check gets 30 s, and a new task 180 s to connect to Redis and
// start its pool before failures count.
var workerHealthCheck = &healthCheck{
	Command:  []string{"CMD-SHELL", "celery -A app.worker inspect ping -d celery@$HOSTNAME --timeout 10 || exit 1"},
	Interval: 60, Timeout: 30, Retries: 3, StartPeriod: 180,
}

// ContainerUser is the image's unprivileged user: the image is built to run as it.
const ContainerUser = "1000:1000"

// taskDefinition is what others need of a workload's task definition.
type taskDefinition struct {
	Arn, Family, LogGroup, ExecutionRole, TaskRole pulumi.StringOutput
}

func newTaskDefinition(ctx *pulumi.Context, name string, args *Args, w workload, image pulumi.StringOutput, parent pulumi.ResourceOption) (taskDefinition, error) {
	base := fmt.Sprintf("%s-%s", name, w.name)
	family := naming.For(args.Stack).Resource(w.name)
	logs, err := cloudwatch.NewLogGroup(ctx, base, &cloudwatch.LogGroupArgs{
		Name:            pulumi.String(LogGroupName(args.Stack, w.name)),
		RetentionInDays: pulumi.Int(args.LogRetentionDays),
		KmsKeyId:        args.KeyArn,
	}, parent, pulumi.DeleteBeforeReplace(true))
	if err != nil {
		return taskDefinition{}, err
	}

	// Its execution role may read exactly the secrets its variables come from.
	secretArns := make([]pulumi.StringInput, len(w.secrets.SecretArns))
	for i, arn := range w.secrets.SecretArns {
		secretArns[i] = arn
	}
	names := slices.Sorted(maps.Keys(w.secrets.ValueFrom))
	valueFrom := make([]pulumi.StringOutput, len(names))
	for i, n := range names {
		valueFrom[i] = w.secrets.ValueFrom[n]
	}
	execRole, err := iam.NewRole(ctx, base+"-execution", &iam.RoleArgs{
		Description:       pulumi.Sprintf("ECS pulls the %s image, writes its logs and reads its secrets", w.name),
		AssumeRolePolicy:  executionTrust(args),
		ManagedPolicyArns: pulumi.StringArray{pulumi.String("arn:aws:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy")},
		InlinePolicies: iam.RoleInlinePolicyArray{iam.RoleInlinePolicyArgs{
			Name: pulumi.String("secrets"),
			Policy: iampolicy.Render(func(a []string) iampolicy.Document {
				return iampolicy.New(
					iampolicy.Allow([]string{"secretsmanager:GetSecretValue"}, a[1:]...),
					// The key decrypts the secrets for ECS only, through Secrets Manager.
					iampolicy.DecryptVia(a[0], "secretsmanager", args.Region, "kms:Decrypt"),
				)
			}, append([]pulumi.StringInput{args.KeyArn}, secretArns...)...),
		}},
	}, parent)
	if err != nil {
		return taskDefinition{}, err
	}
	// The app calls no AWS API yet: its task role grants nothing, and exists so that each
	// workload gets its own identity when it does.
	taskRole, err := iam.NewRole(ctx, base+"-task", &iam.RoleArgs{
		Description:      pulumi.Sprintf("The %s containers' own identity", w.name),
		AssumeRolePolicy: tasksTrust(args),
	}, parent)
	if err != nil {
		return taskDefinition{}, err
	}

	env := Environment(args.Settings)
	if w.name == Migrations {
		env = map[string]string{"ENVIRONMENT": args.Settings.Environment, "LOG_LEVEL": args.Settings.LogLevel}
	}
	linked := pulumi.StringMap{}
	if w.name == API {
		for k, v := range args.APIEnvironment {
			linked[k] = v
		}
	}
	definitions := pulumi.All(image, logs.Name, pulumi.ToStringArrayOutput(valueFrom), linked.ToStringMapOutput()).ApplyT(func(v []any) (string, error) {
		env := maps.Clone(env)
		maps.Copy(env, v[3].(map[string]string))
		def := containerDefinition{
			Name: w.name, Image: v[0].(string), Essential: true, Command: w.command,
			User: ContainerUser, ReadonlyRootFilesystem: true, StopTimeout: w.stopTimeout,
			// The root filesystem is read-only; the app writes temporary files here only.
			MountPoints: []mountPoint{{SourceVolume: "tmp", ContainerPath: "/tmp"}},
			LogConfiguration: logConfiguration{LogDriver: "awslogs", Options: map[string]string{
				"awslogs-group": v[1].(string), "awslogs-region": args.Region, "awslogs-stream-prefix": w.name,
			}},
		}
		for _, k := range slices.Sorted(maps.Keys(env)) {
			def.Environment = append(def.Environment, nameValue{k, env[k]})
		}
		for i, k := range names {
			def.Secrets = append(def.Secrets, secretValue{k, v[2].([]string)[i]})
		}
		if w.port != 0 {
			def.PortMappings = []portMapping{{ContainerPort: w.port, Protocol: "tcp"}}
		}
		def.HealthCheck = w.healthCheck
		b, err := json.Marshal([]containerDefinition{def})
		return string(b), err
	}).(pulumi.StringOutput)

	cpu, memory := w.cpuMemory()
	td, err := ecs.NewTaskDefinition(ctx, base, &ecs.TaskDefinitionArgs{
		Family:                  pulumi.String(family),
		Cpu:                     pulumi.String(strconv.Itoa(cpu)),
		Memory:                  pulumi.String(strconv.Itoa(memory)),
		NetworkMode:             pulumi.String("awsvpc"),
		RequiresCompatibilities: pulumi.StringArray{pulumi.String("FARGATE")},
		RuntimePlatform: ecs.TaskDefinitionRuntimePlatformArgs{
			OperatingSystemFamily: pulumi.String("LINUX"), CpuArchitecture: pulumi.String("X86_64"),
		},
		ExecutionRoleArn:     execRole.Arn,
		TaskRoleArn:          taskRole.Arn,
		ContainerDefinitions: definitions,
		Volumes:              ecs.TaskDefinitionVolumeArray{ecs.TaskDefinitionVolumeArgs{Name: pulumi.String("tmp")}},
		// Keep earlier revisions registered: a rollback points the service back at one of them.
		SkipDestroy: pulumi.Bool(true),
	}, parent)
	if err != nil {
		return taskDefinition{}, err
	}
	return taskDefinition{Arn: td.Arn, Family: td.Family, LogGroup: logs.Name, ExecutionRole: execRole.Arn, TaskRole: taskRole.Arn}, nil
}

// tasksTrust lets ECS tasks of this account assume a role; ECS sends the task's ARN as
// aws:SourceArn.
func tasksTrust(args *Args) pulumi.String {
	return iampolicy.AssumeRoleFor("ecs-tasks.amazonaws.com", args.AccountID,
		fmt.Sprintf("arn:aws:ecs:%s:%s:*", args.Region, args.AccountID))
}

// executionTrust lets ECS assume an execution role for this account's tasks. Unlike tasksTrust it
// has no aws:SourceArn condition: AWS documents that confused-deputy condition for task roles
// (Amazon ECS Developer Guide, "Task IAM role": ArnLike aws:SourceArn arn:aws:ecs:<region>:
// <account>:*), but nowhere states that ECS sends aws:SourceArn when it assumes an execution role
// to pull the image and read the secrets, and if it did not, no task would start. aws:SourceAccount
// alone still keeps other accounts' tasks off the role (the trust tests hold both forms).
func executionTrust(args *Args) pulumi.String {
	return iampolicy.AssumeRoleFor("ecs-tasks.amazonaws.com", args.AccountID, "")
}
