package storage

import (
	"fmt"

	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/s3"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/taskmanager/taskmanager-infra/internal/iampolicy"
)

const storageType = "taskmanager:storage:Storage"

// elbLogAccounts are the Elastic Load Balancing accounts that deliver access logs in the regions
// that predate the log-delivery service principal (AWS's ELB access-log documentation).
var elbLogAccounts = map[string]string{
	"us-east-1": "127311923021", "us-east-2": "033677994240", "us-west-1": "027434742980",
	"us-west-2": "797873946194", "eu-west-1": "156460612806", "eu-central-1": "054676820928",
}

// Args configures the buckets.
type Args struct {
	Config    Config
	Stack     string
	Region    string
	AccountID string
	KeyArn    pulumi.StringInput
	// BackupRetentionDays expires backups (spec: 7/14/30 days); LogRetentionDays expires logs
	// (the archive's days where there is an archive).
	BackupRetentionDays, LogRetentionDays int
	// ArchiveDays, when not 0, adds the log archive's bucket: SSE-KMS with the environment's key,
	// versioned, and each object locked (compliance mode) then expired after that many days.
	ArchiveDays int
	// Protect keeps Pulumi from deleting the buckets, and retains them if removed from the
	// program (production).
	Protect bool
}

// Storage is the buckets.
type Storage struct {
	pulumi.ResourceState
	// LogsBucket is the logs bucket's name ("" without one); LogsReady is its policy, which the
	// load balancer must wait for.
	LogsBucket    pulumi.StringOutput `pulumi:"logsBucket"`
	LogsBucketArn pulumi.StringOutput `pulumi:"logsBucketArn"`
	LogsReady     pulumi.Resource
	// ArchiveBucketArn and ArchiveBucket are the log archive's bucket, with ArchiveDays.
	ArchiveBucketArn pulumi.StringOutput `pulumi:"archiveBucketArn"`
	ArchiveBucket    pulumi.StringOutput `pulumi:"archiveBucket"`
	// Buckets are the names by purpose (backups, static-assets, logs, log-archive).
	Buckets map[string]pulumi.StringOutput
}

// bucket is one bucket's settings.
type bucket struct {
	purpose    string
	kms        bool // SSE-KMS with the environment's key; else SSE-S3, which ALB access logs need
	versioned  bool
	expireDays int // 0 keeps objects
	lockDays   int // Object Lock on: the log archive locks each object that many days (compliance); 0: no lock
	extra      func(arn string) []iampolicy.Statement
}

// NewStorage creates the buckets the config asks for.
func NewStorage(ctx *pulumi.Context, name string, args *Args, opts ...pulumi.ResourceOption) (*Storage, error) {
	st := &Storage{Buckets: map[string]pulumi.StringOutput{}}
	if err := ctx.RegisterComponentResource(storageType, name, st, opts...); err != nil {
		return nil, err
	}
	parent := pulumi.Parent(st)
	var buckets []bucket
	if args.Config.Backups {
		buckets = append(buckets, bucket{purpose: "backups", kms: true, versioned: true, expireDays: args.BackupRetentionDays})
	}
	if args.Config.StaticAssets {
		buckets = append(buckets, bucket{purpose: "static-assets", kms: true, versioned: true})
	}
	if args.Config.Logs {
		buckets = append(buckets, bucket{purpose: "logs", expireDays: args.LogRetentionDays, extra: func(arn string) []iampolicy.Statement {
			return elbLogDelivery(arn, args.Region, args.AccountID)
		}})
	}
	if args.ArchiveDays > 0 {
		// Nobody, root included, can delete or overwrite an archived log before its time.
		buckets = append(buckets, bucket{purpose: "log-archive", kms: true, versioned: true, expireDays: args.ArchiveDays, lockDays: args.ArchiveDays})
	}
	for _, b := range buckets {
		bkt, policy, err := newBucket(ctx, name, args, b, parent)
		if err != nil {
			return nil, err
		}
		st.Buckets[b.purpose] = bkt.Bucket
		switch b.purpose {
		case "logs":
			st.LogsBucket, st.LogsBucketArn, st.LogsReady = bkt.Bucket, bkt.Arn, policy
		case "log-archive":
			st.ArchiveBucketArn, st.ArchiveBucket = bkt.Arn, bkt.Bucket
		}
	}
	names := pulumi.StringMap{}
	for k, v := range st.Buckets {
		names[k] = v
	}
	outs := pulumi.Map{"buckets": names}
	if args.Config.Logs {
		outs["logsBucket"], outs["logsBucketArn"] = st.LogsBucket, st.LogsBucketArn
	}
	if args.ArchiveDays > 0 {
		outs["archiveBucketArn"] = st.ArchiveBucketArn
		outs["archiveBucket"] = st.ArchiveBucket
	}
	return st, ctx.RegisterResourceOutputs(st, outs)
}

