package main

import (
	"log/slog"
	"reflect"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/stretchr/testify/assert"

	"github.com/taskmanager/taskmanager-infra/internal/queuedepth"
)

// The deployed function uses the AWS clients and the TLS dialer that verifies against the
// system roots, never a test double.
func TestNewMeasurerWiresRealClients(t *testing.T) {
	cfg := queuedepth.Config{BrokerSecretARN: "arn:broker", ECSCluster: "c", ECSService: "worker", Queues: []string{"celery"}, MetricNamespace: "TaskManager/Celery", SentAtHeader: "sent_at"}
	m := newMeasurer(cfg, aws.Config{Region: "us-east-1"}, slog.Default())
	assert.IsType(t, &secretsmanager.Client{}, m.Secrets)
	assert.IsType(t, &ecs.Client{}, m.ECS)
	assert.IsType(t, &cloudwatch.Client{}, m.CloudWatch)
	assert.Equal(t, reflect.ValueOf(queuedepth.DialRedis).Pointer(), reflect.ValueOf(m.Dial).Pointer())
	assert.Equal(t, cfg, m.Config)
	assert.Nil(t, m.Now, "the real clock")
}
