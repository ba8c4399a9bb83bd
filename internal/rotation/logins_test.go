package rotation

import (
	"encoding/json"
	"errors"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const (
	appLoginSecretID   = "arn:aws:secretsmanager:eu-west-1:111122223333:secret:taskmanager/staging/database-login-taskmanager_app-StUvWx"
	cloneLoginSecretID = "arn:aws:secretsmanager:eu-west-1:111122223333:secret:taskmanager/staging/database-login-taskmanager_app_clone-YzAbCd"
)

// loginSecretOf is the login secret of each alternating user in the fixtures.
var loginSecretOf = map[string]string{AppUser: appLoginSecretID, AppCloneUser: cloneLoginSecretID}

// proxyFixture is a database rotation behind RDS Proxy: the two login secrets exist with the
// placeholder the Pulumi program gives them (a login nobody knows), and LOGIN_SECRET_ARNS names
// them. placeholders are their versions.
type proxyFixture struct {
	*dbFixture
	placeholders map[string]string // user -> version ID of the placeholder
}

func withLoginSecrets(t *testing.T, fx *dbFixture) *proxyFixture {
	t.Helper()
	px := &proxyFixture{dbFixture: fx, placeholders: map[string]string{}}
	for user, id := range loginSecretOf {
		px.placeholders[user] = fx.sm.addSecret(id, false, mustJSON(t, map[string]string{"username": user, "password": "placeholder-" + user}))
	}
	fx.rotator.Config.LoginSecretARNs = map[string]string{AppUser: appLoginSecretID, AppCloneUser: cloneLoginSecretID}
	return px
}

// loginJSON is exactly what a login secret must hold.
func loginJSON(user, password string) string {
	return `{"username":"` + user + `","password":"` + password + `"}`
}

// assertProxyLogin checks that the user's login secret holds, as AWSCURRENT, exactly the
// two-key JSON of password, and that PostgreSQL accepts that password.
func (px *proxyFixture) assertProxyLogin(t *testing.T, user, password string) {
	t.Helper()
	raw := px.sm.valueOf(t, loginSecretOf[user], StageCurrent)
	assert.Equal(t, loginJSON(user, password), raw, "login secret of %s", user)
	var keys map[string]any
	require.NoError(t, json.Unmarshal([]byte(raw), &keys))
	assert.Len(t, keys, 2, "only username and password")
	assert.True(t, px.server.accepts(user, password), "PostgreSQL accepts the password of %s's login secret", user)
}

func TestSetSecretWritesThePendingLoginSecret(t *testing.T) {
	px := withLoginSecrets(t, newDBFixture(t))
	px.sm.passwords = []string{"Proxy-PW-1<&>"} // HTML characters are stored as they are
	token := px.sm.startRotation(dbSecretID)
	require.NoError(t, px.step(t, token, StepCreate))

	// PostgreSQL has the password by the time the login secret is written.
	var acceptedAtPut []bool
	px.sm.onPut = func(in *secretsmanager.PutSecretValueInput) {
		if aws.ToString(in.SecretId) == cloneLoginSecretID {
			acceptedAtPut = append(acceptedAtPut, px.server.accepts(AppCloneUser, "Proxy-PW-1<&>"))
		}
	}
	require.NoError(t, px.step(t, token, StepSet))

	puts := px.sm.putsTo(cloneLoginSecretID)
	require.Len(t, puts, 1)
	assert.Equal(t, []bool{true}, acceptedAtPut, "PostgreSQL first, then the login secret")
	assert.Equal(t, loginJSON(AppCloneUser, "Proxy-PW-1<&>"), aws.ToString(puts[0].SecretString))
	assert.Equal(t, []string{StageCurrent}, puts[0].VersionStages)
	assert.Equal(t, loginVersionID(AppCloneUser, token, px.placeholders[AppCloneUser]), aws.ToString(puts[0].ClientRequestToken))
	assert.Nil(t, puts[0].RotationToken, "the login secret is not the one being rotated")
	px.assertProxyLogin(t, AppCloneUser, "Proxy-PW-1<&>")
	assert.Equal(t, []string{StagePrevious}, px.sm.stagesOf(cloneLoginSecretID, px.placeholders[AppCloneUser]))

	// The running tasks' login: neither its password nor its login secret changes.
	assert.Empty(t, px.sm.putsTo(appLoginSecretID))
	assert.Equal(t, px.placeholders[AppUser], px.sm.currentID(appLoginSecretID))
	assert.True(t, px.server.accepts(AppUser, initialDBPW))

	// A retried setSecret sets the same password again and writes nothing.
	require.NoError(t, px.step(t, token, StepSet))
	assert.Len(t, px.sm.putsTo(cloneLoginSecretID), 1, "no second write")
	assert.Equal(t, 2, px.sm.valueCount(cloneLoginSecretID), "placeholder and one new version")
	assert.Contains(t, px.logs.String(), "login secret already current")

	// testSecret still logs in directly on the primary; finishSecret leaves the login secrets.
	px.server.configs = nil
	require.NoError(t, px.step(t, token, StepTest))
	require.Len(t, px.server.configs, 1)
	assertVerifyFull(t, AppCloneUser, px.dbFixture, 0)
	require.NoError(t, px.step(t, token, StepFinish))
	assert.Len(t, px.sm.putsTo(cloneLoginSecretID), 1)
	assert.Empty(t, px.sm.putsTo(appLoginSecretID))
}

// A setSecret whose write failed is retried, and creates the version the first attempt would
// have created: one new version, whatever the number of attempts.
func TestSetSecretRetriedAfterAFailedWriteWritesOnce(t *testing.T) {
	px := withLoginSecrets(t, newDBFixture(t))
	px.sm.passwords = []string{"Retry-PW-22"}
	token := px.sm.startRotation(dbSecretID)
	require.NoError(t, px.step(t, token, StepCreate))

	px.sm.fail["PutSecretValue"] = &types.InternalServiceError{Message: aws.String("try again")}
	err := px.step(t, token, StepSet)
	require.Error(t, err)
	assert.Contains(t, err.Error(), cloneLoginSecretID)
	assert.Contains(t, err.Error(), AppCloneUser)
	assert.NotContains(t, err.Error(), "Retry-PW-22")
	assert.True(t, px.server.accepts(AppCloneUser, "Retry-PW-22"), "PostgreSQL was set before the write failed")
	assert.Equal(t, px.placeholders[AppCloneUser], px.sm.currentID(cloneLoginSecretID))

	delete(px.sm.fail, "PutSecretValue")
	require.NoError(t, px.step(t, token, StepSet))
	puts := px.sm.putsTo(cloneLoginSecretID)
	require.Len(t, puts, 2)
	assert.Equal(t, aws.ToString(puts[0].ClientRequestToken), aws.ToString(puts[1].ClientRequestToken), "same version ID on retry")
	assert.Equal(t, 2, px.sm.valueCount(cloneLoginSecretID))
	px.assertProxyLogin(t, AppCloneUser, "Retry-PW-22")

	// Once written, further retries write nothing.
	require.NoError(t, px.step(t, token, StepSet))
	assert.Len(t, px.sm.putsTo(cloneLoginSecretID), 2)
}

// Over a bootstrap and rotations, each login secret always holds the password PostgreSQL has for
// its user: tasks on the previous login keep connecting through the proxy until they are
// redeployed, and the next rotation changes that login's password and secret together.
func TestLoginSecretsFollowEveryRotation(t *testing.T) {
	px := withLoginSecrets(t, newEmptyDBFixture(t))
	px.sm.passwords = []string{"Rot-PW-1", "Rot-PW-2", "Rot-PW-3"}

	require.NoError(t, invoke(px.rotator, bootstrapPayload))
	px.assertProxyLogin(t, AppUser, initialDBPW)
	assert.Empty(t, px.sm.putsTo(cloneLoginSecretID), "the other login is left to the first rotation")

	want := map[string]string{AppUser: initialDBPW}
	for i, user := range []string{AppCloneUser, AppUser, AppCloneUser} {
		other := AlternateUsername(user)
		otherVersion := px.sm.currentID(loginSecretOf[other])
		rotate(t, px.sm, px.rotator, dbSecretID)
		want[user] = []string{"Rot-PW-1", "Rot-PW-2", "Rot-PW-3"}[i]
		px.assertProxyLogin(t, user, want[user])
		px.assertProxyLogin(t, other, want[other]) // the previous login, still in use
		assert.Equal(t, otherVersion, px.sm.currentID(loginSecretOf[other]), "rotation %d leaves %s's login secret alone", i+1, other)
	}
	assert.Len(t, px.sm.putsTo(appLoginSecretID), 2, "bootstrap and the second rotation")
	assert.Len(t, px.sm.putsTo(cloneLoginSecretID), 2, "first and third rotation")
	for _, cfg := range px.server.configs {
		assert.Equal(t, primaryHost, cfg.Host, "every session, testSecret's included, goes to DB_HOST")
	}
	for _, pw := range []string{initialDBPW, "Rot-PW-1", "Rot-PW-2", "Rot-PW-3", migrationsPW} {
		assert.NotContains(t, px.logs.String(), pw)
	}
	assert.Contains(t, px.logs.String(), "login secret updated")
	assert.Contains(t, px.logs.String(), cloneLoginSecretID)
}

func TestBootstrapWritesTheCurrentLoginSecret(t *testing.T) {
	px := withLoginSecrets(t, newEmptyDBFixture(t))
	var acceptedAtPut []bool
	px.sm.onPut = func(*secretsmanager.PutSecretValueInput) {
		acceptedAtPut = append(acceptedAtPut, px.server.accepts(AppUser, initialDBPW))
	}
	require.NoError(t, invoke(px.rotator, bootstrapPayload))

	puts := px.sm.putsTo(appLoginSecretID)
	require.Len(t, puts, 1)
	assert.Equal(t, []bool{true}, acceptedAtPut, "PostgreSQL first, then the login secret")
	assert.Equal(t, loginJSON(AppUser, initialDBPW), aws.ToString(puts[0].SecretString))
	assert.Equal(t, []string{StageCurrent}, puts[0].VersionStages)
	assert.Equal(t, loginVersionID(AppUser, "bootstrap "+px.initial, px.placeholders[AppUser]), aws.ToString(puts[0].ClientRequestToken))
	px.assertProxyLogin(t, AppUser, initialDBPW)
	assert.Empty(t, px.sm.putsTo(cloneLoginSecretID))
	assert.Len(t, px.sm.putCalls, 1, "database-url, its reader and the migration secret are not written")
	assert.Empty(t, px.ecs.calls)

	// Again: the login secret already holds the password.
	require.NoError(t, invoke(px.rotator, bootstrapPayload))
	assert.Len(t, px.sm.putCalls, 1)

	// After a rotation, AWSCURRENT names the other login, whose secret setSecret has written.
	px.sm.passwords = []string{"After-Rot-1"}
	rotate(t, px.sm, px.rotator, dbSecretID)
	puts0 := len(px.sm.putCalls)
	require.NoError(t, invoke(px.rotator, bootstrapPayload))
	assert.Len(t, px.sm.putCalls, puts0)
	px.assertProxyLogin(t, AppCloneUser, "After-Rot-1")
	px.assertProxyLogin(t, AppUser, initialDBPW)
}

// Login secrets created without a value get one.
func TestLoginSecretWithoutValueIsWritten(t *testing.T) {
	fx := newEmptyDBFixture(t)
	fx.sm.addEmptySecret(appLoginSecretID)
	fx.sm.addEmptySecret(cloneLoginSecretID)
	fx.rotator.Config.LoginSecretARNs = map[string]string{AppUser: appLoginSecretID, AppCloneUser: cloneLoginSecretID}
	require.NoError(t, invoke(fx.rotator, bootstrapPayload))
	puts := fx.sm.putsTo(appLoginSecretID)
	require.Len(t, puts, 1)
	assert.Equal(t, loginVersionID(AppUser, "bootstrap "+fx.initial, ""), aws.ToString(puts[0].ClientRequestToken))
	assert.Equal(t, loginJSON(AppUser, initialDBPW), fx.sm.valueOf(t, appLoginSecretID, StageCurrent))
}

// Nothing is written to a login secret when PostgreSQL refused the password.
func TestNoLoginSecretWriteWhenPostgreSQLFails(t *testing.T) {
	t.Run("setSecret", func(t *testing.T) {
		px := withLoginSecrets(t, newDBFixture(t))
		px.server.asSuperuser(`CREATE ROLE "taskmanager_app_runtime" NOLOGIN`) // the master user cannot grant it
		token := px.sm.startRotation(dbSecretID)
		require.NoError(t, px.step(t, token, StepCreate))
		require.Error(t, px.step(t, token, StepSet))
		assert.Empty(t, px.sm.putsTo(cloneLoginSecretID))
		assert.Empty(t, px.sm.putsTo(appLoginSecretID))
	})
	t.Run("bootstrap", func(t *testing.T) {
		px := withLoginSecrets(t, newEmptyDBFixture(t))
		px.server.asSuperuser(`CREATE ROLE "taskmanager_migrations" LOGIN`) // the master user cannot alter it
		require.Error(t, invoke(px.rotator, bootstrapPayload))
		assert.Empty(t, px.sm.putCalls)
	})
}

func TestLoginSecretErrorsNameSecretAndUser(t *testing.T) {
	const canary = "Canary-Login-PW"
	t.Run("unreadable", func(t *testing.T) {
		px := withLoginSecrets(t, newDBFixture(t))
		px.sm.passwords = []string{canary}
		px.sm.failGet[cloneLoginSecretID] = errors.New("AccessDeniedException: not authorized to perform secretsmanager:GetSecretValue")
		token := px.sm.startRotation(dbSecretID)
		require.NoError(t, px.step(t, token, StepCreate))
		err := px.step(t, token, StepSet)
		require.Error(t, err)
		assert.Contains(t, err.Error(), "read AWSCURRENT of login secret "+cloneLoginSecretID+" of user "+AppCloneUser)
		assert.Contains(t, err.Error(), "AccessDeniedException")
		assert.NotContains(t, err.Error(), canary)
		assert.Empty(t, px.sm.putsTo(cloneLoginSecretID))
	})
	t.Run("does not exist", func(t *testing.T) {
		px := withLoginSecrets(t, newDBFixture(t))
		px.sm.passwords = []string{canary}
		px.rotator.Config.LoginSecretARNs[AppCloneUser] = cloneLoginSecretID + "-gone"
		token := px.sm.startRotation(dbSecretID)
		require.NoError(t, px.step(t, token, StepCreate))
		err := px.step(t, token, StepSet)
		require.Error(t, err)
		assert.Contains(t, err.Error(), "login secret "+cloneLoginSecretID+"-gone of user "+AppCloneUser)
		var nf *types.ResourceNotFoundException
		assert.True(t, errors.As(err, &nf))
		assert.NotContains(t, err.Error(), canary)
		assert.NotContains(t, px.logs.String(), canary)
	})
	// Someone moved the login secret's AWSCURRENT back by hand after setSecret wrote it: the
	// retried write finds its version already there, which does not move AWSCURRENT, and says so.
	t.Run("version exists but is not current", func(t *testing.T) {
		px := withLoginSecrets(t, newDBFixture(t))
		px.sm.passwords = []string{canary}
		token := px.sm.startRotation(dbSecretID)
		require.NoError(t, px.step(t, token, StepCreate))
		require.NoError(t, px.step(t, token, StepSet))
		written := px.sm.currentID(cloneLoginSecretID)
		_, err := px.sm.UpdateSecretVersionStage(t.Context(), &secretsmanager.UpdateSecretVersionStageInput{
			SecretId: aws.String(cloneLoginSecretID), VersionStage: aws.String(StageCurrent),
			MoveToVersionId: aws.String(px.placeholders[AppCloneUser]), RemoveFromVersionId: aws.String(written),
		})
		require.NoError(t, err)
		err = px.step(t, token, StepSet)
		require.Error(t, err)
		assert.Contains(t, err.Error(), "version "+written+" of login secret "+cloneLoginSecretID+" of user "+AppCloneUser+" exists but is not AWSCURRENT")
		assert.NotContains(t, err.Error(), canary)
	})
}

// Without LOGIN_SECRET_ARNS (dev, no proxy) nothing but the rotated and reader secrets is
// written, even when login secrets exist.
func TestNoLoginSecretsWithoutTheirConfiguration(t *testing.T) {
	fx := newEmptyDBFixture(t)
	for user, id := range loginSecretOf {
		fx.sm.addSecret(id, false, mustJSON(t, map[string]string{"username": user, "password": "placeholder"}))
	}
	require.Nil(t, fx.rotator.Config.LoginSecretARNs)
	require.NoError(t, invoke(fx.rotator, bootstrapPayload))
	assertSecretsUntouched(t, fx)
	rotate(t, fx.sm, fx.rotator, dbSecretID)
	rotate(t, fx.sm, fx.rotator, dbSecretID)
	for _, in := range fx.sm.putCalls {
		assert.Contains(t, []string{dbSecretID, readerSecretID}, aws.ToString(in.SecretId))
	}
	assert.Len(t, fx.sm.putCalls, 4, "two pending versions and two reader versions")
	for _, id := range loginSecretOf {
		assert.Equal(t, 1, fx.sm.valueCount(id))
	}
}

func TestEncodeProxyLogin(t *testing.T) {
	got, err := encodeProxyLogin(AppUser, `a<b>&c"d\e`)
	require.NoError(t, err)
	assert.Equal(t, `{"username":"taskmanager_app","password":"a<b>&c\"d\\e"}`, got)
	var back proxyLogin
	require.NoError(t, json.Unmarshal([]byte(got), &back))
	assert.Equal(t, proxyLogin{Username: AppUser, Password: `a<b>&c"d\e`}, back)
}

func TestLoginVersionID(t *testing.T) {
	id := loginVersionID(AppUser, "token-1", "v0")
	assert.Regexp(t, `^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`, id)
	assert.Equal(t, id, loginVersionID(AppUser, "token-1", "v0"), "deterministic")
	assert.NotEqual(t, id, loginVersionID(AppCloneUser, "token-1", "v0"))
	assert.NotEqual(t, id, loginVersionID(AppUser, "token-2", "v0"))
	assert.NotEqual(t, id, loginVersionID(AppUser, "token-1", "v1"))
}
