package rotation

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/taskmanager/taskmanager-infra/internal/testserver"
)

const (
	dbSecretID         = "arn:aws:secretsmanager:eu-west-1:111122223333:secret:taskmanager/dev/database-url-AbCdEf"
	readerSecretID     = "arn:aws:secretsmanager:eu-west-1:111122223333:secret:taskmanager/dev/database-reader-url-GhIjKl"
	migrationsSecretID = "arn:aws:secretsmanager:eu-west-1:111122223333:secret:taskmanager/dev/migrations-database-url-MnOpQr"
	masterSecretID     = "arn:aws:secretsmanager:eu-west-1:111122223333:secret:rds!db-1234"
	primaryHost        = testserver.Host // DB_HOST: the test server's certificate names it
	replicaHost        = "tm-dev-replica.abc123.eu-west-1.rds.amazonaws.com"
	initialDBPW        = "Initial-PW-0000"
	migrationsPW       = "Migrations-PW-0000"
)

type dbFixture struct {
	sm       *fakeSM
	ecs      *fakeECS
	cd       *fakeCodeDeploy
	server   *pgServer
	port     int // the server's, which DB_PORT names
	rotator  *Rotator
	logs     *bytes.Buffer
	initial  string // version ID of the initial AWSCURRENT
	readerV0 string
}

func initialDBSecret(host string) DatabaseSecret {
	return loginSecret(host, AppUser, initialDBPW)
}

// loginSecret is a secret's value as Pulumi first writes it. Its host and port are not the test
// server's: the function never reads them.
func loginSecret(host, user, password string) DatabaseSecret {
	s := DatabaseSecret{Engine: "postgres", Host: host, Port: 5432, DBName: "taskmanager", Username: user, Password: password}
	s.URL = DatabaseURL(s)
	return s
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	require.NoError(t, err)
	return string(b)
}

// newDBFixture is a database rotation set up as in an environment after the first deploy: the
// app user exists in PostgreSQL with the initial password, rotation is enabled, the migration
// secret, a reader secret and two services are configured.
func newDBFixture(t *testing.T) *dbFixture {
	t.Helper()
	fx := newEmptyDBFixture(t)
	fx.server.asMaster(`CREATE ROLE "taskmanager_app" WITH LOGIN PASSWORD ` + quoteLiteral(initialDBPW))
	return fx
}

// newEmptyDBFixture is a new stack: the secret holds Pulumi's first value, and the database
// has no app role at all.
func newEmptyDBFixture(t *testing.T) *dbFixture {
	t.Helper()
	server := newPGServer(t)
	fx := &dbFixture{sm: newFakeSM(), ecs: &fakeECS{}, cd: &fakeCodeDeploy{}, server: server, port: server.port, logs: &bytes.Buffer{}}
	fx.initial = fx.sm.addSecret(dbSecretID, true, mustJSON(t, initialDBSecret(primaryHost)))
	fx.readerV0 = fx.sm.addSecret(readerSecretID, false, mustJSON(t, initialDBSecret(replicaHost)))
	fx.sm.addSecret(migrationsSecretID, false, mustJSON(t, loginSecret(primaryHost, MigrationsUser, migrationsPW)))
	fx.sm.addSecret(masterSecretID, false, mustJSON(t, map[string]string{"username": server.masterUser, "password": server.masterPW}))
	fx.rotator = &Rotator{
		Secrets:    fx.sm,
		ECS:        fx.ecs,
		CodeDeploy: fx.cd,
		Connect:    server.connect,
		Config: Config{
			Kind:                KindDatabase,
			SecretARN:           dbSecretID,
			MasterSecretARN:     masterSecretID,
			MigrationsSecretARN: migrationsSecretID,
			DBHost:              primaryHost,
			AppHost:             primaryHost,
			DBPort:              server.port,
			DBName:              testDB,
			ReaderSecretARN:     readerSecretID,
			ReaderHost:          replicaHost,
			ECSCluster:          "taskmanager-dev",
			ECSServices:         []string{"taskmanager-dev-api", "taskmanager-dev-worker"},
		},
		Log: slog.New(slog.NewTextHandler(fx.logs, nil)),
	}
	return fx
}

