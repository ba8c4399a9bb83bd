package rotation

import (
	"context"
	"errors"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	ecstypes "github.com/aws/aws-sdk-go-v2/service/ecs/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestHandleRefusesWhatTheProtocolForbids(t *testing.T) {
	tests := []struct {
		name    string
		setup   func(t *testing.T, fx *dbFixture) Event // returns the event to send
		wantErr string
	}{
		{
			name: "rotation disabled",
			setup: func(t *testing.T, fx *dbFixture) Event {
				token := fx.sm.startRotation(dbSecretID)
				fx.sm.secrets[dbSecretID].rotationEnabled = false
				return Event{SecretID: dbSecretID, ClientRequestToken: token, Step: StepCreate}
			},
			wantErr: "does not have rotation enabled",
		},
		{
			name: "token is not a version of the secret",
			setup: func(t *testing.T, fx *dbFixture) Event {
				fx.sm.startRotation(dbSecretID)
				return Event{SecretID: dbSecretID, ClientRequestToken: "no-such-version", Step: StepCreate}
			},
			wantErr: "has no stage",
		},
		{
			name: "token is AWSPREVIOUS, not AWSPENDING",
			setup: func(t *testing.T, fx *dbFixture) Event {
				rotate(t, fx.sm, fx.rotator, dbSecretID)
				return Event{SecretID: dbSecretID, ClientRequestToken: fx.initial, Step: StepSet}
			},
			wantErr: "not set as AWSPENDING",
		},
		{
			name: "unknown step",
			setup: func(t *testing.T, fx *dbFixture) Event {
				return Event{SecretID: dbSecretID, ClientRequestToken: fx.sm.startRotation(dbSecretID), Step: "deleteSecret"}
			},
			wantErr: "unknown Step",
		},
		{
			name: "no token",
			setup: func(t *testing.T, fx *dbFixture) Event {
				return Event{SecretID: dbSecretID, Step: StepCreate}
			},
			wantErr: "ClientRequestToken",
		},
		{
			name: "unknown kind",
			setup: func(t *testing.T, fx *dbFixture) Event {
				fx.rotator.Config.Kind = "oauth"
				return Event{SecretID: dbSecretID, ClientRequestToken: fx.sm.startRotation(dbSecretID), Step: StepCreate}
			},
			wantErr: `"oauth"`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fx := newDBFixture(t)
			ev := tt.setup(t, fx)
			before := fx.sm.valueCount(dbSecretID)
			fx.ecs.calls = nil
			fx.server.execs = nil

			err := fx.rotator.Handle(context.Background(), ev)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.wantErr)
			assert.Equal(t, before, fx.sm.valueCount(dbSecretID), "no version written")
			assert.Empty(t, fx.ecs.calls)
			assert.Empty(t, fx.server.execs)
		})
	}
}

func TestHandleDoesNothingForCurrentVersion(t *testing.T) {
	for _, step := range []string{StepCreate, StepSet, StepTest} {
		t.Run(step, func(t *testing.T) {
			fx := newDBFixture(t)
			fx.sm.fail["PutSecretValue"] = errors.New("must not be called")
			fx.sm.fail["UpdateSecretVersionStage"] = errors.New("must not be called")
			err := fx.rotator.Handle(context.Background(), Event{SecretID: dbSecretID, ClientRequestToken: fx.initial, Step: step})
			require.NoError(t, err)
			assert.Empty(t, fx.sm.randomCalls)
			assert.Empty(t, fx.server.configs)
			assert.Empty(t, fx.ecs.calls)
		})
	}
}

func TestFinishSecretMovesCurrentFromOldVersion(t *testing.T) {
	fx := newDBFixture(t)
	token := fx.sm.startRotation(dbSecretID)
	for _, step := range []string{StepCreate, StepSet, StepTest} {
		require.NoError(t, fx.step(t, token, step))
	}
	assert.Equal(t, fx.initial, fx.sm.currentID(dbSecretID), "AWSCURRENT moves only in finishSecret")

	fx.sm.fail["UpdateSecretVersionStage"] = errors.New("throttled")
	require.Error(t, fx.step(t, token, StepFinish))
	assert.Empty(t, fx.ecs.calls, "no redeploy while the old version is still AWSCURRENT")
	assert.Equal(t, 1, fx.sm.valueCount(readerSecretID), "reader secret not updated before the move")

	delete(fx.sm.fail, "UpdateSecretVersionStage")
	require.NoError(t, fx.step(t, token, StepFinish))
	assert.Equal(t, token, fx.sm.currentID(dbSecretID))
	assert.Equal(t, []string{StagePrevious}, fx.sm.stagesOf(dbSecretID, fx.initial))
}

func TestRedeployTriesEveryService(t *testing.T) {
	fx := newDBFixture(t)
	fx.ecs.fail = map[string]error{"taskmanager-dev-api": errors.New("ServiceNotFoundException")}
	token := fx.sm.startRotation(dbSecretID)
	for _, step := range []string{StepCreate, StepSet, StepTest} {
		require.NoError(t, fx.step(t, token, step))
	}
	err := fx.step(t, token, StepFinish)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "taskmanager-dev-api")
	assert.NotContains(t, err.Error(), "taskmanager-dev-worker")
	assert.Equal(t, []string{"taskmanager-dev-api", "taskmanager-dev-worker"}, fx.ecs.services())
	assert.Equal(t, token, fx.sm.currentID(dbSecretID))
}

func TestRedeploySkipsServicesThatDoNotExistYet(t *testing.T) {
	fx := newDBFixture(t)
	fx.ecs.fail = map[string]error{
		"taskmanager-dev-api":    &ecstypes.ServiceNotFoundException{Message: aws.String("Service not found.")},
		"taskmanager-dev-worker": &ecstypes.ClusterNotFoundException{Message: aws.String("Cluster not found.")},
	}
	rotate(t, fx.sm, fx.rotator, dbSecretID)
	assert.Equal(t, []string{"taskmanager-dev-api", "taskmanager-dev-worker"}, fx.ecs.services())
	assert.Contains(t, fx.logs.String(), "nothing to redeploy")
}

func TestRedeployNeedsECSClient(t *testing.T) {
	fx := newDBFixture(t)
	fx.rotator.ECS = nil
	token := fx.sm.startRotation(dbSecretID)
	for _, step := range []string{StepCreate, StepSet, StepTest} {
		require.NoError(t, fx.step(t, token, step))
	}
	require.ErrorContains(t, fx.step(t, token, StepFinish), "no ECS client")
}

func TestNoRedeployWithoutServices(t *testing.T) {
	fx := newDBFixture(t)
	fx.rotator.Config.ECSCluster, fx.rotator.Config.ECSServices = "", nil
	rotate(t, fx.sm, fx.rotator, dbSecretID)
	assert.Empty(t, fx.ecs.calls)
}
