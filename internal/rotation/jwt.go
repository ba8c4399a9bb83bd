package rotation

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
)

// jwtKeyLength is the length of a generated signing key: 64 alphanumerics, about 380 bits,
// above the 256 bits HS256 needs. Punctuation is excluded so the key survives any env quoting.
const jwtKeyLength = 64

// JWTSecret is the JSON value of the jwt-secret secret. The app signs with Current and accepts
// Current and Previous, so tokens issued before a rotation stay valid until they expire.
type JWTSecret struct {
	Current  string `json:"current"`
	Previous string `json:"previous"`
}

func (r *Rotator) createJWTSecret(ctx context.Context, ev Event, log *slog.Logger) error {
	if done, err := r.stopIfPending(ctx, ev, log); done || err != nil {
		return err
	}
	raw, err := r.secretString(ctx, ev.SecretID, "", StageCurrent)
	if err != nil {
		return err
	}
	var current JWTSecret
	if err := decodeJSON(raw, ev.SecretID, "current version", &current); err != nil {
		return err
	}
	if current.Current == "" {
		return fmt.Errorf("current version of secret %s has an empty current key", ev.SecretID)
	}
	key, err := r.randomPassword(ctx, &secretsmanager.GetRandomPasswordInput{
		PasswordLength:     aws.Int64(jwtKeyLength),
		ExcludePunctuation: aws.Bool(true),
	})
	if err != nil {
		return err
	}
	if err := r.putPending(ctx, ev, JWTSecret{Current: key, Previous: current.Current}); err != nil {
		return err
	}
	log.Info("pending version created")
	return nil
}

func (r *Rotator) testJWTSecret(ctx context.Context, ev Event) error {
	raw, err := r.secretString(ctx, ev.SecretID, ev.ClientRequestToken, StagePending)
	if err != nil {
		return err
	}
	var pending JWTSecret
	if err := decodeJSON(raw, ev.SecretID, "pending version", &pending); err != nil {
		return err
	}
	switch {
	case pending.Current == "" || pending.Previous == "":
		return fmt.Errorf("pending version %s of secret %s needs non-empty current and previous keys", ev.ClientRequestToken, ev.SecretID)
	case pending.Current == pending.Previous:
		return fmt.Errorf("pending version %s of secret %s has identical current and previous keys", ev.ClientRequestToken, ev.SecretID)
	}
	return nil
}
