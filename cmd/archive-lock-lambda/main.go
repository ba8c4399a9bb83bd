// Command archive-lock-lambda locks each object of the log archive in compliance mode as it
// arrives (internal/archivelock says why the bucket has no default retention).
// scripts/build-lambdas.sh builds it as build/archive-lock/bootstrap for provided.al2023.
package main

import (
	"context"
	"log/slog"
	"os"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/taskmanager/taskmanager-infra/internal/archivelock"
)

func main() {
	log := slog.New(slog.NewJSONHandler(os.Stdout, nil))
	cfg, err := archivelock.LoadConfig(os.Getenv)
	if err != nil {
		// Failing the init phase makes every invocation report this message.
		log.Error("invalid configuration", "error", err)
		os.Exit(1)
	}
	awsCfg, err := config.LoadDefaultConfig(context.Background())
	if err != nil {
		log.Error("load AWS configuration", "error", err)
		os.Exit(1)
	}
	locker := &archivelock.Locker{S3: s3.NewFromConfig(awsCfg), Config: cfg, Log: log}
	lambda.Start(locker.Handle)
}
