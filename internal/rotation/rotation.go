// Package rotation implements the Secrets Manager rotation Lambda of the Task Management System:
// the four-step rotation protocol (createSecret, setSecret, testSecret, finishSecret) for the
// database credentials (alternating users) and for the JWT signing key (current/previous).
//
// Every step is idempotent because Secrets Manager retries failed steps with the same token.
// Nothing here logs or returns a secret value: errors and log lines carry secret IDs, version
// IDs and user names only.
package rotation

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/codedeploy"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// The rotation steps, as Secrets Manager names them in the event.
const (
	StepCreate = "createSecret"
	StepSet    = "setSecret"
	StepTest   = "testSecret"
	StepFinish = "finishSecret"
)

// The staging labels Secrets Manager uses during rotation.
const (
	StageCurrent  = "AWSCURRENT"
	StagePending  = "AWSPENDING"
	StagePrevious = "AWSPREVIOUS"
)

// connectTimeout bounds a database connection attempt so that a missing security-group rule
// fails with a clear error instead of running into the Lambda timeout.
const connectTimeout = 10 * time.Second

// ActionBootstrap is the Action of the payload {"Action":"bootstrap"}, which the Pulumi program
// sends once at deploy time; see Rotator.bootstrap.
const ActionBootstrap = "bootstrap"

// Event is the payload Secrets Manager sends to a rotation Lambda, or, with Action set, a
// payload the Pulumi program sends itself ({"Action":"bootstrap"}), which has no other field.
type Event struct {
	Action             string `json:"Action,omitempty"`
	SecretID           string `json:"SecretId"`
	ClientRequestToken string `json:"ClientRequestToken"`
	Step               string `json:"Step"`
	// RotationToken is sent by newer Secrets Manager versions; it is passed back on
	// PutSecretValue when present.
	RotationToken string `json:"RotationToken,omitempty"`
}

// Secrets is the part of the Secrets Manager API the Lambda calls; *secretsmanager.Client
// implements it.
type Secrets interface {
	DescribeSecret(ctx context.Context, in *secretsmanager.DescribeSecretInput, optFns ...func(*secretsmanager.Options)) (*secretsmanager.DescribeSecretOutput, error)
	GetSecretValue(ctx context.Context, in *secretsmanager.GetSecretValueInput, optFns ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error)
	PutSecretValue(ctx context.Context, in *secretsmanager.PutSecretValueInput, optFns ...func(*secretsmanager.Options)) (*secretsmanager.PutSecretValueOutput, error)
	UpdateSecretVersionStage(ctx context.Context, in *secretsmanager.UpdateSecretVersionStageInput, optFns ...func(*secretsmanager.Options)) (*secretsmanager.UpdateSecretVersionStageOutput, error)
	GetRandomPassword(ctx context.Context, in *secretsmanager.GetRandomPasswordInput, optFns ...func(*secretsmanager.Options)) (*secretsmanager.GetRandomPasswordOutput, error)
}

// ECS is the part of the ECS API the Lambda calls; *ecs.Client implements it.
type ECS interface {
	DescribeServices(ctx context.Context, in *ecs.DescribeServicesInput, optFns ...func(*ecs.Options)) (*ecs.DescribeServicesOutput, error)
	UpdateService(ctx context.Context, in *ecs.UpdateServiceInput, optFns ...func(*ecs.Options)) (*ecs.UpdateServiceOutput, error)
}

// CodeDeploy is the part of the CodeDeploy API the Lambda calls; *codedeploy.Client
// implements it.
type CodeDeploy interface {
	CreateDeployment(ctx context.Context, in *codedeploy.CreateDeploymentInput, optFns ...func(*codedeploy.Options)) (*codedeploy.CreateDeploymentOutput, error)
}

// DB is a database session; *pgx.Conn implements it.
type DB interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
	Close(ctx context.Context) error
}

