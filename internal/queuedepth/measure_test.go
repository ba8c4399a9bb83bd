package queuedepth

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/aws"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
	ecstypes "github.com/aws/aws-sdk-go-v2/service/ecs/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const (
	secretARN  = "arn:aws:secretsmanager:us-east-1:123456789012:secret:dev-celery-broker-url-AbCdEf"
	token      = "Tok3n-0f-The-Cache-4uth"
	redisHost  = "master.dev-taskmanager-redis.abc123.use1.cache.amazonaws.com"
	brokerURL  = "rediss://:" + token + "@" + redisHost + ":6379/0?ssl_cert_reqs=required"
	cluster    = "dev-taskmanager"
	service    = "worker"
	namespace  = "TaskManager/Celery"
	argsMarker = "customer-42-private-note" // in every task's arguments: must not reach the logs
)

// now is the measurement time of every test.
var now = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// message is a Celery (protocol 2) message as kombu's Redis transport stores it, with the app's
// sent_at header when sentAt is not nil.
func message(sentAt any) string {
	headers := map[string]any{
		"lang": "py", "task": "app.tasks.send_reminder", "id": "6f1c-task", "eta": nil, "expires": nil,
		"retries": 0, "timelimit": []any{nil, nil}, "root_id": "6f1c-task", "parent_id": nil,
		"argsrepr": "('" + argsMarker + "',)", "kwargsrepr": "{}", "origin": "gen7@ip-10-0-1-5",
	}
	if sentAt != nil {
		headers["sent_at"] = sentAt
	}
	b, err := json.Marshal(map[string]any{
		"body":             "W1siY3VzdG9tZXItNDItcHJpdmF0ZS1ub3RlIl0sIHt9LCB7fV0=",
		"content-encoding": "utf-8",
		"content-type":     "application/json",
		"headers":          headers,
		"properties": map[string]any{
			"correlation_id": "6f1c-task", "delivery_mode": 2, "priority": 0, "body_encoding": "base64",
			"delivery_info": map[string]any{"exchange": "", "routing_key": "celery"}, "delivery_tag": "c0ffee",
		},
	})
	if err != nil {
		panic(err)
	}
	return string(b)
}

// unixAgo is sent_at as Python's time.time() writes it, seconds before now.
func unixAgo(seconds float64) float64 {
	return float64(now.UnixNano())/1e9 - seconds
}

type fixture struct {
	sm    *fakeSecrets
	redis *broker
	ecs   *fakeECS
	cw    *fakeCloudWatch
	logs  *bytes.Buffer
	m     *Measurer
}

// newFixture is the worker service running `running` tasks, two queues, and no message yet in
// the package's redis-server, which the broker secret names.
func newFixture(t *testing.T, running int32) *fixture {
	t.Helper()
	fx := &fixture{
		redis: newBroker(t),
		ecs: &fakeECS{services: map[string]ecstypes.Service{
			cluster + "/" + service: {ServiceName: aws.String(service), Status: aws.String("ACTIVE"), RunningCount: running, DesiredCount: running},
		}},
		cw:   &fakeCloudWatch{},
		logs: &bytes.Buffer{},
	}
	fx.sm = &fakeSecrets{values: map[string]string{secretARN: fx.redis.secret()}}
	cfg, err := LoadConfig(func(k string) string {
		return map[string]string{EnvBrokerSecretARN: secretARN, EnvECSCluster: cluster, EnvECSService: service, EnvQueues: "celery,emails"}[k]
	})
	require.NoError(t, err)
	fx.m = &Measurer{
		Secrets: fx.sm, ECS: fx.ecs, CloudWatch: fx.cw, Dial: fx.redis.dial, Config: cfg,
		Log: slog.New(slog.NewJSONHandler(fx.logs, nil)),
		Now: func() time.Time { return now },
	}
	t.Cleanup(func() {
		assert.Zero(t, fx.redis.open, "every Redis session is closed")
		assert.NotContains(t, fx.logs.String(), token)
		assert.NotContains(t, fx.logs.String(), argsMarker)
	})
	return fx
}