// oldModel puts the database in the role model before the security review: both app logins are
// members of the owner role, granted by the master user, and act as it in every session.
func (fx *dbFixture) oldModel() {
	fx.server.asMaster(
		`CREATE ROLE "taskmanager_app_owner" NOLOGIN`,
		`CREATE ROLE "taskmanager_app_clone" WITH LOGIN PASSWORD 'clone-PW-old'`,
		`GRANT "taskmanager_app_owner" TO "taskmanager_app", "taskmanager_app_clone"`,
		`GRANT USAGE, CREATE ON SCHEMA public TO "taskmanager_app_owner"`,
		`ALTER ROLE "taskmanager_app" SET role TO "taskmanager_app_owner"`,
		`ALTER ROLE "taskmanager_app_clone" SET role TO "taskmanager_app_owner"`,
	)
}

// url is DatabaseURL's form of user and password on host and the server's port.
func (fx *dbFixture) url(user, password, host string) string {
	return fmt.Sprintf("postgresql://%s:%s@%s:%d/taskmanager?sslmode=verify-full&sslrootcert=/etc/ssl/certs/rds-ca-bundle.pem", user, password, host, fx.port)
}

func (fx *dbFixture) step(t *testing.T, token, step string) error {
	t.Helper()
	return fx.rotator.Handle(context.Background(), Event{SecretID: dbSecretID, ClientRequestToken: token, Step: step})
}

// rotate runs the four steps as Secrets Manager does and returns the new version ID.
func rotate(t *testing.T, sm *fakeSM, r *Rotator, secretID string) string {
	t.Helper()
	token := sm.startRotation(secretID)
	for _, step := range []string{StepCreate, StepSet, StepTest, StepFinish} {
		require.NoError(t, r.Handle(context.Background(), Event{SecretID: secretID, ClientRequestToken: token, Step: step}), step)
	}
	return token
}

func decodeDB(t *testing.T, raw string) DatabaseSecret {
	t.Helper()
	var s DatabaseSecret
	require.NoError(t, json.Unmarshal([]byte(raw), &s))
	return s
}

// assertVerifyFull checks that a session was asked for on the configured primary with
// certificate verification against the embedded RDS bundle.
func assertVerifyFull(t *testing.T, cfgUser string, fx *dbFixture, i int) {
	t.Helper()
	require.Greater(t, len(fx.server.configs), i)
	cfg := fx.server.configs[i]
	roots, err := rdsRoots()
	require.NoError(t, err)
	assert.Equal(t, cfgUser, cfg.User)
	assert.Equal(t, primaryHost, cfg.Host, "host from DB_HOST")
	assert.Equal(t, uint16(fx.port), cfg.Port, "port from DB_PORT")
	assert.Equal(t, "taskmanager", cfg.Database, "database from DB_NAME")
	require.NotNil(t, cfg.TLSConfig)
	assert.True(t, cfg.TLSConfig.RootCAs.Equal(roots), "trusts the RDS CA bundle")
	assert.Equal(t, primaryHost, cfg.TLSConfig.ServerName)
	assert.False(t, cfg.TLSConfig.InsecureSkipVerify)
	assert.Nil(t, cfg.TLSConfig.VerifyPeerCertificate)
	assert.Empty(t, cfg.Fallbacks)
}

