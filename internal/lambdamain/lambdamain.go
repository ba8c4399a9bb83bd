// Package lambdamain is the start-up every function's main package shares: a JSON logger on
// stdout, the function's configuration from its environment, the AWS configuration, then the
// Lambda runtime with the handler built from them.
package lambdamain

import (
	"context"
	"fmt"
	"log/slog"
	"os"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
)

// Run starts the function: load reads its configuration from the environment, handler builds
// its Lambda handler. A configuration that does not load fails the init phase, which makes every
// invocation report the logged message.
func Run[C any](load func(getenv func(string) string) (C, error), handler func(cfg C, awsCfg aws.Config, log *slog.Logger) any) {
	log := slog.New(slog.NewJSONHandler(os.Stdout, nil))
	cfg, awsCfg, err := Setup(context.Background(), load, os.Getenv)
	if err != nil {
		log.Error("start-up failed", "error", err)
		os.Exit(1)
	}
	lambda.Start(handler(cfg, awsCfg, log))
}

// Setup loads the function's configuration through getenv, then the AWS configuration (the
// Lambda environment's credentials and region).
func Setup[C any](ctx context.Context, load func(getenv func(string) string) (C, error), getenv func(string) string) (C, aws.Config, error) {
	cfg, err := load(getenv)
	if err != nil {
		return cfg, aws.Config{}, fmt.Errorf("invalid configuration: %w", err)
	}
	awsCfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		return cfg, aws.Config{}, fmt.Errorf("load AWS configuration: %w", err)
	}
	return cfg, awsCfg, nil
}