// datum is one expected metric: the service's when queue is "", else the queue's.
func datum(name string, value float64, unit cwtypes.StandardUnit, queue string) cwtypes.MetricDatum {
	dims := []cwtypes.Dimension{
		{Name: aws.String("Cluster"), Value: aws.String(cluster)},
		{Name: aws.String("Service"), Value: aws.String(service)},
	}
	if queue != "" {
		dims = append(dims, cwtypes.Dimension{Name: aws.String("Queue"), Value: aws.String(queue)})
	}
	return cwtypes.MetricDatum{MetricName: aws.String(name), Dimensions: dims, Timestamp: aws.Time(now), Unit: unit, Value: aws.Float64(value)}
}

func (fx *fixture) published(t *testing.T) []cwtypes.MetricDatum {
	t.Helper()
	require.Len(t, fx.cw.calls, 1, "one PutMetricData call")
	assert.Equal(t, namespace, aws.ToString(fx.cw.calls[0].Namespace))
	return fx.cw.calls[0].MetricData
}

const count, seconds = cwtypes.StandardUnitCount, cwtypes.StandardUnitSeconds

// The scaling metric: 15 waiting messages (celery: 10 in its plain list and 2 in its priority-3
// list; emails: 3) over 3 running tasks is 5 per task. The oldest celery task is the priority
// list's, sent 90 s ago (RFC 3339); emails' oldest was sent 12.25 s ago (Unix seconds).
func TestPublishesBacklogPerTaskAndAge(t *testing.T) {
	fx := newFixture(t, 3)
	fx.redis.push("celery", message(unixAgo(42.5)))
	for i := range 9 {
		fx.redis.push("celery", message(unixAgo(float64(40-i))))
	}
	fx.redis.push("celery\x06\x163", message(now.Add(-90*time.Second).Format(time.RFC3339Nano)), message(unixAgo(1)))
	fx.redis.push("emails", message(unixAgo(12.25)), message(unixAgo(3)), message(unixAgo(2)))

	res, err := fx.m.Handle(context.Background())
	require.NoError(t, err)

	assert.Equal(t, []cwtypes.MetricDatum{
		datum("Backlog", 15, count, ""),
		datum("BacklogPerTask", 5, count, ""),
		datum("OldestTaskAgeSeconds", 90, seconds, ""),
		datum("Backlog", 12, count, "celery"),
		datum("OldestTaskAgeSeconds", 90, seconds, "celery"),
		datum("Backlog", 3, count, "emails"),
		datum("OldestTaskAgeSeconds", 12.25, seconds, "emails"),
	}, fx.published(t))
	assert.Equal(t, int64(15), res.Backlog)
	assert.Equal(t, int32(3), *res.RunningTasks)
	assert.Equal(t, 5.0, *res.BacklogPerTask)
	assert.Equal(t, 7, res.Metrics)

	// Where it looked: the broker secret, each queue's four lists in one round trip, the service.
	assert.Equal(t, []string{secretARN}, fx.sm.calls)
	require.Len(t, fx.redis.dialed, 1)
	assert.Equal(t, BrokerURL{Host: rs.Host, Port: rs.Port, Password: token}, fx.redis.dialed[0])
	assert.Equal(t, [][]string{{
		"celery", "celery\x06\x163", "celery\x06\x166", "celery\x06\x169",
		"emails", "emails\x06\x163", "emails\x06\x166", "emails\x06\x169",
	}}, fx.redis.asked)
	require.Len(t, fx.ecs.calls, 1)
	assert.Equal(t, cluster, aws.ToString(fx.ecs.calls[0].Cluster))
	assert.Equal(t, []string{service}, fx.ecs.calls[0].Services)

	assert.Contains(t, fx.logs.String(), `"msg":"queue depth published"`)
	assert.Contains(t, fx.logs.String(), `"backlogPerTask":5`)
}