// Two rotations and a third: the users alternate; each new password logs in; the previous user
// keeps its password (running tasks hold it until their redeploy) and loses it only when its
// turn comes again; a session the app opened before the rotations keeps working through them.
func TestDatabaseRotationAlternatesUsers(t *testing.T) {
	fx := newDBFixture(t)
	fx.sm.passwords = []string{"pw-one-111", "pw-two-222", "pw-three-333"}
	appSession := fx.server.mustLogin(AppUser, initialDBPW)

	wantUsers := []string{AppCloneUser, AppUser, AppCloneUser}
	passwords := map[string]string{AppUser: initialDBPW}
	previous := fx.initial
	previousUser := AppUser
	for i, wantUser := range wantUsers {
		replaced, hadPassword := passwords[wantUser]
		token := rotate(t, fx.sm, fx.rotator, dbSecretID)

		assert.Equal(t, token, fx.sm.currentID(dbSecretID), "rotation %d: AWSCURRENT is the new version", i+1)
		assert.Contains(t, fx.sm.stagesOf(dbSecretID, token), StageCurrent)
		assert.Equal(t, []string{StagePrevious}, fx.sm.stagesOf(dbSecretID, previous), "rotation %d: the old version is AWSPREVIOUS", i+1)

		cur := decodeDB(t, fx.sm.valueOf(t, dbSecretID, StageCurrent))
		assert.Equal(t, wantUser, cur.Username, "rotation %d", i+1)
		assert.Equal(t, []string{"pw-one-111", "pw-two-222", "pw-three-333"}[i], cur.Password)
		assert.Equal(t, DatabaseURL(cur), cur.URL)
		assert.Equal(t, primaryHost, cur.Host)
		passwords[wantUser] = cur.Password

		assert.True(t, fx.server.accepts(wantUser, cur.Password), "rotation %d: new user logs in", i+1)
		assert.True(t, fx.server.accepts(previousUser, passwords[previousUser]), "rotation %d must not change the old user's password", i+1)
		if hadPassword {
			assert.False(t, fx.server.accepts(wantUser, replaced), "rotation %d: %s's password of two rotations ago no longer works", i+1, wantUser)
		}
		var one int
		require.NoError(t, appSession.QueryRow(context.Background(), "SELECT 1").Scan(&one), "rotation %d: the session opened before keeps working", i+1)
		for _, u := range []string{wantUser, previousUser} {
			assert.Equal(t, []string{RuntimeRole}, fx.server.memberOf(u), "rotation %d: %s", i+1, u)
			assert.Empty(t, fx.server.defaultRole(u), "rotation %d: %s acts as itself", i+1, u)
		}
		assert.False(t, fx.server.roleExists(MigrationsUser), "rotations leave the migration login to the bootstrap")

		previous, previousUser = token, wantUser
	}
	assert.Zero(t, fx.server.open, "every database session is closed")
}

func TestAlternateUsername(t *testing.T) {
	assert.Equal(t, AppCloneUser, AlternateUsername(AppUser))
	assert.Equal(t, AppUser, AlternateUsername(AppCloneUser))
}

func TestSetSecretSetsUpThePendingLoginAsMaster(t *testing.T) {
	fx := newDBFixture(t) // a database where no NOLOGIN role exists yet
	fx.sm.passwords = []string{"NewPass-123"}
	token := fx.sm.startRotation(dbSecretID)
	require.NoError(t, fx.step(t, token, StepCreate))
	require.NoError(t, fx.step(t, token, StepSet))

	for _, sql := range fx.server.execs {
		assert.NotContains(t, sql, "NewPass-123", "the database logs DDL: only the SCRAM verifier may appear")
	}
	assert.True(t, fx.server.accepts(AppCloneUser, "NewPass-123"))
	assert.False(t, fx.server.accepts(AppCloneUser, "NewPass-124"))
	assert.True(t, fx.server.accepts(AppUser, initialDBPW))
	assert.Equal(t, []string{RuntimeRole}, fx.server.memberOf(AppCloneUser))
	assert.Equal(t, []string{RuntimeRole}, fx.server.memberOf(AppUser), "the other login, still used by the running tasks, is moved too")
	assert.True(t, fx.server.hasRole(masterUser, OwnerRole, "SET"), "the master user may act as the owner role")
	assert.False(t, fx.server.roleExists(MigrationsUser))

	require.Len(t, fx.server.configs, 1)
	assertVerifyFull(t, fx.server.masterUser, fx, 0)
	assert.Zero(t, fx.server.open)

	// A retry (Secrets Manager retries failed steps) sets the same password again and changes
	// nothing else.
	before := fx.server.state()
	require.NoError(t, fx.step(t, token, StepSet))
	assert.Equal(t, before, fx.server.state())
	assert.True(t, fx.server.accepts(AppCloneUser, "NewPass-123"))
}

// A database set up before the review (both logins members of the owner role, acting as it)
// is in the new model after one rotation: neither login is a member of the owner role or acts
// as it, both are members of the runtime role, and both still log in.
func TestRotationUpgradesTheOldRoleModel(t *testing.T) {
	fx := newDBFixture(t)
	fx.oldModel()
	fx.sm.passwords = []string{"Upgraded-PW-1"}
	rotate(t, fx.sm, fx.rotator, dbSecretID)

	for _, u := range []string{AppUser, AppCloneUser} {
		assert.Equal(t, []string{RuntimeRole}, fx.server.memberOf(u), u)
		assert.Empty(t, fx.server.defaultRole(u), u)
	}
	assert.True(t, fx.server.accepts(AppCloneUser, "Upgraded-PW-1"))
	assert.True(t, fx.server.accepts(AppUser, initialDBPW), "the running tasks' login keeps its password")
	assert.NotContains(t, fx.server.execs, `CREATE ROLE "taskmanager_app_owner" NOLOGIN`, "the owner role from before is kept")
	assert.Contains(t, fx.server.execs, `CREATE ROLE "taskmanager_app_runtime" NOLOGIN`)
}

