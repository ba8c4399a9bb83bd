// Package queuedepth is the function that measures the Celery queues in Redis every minute and
// publishes their depth to CloudWatch (cmd/queue-depth-lambda), for the worker's queue-depth
// scaling policy and the oldest-task alarm. docs/queue-depth.md is the contract between the
// function and this component: its environment, its metrics, its permissions and its network.
package queuedepth

import (
	"fmt"
	"strings"

	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/cloudwatch"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/lambda"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/taskmanager/taskmanager-infra/internal/gofunction"
	"github.com/taskmanager/taskmanager-infra/internal/iampolicy"
	fn "github.com/taskmanager/taskmanager-infra/internal/queuedepth"
)

const queueDepthType = "taskmanager:queuedepth:QueueDepth"

// Code is the function's build (scripts/build-lambdas.sh makes it from cmd/queue-depth-lambda):
// the code ships with the program, nothing is downloaded at deploy time.
const Code = "./build/queue-depth"

// The metrics the function publishes (docs/queue-depth.md, Metrics). The scaling policy and the
// alarms name them exactly: a metric published under another name or dimension scales nothing
// and alarms on nothing, silently.
const (
	// Namespace is the metrics' CloudWatch namespace, and the only one the function may write.
	Namespace = "TaskManager/Celery"
	// BacklogPerTask is the waiting tasks per running worker task: what the worker scales on.
	BacklogPerTask = "BacklogPerTask"
	// OldestTaskAge is how long the oldest waiting task has waited, in seconds.
	OldestTaskAge = "OldestTaskAgeSeconds"
	// ClusterDimension and ServiceDimension carry the worker's cluster and service names.
	ClusterDimension = "Cluster"
	ServiceDimension = "Service"
)

// Queues are the Celery queues measured: the app publishes to Celery's default queue only.
// Each queue adds two custom metrics (its Backlog and OldestTaskAgeSeconds) to the service's three.
var Queues = []string{"celery"}

// ReaderUser and ReaderACL are the function's own Redis user and what it may do (read commands
// only), as the function's code needs them: the cache creates the user (infra/cache).
const (
	ReaderUser = fn.ReaderUser
	ReaderACL  = fn.ReaderACL
)

// Schedule is how often the function measures: target tracking evaluates one-minute datapoints.
const Schedule = "rate(1 minute)"

// Args configures the queue-depth function.
type Args struct {
	Stack, Region, AccountID string
	// KeyArn is the environment's key: it encrypts the function's log group, and the broker
	// secret the function decrypts.
	KeyArn pulumi.StringInput
	// SubnetIDs (private) and SecurityGroupID put the function where it reaches Redis, and
	// Secrets Manager, ECS and CloudWatch through the NAT.
	SubnetIDs       pulumi.StringArrayInput
	SecurityGroupID pulumi.StringInput
	// VpcID is the VPC of those subnets: the function's network interfaces are managed there only.
	VpcID            pulumi.StringInput
	LogRetentionDays int
	// BrokerSecretArn is the secret celery-broker-url: Redis's URL and AUTH token.
	BrokerSecretArn pulumi.StringInput
	// ClusterName and ServiceName are the worker service's, from the service itself: the
	// function reads its running count, and publishes under them as dimensions.
	ClusterName, ServiceName pulumi.StringInput
	// StartAfter must exist before the schedule starts: the broker secret's first value and the
	// security group rules to Redis and HTTPS, without which every invocation fails.
	StartAfter []pulumi.Resource
}

// QueueDepth is the function, its role, log group and schedule.
type QueueDepth struct {
	pulumi.ResourceState
	// FunctionName is the function's name (aws lambda invoke --function-name ...), whose errors
	// alarm.
	FunctionName pulumi.StringOutput `pulumi:"functionName"`
	// Cluster and Service are the values of the metrics' Cluster and Service dimensions.
	Cluster pulumi.StringOutput `pulumi:"cluster"`
	Service pulumi.StringOutput `pulumi:"service"`
}