// With no task running the backlog is divided by one: the metric stays the backlog, so the
// target-tracking policy still sees work waiting and scales out from zero.
func TestRunningZeroDividesByOne(t *testing.T) {
	fx := newFixture(t, 0)
	for i := range 7 {
		fx.redis.push("celery", message(unixAgo(float64(30-i))))
	}
	res, err := fx.m.Handle(context.Background())
	require.NoError(t, err)
	assert.Equal(t, []cwtypes.MetricDatum{
		datum("Backlog", 7, count, ""),
		datum("BacklogPerTask", 7, count, ""),
		datum("OldestTaskAgeSeconds", 30, seconds, ""),
		datum("Backlog", 7, count, "celery"),
		datum("OldestTaskAgeSeconds", 30, seconds, "celery"),
		datum("Backlog", 0, count, "emails"),
		datum("OldestTaskAgeSeconds", 0, seconds, "emails"),
	}, fx.published(t))
	assert.Equal(t, int32(0), *res.RunningTasks)
}

// Nothing waiting is a real measurement: zero backlog, zero per task, zero age.
func TestEmptyQueuesPublishZeros(t *testing.T) {
	fx := newFixture(t, 0)
	_, err := fx.m.Handle(context.Background())
	require.NoError(t, err)
	assert.Equal(t, []cwtypes.MetricDatum{
		datum("Backlog", 0, count, ""),
		datum("BacklogPerTask", 0, count, ""),
		datum("OldestTaskAgeSeconds", 0, seconds, ""),
		datum("Backlog", 0, count, "celery"),
		datum("OldestTaskAgeSeconds", 0, seconds, "celery"),
		datum("Backlog", 0, count, "emails"),
		datum("OldestTaskAgeSeconds", 0, seconds, "emails"),
	}, fx.published(t))
}

// A fractional backlog per task is published as it is; target tracking compares it to the target.
func TestBacklogPerTaskFraction(t *testing.T) {
	fx := newFixture(t, 4)
	for i := range 10 {
		fx.redis.push("emails", message(unixAgo(float64(10-i))))
	}
	_, err := fx.m.Handle(context.Background())
	require.NoError(t, err)
	assert.Equal(t, datum("BacklogPerTask", 2.5, count, ""), fx.published(t)[1])
}

// When the oldest message has no usable publish time the age is not published (neither the
// queue's nor the service's, which would understate it), the backlog still is, and the log says
// why without quoting the message.
func TestAgeUnknownIsNotPublished(t *testing.T) {
	for name, sentAt := range map[string]any{
		"no header":           nil,
		"milliseconds":        float64(now.UnixMilli() - 5000),
		"naive ISO time":      "2026-03-01T11:59:00",
		"not a time":          "yesterday",
		"negative":            -5.0,
		"message too large":   "too large",
		"message is not JSON": "raw",
	} {
		t.Run(name, func(t *testing.T) {
			fx := newFixture(t, 2)
			fx.redis.push("celery", message(sentAt), message(unixAgo(10)))
			switch sentAt {
			case "too large": // with a publish time, which the function does not read
				fx.redis.set("celery", 1, `{"headers":{"sent_at":`+fmt.Sprint(unixAgo(30))+`},"body":"`+strings.Repeat("A", maxMessage)+`"}`)
			case "raw":
				fx.redis.set("celery", 1, "pickle:"+argsMarker)
			}
			fx.redis.push("emails", message(unixAgo(4)))
			res, err := fx.m.Handle(context.Background())
			require.NoError(t, err)
			assert.Equal(t, []cwtypes.MetricDatum{
				datum("Backlog", 3, count, ""),
				datum("BacklogPerTask", 1.5, count, ""),
				datum("Backlog", 2, count, "celery"),
				datum("Backlog", 1, count, "emails"),
				datum("OldestTaskAgeSeconds", 4, seconds, "emails"),
			}, fx.published(t))
			assert.Nil(t, res.OldestTaskAgeSeconds)
			assert.Contains(t, fx.logs.String(), `"msg":"age of the oldest waiting task unknown","cluster":"dev-taskmanager","service":"worker","queue":"celery","priorityList":"0"`)
		})
	}
}