// REVOKE removes only the master user's own grant. A membership of the owner role that another
// role granted would survive with a warning: the setup fails instead, and rolls back.
func TestSetSecretFailsWhileAnotherRoleKeepsALoginInTheOwnerRole(t *testing.T) {
	fx := newDBFixture(t)
	fx.oldModel()
	fx.server.asSuperuser(
		`CREATE ROLE "taskmanager_someone" NOLOGIN`,
		`GRANT "taskmanager_app_owner" TO "taskmanager_someone" WITH ADMIN OPTION`,
		`GRANT "taskmanager_app_owner" TO "taskmanager_app" GRANTED BY "taskmanager_someone"`,
	)
	token := fx.sm.startRotation(dbSecretID)
	require.NoError(t, fx.step(t, token, StepCreate))
	err := fx.step(t, token, StepSet)
	require.Error(t, err)
	assert.Contains(t, err.Error(), AppUser+" is still a member of "+OwnerRole)
	assert.Equal(t, "ROLLBACK", fx.server.execs[len(fx.server.execs)-1])
	assert.NotContains(t, fx.server.execs, "COMMIT")
	assert.Equal(t, OwnerRole, fx.server.defaultRole(AppCloneUser), "rolled back")
	assert.False(t, fx.server.roleExists(RuntimeRole), "rolled back")
}

// A statement PostgreSQL refuses fails the step with the statement (never its password) and the
// server's reason, and rolls everything back. Here the runtime role was made by someone else, so
// the master user holds no ADMIN option on it (PostgreSQL 16) and cannot grant it.
func TestSetSecretFailureRollsBackWithoutLeakingPassword(t *testing.T) {
	fx := newDBFixture(t)
	fx.sm.passwords = []string{"Leak-Canary-42"}
	fx.server.asSuperuser(`CREATE ROLE "taskmanager_app_runtime" NOLOGIN`)
	token := fx.sm.startRotation(dbSecretID)
	require.NoError(t, fx.step(t, token, StepCreate))

	err := fx.step(t, token, StepSet)
	require.Error(t, err)
	assert.NotContains(t, err.Error(), "Leak-Canary-42")
	assert.NotContains(t, err.Error(), "SCRAM-SHA-256$")
	assert.NotContains(t, err.Error(), fx.server.masterPW)
	assert.Contains(t, err.Error(), `GRANT "taskmanager_app_runtime" TO "taskmanager_app_clone"`)
	assert.Contains(t, err.Error(), "permission denied to grant role")
	assert.Equal(t, "ROLLBACK", fx.server.execs[len(fx.server.execs)-1])
	assert.NotContains(t, fx.server.execs, "COMMIT")
	assert.False(t, fx.server.roleExists(AppCloneUser), "the half-done role setup is rolled back")
	assert.False(t, fx.server.roleExists(OwnerRole))
	assert.Zero(t, fx.server.open)
}

func TestTestSecret(t *testing.T) {
	t.Run("connects as the pending user with verified TLS", func(t *testing.T) {
		fx := newDBFixture(t)
		fx.sm.passwords = []string{"Pending-PW-5"}
		token := fx.sm.startRotation(dbSecretID)
		require.NoError(t, fx.step(t, token, StepCreate))
		require.NoError(t, fx.step(t, token, StepSet))
		fx.server.configs = nil
		require.NoError(t, fx.step(t, token, StepTest))

		require.Len(t, fx.server.configs, 1)
		assertVerifyFull(t, AppCloneUser, fx, 0)
		assert.Equal(t, "Pending-PW-5", fx.server.configs[0].Password)
		assert.Zero(t, fx.server.open)
	})
	t.Run("fails when setSecret did not run", func(t *testing.T) {
		fx := newDBFixture(t)
		fx.sm.passwords = []string{"Never-Set-77"}
		token := fx.sm.startRotation(dbSecretID)
		require.NoError(t, fx.step(t, token, StepCreate))
		err := fx.step(t, token, StepTest)
		require.Error(t, err)
		assert.Contains(t, err.Error(), "password authentication failed")
		assert.NotContains(t, err.Error(), "Never-Set-77")
	})
}

