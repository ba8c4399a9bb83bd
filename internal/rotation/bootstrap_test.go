package rotation

import (
	"context"
	"errors"
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

// storedVerifier is what PostgreSQL stores as user's password.
func (s *pgServer) storedVerifier(user string) string {
	return query[string](s, "SELECT coalesce(rolpassword, '') FROM pg_authid WHERE rolname = $1", user)
}

func TestBootstrapCreatesFirstUserAndMigrationLogin(t *testing.T) {
	fx := newEmptyDBFixture(t)
	fx.sm.fail["UpdateSecretVersionStage"] = errors.New("must not be called")
	require.NoError(t, invoke(fx.rotator, bootstrapPayload))

	assert.True(t, fx.server.accepts(AppUser, initialDBPW), "the AWSCURRENT password logs in")
	assert.True(t, fx.server.accepts(MigrationsUser, migrationsPW), "the migration secret's AWSCURRENT password logs in")
	assert.Regexp(t, `^SCRAM-SHA-256\$4096:`, fx.server.storedVerifier(AppUser), "stored as a SCRAM verifier")
	assert.Regexp(t, `^SCRAM-SHA-256\$4096:`, fx.server.storedVerifier(MigrationsUser), "stored as a SCRAM verifier")
	assert.Equal(t, []string{RuntimeRole}, fx.server.memberOf(AppUser))
	assert.Empty(t, fx.server.defaultRole(AppUser), "the app login acts as itself")
	assert.Equal(t, []string{OwnerRole}, fx.server.memberOf(MigrationsUser))
	assert.Equal(t, OwnerRole, fx.server.defaultRole(MigrationsUser), "migrations create objects as the owner role")
	assert.False(t, fx.server.roleExists(AppCloneUser), "the other user is left to the first rotation")

	require.Len(t, fx.server.configs, 1)
	assertVerifyFull(t, fx.server.masterUser, fx, 0)
	assert.Zero(t, fx.server.open)

	for _, sql := range fx.server.execs {
		assert.NotContains(t, sql, initialDBPW)
		assert.NotContains(t, sql, migrationsPW)
	}
	assert.NotContains(t, fx.logs.String(), initialDBPW)
	assert.NotContains(t, fx.logs.String(), migrationsPW)
	assert.Contains(t, fx.logs.String(), "database user ready")
	assert.Contains(t, fx.logs.String(), "migration login ready")
	assertSecretsUntouched(t, fx)
}

// Run again, the bootstrap changes nothing: the same roles, memberships, settings and privileges,
// and the same passwords (stored anew, with a new salt).
func TestBootstrapTwiceChangesNothing(t *testing.T) {
	fx := newEmptyDBFixture(t)
	require.NoError(t, invoke(fx.rotator, bootstrapPayload))
	fx.server.mustLogin(MigrationsUser, migrationsPW).Exec(context.Background(), "CREATE TABLE tasks (id bigserial PRIMARY KEY)")
	before := fx.server.state()
	require.Contains(t, before, "relation tasks {")

	require.NoError(t, invoke(fx.rotator, bootstrapPayload))
	assert.Equal(t, before, fx.server.state())
	assert.True(t, fx.server.accepts(AppUser, initialDBPW))
	assert.True(t, fx.server.accepts(MigrationsUser, migrationsPW))
	assertSecretsUntouched(t, fx)
}

func TestBootstrapSetsAWSCURRENTPasswordOnExistingUsers(t *testing.T) {
	fx := newDBFixture(t) // taskmanager_app exists, with another password
	fx.server.asMaster(
		`ALTER ROLE "taskmanager_app" PASSWORD 'set-by-hand'`,
		`CREATE ROLE "taskmanager_app_owner" NOLOGIN`,
		`CREATE ROLE "taskmanager_migrations" LOGIN PASSWORD 'also-by-hand'`,
	)
	require.NoError(t, invoke(fx.rotator, bootstrapPayload))

	assert.True(t, fx.server.accepts(AppUser, initialDBPW))
	assert.False(t, fx.server.accepts(AppUser, "set-by-hand"))
	assert.True(t, fx.server.accepts(MigrationsUser, migrationsPW))
	assert.False(t, fx.server.accepts(MigrationsUser, "also-by-hand"))
	execs := withoutVerifiers(fx.server.execs)
	assert.Contains(t, execs, `ALTER ROLE "taskmanager_app" WITH LOGIN PASSWORD E'<verifier>'`)
	assert.Contains(t, execs, `ALTER ROLE "taskmanager_migrations" WITH LOGIN PASSWORD E'<verifier>'`)
	assert.NotContains(t, execs, `CREATE ROLE "taskmanager_app_owner" NOLOGIN`)
	assert.Contains(t, execs, `CREATE ROLE "taskmanager_app_runtime" NOLOGIN`)
	assertSecretsUntouched(t, fx)
}

// A bootstrap of a database set up before the review leaves it in the new model too.
func TestBootstrapUpgradesTheOldRoleModel(t *testing.T) {
	fx := newDBFixture(t)
	fx.oldModel()
	require.NoError(t, invoke(fx.rotator, bootstrapPayload))

	for _, u := range []string{AppUser, AppCloneUser} {
		assert.Equal(t, []string{RuntimeRole}, fx.server.memberOf(u), u)
		assert.Empty(t, fx.server.defaultRole(u), u)
	}
	assert.True(t, fx.server.accepts(AppCloneUser, "clone-PW-old"), "the login AWSCURRENT does not name keeps its password")
	assert.Equal(t, []string{OwnerRole}, fx.server.memberOf(MigrationsUser))
	assert.Equal(t, OwnerRole, fx.server.defaultRole(MigrationsUser))
}

func TestBootstrapFollowsAWSCURRENTAfterRotation(t *testing.T) {
	fx := newDBFixture(t)
	fx.sm.passwords = []string{"Rotated-PW-1"}
	rotate(t, fx.sm, fx.rotator, dbSecretID)
	fx.server.execs, fx.ecs.calls, fx.ecs.describeCalls = nil, nil, nil
	puts := len(fx.sm.putCalls)

	require.NoError(t, invoke(fx.rotator, bootstrapPayload))
	assert.Contains(t, withoutVerifiers(fx.server.execs), `ALTER ROLE "taskmanager_app_clone" WITH LOGIN PASSWORD E'<verifier>'`)
	assert.True(t, fx.server.accepts(AppCloneUser, "Rotated-PW-1"))
	assert.True(t, fx.server.accepts(AppUser, initialDBPW), "the other user, still used by old tasks, keeps its password")
	assert.Len(t, fx.sm.putCalls, puts)
	assert.Empty(t, fx.ecs.describeCalls)
	assert.Empty(t, fx.ecs.calls)
}

func TestBootstrapFailures(t *testing.T) {
	// The migration login was made by someone else: the master user holds no ADMIN option on it
	// (PostgreSQL 16) and cannot set its password.
	t.Run("database refuses", func(t *testing.T) {
		fx := newEmptyDBFixture(t)
		fx.server.asSuperuser(`CREATE ROLE "taskmanager_migrations" LOGIN`)
		err := invoke(fx.rotator, bootstrapPayload)
		require.Error(t, err)
		assert.Contains(t, err.Error(), "bootstrap")
		assert.Contains(t, err.Error(), AppUser)
		assert.Contains(t, err.Error(), `ALTER ROLE "taskmanager_migrations" WITH LOGIN PASSWORD [redacted]: ERROR: permission denied to alter role`)
		for _, pw := range []string{initialDBPW, migrationsPW, "SCRAM-SHA-256$"} {
			assert.NotContains(t, err.Error(), pw)
		}
		for _, role := range []string{AppUser, OwnerRole, RuntimeRole} {
			assert.False(t, fx.server.roleExists(role), "the transaction is rolled back: %s", role)
		}
		assertSecretsUntouched(t, fx)
	})
	t.Run("no secret configured", func(t *testing.T) {
		fx := newEmptyDBFixture(t)
		fx.rotator.Config.SecretARN = ""
		require.ErrorContains(t, invoke(fx.rotator, bootstrapPayload), EnvSecretARN)
		assert.Empty(t, fx.server.configs)
	})
	t.Run("no migration secret configured", func(t *testing.T) {
		fx := newEmptyDBFixture(t)
		fx.rotator.Config.MigrationsSecretARN = ""
		require.ErrorContains(t, invoke(fx.rotator, bootstrapPayload), EnvMigrationsSecretARN)
		assert.Empty(t, fx.server.configs)
	})
	t.Run("secret unreadable", func(t *testing.T) {
		fx := newEmptyDBFixture(t)
		fx.rotator.Config.SecretARN = dbSecretID + "-missing"
		require.ErrorContains(t, invoke(fx.rotator, bootstrapPayload), dbSecretID+"-missing")
		assert.Empty(t, fx.server.configs)
	})
	t.Run("migration secret unreadable", func(t *testing.T) {
		fx := newEmptyDBFixture(t)
		fx.rotator.Config.MigrationsSecretARN = migrationsSecretID + "-missing"
		require.ErrorContains(t, invoke(fx.rotator, bootstrapPayload), migrationsSecretID+"-missing")
		assert.Empty(t, fx.server.configs)
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
	assert.Empty(t, fx.server.configs)
	assertSecretsUntouched(t, fx)
}
