// Command rotation-lambda is the Secrets Manager rotation function of the Task Management
// System. ROTATION_KIND selects the secret it rotates. Besides the rotation events of Secrets
// Manager it takes {"Action":"bootstrap"}, which the Pulumi program sends at deploy time; see
// internal/rotation and docs/rotation.md. Database sessions verify the server's certificate
// against the Amazon RDS CA bundle built into the binary (internal/rotation/certs). With
// LOGIN_SECRET_ARNS it also keeps RDS Proxy's two login secrets at their users' passwords.
// scripts/build-lambdas.sh builds it as build/rotation/bootstrap for the provided.al2023 runtime.
package main

import (
	"context"
	"log/slog"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/codedeploy"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/jackc/pgx/v5"

	"github.com/taskmanager/taskmanager-infra/internal/lambdamain"
	"github.com/taskmanager/taskmanager-infra/internal/rotation"
)

func main() {
	lambdamain.Run(rotation.LoadConfig, func(cfg rotation.Config, awsCfg aws.Config, log *slog.Logger) any {
		r := &rotation.Rotator{
			Secrets:    secretsmanager.NewFromConfig(awsCfg),
			ECS:        ecs.NewFromConfig(awsCfg),
			CodeDeploy: codedeploy.NewFromConfig(awsCfg),
			Connect:    connect,
			Config:     cfg,
			Log:        log,
		}
		return r.Handle
	})
}

// connect opens the session the rotator configured (host, port and database from the
// function's environment, TLS verified against the embedded RDS CA bundle). It returns a nil
// interface on failure: returning the nil *pgx.Conn directly would make a non-nil rotation.DB.
func connect(ctx context.Context, cfg *pgx.ConnConfig) (rotation.DB, error) {
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return nil, err
	}
	return conn, nil
}