func newBucket(ctx *pulumi.Context, name string, args *Args, b bucket, parent pulumi.ResourceOption) (*s3.BucketV2, pulumi.Resource, error) {
	base := fmt.Sprintf("%s-%s", name, b.purpose)
	stateful := []pulumi.ResourceOption{parent, pulumi.Protect(args.Protect), pulumi.RetainOnDelete(args.Protect)}
	bkt, err := s3.NewBucketV2(ctx, base, &s3.BucketV2Args{
		// Outside production a destroyed environment takes its objects with it.
		ForceDestroy: pulumi.Bool(!args.Protect),
		// Object Lock can only be turned on when the bucket is created.
		ObjectLockEnabled: pulumi.Bool(b.lockDays > 0),
	}, stateful...)
	if err != nil {
		return nil, nil, err
	}
	if _, err := s3.NewBucketPublicAccessBlock(ctx, base, &s3.BucketPublicAccessBlockArgs{
		Bucket: bkt.ID(), BlockPublicAcls: pulumi.Bool(true), BlockPublicPolicy: pulumi.Bool(true),
		IgnorePublicAcls: pulumi.Bool(true), RestrictPublicBuckets: pulumi.Bool(true),
	}, parent); err != nil {
		return nil, nil, err
	}
	if _, err := s3.NewBucketOwnershipControls(ctx, base, &s3.BucketOwnershipControlsArgs{
		Bucket: bkt.ID(),
		Rule:   s3.BucketOwnershipControlsRuleArgs{ObjectOwnership: pulumi.String("BucketOwnerEnforced")},
	}, parent); err != nil {
		return nil, nil, err
	}
	sse := s3.BucketServerSideEncryptionConfigurationV2RuleApplyServerSideEncryptionByDefaultArgs{SseAlgorithm: pulumi.String("AES256")}
	if b.kms {
		sse = s3.BucketServerSideEncryptionConfigurationV2RuleApplyServerSideEncryptionByDefaultArgs{
			SseAlgorithm: pulumi.String("aws:kms"), KmsMasterKeyId: args.KeyArn,
		}
	}
	if _, err := s3.NewBucketServerSideEncryptionConfigurationV2(ctx, base, &s3.BucketServerSideEncryptionConfigurationV2Args{
		Bucket: bkt.ID(),
		Rules: s3.BucketServerSideEncryptionConfigurationV2RuleArray{s3.BucketServerSideEncryptionConfigurationV2RuleArgs{
			ApplyServerSideEncryptionByDefault: sse, BucketKeyEnabled: pulumi.Bool(b.kms),
		}},
	}, parent); err != nil {
		return nil, nil, err
	}
	if b.versioned {
		versioning, err := s3.NewBucketVersioningV2(ctx, base, &s3.BucketVersioningV2Args{
			Bucket:                  bkt.ID(),
			VersioningConfiguration: s3.BucketVersioningV2VersioningConfigurationArgs{Status: pulumi.String("Enabled")},
		}, parent)
		if err != nil {
			return nil, nil, err
		}
		if b.lockDays > 0 {
			// Object Lock on, and no default retention: S3 would refuse Firehose's PutObject into
			// a bucket with default retention unless it sent a checksum, which no AWS document
			// says it does. The log archive locks each object as it arrives instead, in
			// compliance mode for lockDays (internal/archivelock).
			if _, err := s3.NewBucketObjectLockConfigurationV2(ctx, base, &s3.BucketObjectLockConfigurationV2Args{
				Bucket:            bkt.ID(),
				ObjectLockEnabled: pulumi.String("Enabled"),
			}, parent, pulumi.DependsOn([]pulumi.Resource{versioning})); err != nil {
				return nil, nil, err
			}
		}
	}
	rule := s3.BucketLifecycleConfigurationV2RuleArgs{
		Id: pulumi.String("retention"), Status: pulumi.String("Enabled"),
		Filter:                         s3.BucketLifecycleConfigurationV2RuleFilterArgs{Prefix: pulumi.String("")},
		AbortIncompleteMultipartUpload: s3.BucketLifecycleConfigurationV2RuleAbortIncompleteMultipartUploadArgs{DaysAfterInitiation: pulumi.Int(7)},
	}
	if b.expireDays > 0 {
		rule.Expiration = s3.BucketLifecycleConfigurationV2RuleExpirationArgs{Days: pulumi.Int(b.expireDays)}
	}
	if b.versioned {
		rule.NoncurrentVersionExpiration = s3.BucketLifecycleConfigurationV2RuleNoncurrentVersionExpirationArgs{NoncurrentDays: pulumi.Int(30)}
	}
	if _, err := s3.NewBucketLifecycleConfigurationV2(ctx, base, &s3.BucketLifecycleConfigurationV2Args{
		Bucket: bkt.ID(), Rules: s3.BucketLifecycleConfigurationV2RuleArray{rule},
	}, parent); err != nil {
		return nil, nil, err
	}
	policy, err := s3.NewBucketPolicy(ctx, base, &s3.BucketPolicyArgs{
		Bucket: bkt.ID(),
		Policy: iampolicy.Render(func(a []string) iampolicy.Document {
			statements := []iampolicy.Statement{{
				Sid: "DenyWithoutTLS", Effect: "Deny", Principal: map[string]any{"AWS": "*"},
				Action: []string{"s3:*"}, Resource: []string{a[0], a[0] + "/*"},
				Condition: map[string]any{"Bool": map[string]any{"aws:SecureTransport": "false"}},
			}}
			if b.extra != nil {
				statements = append(statements, b.extra(a[0])...)
			}
			return iampolicy.New(statements...)
		}, bkt.Arn),
	}, parent)
	if err != nil {
		return nil, nil, err
	}
	return bkt, policy, nil
}

// elbLogDelivery lets Elastic Load Balancing write this account's access logs under alb/.
func elbLogDelivery(bucketArn, region, account string) []iampolicy.Statement {
	resource := fmt.Sprintf("%s/alb/AWSLogs/%s/*", bucketArn, account)
	out := []iampolicy.Statement{{
		Sid: "ELBLogDelivery", Effect: "Allow",
		Principal: map[string]any{"Service": "logdelivery.elasticloadbalancing.amazonaws.com"},
		Action:    []string{"s3:PutObject"}, Resource: []string{resource},
	}}
	if elb, ok := elbLogAccounts[region]; ok {
		out = append(out, iampolicy.Statement{
			Sid: "ELBLogDeliveryLegacyRegion", Effect: "Allow",
			Principal: map[string]any{"AWS": fmt.Sprintf("arn:aws:iam::%s:root", elb)},
			Action:    []string{"s3:PutObject"}, Resource: []string{resource},
		})
	}
	return out
}
