package observability

import (
	"fmt"

	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/cloudwatch"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/iam"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/kinesis"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/lambda"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/s3"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/taskmanager/taskmanager-infra/internal/gofunction"
	"github.com/taskmanager/taskmanager-infra/internal/iampolicy"
	"github.com/taskmanager/taskmanager-infra/internal/naming"
)

const archiveType = "taskmanager:observability:LogArchive"

// ArchiveArgs configures the log archive.
type ArchiveArgs struct {
	Stack, Region, AccountID string
	// LogGroups are the names of the groups archived (the app's), as their owner's outputs: a
	// subscription filter's create fails when its group does not exist yet.
	LogGroups []pulumi.StringInput
	// BucketArn is the archive's own bucket (SSE-KMS with KeyArn, Object Lock); its lifecycle
	// keeps the archive for the spec's log_archive_days.
	BucketArn pulumi.StringInput
	// Bucket is the same bucket's name, whose new objects the lock function hears of.
	Bucket pulumi.StringInput
	KeyArn pulumi.StringInput
	// RetentionDays is how long each archived object stays locked (compliance mode): the spec's
	// log_archive_days.
	RetentionDays int
	// LogRetentionDays is the lock function's own log retention.
	LogRetentionDays int
	// AlarmActions are where the archive's alarms go (the alert topic); none pages nobody.
	AlarmActions pulumi.Array
	// AlertTopicArn, where the stack alerts, also receives the S3 event of an object the lock
	// function could not lock after its retries (the key and version to lock by hand); nil: none.
	AlertTopicArn pulumi.StringInput
}

// LogArchive copies logs to S3 as they are written: CloudWatch keeps them for the hot retention,
// the bucket for the archive's (spec: production, 30 days hot, 365 days cold).
type LogArchive struct {
	pulumi.ResourceState
	StreamName pulumi.StringOutput `pulumi:"streamName"`
}

// ArchivePrefix is where the archive lands in the logs bucket, and ArchiveErrorPrefix where
// Firehose writes the records it could not deliver; its role may write under both.
const (
	ArchivePrefix      = "archive/"
	ArchiveErrorPrefix = "archive-errors/"
)

