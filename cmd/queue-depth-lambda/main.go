// Command queue-depth-lambda publishes the Celery queues' depth as CloudWatch metrics, every
// minute on an EventBridge schedule, for the worker service's queue-depth scaling policy and the
// oldest-task alarm; see internal/queuedepth and docs/queue-depth.md. It reaches Redis over TLS
// verified against the system roots, with the AUTH token from the broker secret.
// scripts/build-lambdas.sh builds it as build/queue-depth/bootstrap for the provided.al2023
// runtime.
package main

import (
	"log/slog"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/taskmanager/taskmanager-infra/internal/lambdamain"
	"github.com/taskmanager/taskmanager-infra/internal/queuedepth"
)

func main() {
	lambdamain.Run(queuedepth.LoadConfig, func(cfg queuedepth.Config, awsCfg aws.Config, log *slog.Logger) any {
		return newMeasurer(cfg, awsCfg, log).Handle
	})
}

// newMeasurer wires the AWS clients and the Redis dialer to the configuration.
func newMeasurer(cfg queuedepth.Config, awsCfg aws.Config, log *slog.Logger) *queuedepth.Measurer {
	return &queuedepth.Measurer{
		Secrets:    secretsmanager.NewFromConfig(awsCfg),
		ECS:        ecs.NewFromConfig(awsCfg),
		CloudWatch: cloudwatch.NewFromConfig(awsCfg),
		Dial:       queuedepth.DialRedis,
		Config:     cfg,
		Log:        log,
	}
}
