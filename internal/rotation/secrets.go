package rotation

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"
)

// secretString reads one version of a secret, chosen by version ID and/or stage. Without
// either, Secrets Manager returns AWSCURRENT.
func (r *Rotator) secretString(ctx context.Context, secretID, versionID, stage string) (string, error) {
	value, _, err := r.secretVersion(ctx, secretID, versionID, stage)
	return value, err
}

// secretVersion is secretString, and the ID of the version read.
func (r *Rotator) secretVersion(ctx context.Context, secretID, versionID, stage string) (value, id string, err error) {
	in := &secretsmanager.GetSecretValueInput{SecretId: aws.String(secretID)}
	if versionID != "" {
		in.VersionId = aws.String(versionID)
	}
	if stage != "" {
		in.VersionStage = aws.String(stage)
	}
	out, err := r.Secrets.GetSecretValue(ctx, in)
	if err != nil {
		return "", "", fmt.Errorf("get secret %s (version %q, stage %q): %w", secretID, versionID, stage, err)
	}
	if out.SecretString == nil {
		return "", "", fmt.Errorf("secret %s (version %q, stage %q) has no string value", secretID, versionID, stage)
	}
	return *out.SecretString, aws.ToString(out.VersionId), nil
}

// pendingExists reports whether createSecret already stored a value for this token. Secrets
// Manager attaches AWSPENDING to the token before calling createSecret, so DescribeSecret
// alone cannot tell; GetSecretValue answers ResourceNotFoundException until a value exists.
func (r *Rotator) pendingExists(ctx context.Context, ev Event) (bool, error) {
	_, err := r.Secrets.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{
		SecretId:     aws.String(ev.SecretID),
		VersionId:    aws.String(ev.ClientRequestToken),
		VersionStage: aws.String(StagePending),
	})
	var notFound *types.ResourceNotFoundException
	switch {
	case err == nil:
		return true, nil
	case errors.As(err, &notFound):
		return false, nil
	}
	return false, fmt.Errorf("look for pending version %s of secret %s: %w", ev.ClientRequestToken, ev.SecretID, err)
}

// putPending stores the new value as the token's version, staged AWSPENDING.
func (r *Rotator) putPending(ctx context.Context, ev Event, value any) error {
	b, err := json.Marshal(value)
	if err != nil {
		return fmt.Errorf("encode new value of secret %s: %w", ev.SecretID, err)
	}
	in := &secretsmanager.PutSecretValueInput{
		SecretId:           aws.String(ev.SecretID),
		ClientRequestToken: aws.String(ev.ClientRequestToken),
		SecretString:       aws.String(string(b)),
		VersionStages:      []string{StagePending},
	}
	if ev.RotationToken != "" {
		in.RotationToken = aws.String(ev.RotationToken)
	}
	if _, err := r.Secrets.PutSecretValue(ctx, in); err != nil {
		return fmt.Errorf("put pending version %s of secret %s: %w", ev.ClientRequestToken, ev.SecretID, err)
	}
	return nil
}

// stopIfPending implements the first rule of createSecret: a retry must not generate a second
// value for the same token.
func (r *Rotator) stopIfPending(ctx context.Context, ev Event, log *slog.Logger) (bool, error) {
	exists, err := r.pendingExists(ctx, ev)
	if exists {
		log.Info("pending version already exists; nothing to create")
	}
	return exists, err
}

func (r *Rotator) randomPassword(ctx context.Context, in *secretsmanager.GetRandomPasswordInput) (string, error) {
	out, err := r.Secrets.GetRandomPassword(ctx, in)
	if err != nil {
		return "", fmt.Errorf("generate random password: %w", err)
	}
	if aws.ToString(out.RandomPassword) == "" {
		return "", errors.New("generate random password: empty password returned")
	}
	return *out.RandomPassword, nil
}

// decodeJSON decodes a secret value. The error describes where decoding failed but never
// quotes the value: encoding/json errors can include fragments of the input.
func decodeJSON(value, secretID, what string, dst any) error {
	if err := json.Unmarshal([]byte(value), dst); err != nil {
		var syntax *json.SyntaxError
		var typ *json.UnmarshalTypeError
		switch {
		case errors.As(err, &syntax):
			return fmt.Errorf("%s of secret %s is not valid JSON (offset %d)", what, secretID, syntax.Offset)
		case errors.As(err, &typ):
			return fmt.Errorf("%s of secret %s: field %q must be a %s", what, secretID, typ.Field, typ.Type)
		}
		return fmt.Errorf("%s of secret %s cannot be decoded as JSON", what, secretID)
	}
	return nil
}