// Whoever can write the rotated secret cannot send the master credentials, or the app's, to a
// server of their choosing: host, port and dbname come from DB_HOST, DB_PORT and DB_NAME, and
// what the function writes carries those.
func TestConnectionParametersComeFromTheConfigurationNotTheSecret(t *testing.T) {
	evil := map[string]any{
		"engine": "postgres", "host": "db.attacker.example", "port": "not-a-port", "dbname": "loot",
		"username": AppUser, "password": initialDBPW, "url": "postgresql://x@db.attacker.example/loot",
	}
	fx := newDBFixture(t)
	fx.sm.secrets[dbSecretID].versions[fx.initial].value = aws.String(mustJSON(t, evil))
	fx.sm.passwords = []string{"Config-PW-1"}
	token := fx.sm.startRotation(dbSecretID)
	require.NoError(t, fx.step(t, token, StepCreate))

	// The pending version is rewritten by someone between createSecret and setSecret.
	pending := decodeDB(t, fx.sm.valueOf(t, dbSecretID, token))
	assert.Equal(t, primaryHost, pending.Host)
	assert.Equal(t, fx.port, pending.Port)
	assert.Equal(t, "taskmanager", pending.DBName)
	assert.Equal(t, fx.url("taskmanager_app_clone", "Config-PW-1", primaryHost), pending.URL)
	evil["username"], evil["password"] = AppCloneUser, "Config-PW-1"
	fx.sm.secrets[dbSecretID].versions[token].value = aws.String(mustJSON(t, evil))

	for _, step := range []string{StepSet, StepTest, StepFinish} {
		require.NoError(t, fx.step(t, token, step), step)
	}
	require.Len(t, fx.server.configs, 2)
	assertVerifyFull(t, fx.server.masterUser, fx, 0)
	assertVerifyFull(t, AppCloneUser, fx, 1)
	reader := decodeDB(t, fx.sm.valueOf(t, readerSecretID, StageCurrent))
	assert.Equal(t, replicaHost, reader.Host)
	assert.Equal(t, fx.port, reader.Port)
	assert.Equal(t, "taskmanager", reader.DBName)
	assert.Equal(t, fx.url("taskmanager_app_clone", "Config-PW-1", replicaHost), reader.URL)
}

// The rotated secret may only name the two app logins, and the migration secret only the
// migration login; anything else fails before any session opens or any value is written.
func TestOnlyTheAppLoginsAreAccepted(t *testing.T) {
	const canary = "Canary-PW-99"
	bad := func(user string) string {
		return `{"engine":"postgres","host":"h","port":5432,"dbname":"d","username":"` + user + `","password":"` + canary + `"}`
	}
	tests := []struct {
		name    string
		run     func(t *testing.T, fx *dbFixture) error
		wantErr string
	}{
		{
			name: "AWSCURRENT names the master user",
			run: func(t *testing.T, fx *dbFixture) error {
				fx.sm.secrets[dbSecretID].versions[fx.initial].value = aws.String(bad(masterUser))
				return fx.step(t, fx.sm.startRotation(dbSecretID), StepCreate)
			},
			wantErr: `current version of secret ` + dbSecretID + `: key "username" is "taskmanager_admin", which is not "taskmanager_app" or "taskmanager_app_clone"`,
		},
		{
			name: "AWSPENDING names another role, in setSecret",
			run: func(t *testing.T, fx *dbFixture) error {
				token := fx.sm.startRotation(dbSecretID)
				require.NoError(t, fx.step(t, token, StepCreate))
				fx.sm.secrets[dbSecretID].versions[token].value = aws.String(bad("rds_superuser"))
				return fx.step(t, token, StepSet)
			},
			wantErr: `pending version of secret ` + dbSecretID + `: key "username" is "rds_superuser"`,
		},
		{
			name: "AWSPENDING names another role, in testSecret",
			run: func(t *testing.T, fx *dbFixture) error {
				token := fx.sm.startRotation(dbSecretID)
				require.NoError(t, fx.step(t, token, StepCreate))
				fx.sm.secrets[dbSecretID].versions[token].value = aws.String(bad("taskmanager_migrations"))
				return fx.step(t, token, StepTest)
			},
			wantErr: `key "username" is "taskmanager_migrations"`,
		},
		{
			name: "bootstrap of a secret naming the owner role",
			run: func(t *testing.T, fx *dbFixture) error {
				fx.sm.secrets[dbSecretID].versions[fx.initial].value = aws.String(bad(OwnerRole))
				return invoke(fx.rotator, bootstrapPayload)
			},
			wantErr: `key "username" is "taskmanager_app_owner"`,
		},
		{
			name: "bootstrap of a migration secret naming an app login",
			run: func(t *testing.T, fx *dbFixture) error {
				fx.sm.secrets[migrationsSecretID].versions = map[string]*fakeVersion{"m1": {value: aws.String(bad(AppUser)), stages: []string{StageCurrent}}}
				return invoke(fx.rotator, bootstrapPayload)
			},
			wantErr: `current version of secret ` + migrationsSecretID + `: key "username" is "taskmanager_app", which is not "taskmanager_migrations"`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fx := newDBFixture(t)
			puts := len(fx.sm.putCalls)
			err := tt.run(t, fx)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.wantErr)
			assert.NotContains(t, err.Error(), canary)
			assert.NotContains(t, fx.logs.String(), canary)
			assert.Empty(t, fx.server.execs, "no SQL runs")
			assert.Empty(t, fx.server.configs, "no session opens")
			if !strings.Contains(tt.name, "setSecret") && !strings.Contains(tt.name, "testSecret") {
				assert.Len(t, fx.sm.putCalls, puts, "nothing written")
			}
		})
	}
}

