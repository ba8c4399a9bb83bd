// Package archivelock locks each object of the log archive as S3 reports its arrival: Object Lock
// in compliance mode, until RETENTION_DAYS after the object was written.
//
// Why not the bucket's default retention: S3 refuses a PutObject into a bucket with default
// retention unless the request carries Content-MD5 or an x-amz-checksum-* header, and no AWS
// document says Firehose sends either; if it did not, every delivery would fail into the error
// prefix, unlocked. So the bucket has Object Lock on and no default retention (Firehose's
// PutObject carries no lock parameters and needs no checksum), and this function sets each
// object version's retention with PutObjectRetention, an operation for which the AWS SDK for Go
// always sends a checksum (the API model marks it httpChecksumRequired; lock_test.go shows the
// header on the wire). An object is unlocked for the seconds between its delivery and this call;
// a failed call alarms (<stack>-archive-lock-errors).
package archivelock

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// Environment variables read by LoadConfig.
const (
	EnvRetentionDays = "RETENTION_DAYS" // days each object stays locked; required
	EnvPrefix        = "PREFIX"         // only keys under this prefix are locked; required
)

// Config is the function's configuration.
type Config struct {
	RetentionDays int
	Prefix        string
}

// LoadConfig reads the configuration from getenv, naming the variable that is wrong.
func LoadConfig(getenv func(string) string) (Config, error) {
	var errs []error
	days, err := strconv.Atoi(getenv(EnvRetentionDays))
	if err != nil || days < 1 {
		errs = append(errs, fmt.Errorf("%s=%q: want a whole number of days, 1 or more", EnvRetentionDays, getenv(EnvRetentionDays)))
	}
	prefix := getenv(EnvPrefix)
	if prefix == "" {
		errs = append(errs, fmt.Errorf("%s is empty: want the archive's key prefix, e.g. archive/", EnvPrefix))
	}
	return Config{RetentionDays: days, Prefix: prefix}, errors.Join(errs...)
}

// API is the S3 call the function makes.
type API interface {
	PutObjectRetention(context.Context, *s3.PutObjectRetentionInput, ...func(*s3.Options)) (*s3.PutObjectRetentionOutput, error)
}

// Locker sets the retention of the objects an S3 event reports.
type Locker struct {
	S3     API
	Config Config
	Log    *slog.Logger
}

// Handle locks every created object version of the event under the prefix. It fails (and S3
// retries the event) if any lock fails, naming each.
func (l *Locker) Handle(ctx context.Context, event events.S3Event) error {
	var errs []error
	for _, r := range event.Records {
		if !strings.HasPrefix(r.EventName, "ObjectCreated:") {
			continue
		}
		bucket, key, version := r.S3.Bucket.Name, r.S3.Object.URLDecodedKey, r.S3.Object.VersionID
		if !strings.HasPrefix(key, l.Config.Prefix) {
			continue
		}
		if version == "" {
			errs = append(errs, fmt.Errorf("s3://%s/%s: the event names no version; is the bucket versioned (Object Lock needs it)?", bucket, key))
			continue
		}
		// From the time S3 stored the object, so that a retried event locks no longer.
		until := r.EventTime.UTC().AddDate(0, 0, l.Config.RetentionDays)
		_, err := l.S3.PutObjectRetention(ctx, &s3.PutObjectRetentionInput{
			Bucket:    aws.String(bucket),
			Key:       aws.String(key),
			VersionId: aws.String(version),
			Retention: &types.ObjectLockRetention{Mode: types.ObjectLockRetentionModeCompliance, RetainUntilDate: aws.Time(until)},
		})
		if err != nil {
			errs = append(errs, fmt.Errorf("lock s3://%s/%s (version %s) until %s: %w", bucket, key, version, until.Format(time.RFC3339), err))
			continue
		}
		l.Log.Info("locked", "bucket", bucket, "key", key, "version", version, "until", until.Format(time.RFC3339))
	}
	return errors.Join(errs...)
}
