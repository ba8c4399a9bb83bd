package queuedepth

import (
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// baseEnv is the required configuration, plus extra ("" deletes a variable).
func baseEnv(extra map[string]string) map[string]string {
	env := map[string]string{EnvBrokerSecretARN: "arn:broker", EnvECSCluster: "dev-taskmanager", EnvECSService: "worker"}
	for k, v := range extra {
		if v == "" {
			delete(env, k)
			continue
		}
		env[k] = v
	}
	return env
}

func TestLoadConfig(t *testing.T) {
	manyQueues := make([]string, MaxQueues+1)
	for i := range manyQueues {
		manyQueues[i] = fmt.Sprintf("q%d", i)
	}
	tests := []struct {
		name    string
		env     map[string]string
		want    Config
		wantErr string // substring; the variable the operator must fix
	}{
		{
			name: "defaults",
			env:  baseEnv(nil),
			want: Config{
				BrokerSecretARN: "arn:broker", ECSCluster: "dev-taskmanager", ECSService: "worker",
				Queues: []string{"celery"}, MetricNamespace: "TaskManager/Celery", SentAtHeader: "sent_at",
			},
		},
		{
			name: "everything set",
			env: baseEnv(map[string]string{
				EnvBrokerSecretARN: " arn:aws:secretsmanager:us-east-1:123456789012:secret:production-celery-broker-url-x1Y2z3 ",
				EnvQueues:          " celery , emails,,reports ", EnvMetricNamespace: "Acme/Celery #1: prod_v2.x",
				EnvSentAtHeader: "enqueued_at",
			}),
			want: Config{
				BrokerSecretARN: "arn:aws:secretsmanager:us-east-1:123456789012:secret:production-celery-broker-url-x1Y2z3",
				ECSCluster:      "dev-taskmanager", ECSService: "worker",
				Queues: []string{"celery", "emails", "reports"}, MetricNamespace: "Acme/Celery #1: prod_v2.x", SentAtHeader: "enqueued_at",
			},
		},
		{
			name:    "no broker secret",
			env:     baseEnv(map[string]string{EnvBrokerSecretARN: ""}),
			wantErr: "environment variable BROKER_SECRET_ARN is not set",
		},
		{name: "blank broker secret", env: baseEnv(map[string]string{EnvBrokerSecretARN: "  "}), wantErr: "BROKER_SECRET_ARN is not set"},
		{name: "no cluster", env: baseEnv(map[string]string{EnvECSCluster: ""}), wantErr: "environment variable ECS_CLUSTER is not set"},
		{name: "no service", env: baseEnv(map[string]string{EnvECSService: ""}), wantErr: "environment variable ECS_SERVICE is not set"},
		{
			name:    "cluster ARN",
			env:     baseEnv(map[string]string{EnvECSCluster: "arn:aws:ecs:us-east-1:123456789012:cluster/dev-taskmanager"}),
			wantErr: `environment variable ECS_CLUSTER="arn:aws:ecs:us-east-1:123456789012:cluster/dev-taskmanager": must be a name, not an ARN`,
		},
		{
			name:    "service path",
			env:     baseEnv(map[string]string{EnvECSService: "dev-taskmanager/worker"}),
			wantErr: `environment variable ECS_SERVICE="dev-taskmanager/worker": must be a name`,
		},
		{
			name:    "service too long for a dimension",
			env:     baseEnv(map[string]string{EnvECSService: strings.Repeat("w", 1025)}),
			wantErr: "environment variable ECS_SERVICE: longer than 1024 characters",
		},
		{
			name:    "AWS namespace",
			env:     baseEnv(map[string]string{EnvMetricNamespace: "AWS/ECS"}),
			wantErr: `environment variable METRIC_NAMESPACE="AWS/ECS": the AWS/ prefix is reserved`,
		},
		{
			name:    "namespace character",
			env:     baseEnv(map[string]string{EnvMetricNamespace: "TaskManager/Célery"}),
			wantErr: `environment variable METRIC_NAMESPACE="TaskManager/Célery": 'é' is not allowed`,
		},
		{
			name:    "namespace too long",
			env:     baseEnv(map[string]string{EnvMetricNamespace: strings.Repeat("n", 256)}),
			wantErr: "environment variable METRIC_NAMESPACE: longer than 255 characters",
		},
		{
			name:    "queues empty",
			env:     baseEnv(map[string]string{EnvQueues: " , ,"}),
			wantErr: `environment variable QUEUES=", ,": names no queue`,
		},
		{
			name:    "queue twice",
			env:     baseEnv(map[string]string{EnvQueues: "celery,emails, celery"}),
			wantErr: `environment variable QUEUES: queue "celery" is listed twice`,
		},
		{
			name:    "priority list named",
			env:     baseEnv(map[string]string{EnvQueues: "celery\x06\x163"}),
			wantErr: "environment variable QUEUES: queue \"celery\\x06\\x163\" contains Celery's priority separator",
		},
		{
			name:    "too many queues",
			env:     baseEnv(map[string]string{EnvQueues: strings.Join(manyQueues, ",")}),
			wantErr: "environment variable QUEUES names 101 queues; at most 100",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := LoadConfig(func(k string) string { return tt.env[k] })
			if tt.wantErr != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tt.wantErr)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
}
