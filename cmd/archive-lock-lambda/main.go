// Command archive-lock-lambda locks each object of the log archive in compliance mode as it
// arrives (internal/archivelock says why the bucket has no default retention).
// scripts/build-lambdas.sh builds it as build/archive-lock/bootstrap for provided.al2023.
package main

import (
	"log/slog"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/taskmanager/taskmanager-infra/internal/archivelock"
	"github.com/taskmanager/taskmanager-infra/internal/lambdamain"
)

func main() {
	lambdamain.Run(archivelock.LoadConfig, func(cfg archivelock.Config, awsCfg aws.Config, log *slog.Logger) any {
		return (&archivelock.Locker{S3: s3.NewFromConfig(awsCfg), Config: cfg, Log: log}).Handle
	})
}
