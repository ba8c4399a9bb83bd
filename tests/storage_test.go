package tests

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/taskmanager/taskmanager-infra/internal/mockengine"
)

func TestBuckets(t *testing.T) {
	want := map[string][]string{"dev": nil, "staging": {"logs"}, "production": {"backups", "static-assets", "logs", "log-archive"}}
	// Expiry in days: backups follow the database's backup retention, logs and the archive the
	// archive's days.
	expire := map[string]map[string]float64{
		"staging":    {"logs": 30},
		"production": {"backups": 30, "logs": 365, "log-archive": 365},
	}
	for _, stack := range allStacks {
		t.Run(stack, func(t *testing.T) {
			rec := runStack(t, stack)
			assert.Len(t, rec.All("aws:s3/bucketV2:BucketV2"), len(want[stack]))
			for _, purpose := range want[stack] {
				name := stack + "-" + purpose
				bucket := one(t, rec, "aws:s3/bucketV2:BucketV2", name)
				assert.Equal(t, stack == "production", bucket.Protect, name)
				assert.Equal(t, stack == "production", bucket.RetainOnDelete, name)
				assert.Equal(t, stack != "production", bucket.Inputs["forceDestroy"], name)

				block := one(t, rec, "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock", name)
				for _, k := range []string{"blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets"} {
					assert.Equal(t, true, block.Inputs[k], "%s %s", name, k)
				}
				own := one(t, rec, "aws:s3/bucketOwnershipControls:BucketOwnershipControls", name)
				assert.Equal(t, map[string]any{"objectOwnership": "BucketOwnerEnforced"}, own.Inputs["rule"])

				sse := one(t, rec, "aws:s3/bucketServerSideEncryptionConfigurationV2:BucketServerSideEncryptionConfigurationV2", name)
				byDefault := sse.Inputs["rules"].([]any)[0].(map[string]any)["applyServerSideEncryptionByDefault"].(map[string]any)
				if purpose == "logs" {
					// Waiver, by name: ALB access logs are refused by a KMS-encrypted bucket.
					assert.Equal(t, map[string]any{"sseAlgorithm": "AES256"}, byDefault)
				} else {
					assert.Equal(t, map[string]any{"sseAlgorithm": "aws:kms", "kmsMasterKeyId": keyArn(stack)}, byDefault)
				}

				policy := one(t, rec, "aws:s3/bucketPolicy:BucketPolicy", name)
				var doc struct{ Statement []map[string]any }
				require.NoError(t, json.Unmarshal([]byte(policy.Inputs["policy"].(string)), &doc))
				deny := doc.Statement[0]
				assert.Equal(t, "Deny", deny["Effect"])
				assert.Equal(t, map[string]any{"Bool": map[string]any{"aws:SecureTransport": "false"}}, deny["Condition"], "TLS only")
				for _, s := range doc.Statement[1:] {
					assert.NotEqual(t, "*", s["Principal"], "%s: no public principal", name)
				}

				_, versioned := rec.Find("aws:s3/bucketVersioningV2:BucketVersioningV2", name)
				assert.Equal(t, purpose != "logs", versioned, "%s: backups and assets are versioned", name)

				life := one(t, rec, "aws:s3/bucketLifecycleConfigurationV2:BucketLifecycleConfigurationV2", name)
				rule := life.Inputs["rules"].([]any)[0].(map[string]any)
				assert.Equal(t, "Enabled", rule["status"])
				assert.Equal(t, map[string]any{"daysAfterInitiation": 7.0}, rule["abortIncompleteMultipartUpload"])
				if days, ok := expire[stack][purpose]; ok {
					assert.Equal(t, map[string]any{"days": days}, rule["expiration"], name)
				} else {
					assert.Nil(t, rule["expiration"], name)
				}
			}
		})
	}
}

