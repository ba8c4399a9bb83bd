package rotation

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const jwtSecretID = "arn:aws:secretsmanager:eu-west-1:111122223333:secret:taskmanager/dev/jwt-secret-MnOpQr"

type jwtFixture struct {
	sm      *fakeSM
	ecs     *fakeECS
	rotator *Rotator
	logs    *bytes.Buffer
	initial string
}

func newJWTFixture(t *testing.T) *jwtFixture {
	t.Helper()
	fx := &jwtFixture{sm: newFakeSM(), ecs: &fakeECS{}, logs: &bytes.Buffer{}}
	fx.initial = fx.sm.addSecret(jwtSecretID, true, `{"current":"key-zero","previous":""}`)
	fx.rotator = &Rotator{
		Secrets: fx.sm,
		ECS:     fx.ecs,
		// No Connect: the jwt kind must never touch a database.
		Config: Config{Kind: KindJWT, ECSCluster: "taskmanager-dev", ECSServices: []string{"api", "worker"}},
		Log:    slog.New(slog.NewTextHandler(fx.logs, nil)),
	}
	return fx
}

func decodeJWT(t *testing.T, raw string) JWTSecret {
	t.Helper()
	var s JWTSecret
	require.NoError(t, json.Unmarshal([]byte(raw), &s))
	return s
}

func TestJWTRotationKeepsOldKeyAsPrevious(t *testing.T) {
	fx := newJWTFixture(t)
	fx.sm.passwords = []string{"key-one", "key-two"}

	first := rotate(t, fx.sm, fx.rotator, jwtSecretID)
	got := decodeJWT(t, fx.sm.valueOf(t, jwtSecretID, StageCurrent))
	assert.Equal(t, JWTSecret{Current: "key-one", Previous: "key-zero"}, got)
	assert.Equal(t, first, fx.sm.currentID(jwtSecretID))
	assert.Equal(t, []string{StagePrevious}, fx.sm.stagesOf(jwtSecretID, fx.initial))

	rotate(t, fx.sm, fx.rotator, jwtSecretID)
	got = decodeJWT(t, fx.sm.valueOf(t, jwtSecretID, StageCurrent))
	assert.Equal(t, JWTSecret{Current: "key-two", Previous: "key-one"}, got)
	assert.Equal(t, []string{StagePrevious}, fx.sm.stagesOf(jwtSecretID, first))

	require.Len(t, fx.sm.randomCalls, 2)
	for _, in := range fx.sm.randomCalls {
		assert.Equal(t, int64(64), aws.ToInt64(in.PasswordLength))
		assert.True(t, aws.ToBool(in.ExcludePunctuation))
	}
	assert.Equal(t, []string{"api", "worker", "api", "worker"}, fx.ecs.services())
	for _, c := range fx.ecs.calls {
		assert.True(t, c.ForceNewDeployment)
		assert.Equal(t, "taskmanager-dev", aws.ToString(c.Cluster))
	}
	for _, key := range []string{"key-zero", "key-one", "key-two"} {
		assert.NotContains(t, fx.logs.String(), key)
	}
}

func TestJWTCreateSecretIsIdempotent(t *testing.T) {
	fx := newJWTFixture(t)
	token := fx.sm.startRotation(jwtSecretID)
	ev := Event{SecretID: jwtSecretID, ClientRequestToken: token, Step: StepCreate}
	require.NoError(t, fx.rotator.Handle(context.Background(), ev))
	require.NoError(t, fx.rotator.Handle(context.Background(), ev))
	assert.Equal(t, 2, fx.sm.valueCount(jwtSecretID))
	assert.Len(t, fx.sm.randomCalls, 1)
}

func TestJWTTestSecret(t *testing.T) {
	tests := []struct {
		name    string
		pending string
		wantErr string
	}{
		{name: "valid", pending: `{"current":"new","previous":"old"}`},
		{name: "empty previous", pending: `{"current":"new","previous":""}`, wantErr: "non-empty"},
		{name: "missing current", pending: `{"previous":"old"}`, wantErr: "non-empty"},
		{name: "same keys", pending: `{"current":"same","previous":"same"}`, wantErr: "identical"},
		{name: "not JSON", pending: `same`, wantErr: "not valid JSON"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fx := newJWTFixture(t)
			token := fx.sm.startRotation(jwtSecretID)
			fx.sm.secrets[jwtSecretID].versions[token].value = aws.String(tt.pending)

			for _, step := range []string{StepSet, StepTest} {
				err := fx.rotator.Handle(context.Background(), Event{SecretID: jwtSecretID, ClientRequestToken: token, Step: step})
				if step == StepSet || tt.wantErr == "" {
					require.NoError(t, err, step)
					continue
				}
				require.Error(t, err)
				assert.Contains(t, err.Error(), tt.wantErr)
				assert.NotContains(t, err.Error(), "same")
			}
		})
	}
}