// An unknown age in one priority list makes the queue's age unknown: the other lists' oldest
// would understate it.
func TestAgeUnknownInPriorityList(t *testing.T) {
	fx := newFixture(t, 1)
	fx.redis.push("celery", message(unixAgo(5)))
	fx.redis.push("celery\x06\x169", message(nil))
	_, err := fx.m.Handle(context.Background())
	require.NoError(t, err)
	assert.Equal(t, []cwtypes.MetricDatum{
		datum("Backlog", 2, count, ""),
		datum("BacklogPerTask", 2, count, ""),
		datum("Backlog", 2, count, "celery"),
		datum("Backlog", 0, count, "emails"),
		datum("OldestTaskAgeSeconds", 0, seconds, "emails"),
	}, fx.published(t))
	assert.Contains(t, fx.logs.String(), `"priorityList":"9","reason":"message has no \"sent_at\" header"`)
}

// A publish time up to a few minutes ahead (the app's clock against Lambda's) is a task just
// sent, not a negative age.
func TestClockSkewIsAgeZero(t *testing.T) {
	fx := newFixture(t, 1)
	fx.redis.push("celery", message(unixAgo(-30)))
	res, err := fx.m.Handle(context.Background())
	require.NoError(t, err)
	assert.Equal(t, 0.0, *res.Queues[0].OldestTaskAgeSeconds)
	assert.Equal(t, datum("OldestTaskAgeSeconds", 0, seconds, "celery"), fx.published(t)[4])
}

// SENT_AT_HEADER names another header.
func TestSentAtHeaderConfigurable(t *testing.T) {
	fx := newFixture(t, 1)
	fx.m.Config.SentAtHeader = "enqueued_at"
	msg := `{"body":"e30=","headers":{"enqueued_at":"2026-03-01T13:58:20+02:00","sent_at":1},"properties":{}}`
	fx.redis.push("emails", msg)
	res, err := fx.m.Handle(context.Background())
	require.NoError(t, err)
	assert.Equal(t, 100.0, *res.OldestTaskAgeSeconds)
}

// When ECS cannot be read, what Redis told is still published (the age alarm keeps working),
// BacklogPerTask is not (no value is invented for the scaling policy), and the invocation fails.
func TestECSFailurePublishesRedisMetricsAndFails(t *testing.T) {
	for name, tc := range map[string]struct {
		setup   func(*fakeECS)
		wantErr string
	}{
		"API error": {
			setup: func(f *fakeECS) {
				f.err = errors.New("AccessDeniedException: not authorized to perform ecs:DescribeServices")
			},
			wantErr: "describe ECS service worker in cluster dev-taskmanager: AccessDeniedException",
		},
		"service missing": {
			setup:   func(f *fakeECS) { delete(f.services, cluster+"/"+service) },
			wantErr: "describe ECS service worker in cluster dev-taskmanager: MISSING",
		},
		"service draining": {
			setup: func(f *fakeECS) {
				f.services[cluster+"/"+service] = ecstypes.Service{ServiceName: aws.String(service), Status: aws.String("DRAINING"), RunningCount: 2}
			},
			wantErr: "ECS service worker in cluster dev-taskmanager is DRAINING, not ACTIVE",
		},
	} {
		t.Run(name, func(t *testing.T) {
			fx := newFixture(t, 2)
			tc.setup(fx.ecs)
			fx.redis.push("celery", message(unixAgo(8)), message(unixAgo(7)))
			res, err := fx.m.Handle(context.Background())
			require.ErrorContains(t, err, tc.wantErr)
			assert.Equal(t, []cwtypes.MetricDatum{
				datum("Backlog", 2, count, ""),
				datum("OldestTaskAgeSeconds", 8, seconds, ""),
				datum("Backlog", 2, count, "celery"),
				datum("OldestTaskAgeSeconds", 8, seconds, "celery"),
				datum("Backlog", 0, count, "emails"),
				datum("OldestTaskAgeSeconds", 0, seconds, "emails"),
			}, fx.published(t))
			assert.Nil(t, res.RunningTasks)
			assert.Nil(t, res.BacklogPerTask)
			assert.Contains(t, fx.logs.String(), "BacklogPerTask not published")
		})
	}
}