func TestLogsAndErrorsNeverContainSecrets(t *testing.T) {
	fx := newDBFixture(t)
	fx.sm.passwords = []string{"Canary-One-1", "Canary-Two-2"}
	require.NoError(t, invoke(fx.rotator, bootstrapPayload))
	rotate(t, fx.sm, fx.rotator, dbSecretID)
	rotate(t, fx.sm, fx.rotator, dbSecretID)

	logs := fx.logs.String()
	require.NotEmpty(t, logs)
	for _, secret := range []string{"Canary-One-1", "Canary-Two-2", initialDBPW, migrationsPW, fx.server.masterPW, "postgresql://"} {
		assert.NotContains(t, logs, secret)
	}
}

func TestMalformedSecretErrorHidesValue(t *testing.T) {
	tests := map[string]string{
		"not JSON":          `{"username": "taskmanager_app", "password": hunter2}`,
		"wrong type":        `{"username": "taskmanager_app", "password": ["hunter2"]}`,
		"username not text": `{"username": {"a": "hunter2"}, "password": "p"}`,
		"empty username":    `{"password": "hunter2"}`,
	}
	for name, value := range tests {
		t.Run(name, func(t *testing.T) {
			fx := newDBFixture(t)
			fx.sm.secrets[dbSecretID].versions[fx.initial].value = aws.String(value)
			token := fx.sm.startRotation(dbSecretID)
			err := fx.step(t, token, StepCreate)
			require.Error(t, err)
			assert.NotContains(t, err.Error(), "hunter2")
			assert.Contains(t, err.Error(), dbSecretID)
		})
	}
}

// Host, port and dbname in a secret are not even decoded: a damaged one does not stop a
// rotation, and cannot steer it.
func TestStoredHostPortAndNameAreIgnored(t *testing.T) {
	fx := newDBFixture(t)
	s, err := fx.rotator.appLogin(context.Background(), dbSecretID, "", StageCurrent, "current version")
	require.NoError(t, err)
	assert.Equal(t, primaryHost, s.Host)
	fx.sm.secrets[dbSecretID].versions[fx.initial].value = aws.String(`{"host":["x"],"port":"hunter2","dbname":7,"username":"taskmanager_app","password":"p"}`)
	s, err = fx.rotator.appLogin(context.Background(), dbSecretID, "", StageCurrent, "current version")
	require.NoError(t, err)
	assert.Equal(t, DatabaseSecret{Engine: "postgres", Host: primaryHost, Port: fx.port, DBName: "taskmanager", Username: AppUser, Password: "p",
		URL: fx.url("taskmanager_app", "p", primaryHost)}, s)
}