// Connect opens a database session with a configuration the Rotator builds: the configured host,
// port and database, sslmode=verify-full against the embedded RDS CA bundle (see connConfig).
// pgx.ConnectConfig implements it, wrapped to return a DB.
type Connect func(ctx context.Context, cfg *pgx.ConnConfig) (DB, error)

// Rotator handles rotation events. Secrets and Config are always needed, Connect for the
// database kind, ECS when Config names services to redeploy, CodeDeploy when one of them is a
// blue/green service. Log may be nil.
type Rotator struct {
	Secrets    Secrets
	ECS        ECS
	CodeDeploy CodeDeploy
	Connect    Connect
	Config     Config
	Log        *slog.Logger
}

// Handle runs one rotation step, or the action a payload with Action names. It is the Lambda
// handler.
func (r *Rotator) Handle(ctx context.Context, ev Event) error {
	switch ev.Action {
	case "":
	case ActionBootstrap:
		return r.bootstrap(ctx)
	default:
		return fmt.Errorf("payload has unknown Action %q (the only action is %q)", ev.Action, ActionBootstrap)
	}
	if err := ev.validate(); err != nil {
		return err
	}
	log := r.logger().With("secret", ev.SecretID, "version", ev.ClientRequestToken, "step", ev.Step, "kind", string(r.Config.Kind))
	desc, err := r.Secrets.DescribeSecret(ctx, &secretsmanager.DescribeSecretInput{SecretId: aws.String(ev.SecretID)})
	if err != nil {
		return fmt.Errorf("describe secret %s: %w", ev.SecretID, err)
	}
	isCurrent, err := checkVersion(desc, ev)
	if err != nil {
		return err
	}
	if isCurrent {
		if ev.Step == StepFinish {
			// A retried finishSecret whose stage move already succeeded must still update the
			// reader secret and redeploy the services; both are idempotent.
			log.Info("version is already AWSCURRENT; repeating the post-finish actions")
			return r.afterFinish(ctx, ev, log)
		}
		log.Info("version is already AWSCURRENT; nothing to do")
		return nil
	}
	log.Info("rotation step starting")
	switch ev.Step {
	case StepCreate:
		err = r.createSecret(ctx, ev, log)
	case StepSet:
		err = r.setSecret(ctx, ev, log)
	case StepTest:
		err = r.testSecret(ctx, ev, log)
	case StepFinish:
		err = r.finishSecret(ctx, ev, desc, log)
	}
	if err != nil {
		return err
	}
	log.Info("rotation step done")
	return nil
}

// bootstrap prepares what the secret's first value needs before any task uses it. Only the
// database kind has something to do: its first user. It never redeploys services: the deploy
// that invokes it starts them afterwards.
func (r *Rotator) bootstrap(ctx context.Context) error {
	log := r.logger().With("action", ActionBootstrap, "kind", string(r.Config.Kind))
	switch r.Config.Kind {
	case KindDatabase:
		if err := r.bootstrapDatabase(ctx, log); err != nil {
			return fmt.Errorf("bootstrap: %w", err)
		}
	case KindJWT:
		// The JWT key is only read by the app; there is nothing to create.
		log.Info("nothing to bootstrap")
	default:
		return r.unknownKind()
	}
	return nil
}

func (r *Rotator) logger() *slog.Logger {
	if r.Log != nil {
		return r.Log
	}
	return slog.Default()
}

func (ev Event) validate() error {
	switch {
	case ev.SecretID == "":
		return errors.New("rotation event has no SecretId")
	case ev.ClientRequestToken == "":
		return errors.New("rotation event has no ClientRequestToken")
	}
	switch ev.Step {
	case StepCreate, StepSet, StepTest, StepFinish:
		return nil
	}
	return fmt.Errorf("rotation event has unknown Step %q", ev.Step)
}