// NewQueueDepth creates the function and schedules it every minute.
func NewQueueDepth(ctx *pulumi.Context, name string, args *Args, opts ...pulumi.ResourceOption) (*QueueDepth, error) {
	q := &QueueDepth{}
	if err := ctx.RegisterComponentResource(queueDepthType, name, q, opts...); err != nil {
		return nil, err
	}
	parent := pulumi.Parent(q)
	base := name + "-queue-depth"
	f, err := gofunction.New(ctx, base, gofunction.Args{
		Stack:            args.Stack,
		Name:             []string{"queue-depth"},
		Description:      pulumi.Sprintf("Publishes taskmanager/%s's Celery queue depth to CloudWatch every minute", args.Stack),
		RoleDescription:  pulumi.Sprintf("Publishes taskmanager/%s's Celery queue depth to CloudWatch", args.Stack),
		Code:             Code,
		LogRetentionDays: args.LogRetentionDays,
		KeyArn:           args.KeyArn,
		Inputs:           []pulumi.StringInput{args.BrokerSecretArn, args.KeyArn, args.ClusterName, args.ServiceName, args.VpcID},
		Policy: func(a []string) []iampolicy.Statement {
			secret, key, cluster, service, vpc := a[0], a[1], a[2], a[3], a[4]
			statements := []iampolicy.Statement{
				iampolicy.Allow([]string{"secretsmanager:GetSecretValue"}, secret),
				// The key decrypts for Secrets Manager only: the role cannot use it directly.
				iampolicy.DecryptVia(key, "secretsmanager", args.Region, "kms:Decrypt"),
				iampolicy.Allow([]string{"ecs:DescribeServices"},
					fmt.Sprintf("arn:aws:ecs:%s:%s:service/%s/%s", args.Region, args.AccountID, cluster, service)),
				// PutMetricData takes no resource: the namespace condition is what scopes it.
				iampolicy.Statement{Effect: "Allow", Action: []string{"cloudwatch:PutMetricData"}, Resource: []string{"*"},
					Condition: map[string]any{"StringEquals": map[string]any{"cloudwatch:namespace": Namespace}}},
			}
			// Lambda manages the function's network interfaces, in the stack's VPC only.
			return append(statements, iampolicy.LambdaNetworkInterfaces(args.Region, args.AccountID, vpc)...)
		},
		MemorySize: 128,
		// The Redis session is bounded to 20 s; the AWS calls fit in the rest.
		Timeout: 30,
		Environment: pulumi.StringMap{
			"BROKER_SECRET_ARN": args.BrokerSecretArn,
			"ECS_CLUSTER":       args.ClusterName,
			"ECS_SERVICE":       args.ServiceName,
			"QUEUES":            pulumi.String(strings.Join(Queues, ",")),
			"METRIC_NAMESPACE":  pulumi.String(Namespace),
		},
		VPC: &lambda.FunctionVpcConfigArgs{
			SubnetIds:        args.SubnetIDs,
			SecurityGroupIds: pulumi.StringArray{args.SecurityGroupID},
		},
	}, parent)
	if err != nil {
		return nil, err
	}
	fn := f.Function
	// A sample is of its minute: a retry, or an event that waited, would measure a later minute
	// while the next scheduled run measures it anyway.
	retries, err := lambda.NewFunctionEventInvokeConfig(ctx, base, &lambda.FunctionEventInvokeConfigArgs{
		FunctionName:             fn.Name,
		MaximumRetryAttempts:     pulumi.Int(0),
		MaximumEventAgeInSeconds: pulumi.Int(60),
	}, parent)
	if err != nil {
		return nil, err
	}
	rule, err := cloudwatch.NewEventRule(ctx, base, &cloudwatch.EventRuleArgs{
		Description:        pulumi.Sprintf("Measures taskmanager/%s's Celery queues every minute", args.Stack),
		ScheduleExpression: pulumi.String(Schedule),
	}, parent)
	if err != nil {
		return nil, err
	}
	permission, err := lambda.NewPermission(ctx, base, &lambda.PermissionArgs{
		Action:    pulumi.String("lambda:InvokeFunction"),
		Function:  fn.Name,
		Principal: pulumi.String("events.amazonaws.com"),
		SourceArn: rule.Arn,
	}, parent)
	if err != nil {
		return nil, err
	}
	after := append([]pulumi.Resource{permission, retries}, args.StartAfter...)
	if _, err := cloudwatch.NewEventTarget(ctx, base, &cloudwatch.EventTargetArgs{
		Rule: rule.Name,
		Arn:  fn.Arn,
	}, parent, pulumi.DependsOn(after)); err != nil {
		return nil, err
	}
	q.FunctionName = fn.Name
	q.Cluster = args.ClusterName.ToStringOutput()
	q.Service = args.ServiceName.ToStringOutput()
	return q, ctx.RegisterResourceOutputs(q, pulumi.Map{
		"functionName": q.FunctionName, "cluster": q.Cluster, "service": q.Service,
	})
}
