package archivelock

import (
	"context"
	"encoding/xml"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// request is what the fake S3 endpoint received.
type request struct {
	method, path, query string
	header              http.Header
	body                string
}

// fakeS3 answers PutObjectRetention with 200 and records every request.
func fakeS3(t *testing.T, status int) (*s3.Client, *[]request) {
	var mu sync.Mutex
	var got []request
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		got = append(got, request{r.Method, r.URL.Path, r.URL.RawQuery, r.Header.Clone(), string(body)})
		mu.Unlock()
		w.WriteHeader(status)
		if status != http.StatusOK {
			_, _ = io.WriteString(w, `<Error><Code>AccessDenied</Code><Message>denied</Message></Error>`)
		}
	}))
	t.Cleanup(srv.Close)
	client := s3.New(s3.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(srv.URL),
		UsePathStyle: true,
		Credentials:  credentials.NewStaticCredentialsProvider("AKIDEXAMPLE", "secret", ""),
	})
	return client, &got
}

func created(key, version string, at time.Time) events.S3EventRecord {
	var r events.S3EventRecord
	r.EventName = "ObjectCreated:Put"
	r.EventTime = at
	r.S3.Bucket.Name = "production-log-archive-abc"
	r.S3.Object.Key = key
	r.S3.Object.URLDecodedKey = key
	r.S3.Object.VersionID = version
	return r
}

// The retention S3 sets is compliance mode until 365 days after the object was written, on the
// exact version delivered, and the request carries the checksum S3 requires of a call with
// Object Lock parameters (Content-MD5 or x-amz-checksum-*): the reason this design works where
// the bucket's default retention is unproven with Firehose.
func TestLocksEachArrivingVersionWithAChecksum(t *testing.T) {
	client, got := fakeS3(t, http.StatusOK)
	l := &Locker{S3: client, Config: Config{RetentionDays: 365, Prefix: "archive/"}, Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	at := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	event := events.S3Event{Records: []events.S3EventRecord{
		created("archive/2026/03/01/stream-1", "v1", at),
		created("archive-errors/processing-failed/x", "v2", at), // not the archive: left alone
	}}
	require.NoError(t, l.Handle(context.Background(), event))
	require.Len(t, *got, 1)
	r := (*got)[0]
	assert.Equal(t, http.MethodPut, r.method)
	assert.Equal(t, "/production-log-archive-abc/archive/2026/03/01/stream-1", r.path)
	assert.Contains(t, r.query, "retention")
	assert.Contains(t, r.query, "versionId=v1")
	hasChecksum := r.header.Get("Content-Md5") != ""
	for name := range r.header {
		if strings.HasPrefix(strings.ToLower(name), "x-amz-checksum-") {
			hasChecksum = true
		}
	}
	assert.True(t, hasChecksum, "S3 refuses a retention request without Content-MD5 or x-amz-checksum-*; headers: %v", r.header)
	var body struct {
		Mode            string `xml:"Mode"`
		RetainUntilDate string `xml:"RetainUntilDate"`
	}
	require.NoError(t, xml.Unmarshal([]byte(r.body), &body), r.body)
	assert.Equal(t, "COMPLIANCE", body.Mode)
	until, err := time.Parse(time.RFC3339, body.RetainUntilDate)
	require.NoError(t, err)
	assert.Equal(t, at.AddDate(0, 0, 365), until.UTC())
}

// A lock that fails fails the invocation (S3 retries it; the errors alarm), naming the object.
func TestAFailedLockFailsTheInvocation(t *testing.T) {
	client, _ := fakeS3(t, http.StatusForbidden)
	l := &Locker{S3: client, Config: Config{RetentionDays: 365, Prefix: "archive/"}, Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	err := l.Handle(context.Background(), events.S3Event{Records: []events.S3EventRecord{created("archive/a", "v1", time.Now())}})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "lock s3://production-log-archive-abc/archive/a (version v1)")

	err = l.Handle(context.Background(), events.S3Event{Records: []events.S3EventRecord{created("archive/b", "", time.Now())}})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "names no version")
}

func TestConfigNamesTheBadVariable(t *testing.T) {
	env := map[string]string{}
	_, err := LoadConfig(func(k string) string { return env[k] })
	require.Error(t, err)
	assert.Contains(t, err.Error(), `RETENTION_DAYS=""`)
	assert.Contains(t, err.Error(), "PREFIX is empty")
	env = map[string]string{EnvRetentionDays: "365", EnvPrefix: "archive/"}
	cfg, err := LoadConfig(func(k string) string { return env[k] })
	require.NoError(t, err)
	assert.Equal(t, Config{RetentionDays: 365, Prefix: "archive/"}, cfg)
}