// NewLogArchive subscribes the log groups to a Firehose stream that writes to the bucket.
func NewLogArchive(ctx *pulumi.Context, name string, args *ArchiveArgs, opts ...pulumi.ResourceOption) (*LogArchive, error) {
	a := &LogArchive{}
	if err := ctx.RegisterComponentResource(archiveType, name, a, opts...); err != nil {
		return nil, err
	}
	parent := pulumi.Parent(a)
	base := name + "-log-archive"
	streamName := naming.For(args.Stack).Resource("log-archive")
	streamArn := fmt.Sprintf("arn:aws:firehose:%s:%s:deliverystream/%s", args.Region, args.AccountID, streamName)

	firehoseRole, err := iam.NewRole(ctx, base+"-delivery", &iam.RoleArgs{
		Description:      pulumi.String("Firehose writes the log archive to the logs bucket"),
		AssumeRolePolicy: iampolicy.AssumeRoleFor("firehose.amazonaws.com", args.AccountID, streamArn),
		InlinePolicies: iam.RoleInlinePolicyArray{iam.RoleInlinePolicyArgs{
			Name: pulumi.String("archive"),
			Policy: iampolicy.Render(func(v []string) iampolicy.Document {
				return iampolicy.New(
					iampolicy.Allow([]string{"s3:PutObject", "s3:AbortMultipartUpload"},
						v[0]+"/"+ArchivePrefix+"*", v[0]+"/"+ArchiveErrorPrefix+"*"),
					iampolicy.Allow([]string{"s3:GetBucketLocation", "s3:ListBucket", "s3:ListBucketMultipartUploads"}, v[0]),
					// The bucket encrypts with the environment's key: through S3 only.
					iampolicy.Statement{Effect: "Allow", Action: []string{"kms:GenerateDataKey", "kms:Decrypt"}, Resource: []string{v[1]},
						Condition: map[string]any{"StringEquals": map[string]any{"kms:ViaService": fmt.Sprintf("s3.%s.amazonaws.com", args.Region)}}},
				)
			}, args.BucketArn, args.KeyArn),
		}},
	}, parent)
	if err != nil {
		return nil, err
	}
	// The stream's name is in the subscription role's policy: a replacement deletes it first.
	stream, err := kinesis.NewFirehoseDeliveryStream(ctx, base, &kinesis.FirehoseDeliveryStreamArgs{
		Name:        pulumi.String(streamName),
		Destination: pulumi.String("extended_s3"),
		ServerSideEncryption: kinesis.FirehoseDeliveryStreamServerSideEncryptionArgs{
			Enabled: pulumi.Bool(true), KeyType: pulumi.String("AWS_OWNED_CMK"),
		},
		ExtendedS3Configuration: kinesis.FirehoseDeliveryStreamExtendedS3ConfigurationArgs{
			BucketArn: args.BucketArn,
			RoleArn:   firehoseRole.Arn,
			Prefix:    pulumi.String(ArchivePrefix + "!{timestamp:yyyy/MM/dd}/"),
			// Firehose requires an error prefix whenever the prefix uses expressions.
			ErrorOutputPrefix: pulumi.String(ArchiveErrorPrefix + "!{firehose:error-output-type}/!{timestamp:yyyy/MM/dd}/"),
			// CloudWatch Logs already gzips what it sends.
			CompressionFormat: pulumi.String("UNCOMPRESSED"),
			BufferingInterval: pulumi.Int(300),
			BufferingSize:     pulumi.Int(5),
		},
	}, parent, pulumi.DeleteBeforeReplace(true))
	if err != nil {
		return nil, err
	}
	logsRole, err := iam.NewRole(ctx, base+"-subscription", &iam.RoleArgs{
		Description: pulumi.String("CloudWatch Logs sends the app's logs to the archive stream"),
		AssumeRolePolicy: iampolicy.AssumeRoleFor(fmt.Sprintf("logs.%s.amazonaws.com", args.Region), args.AccountID,
			fmt.Sprintf("arn:aws:logs:%s:%s:*", args.Region, args.AccountID)),
		InlinePolicies: iam.RoleInlinePolicyArray{iam.RoleInlinePolicyArgs{
			Name:   pulumi.String("archive"),
			Policy: pulumi.String(iampolicy.New(iampolicy.Allow([]string{"firehose:PutRecord", "firehose:PutRecordBatch"}, streamArn)).JSON()),
		}},
	}, parent)
	if err != nil {
		return nil, err
	}
	for i, group := range args.LogGroups {
		if _, err := cloudwatch.NewLogSubscriptionFilter(ctx, fmt.Sprintf("%s-%d", base, i), &cloudwatch.LogSubscriptionFilterArgs{
			LogGroup:       group,
			FilterPattern:  pulumi.String(""),
			DestinationArn: stream.Arn,
			RoleArn:        logsRole.Arn,
		}, parent); err != nil {
			return nil, err
		}
	}
	lock, err := newArchiveLock(ctx, base, args, parent)
	if err != nil {
		return nil, err
	}
	// A failing archive would otherwise go unnoticed until someone needs it, a year later.
	deliveryBuffer := 300 // the stream's BufferingInterval
	watch := []alarm{
		{name: "log-archive-freshness", period: 300,
			description: "The log archive's oldest record waits in Firehose for over three buffering intervals: delivery to S3 is failing (see archive-errors/ in the bucket)",
			namespace:   "AWS/Firehose", metric: "DeliveryToS3.DataFreshness", stat: "Maximum",
			dimensions: pulumi.StringMap{"DeliveryStreamName": stream.Name},
			comparison: "GreaterThanThreshold", threshold: float64(3 * deliveryBuffer)},
		{name: "log-archive-delivery", period: 300,
			description: "Firehose's deliveries of the log archive to S3 fail (DeliveryToS3.Success below 1)",
			namespace:   "AWS/Firehose", metric: "DeliveryToS3.Success", stat: "Minimum",
			dimensions: pulumi.StringMap{"DeliveryStreamName": stream.Name},
			comparison: "LessThanThreshold", threshold: 1},
		{name: "archive-lock-errors", once: true,
			description: "An archived log object could not be locked (Object Lock): see the archive-lock function's log and lock it by hand (docs/runbook.md)",
			namespace:   "AWS/Lambda", metric: "Errors", stat: "Sum",
			dimensions: pulumi.StringMap{"FunctionName": lock.Name},
			comparison: "GreaterThanOrEqualToThreshold", threshold: 1},
	}
	if _, err := newAlarms(ctx, args.Stack, watch, args.AlarmActions, parent); err != nil {
		return nil, err
	}
	a.StreamName = stream.Name
	return a, ctx.RegisterResourceOutputs(a, pulumi.Map{"streamName": a.StreamName})
}