func TestSetSecretNeedsMasterSecret(t *testing.T) {
	fx := newDBFixture(t)
	token := fx.sm.startRotation(dbSecretID)
	require.NoError(t, fx.step(t, token, StepCreate))
	fx.sm.secrets[masterSecretID].versions = map[string]*fakeVersion{}
	err := fx.step(t, token, StepSet)
	require.Error(t, err)
	var nf interface{ ErrorCode() string }
	require.True(t, errors.As(err, &nf))
	assert.Equal(t, "ResourceNotFoundException", nf.ErrorCode())
	assert.Empty(t, fx.server.configs)
	assert.True(t, strings.Contains(err.Error(), masterSecretID))
}

func TestDatabaseURLEscapesPassword(t *testing.T) {
	fx := newDBFixture(t)
	const pw = "a%b+c#d:e&f=g?h[i]j!k$l,m;n~o"
	fx.sm.passwords = []string{pw}
	rotate(t, fx.sm, fx.rotator, dbSecretID)

	cur := decodeDB(t, fx.sm.valueOf(t, dbSecretID, StageCurrent))
	assert.Equal(t, fx.url("taskmanager_app_clone", "a%25b%2Bc%23d%3Ae%26f%3Dg%3Fh%5Bi%5Dj%21k%24l%2Cm%3Bn~o", primaryHost), cur.URL)
	assert.True(t, fx.server.accepts(AppCloneUser, pw), "PostgreSQL accepts the password the URL decodes to")
	u, err := url.Parse(cur.URL)
	require.NoError(t, err)
	got, _ := u.User.Password()
	assert.Equal(t, pw, got, "the URL decodes to the stored password")
	assert.Equal(t, "taskmanager_app_clone", u.User.Username())
}

func TestDatabaseURL(t *testing.T) {
	s := DatabaseSecret{Host: "db.internal", Port: 5432, DBName: "taskmanager", Username: "taskmanager_app", Password: "p w/x"}
	assert.Equal(t, "postgresql://taskmanager_app:p%20w%2Fx@db.internal:5432/taskmanager?sslmode=verify-full&sslrootcert=/etc/ssl/certs/rds-ca-bundle.pem", DatabaseURL(s))
}