// closedPort is a loopback port nothing listens on.
func closedPort(t *testing.T) int {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	port := ln.Addr().(*net.TCPAddr).Port
	require.NoError(t, ln.Close())
	return port
}

// Without Redis there is nothing true to publish: no metric, an error, and the token nowhere.
func TestBrokerFailurePublishesNothing(t *testing.T) {
	for name, tc := range map[string]struct {
		setup   func(*fixture)
		wantErr string
	}{
		"secret unreadable": {
			setup:   func(fx *fixture) { fx.sm.err = errors.New("AccessDeniedException: kms:Decrypt") },
			wantErr: "get secret " + secretARN + ": AccessDeniedException",
		},
		"secret missing": {
			setup:   func(fx *fixture) { delete(fx.sm.values, secretARN) },
			wantErr: "get secret " + secretARN,
		},
		"secret is not a URL": {
			setup:   func(fx *fixture) { fx.sm.values[secretARN] = "rediss://:" + token + "%zz@" + redisHost + ":6379/0" },
			wantErr: "secret " + secretARN + ": broker URL cannot be parsed as a URL",
		},
		"secret without TLS": {
			setup:   func(fx *fixture) { fx.sm.values[secretARN] = "redis://:" + token + "@" + redisHost + ":6379/0" },
			wantErr: `broker URL has scheme "redis"; want rediss`,
		},
		"secret without token": {
			setup:   func(fx *fixture) { fx.sm.values[secretARN] = "rediss://" + redisHost + ":6379/0" },
			wantErr: "broker URL has no AUTH token",
		},
		"redis unreachable": {
			setup: func(fx *fixture) {
				fx.sm.values[secretARN] = fmt.Sprintf("rediss://:%s@localhost:%d/0", token, closedPort(t))
			},
			wantErr: "connect to Redis at localhost:",
		},
		"redis refuses the token": {
			setup: func(fx *fixture) {
				fx.sm.values[secretARN] = strings.Replace(fx.redis.secret(), token, "old-"+token, 1)
			},
			wantErr: "AUTH refused by Redis at localhost:",
		},
		"a queue is not a list": {
			setup: func(fx *fixture) {
				require.NoError(t, fx.redis.admin.HSet(context.Background(), "emails\x06\x169", "k", "v").Err())
			},
			wantErr: `key "emails\x06\x169" on Redis at localhost:`,
		},
	} {
		t.Run(name, func(t *testing.T) {
			fx := newFixture(t, 2)
			fx.redis.push("celery", message(unixAgo(8)))
			tc.setup(fx)
			_, err := fx.m.Handle(context.Background())
			require.ErrorContains(t, err, tc.wantErr)
			assert.NotContains(t, err.Error(), token)
			assert.Empty(t, fx.cw.calls)
			assert.Empty(t, fx.ecs.calls)
		})
	}
}

func TestPutMetricDataFailure(t *testing.T) {
	fx := newFixture(t, 2)
	fx.cw.err = errors.New("AccessDenied: cloudwatch:PutMetricData")
	_, err := fx.m.Handle(context.Background())
	require.ErrorContains(t, err, "put 7 metrics in namespace TaskManager/Celery: AccessDenied")
	assert.NotContains(t, fx.logs.String(), "queue depth published")
}

// The Lambda runtime passes the scheduled event, which Handle ignores, and returns the result.
func TestHandleThroughLambdaRuntime(t *testing.T) {
	fx := newFixture(t, 2)
	for i := range 4 {
		fx.redis.push("celery", message(unixAgo(float64(20-i))))
	}
	event := `{"version":"0","id":"53dc4d37","detail-type":"Scheduled Event","source":"aws.events","account":"123456789012",` +
		`"time":"2026-03-01T12:00:00Z","region":"us-east-1","resources":["arn:aws:events:us-east-1:123456789012:rule/dev-queue-depth"],"detail":{}}`
	out, err := lambda.NewHandler(fx.m.Handle).Invoke(context.Background(), []byte(event))
	require.NoError(t, err)
	assert.JSONEq(t, `{"backlog":4,"runningTasks":2,"backlogPerTask":2,"oldestTaskAgeSeconds":20,"metrics":7,
		"queues":[{"queue":"celery","backlog":4,"oldestTaskAgeSeconds":20},{"queue":"emails","backlog":0,"oldestTaskAgeSeconds":0}]}`, string(out))
	assert.Len(t, fx.cw.calls, 1)
}

