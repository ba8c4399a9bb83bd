package observability

import (
	"fmt"

	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/cloudwatch"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/iam"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/kinesis"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

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
	KeyArn    pulumi.StringInput
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
	a.StreamName = stream.Name
	return a, ctx.RegisterResourceOutputs(a, pulumi.Map{"streamName": a.StreamName})
}