// LockCode is the lock function's build (scripts/build-lambdas.sh, from cmd/archive-lock-lambda).
const LockCode = "./build/archive-lock"

// newArchiveLock locks each object Firehose delivers under ArchivePrefix, in compliance mode for
// RetentionDays, as S3 reports it (internal/archivelock says why not the bucket's default
// retention).
func newArchiveLock(ctx *pulumi.Context, base string, args *ArchiveArgs, parent pulumi.ResourceOption) (*lambda.Function, error) {
	inputs := []pulumi.StringInput{args.BucketArn, args.KeyArn}
	if args.AlertTopicArn != nil {
		inputs = append(inputs, args.AlertTopicArn)
	}
	f, err := gofunction.New(ctx, base+"-lock", gofunction.Args{
		Stack:            args.Stack,
		Name:             []string{"archive-lock"},
		Description:      pulumi.Sprintf("Locks taskmanager/%s's archived logs for %d days as they arrive", args.Stack, args.RetentionDays),
		RoleDescription:  pulumi.String("Locks each log archive object as it arrives (Object Lock, compliance mode)"),
		Code:             LockCode,
		LogRetentionDays: args.LogRetentionDays,
		KeyArn:           args.KeyArn,
		Inputs:           inputs,
		Policy: func(v []string) []iampolicy.Statement {
			// Setting a retention only; it cannot shorten one (compliance mode) or read objects.
			statements := []iampolicy.Statement{iampolicy.Allow([]string{"s3:PutObjectRetention"}, v[0]+"/"+ArchivePrefix+"*")}
			if len(v) > 2 {
				// A failed event goes to the encrypted alert topic (the function's on-failure
				// destination publishes with its role).
				statements = append(statements, iampolicy.Allow([]string{"sns:Publish"}, v[2]),
					iampolicy.DecryptVia(v[1], "sns", args.Region, "kms:GenerateDataKey", "kms:Decrypt"))
			}
			return statements
		},
		MemorySize: 128,
		Timeout:    30,
		Environment: pulumi.StringMap{
			"RETENTION_DAYS": pulumi.String(fmt.Sprint(args.RetentionDays)),
			"PREFIX":         pulumi.String(ArchivePrefix),
		},
	}, parent)
	if err != nil {
		return nil, err
	}
	fn := f.Function
	permission, err := lambda.NewPermission(ctx, base+"-lock", &lambda.PermissionArgs{
		Action:        pulumi.String("lambda:InvokeFunction"),
		Function:      fn.Name,
		Principal:     pulumi.String("s3.amazonaws.com"),
		SourceArn:     args.BucketArn,
		SourceAccount: pulumi.String(args.AccountID),
	}, parent)
	if err != nil {
		return nil, err
	}
	if args.AlertTopicArn != nil {
		// S3 invokes asynchronously: after Lambda's two retries an event would be dropped, and its
		// object left unlocked with only the errors alarm to say so. The event goes to the alert
		// topic instead, naming the key and version to lock by hand (docs/runbook.md).
		if _, err := lambda.NewFunctionEventInvokeConfig(ctx, base+"-lock", &lambda.FunctionEventInvokeConfigArgs{
			FunctionName:         fn.Name,
			MaximumRetryAttempts: pulumi.Int(2),
			DestinationConfig: lambda.FunctionEventInvokeConfigDestinationConfigArgs{
				OnFailure: lambda.FunctionEventInvokeConfigDestinationConfigOnFailureArgs{Destination: args.AlertTopicArn},
			},
		}, parent, pulumi.DependsOn([]pulumi.Resource{f.RolePolicy})); err != nil {
			return nil, err
		}
	}
	// S3 checks that it may invoke the function when the notification is put.
	if _, err := s3.NewBucketNotification(ctx, base+"-lock", &s3.BucketNotificationArgs{
		Bucket: args.Bucket,
		LambdaFunctions: s3.BucketNotificationLambdaFunctionArray{s3.BucketNotificationLambdaFunctionArgs{
			LambdaFunctionArn: fn.Arn,
			Events:            pulumi.StringArray{pulumi.String("s3:ObjectCreated:*")},
			FilterPrefix:      pulumi.String(ArchivePrefix),
		}},
	}, parent, pulumi.DependsOn([]pulumi.Resource{permission})); err != nil {
		return nil, err
	}
	return fn, nil
}