// Production's log archive has a bucket of its own: encrypted with the environment's key,
// versioned, and every object locked in compliance mode for the archive's 365 days, so that not
// even the account's root can shorten it. The bucket has Object Lock on and no default retention
// (S3 would refuse Firehose's PutObject there without a checksum no AWS document says it sends):
// the archive's lock function sets each object's retention as it arrives.
func TestLogArchiveBucketIsLocked(t *testing.T) {
	rec := runStack(t, "production")
	bucket := one(t, rec, "aws:s3/bucketV2:BucketV2", "production-log-archive")
	assert.Equal(t, true, bucket.Inputs["objectLockEnabled"], "Object Lock is set when the bucket is created")
	versioning := one(t, rec, "aws:s3/bucketVersioningV2:BucketVersioningV2", "production-log-archive")
	assert.Equal(t, map[string]any{"status": "Enabled"}, versioning.Inputs["versioningConfiguration"])
	lock := one(t, rec, "aws:s3/bucketObjectLockConfigurationV2:BucketObjectLockConfigurationV2", "production-log-archive")
	assert.Equal(t, "Enabled", lock.Inputs["objectLockEnabled"])
	assert.Nil(t, lock.Inputs["rule"], "no default retention: Firehose's PutObject would need a checksum")

	fn := one(t, rec, "aws:lambda/function:Function", "production-log-archive-lock")
	assert.Equal(t, "production-taskmanager-archive-lock", fn.Inputs["name"])
	vars := fn.Inputs["environment"].(map[string]any)["variables"].(map[string]any)
	assert.Equal(t, map[string]any{"RETENTION_DAYS": "365", "PREFIX": "archive/"}, vars, "locked for the spec's log_archive_days")
	notification := one(t, rec, "aws:s3/bucketNotification:BucketNotification", "production-log-archive-lock")
	assert.Equal(t, "production-log-archive", notification.Inputs["bucket"])
	assert.Equal(t, []any{map[string]any{
		"lambdaFunctionArn": "arn:aws:lambda:us-east-1:123456789012:production-log-archive-lock",
		"events":            []any{"s3:ObjectCreated:*"},
		"filterPrefix":      "archive/",
	}}, notification.Inputs["lambdaFunctions"])
	permission := one(t, rec, "aws:lambda/permission:Permission", "production-log-archive-lock")
	assert.Equal(t, "s3.amazonaws.com", permission.Inputs["principal"])
	assert.Equal(t, bucket.Name, strings.TrimPrefix(permission.Inputs["sourceArn"].(string), "arn:aws:s3:::"))
	assert.Contains(t, notification.DependsOn, permission.URN, "S3 checks it may invoke the function when the notification is put")
	policy := one(t, rec, "aws:iam/rolePolicy:RolePolicy", "production-log-archive-lock").Inputs["policy"].(string)
	assert.Contains(t, policy, `"Action":["s3:PutObjectRetention"],"Resource":["arn:aws:s3:::production-log-archive/archive/*"]`)
	assert.NotContains(t, policy, "s3:GetObject")
	// An event the function could not handle after its retries goes to the alert topic, with the
	// key and version to lock by hand, instead of being dropped.
	retries := one(t, rec, "aws:lambda/functionEventInvokeConfig:FunctionEventInvokeConfig", "production-log-archive-lock")
	assert.Equal(t, "production-taskmanager-archive-lock", retries.Inputs["functionName"])
	assert.Equal(t, map[string]any{"onFailure": map[string]any{"destination": "arn:aws:sns:us-east-1:123456789012:production-alerts"}}, retries.Inputs["destinationConfig"])
	assert.Contains(t, policy, `"Action":["sns:Publish"],"Resource":["arn:aws:sns:us-east-1:123456789012:production-alerts"]`)
	assert.NotContains(t, policy, "BypassGovernanceRetention")
	assert.Contains(t, lock.DependsOn, versioning.URN, "Object Lock needs versioning on first")
	for _, other := range []string{"production-logs", "production-backups", "production-static-assets"} {
		assert.NotEqual(t, true, one(t, rec, "aws:s3/bucketV2:BucketV2", other).Inputs["objectLockEnabled"], other)
	}
	for _, stack := range []string{"dev", "staging"} {
		assert.Empty(t, runStack(t, stack).All("aws:s3/bucketObjectLockConfigurationV2:BucketObjectLockConfigurationV2"), "%s has no archive", stack)
	}
}

func TestAccessLogs(t *testing.T) {
	for _, stack := range allStacks {
		rec := runStack(t, stack)
		alb := one(t, rec, "aws:lb/loadBalancer:LoadBalancer", stack)
		if stack == "dev" {
			assert.Nil(t, alb.Inputs["accessLogs"], "dev keeps no access logs")
			continue
		}
		assert.Equal(t, map[string]any{"bucket": stack + "-logs", "enabled": true, "prefix": "alb"}, alb.Inputs["accessLogs"])
		policy := one(t, rec, "aws:s3/bucketPolicy:BucketPolicy", stack+"-logs")
		assert.Contains(t, alb.DependsOn, policy.URN, "the bucket policy must exist before the load balancer writes")
		assert.Contains(t, policy.Inputs["policy"], `"Service":"logdelivery.elasticloadbalancing.amazonaws.com"`)
		assert.Contains(t, policy.Inputs["policy"], `"AWS":"arn:aws:iam::127311923021:root"`, "us-east-1's ELB account")
		// ELB writes <prefix>/AWSLogs/<account>/elasticloadbalancing/...: the policy must cover
		// the prefix the load balancer is given, or access logs fail to turn on.
		var doc struct {
			Statement []struct {
				Principal map[string]any
				Action    []string
				Resource  []string
			}
		}
		require.NoError(t, json.Unmarshal([]byte(policy.Inputs["policy"].(string)), &doc))
		object := fmt.Sprintf("arn:aws:s3:::%s-logs/%s/AWSLogs/%s/elasticloadbalancing/us-east-1/2026/11/28/x.log.gz",
			stack, alb.Inputs["accessLogs"].(map[string]any)["prefix"], mockengine.Account)
		allowed := false
		for _, st := range doc.Statement {
			if st.Principal["Service"] == "logdelivery.elasticloadbalancing.amazonaws.com" && slices.Contains(st.Action, "s3:PutObject") {
				allowed = allowed || slices.ContainsFunc(st.Resource, func(r string) bool { return iamMatch(r, object) })
			}
		}
		assert.True(t, allowed, "%s: ELB may not put its access logs at %s", stack, object)
	}
}