// checkVersion applies the checks of the AWS rotation templates. It reports whether the token's
// version is already AWSCURRENT.
func checkVersion(desc *secretsmanager.DescribeSecretOutput, ev Event) (bool, error) {
	if !aws.ToBool(desc.RotationEnabled) {
		return false, fmt.Errorf("secret %s does not have rotation enabled", ev.SecretID)
	}
	stages, ok := desc.VersionIdsToStages[ev.ClientRequestToken]
	if !ok {
		return false, fmt.Errorf("secret version %s has no stage for rotation of secret %s", ev.ClientRequestToken, ev.SecretID)
	}
	if slices.Contains(stages, StageCurrent) {
		return true, nil
	}
	if !slices.Contains(stages, StagePending) {
		return false, fmt.Errorf("secret version %s not set as AWSPENDING for rotation of secret %s", ev.ClientRequestToken, ev.SecretID)
	}
	return false, nil
}

func (r *Rotator) createSecret(ctx context.Context, ev Event, log *slog.Logger) error {
	switch r.Config.Kind {
	case KindDatabase:
		return r.createDatabaseSecret(ctx, ev, log)
	case KindJWT:
		return r.createJWTSecret(ctx, ev, log)
	}
	return r.unknownKind()
}

func (r *Rotator) setSecret(ctx context.Context, ev Event, log *slog.Logger) error {
	switch r.Config.Kind {
	case KindDatabase:
		return r.setDatabaseSecret(ctx, ev, log)
	case KindJWT:
		// The JWT key is only read by the app; there is no external system to update.
		return nil
	}
	return r.unknownKind()
}

func (r *Rotator) testSecret(ctx context.Context, ev Event, log *slog.Logger) error {
	switch r.Config.Kind {
	case KindDatabase:
		return r.testDatabaseSecret(ctx, ev, log)
	case KindJWT:
		return r.testJWTSecret(ctx, ev)
	}
	return r.unknownKind()
}

func (r *Rotator) unknownKind() error {
	return fmt.Errorf("rotation kind %q is not %q or %q", r.Config.Kind, KindDatabase, KindJWT)
}

// finishSecret moves AWSCURRENT to the new version; Secrets Manager then labels the old one
// AWSPREVIOUS by itself.
func (r *Rotator) finishSecret(ctx context.Context, ev Event, desc *secretsmanager.DescribeSecretOutput, log *slog.Logger) error {
	if r.Config.Kind != KindDatabase && r.Config.Kind != KindJWT {
		return r.unknownKind()
	}
	in := &secretsmanager.UpdateSecretVersionStageInput{
		SecretId:        aws.String(ev.SecretID),
		VersionStage:    aws.String(StageCurrent),
		MoveToVersionId: aws.String(ev.ClientRequestToken),
	}
	if old := currentVersion(desc); old != "" {
		in.RemoveFromVersionId = aws.String(old)
	}
	if _, err := r.Secrets.UpdateSecretVersionStage(ctx, in); err != nil {
		return fmt.Errorf("move AWSCURRENT of secret %s to version %s: %w", ev.SecretID, ev.ClientRequestToken, err)
	}
	log.Info("AWSCURRENT moved", "from_version", aws.ToString(in.RemoveFromVersionId))
	return r.afterFinish(ctx, ev, log)
}

func currentVersion(desc *secretsmanager.DescribeSecretOutput) string {
	for id, stages := range desc.VersionIdsToStages {
		if slices.Contains(stages, StageCurrent) {
			return id
		}
	}
	return ""
}

// afterFinish runs once the token's version is AWSCURRENT: the reader secret follows the new
// credentials, then the services restart so their tasks read the new AWSCURRENT at launch.
func (r *Rotator) afterFinish(ctx context.Context, ev Event, log *slog.Logger) error {
	if r.Config.Kind == KindDatabase && r.Config.ReaderSecretARN != "" {
		if err := r.updateReaderSecret(ctx, ev, log); err != nil {
			return err
		}
	}
	return r.redeploy(ctx, log)
}