// One queue (the default) publishes four datums; a hundred queues fit in the one call.
func TestOneCallForEveryQueue(t *testing.T) {
	fx := newFixture(t, 1)
	fx.m.Config.Queues = []string{"celery"}
	_, err := fx.m.Handle(context.Background())
	require.NoError(t, err)
	assert.Len(t, fx.published(t), 5)

	fx = newFixture(t, 1)
	fx.m.Config.Queues = nil
	for i := range MaxQueues {
		fx.m.Config.Queues = append(fx.m.Config.Queues, fmt.Sprintf("q%03d", i))
	}
	_, err = fx.m.Handle(context.Background())
	require.NoError(t, err)
	assert.Len(t, fx.published(t), 3+2*MaxQueues)
	assert.LessOrEqual(t, len(fx.published(t)), 1000, "CloudWatch's limit per PutMetricData")
}

func TestSentAt(t *testing.T) {
	tests := []struct {
		name    string
		msg     string
		want    time.Time
		wantErr string
	}{
		{name: "unix seconds", msg: `{"headers":{"sent_at":1772366400.25}}`, want: time.Unix(1772366400, 250_000_000)},
		{name: "RFC 3339 UTC", msg: `{"headers":{"sent_at":"2026-03-01T12:00:00.5Z"}}`, want: time.Date(2026, 3, 1, 12, 0, 0, 500_000_000, time.UTC)},
		{name: "Python isoformat with offset", msg: `{"headers":{"sent_at":"2026-03-01T12:00:00.123456+00:00"}}`, want: time.Date(2026, 3, 1, 12, 0, 0, 123456000, time.UTC)},
		{name: "no headers", msg: `{"body":"e30="}`, wantErr: `message has no "sent_at" header`},
		{name: "null", msg: `{"headers":{"sent_at":null}}`, wantErr: `message has no "sent_at" header`},
		{name: "zero", msg: `{"headers":{"sent_at":0}}`, wantErr: "not a positive Unix time"},
		{name: "naive", msg: `{"headers":{"sent_at":"2026-03-01 12:00:00"}}`, wantErr: "neither Unix seconds nor an RFC 3339 time"},
		{name: "object", msg: `{"headers":{"sent_at":{"t":1}}}`, wantErr: "neither Unix seconds nor an RFC 3339 time"},
		{name: "not JSON", msg: "\x80\x04\x95" + argsMarker, wantErr: "message is not a JSON envelope with headers"},
		{name: "headers not an object", msg: `{"headers":"` + argsMarker + `"}`, wantErr: "message is not a JSON envelope with headers"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := sentAt([]byte(tt.msg), "sent_at")
			if tt.wantErr != "" {
				require.ErrorContains(t, err, tt.wantErr)
				assert.NotContains(t, err.Error(), argsMarker)
				return
			}
			require.NoError(t, err)
			assert.True(t, tt.want.Equal(got), "got %s, want %s", got, tt.want)
		})
	}
}

func TestQueueKeys(t *testing.T) {
	assert.Equal(t, []string{"celery", "celery\x06\x163", "celery\x06\x166", "celery\x06\x169"}, queueKeys("celery"))
}

// The published names are the contract with the scaling policy and the alarm.
func TestMetricContract(t *testing.T) {
	assert.Equal(t, "Backlog", MetricBacklog)
	assert.Equal(t, "BacklogPerTask", MetricBacklogPerTask)
	assert.Equal(t, "OldestTaskAgeSeconds", MetricOldestTaskAge)
	assert.Equal(t, []string{"Cluster", "Service", "Queue"}, []string{DimensionCluster, DimensionService, DimensionQueue})
}