func TestCreateSecretPasswordRequest(t *testing.T) {
	fx := newDBFixture(t)
	token := fx.sm.startRotation(dbSecretID)
	require.NoError(t, fx.step(t, token, StepCreate))

	require.Len(t, fx.sm.randomCalls, 1)
	in := fx.sm.randomCalls[0]
	assert.Equal(t, int64(32), aws.ToInt64(in.PasswordLength))
	for _, c := range []string{"/", "@", `"`, "'", `\`, " "} {
		assert.Contains(t, aws.ToString(in.ExcludeCharacters), c)
	}
	assert.Equal(t, []string{StagePending}, fx.sm.stagesOf(dbSecretID, token))
	assert.Equal(t, fx.initial, fx.sm.currentID(dbSecretID), "createSecret leaves AWSCURRENT alone")
}

func TestCreateSecretIsIdempotent(t *testing.T) {
	fx := newDBFixture(t)
	token := fx.sm.startRotation(dbSecretID)
	require.NoError(t, fx.step(t, token, StepCreate))
	first := fx.sm.valueOf(t, dbSecretID, token)
	require.NoError(t, fx.step(t, token, StepCreate))

	assert.Equal(t, 2, fx.sm.valueCount(dbSecretID), "initial version plus one pending version")
	assert.Len(t, fx.sm.randomCalls, 1, "no second password for the same token")
	assert.Equal(t, first, fx.sm.valueOf(t, dbSecretID, token))
}

func TestQuoteLiteral(t *testing.T) {
	tests := map[string]string{
		"plain":      `E'plain'`,
		"o'clock":    `E'o''clock'`,
		`back\slash`: `E'back\\slash'`,
		`'\'`:        `E'''\\'''`,
		"":           `E''`,
	}
	for in, want := range tests {
		assert.Equal(t, want, quoteLiteral(in), in)
	}
}

func TestFinishSecretUpdatesReaderSecret(t *testing.T) {
	fx := newDBFixture(t)
	fx.sm.passwords = []string{"Reader-Too-9"}
	token := rotate(t, fx.sm, fx.rotator, dbSecretID)

	reader := decodeDB(t, fx.sm.valueOf(t, readerSecretID, StageCurrent))
	assert.Equal(t, replicaHost, reader.Host)
	assert.Equal(t, "taskmanager_app_clone", reader.Username)
	assert.Equal(t, "Reader-Too-9", reader.Password)
	assert.Equal(t, fx.port, reader.Port)
	assert.Equal(t, "taskmanager", reader.DBName)
	assert.Equal(t, fx.url("taskmanager_app_clone", "Reader-Too-9", replicaHost), reader.URL)
	assert.Equal(t, []string{StagePrevious}, fx.sm.stagesOf(readerSecretID, fx.readerV0))

	// A retried finishSecret (the version is already AWSCURRENT) repeats the reader update
	// without creating another version, and redeploys again.
	require.NoError(t, fx.step(t, token, StepFinish))
	assert.Equal(t, 2, fx.sm.valueCount(readerSecretID))
	assert.Len(t, fx.ecs.calls, 4)
}

func TestFinishSecretWithoutReader(t *testing.T) {
	fx := newDBFixture(t)
	fx.rotator.Config.ReaderSecretARN, fx.rotator.Config.ReaderHost = "", ""
	rotate(t, fx.sm, fx.rotator, dbSecretID)
	assert.Equal(t, 1, fx.sm.valueCount(readerSecretID), "reader secret untouched")
}

func TestDatabaseRotationForcesDeploymentsAfterFinish(t *testing.T) {
	fx := newDBFixture(t)
	token := fx.sm.startRotation(dbSecretID)
	var currentAtRedeploy []string
	fx.ecs.onCall = func(*ecs.UpdateServiceInput) {
		currentAtRedeploy = append(currentAtRedeploy, fx.sm.currentID(dbSecretID))
	}

	for _, step := range []string{StepCreate, StepSet, StepTest} {
		require.NoError(t, fx.step(t, token, step))
	}
	assert.Empty(t, fx.ecs.calls, "no redeploy before the new version is AWSCURRENT")
	require.NoError(t, fx.step(t, token, StepFinish))

	assert.Equal(t, []string{"taskmanager-dev-api", "taskmanager-dev-worker"}, fx.ecs.services())
	for _, c := range fx.ecs.calls {
		assert.True(t, c.ForceNewDeployment)
		assert.Equal(t, "taskmanager-dev", aws.ToString(c.Cluster))
	}
	assert.Equal(t, []string{token, token}, currentAtRedeploy, "tasks launched by the redeploy read the new version")
}

// withoutVerifiers replaces the SCRAM verifiers, which have a random salt, by a placeholder.
func withoutVerifiers(stmts []string) []string {
	re := regexp.MustCompile(`E'SCRAM-SHA-256\$[^']*'`)
	out := make([]string, len(stmts))
	for i, s := range stmts {
		out[i] = re.ReplaceAllString(s, "E'<verifier>'")
	}
	return out
}

// With RDS Proxy the app's secret names the proxy (APP_HOST), while the function keeps
// connecting to the primary (DB_HOST) itself: a rotation must not move the app off the proxy.
func TestRotatedSecretNamesTheAppHost(t *testing.T) {
	fx := newDBFixture(t)
	fx.rotator.Config.AppHost = "tm-proxy.proxy-abc.us-east-1.rds.amazonaws.com"
	fx.sm.passwords = []string{"NewPass-123"}
	token := fx.sm.startRotation(dbSecretID)
	require.NoError(t, fx.step(t, token, StepCreate))
	puts := fx.sm.putsTo(dbSecretID)
	require.NotEmpty(t, puts)
	var pending DatabaseSecret
	require.NoError(t, json.Unmarshal([]byte(aws.ToString(puts[len(puts)-1].SecretString)), &pending))
	assert.Equal(t, "tm-proxy.proxy-abc.us-east-1.rds.amazonaws.com", pending.Host)
	assert.Contains(t, pending.URL, fmt.Sprintf("@tm-proxy.proxy-abc.us-east-1.rds.amazonaws.com:%d/taskmanager", fx.port))
	require.NoError(t, fx.step(t, token, StepSet))
	require.NoError(t, fx.step(t, token, StepTest))
	assert.True(t, fx.server.accepts(AppCloneUser, "NewPass-123"), "the function itself still reached the primary")
}
