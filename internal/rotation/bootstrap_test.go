package rotation

import (
	"context"
	"errors"
	"maps"
	"net/url"
	"testing"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// bootstrapPayload is what the Pulumi program sends (aws.lambda.Invocation).
const bootstrapPayload = `{"Action":"bootstrap"}`

// invoke passes a raw payload through the Lambda runtime's decoding, as a deploy does.
func invoke(r *Rotator, payload string) error {
	_, err := lambda.NewHandler(r.Handle).Invoke(context.Background(), []byte(payload))
	return err
}

// newEmptyDBFixture is a new stack: the secret holds Pulumi's first value, and the database
// has no app role at all.
func newEmptyDBFixture(t *testing.T) *dbFixture {
	t.Helper()
	fx := newDBFixture(t)
	delete(fx.server.roles, "taskmanager_app")
	delete(fx.server.logins, "taskmanager_app")
	return fx
}

// assertSecretsUntouched checks that bootstrap wrote no version or stage and redeployed nothing.
func assertSecretsUntouched(t *testing.T, fx *dbFixture) {
	t.Helper()
	assert.Empty(t, fx.sm.putCalls)
	assert.Empty(t, fx.sm.randomCalls)
	assert.Equal(t, 1, fx.sm.valueCount(dbSecretID))
	assert.Equal(t, fx.initial, fx.sm.currentID(dbSecretID))
	assert.Equal(t, []string{StageCurrent}, fx.sm.stagesOf(dbSecretID, fx.initial))
	assert.Equal(t, 1, fx.sm.valueCount(readerSecretID))
	assert.Empty(t, fx.ecs.describeCalls)
	assert.Empty(t, fx.ecs.calls)
	assert.Empty(t, fx.cd.calls)
}

func TestBootstrapCreatesFirstUser(t *testing.T) {
	fx := newEmptyDBFixture(t)
	fx.sm.fail["UpdateSecretVersionStage"] = errors.New("must not be called")
	require.NoError(t, invoke(fx.rotator, bootstrapPayload))

	// The same role setup setSecret gives a rotated user, for AWSCURRENT's user.
	assert.Equal(t, []string{
		"BEGIN",
		`CREATE ROLE "taskmanager_app_owner" NOLOGIN`,
		`GRANT CONNECT, CREATE, TEMPORARY ON DATABASE "taskmanager" TO "taskmanager_app_owner"`,
		`GRANT USAGE, CREATE ON SCHEMA public TO "taskmanager_app_owner"`,
		`CREATE ROLE "taskmanager_app" WITH LOGIN PASSWORD E'<verifier>'`,
		`GRANT "taskmanager_app_owner" TO "taskmanager_app"`,
		`ALTER ROLE "taskmanager_app" SET role TO "taskmanager_app_owner"`,
		"COMMIT",
	}, withoutVerifiers(fx.server.execs))
	assert.True(t, fx.server.accepts("taskmanager_app", initialDBPW), "the AWSCURRENT password logs in")
	assert.Regexp(t, reVerifier, fx.server.logins["taskmanager_app"], "stored as a SCRAM verifier")
	assert.Equal(t, "taskmanager_app_owner", fx.server.memberOf["taskmanager_app"])
	assert.Equal(t, "taskmanager_app_owner", fx.server.defaultRole["taskmanager_app"])
	assert.False(t, fx.server.roles["taskmanager_app_clone"], "the other user is left to the first rotation")

	require.Len(t, fx.server.connStrings, 1)
	u, err := url.Parse(fx.server.connStrings[0])
	require.NoError(t, err)
	assert.Equal(t, fx.server.masterUser, u.User.Username(), "bootstrap connects as the master user")
	assert.Equal(t, primaryHost, u.Hostname())
	assert.Equal(t, "require", u.Query().Get("sslmode"))
	assert.Zero(t, fx.server.open)

	for _, sql := range fx.server.execs {
		assert.NotContains(t, sql, initialDBPW)
	}
	assert.NotContains(t, fx.logs.String(), initialDBPW)
	assert.Contains(t, fx.logs.String(), "database user ready")
	assertSecretsUntouched(t, fx)
}

func TestBootstrapTwiceOnlyResetsThePassword(t *testing.T) {
	fx := newEmptyDBFixture(t)
	require.NoError(t, invoke(fx.rotator, bootstrapPayload))
	roles, members, defaults := maps.Clone(fx.server.roles), maps.Clone(fx.server.memberOf), maps.Clone(fx.server.defaultRole)
	fx.server.execs = nil

	require.NoError(t, invoke(fx.rotator, bootstrapPayload))
	assert.Equal(t, []string{
		"BEGIN",
		`GRANT CONNECT, CREATE, TEMPORARY ON DATABASE "taskmanager" TO "taskmanager_app_owner"`,
		`GRANT USAGE, CREATE ON SCHEMA public TO "taskmanager_app_owner"`,
		`ALTER ROLE "taskmanager_app" WITH LOGIN PASSWORD E'<verifier>'`,
		`GRANT "taskmanager_app_owner" TO "taskmanager_app"`,
		`ALTER ROLE "taskmanager_app" SET role TO "taskmanager_app_owner"`,
		"COMMIT",
	}, withoutVerifiers(fx.server.execs))
	assert.Equal(t, roles, fx.server.roles)
	assert.Equal(t, members, fx.server.memberOf)
	assert.Equal(t, defaults, fx.server.defaultRole)
	assert.True(t, fx.server.accepts("taskmanager_app", initialDBPW))
	assertSecretsUntouched(t, fx)
}

func TestBootstrapSetsAWSCURRENTPasswordOnExistingUser(t *testing.T) {
	fx := newDBFixture(t) // taskmanager_app exists, with another password
	fx.server.logins["taskmanager_app"] = "set-by-hand"
	fx.server.roles["taskmanager_app_owner"] = true
	require.NoError(t, invoke(fx.rotator, bootstrapPayload))

	assert.True(t, fx.server.accepts("taskmanager_app", initialDBPW))
	assert.False(t, fx.server.accepts("taskmanager_app", "set-by-hand"))
	assert.Contains(t, withoutVerifiers(fx.server.execs), `ALTER ROLE "taskmanager_app" WITH LOGIN PASSWORD E'<verifier>'`)
	assert.NotContains(t, withoutVerifiers(fx.server.execs), `CREATE ROLE "taskmanager_app_owner" NOLOGIN`)
	assertSecretsUntouched(t, fx)
}

func TestBootstrapFollowsAWSCURRENTAfterRotation(t *testing.T) {
	fx := newDBFixture(t)
	fx.sm.passwords = []string{"Rotated-PW-1"}
	rotate(t, fx.sm, fx.rotator, dbSecretID)
	oldUser := fx.server.logins["taskmanager_app"]
	fx.server.execs, fx.ecs.calls, fx.ecs.describeCalls = nil, nil, nil
	puts := len(fx.sm.putCalls)

	require.NoError(t, invoke(fx.rotator, bootstrapPayload))
	assert.Contains(t, withoutVerifiers(fx.server.execs), `ALTER ROLE "taskmanager_app_clone" WITH LOGIN PASSWORD E'<verifier>'`)
	assert.True(t, fx.server.accepts("taskmanager_app_clone", "Rotated-PW-1"))
	assert.Equal(t, oldUser, fx.server.logins["taskmanager_app"], "the other user, still used by old tasks, is untouched")
	assert.Len(t, fx.sm.putCalls, puts)
	assert.Empty(t, fx.ecs.describeCalls)
	assert.Empty(t, fx.ecs.calls)
}

func TestBootstrapFailures(t *testing.T) {
	t.Run("database refuses", func(t *testing.T) {
		fx := newEmptyDBFixture(t)
		fx.server.failOn = `CREATE ROLE "taskmanager_app" `
		err := invoke(fx.rotator, bootstrapPayload)
		require.Error(t, err)
		assert.Contains(t, err.Error(), "bootstrap")
		assert.Contains(t, err.Error(), "taskmanager_app")
		assert.NotContains(t, err.Error(), initialDBPW)
		assert.NotContains(t, err.Error(), "SCRAM-SHA-256$")
		assert.Empty(t, fx.server.roles, "the transaction is rolled back")
		assertSecretsUntouched(t, fx)
	})
	t.Run("no secret configured", func(t *testing.T) {
		fx := newEmptyDBFixture(t)
		fx.rotator.Config.SecretARN = ""
		require.ErrorContains(t, invoke(fx.rotator, bootstrapPayload), EnvSecretARN)
		assert.Empty(t, fx.server.connStrings)
	})
	t.Run("secret unreadable", func(t *testing.T) {
		fx := newEmptyDBFixture(t)
		fx.rotator.Config.SecretARN = dbSecretID + "-missing"
		require.ErrorContains(t, invoke(fx.rotator, bootstrapPayload), dbSecretID+"-missing")
		assert.Empty(t, fx.server.connStrings)
	})
}

func TestBootstrapJWTDoesNothing(t *testing.T) {
	fx := newJWTFixture(t)
	for _, op := range []string{"DescribeSecret", "PutSecretValue", "UpdateSecretVersionStage"} {
		fx.sm.fail[op] = errors.New("must not be called")
	}
	require.NoError(t, invoke(fx.rotator, bootstrapPayload))
	assert.Empty(t, fx.sm.putCalls)
	assert.Empty(t, fx.sm.randomCalls)
	assert.Equal(t, 1, fx.sm.valueCount(jwtSecretID))
	assert.Empty(t, fx.ecs.describeCalls)
	assert.Empty(t, fx.ecs.calls)
}

func TestUnknownActionFails(t *testing.T) {
	fx := newDBFixture(t)
	err := invoke(fx.rotator, `{"Action":"restart","SecretId":"`+dbSecretID+`"}`)
	require.Error(t, err)
	assert.Contains(t, err.Error(), `"restart"`)
	assert.Empty(t, fx.server.connStrings)
	assertSecretsUntouched(t, fx)
}
