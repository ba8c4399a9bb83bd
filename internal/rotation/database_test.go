package rotation

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const (
	dbSecretID     = "arn:aws:secretsmanager:eu-west-1:111122223333:secret:taskmanager/dev/database-url-AbCdEf"
	readerSecretID = "arn:aws:secretsmanager:eu-west-1:111122223333:secret:taskmanager/dev/database-reader-url-GhIjKl"
	masterSecretID = "arn:aws:secretsmanager:eu-west-1:111122223333:secret:rds!db-1234"
	primaryHost    = "tm-dev.abc123.eu-west-1.rds.amazonaws.com"
	replicaHost    = "tm-dev-replica.abc123.eu-west-1.rds.amazonaws.com"
	initialDBPW    = "Initial-PW-0000"
)

type dbFixture struct {
	sm       *fakeSM
	ecs      *fakeECS
	cd       *fakeCodeDeploy
	server   *fakeServer
	rotator  *Rotator
	logs     *bytes.Buffer
	initial  string // version ID of the initial AWSCURRENT
	readerV0 string
}

func initialDBSecret(host string) DatabaseSecret {
	s := DatabaseSecret{Engine: "postgres", Host: host, Port: 5432, DBName: "taskmanager", Username: "taskmanager_app", Password: initialDBPW}
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
// app user exists with the initial password, rotation is enabled, a reader secret and two
// services are configured.
func newDBFixture(t *testing.T) *dbFixture {
	t.Helper()
	fx := &dbFixture{sm: newFakeSM(), ecs: &fakeECS{}, cd: &fakeCodeDeploy{}, server: newFakeServer(primaryHost), logs: &bytes.Buffer{}}
	fx.initial = fx.sm.addSecret(dbSecretID, true, mustJSON(t, initialDBSecret(primaryHost)))
	fx.readerV0 = fx.sm.addSecret(readerSecretID, false, mustJSON(t, initialDBSecret(replicaHost)))
	fx.sm.addSecret(masterSecretID, false, mustJSON(t, map[string]string{"username": fx.server.masterUser, "password": fx.server.masterPW}))
	fx.server.roles["taskmanager_app"] = true
	fx.server.logins["taskmanager_app"] = initialDBPW
	fx.rotator = &Rotator{
		Secrets:    fx.sm,
		ECS:        fx.ecs,
		CodeDeploy: fx.cd,
		Connect:    fx.server.connect,
		Config: Config{
			Kind:            KindDatabase,
			SecretARN:       dbSecretID,
			MasterSecretARN: masterSecretID,
			ReaderSecretARN: readerSecretID,
			ReaderHost:      replicaHost,
			ECSCluster:      "taskmanager-dev",
			ECSServices:     []string{"taskmanager-dev-api", "taskmanager-dev-worker"},
		},
		Log: slog.New(slog.NewTextHandler(fx.logs, nil)),
	}
	return fx
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

func TestDatabaseRotationAlternatesUsers(t *testing.T) {
	fx := newDBFixture(t)
	fx.sm.passwords = []string{"pw-one-111", "pw-two-222", "pw-three-333"}

	wantUsers := []string{"taskmanager_app_clone", "taskmanager_app", "taskmanager_app_clone"}
	previous := fx.initial
	previousUser, previousPW := "taskmanager_app", initialDBPW
	for i, wantUser := range wantUsers {
		token := rotate(t, fx.sm, fx.rotator, dbSecretID)

		assert.Equal(t, token, fx.sm.currentID(dbSecretID), "rotation %d: AWSCURRENT is the new version", i+1)
		assert.Contains(t, fx.sm.stagesOf(dbSecretID, token), StageCurrent)
		assert.Equal(t, []string{StagePrevious}, fx.sm.stagesOf(dbSecretID, previous), "rotation %d: the old version is AWSPREVIOUS", i+1)

		cur := decodeDB(t, fx.sm.valueOf(t, dbSecretID, StageCurrent))
		assert.Equal(t, wantUser, cur.Username, "rotation %d", i+1)
		assert.Equal(t, []string{"pw-one-111", "pw-two-222", "pw-three-333"}[i], cur.Password)
		assert.Equal(t, DatabaseURL(cur), cur.URL)
		assert.Equal(t, primaryHost, cur.Host)

		// The database now accepts the new credentials, and still the old user's, which
		// running tasks hold until their forced redeploy completes.
		assert.True(t, fx.server.accepts(wantUser, cur.Password), "rotation %d: new user logs in", i+1)
		assert.True(t, fx.server.accepts(previousUser, previousPW), "rotation %d must not touch the old user", i+1)
		assert.Equal(t, "taskmanager_app_owner", fx.server.memberOf[wantUser], "rotation %d", i+1)
		assert.Equal(t, "taskmanager_app_owner", fx.server.defaultRole[wantUser], "rotation %d", i+1)

		previous, previousUser, previousPW = token, wantUser, cur.Password
	}
	assert.Zero(t, fx.server.open, "every database session is closed")
}

func TestDatabaseURLEscapesPassword(t *testing.T) {
	fx := newDBFixture(t)
	const pw = "a%b+c#d:e&f=g?h[i]j!k$l,m;n~o"
	fx.sm.passwords = []string{pw}
	rotate(t, fx.sm, fx.rotator, dbSecretID)

	cur := decodeDB(t, fx.sm.valueOf(t, dbSecretID, StageCurrent))
	assert.Equal(t,
		"postgresql://taskmanager_app_clone:a%25b%2Bc%23d%3Ae%26f%3Dg%3Fh%5Bi%5Dj%21k%24l%2Cm%3Bn~o@"+primaryHost+":5432/taskmanager?sslmode=require",
		cur.URL)
	u, err := url.Parse(cur.URL)
	require.NoError(t, err)
	got, _ := u.User.Password()
	assert.Equal(t, pw, got, "the URL decodes to the stored password")
	assert.Equal(t, "taskmanager_app_clone", u.User.Username())
}

func TestDatabaseURL(t *testing.T) {
	s := DatabaseSecret{Host: "db.internal", Port: 5432, DBName: "taskmanager", Username: "taskmanager_app", Password: "p w/x"}
	assert.Equal(t, "postgresql://taskmanager_app:p%20w%2Fx@db.internal:5432/taskmanager?sslmode=require", DatabaseURL(s))
}

func TestAlternateUsernameAndGroupRole(t *testing.T) {
	tests := []struct{ in, next, group string }{
		{"taskmanager_app", "taskmanager_app_clone", "taskmanager_app_owner"},
		{"taskmanager_app_clone", "taskmanager_app", "taskmanager_app_owner"},
		{"app_clone_clone", "app_clone", "app_clone_owner"},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.next, AlternateUsername(tt.in), tt.in)
		assert.Equal(t, tt.group, GroupRole(tt.in), tt.in)
	}
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

func TestRoleStatements(t *testing.T) {
	clone := DatabaseSecret{DBName: "taskmanager", Username: "taskmanager_app_clone", Password: `it's\x`}
	base := DatabaseSecret{DBName: "taskmanager", Username: "taskmanager_app", Password: "pw"}
	tests := []struct {
		name                    string
		secret                  DatabaseSecret
		groupExists, userExists bool
		want                    []string
	}{
		{
			name: "fresh database", secret: clone,
			want: []string{
				`CREATE ROLE "taskmanager_app_owner" NOLOGIN`,
				`GRANT CONNECT, CREATE, TEMPORARY ON DATABASE "taskmanager" TO "taskmanager_app_owner"`,
				`GRANT USAGE, CREATE ON SCHEMA public TO "taskmanager_app_owner"`,
				`CREATE ROLE "taskmanager_app_clone" WITH LOGIN PASSWORD E'it''s\\x'`,
				`GRANT "taskmanager_app_owner" TO "taskmanager_app_clone"`,
				`ALTER ROLE "taskmanager_app_clone" SET role TO "taskmanager_app_owner"`,
			},
		},
		{
			name: "both roles exist", secret: clone, groupExists: true, userExists: true,
			want: []string{
				`GRANT CONNECT, CREATE, TEMPORARY ON DATABASE "taskmanager" TO "taskmanager_app_owner"`,
				`GRANT USAGE, CREATE ON SCHEMA public TO "taskmanager_app_owner"`,
				`ALTER ROLE "taskmanager_app_clone" WITH LOGIN PASSWORD E'it''s\\x'`,
				`GRANT "taskmanager_app_owner" TO "taskmanager_app_clone"`,
				`ALTER ROLE "taskmanager_app_clone" SET role TO "taskmanager_app_owner"`,
			},
		},
		{
			name: "the base user is a member like the clone", secret: base, groupExists: true, userExists: true,
			want: []string{
				`GRANT CONNECT, CREATE, TEMPORARY ON DATABASE "taskmanager" TO "taskmanager_app_owner"`,
				`GRANT USAGE, CREATE ON SCHEMA public TO "taskmanager_app_owner"`,
				`ALTER ROLE "taskmanager_app" WITH LOGIN PASSWORD E'pw'`,
				`GRANT "taskmanager_app_owner" TO "taskmanager_app"`,
				`ALTER ROLE "taskmanager_app" SET role TO "taskmanager_app_owner"`,
			},
		},
		{
			name: "identifiers are quoted", secret: DatabaseSecret{DBName: `my"db`, Username: `x"y`, Password: "p"},
			groupExists: true, userExists: true,
			want: []string{
				`GRANT CONNECT, CREATE, TEMPORARY ON DATABASE "my""db" TO "x""y_owner"`,
				`GRANT USAGE, CREATE ON SCHEMA public TO "x""y_owner"`,
				`ALTER ROLE "x""y" WITH LOGIN PASSWORD E'p'`,
				`GRANT "x""y_owner" TO "x""y"`,
				`ALTER ROLE "x""y" SET role TO "x""y_owner"`,
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, roleStatements(tt.secret, tt.secret.Password, tt.groupExists, tt.userExists))
		})
	}
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

func TestSetSecretIssuesRoleSetupAsMaster(t *testing.T) {
	fx := newDBFixture(t)
	delete(fx.server.roles, "taskmanager_app_owner") // a database where no app role exists yet
	fx.sm.passwords = []string{"NewPass-123"}
	token := fx.sm.startRotation(dbSecretID)
	require.NoError(t, fx.step(t, token, StepCreate))
	require.NoError(t, fx.step(t, token, StepSet))

	assert.Equal(t, []string{
		"BEGIN",
		`CREATE ROLE "taskmanager_app_owner" NOLOGIN`,
		`GRANT CONNECT, CREATE, TEMPORARY ON DATABASE "taskmanager" TO "taskmanager_app_owner"`,
		`GRANT USAGE, CREATE ON SCHEMA public TO "taskmanager_app_owner"`,
		`CREATE ROLE "taskmanager_app_clone" WITH LOGIN PASSWORD E'<verifier>'`,
		`GRANT "taskmanager_app_owner" TO "taskmanager_app_clone"`,
		`ALTER ROLE "taskmanager_app_clone" SET role TO "taskmanager_app_owner"`,
		"COMMIT",
	}, withoutVerifiers(fx.server.execs))
	for _, sql := range fx.server.execs {
		assert.NotContains(t, sql, "NewPass-123", "the database logs DDL: only the SCRAM verifier may appear")
	}
	assert.True(t, fx.server.accepts("taskmanager_app_clone", "NewPass-123"))
	assert.False(t, fx.server.accepts("taskmanager_app_clone", "NewPass-124"))

	require.Len(t, fx.server.connStrings, 1)
	u, err := url.Parse(fx.server.connStrings[0])
	require.NoError(t, err)
	assert.Equal(t, fx.server.masterUser, u.User.Username(), "setSecret connects as the master user")
	assert.Equal(t, primaryHost, u.Hostname(), "host from the pending secret")
	assert.Equal(t, "require", u.Query().Get("sslmode"))
	assert.Zero(t, fx.server.open)

	// A retry (Secrets Manager retries failed steps) updates the same user again.
	fx.server.execs = nil
	require.NoError(t, fx.step(t, token, StepSet))
	assert.Contains(t, withoutVerifiers(fx.server.execs), `ALTER ROLE "taskmanager_app_clone" WITH LOGIN PASSWORD E'<verifier>'`)
	assert.True(t, fx.server.accepts("taskmanager_app_clone", "NewPass-123"))
}

func TestSetSecretFailureRollsBackWithoutLeakingPassword(t *testing.T) {
	fx := newDBFixture(t)
	fx.sm.passwords = []string{"Leak-Canary-42"}
	fx.server.failOn = `GRANT "taskmanager_app_owner" TO`
	token := fx.sm.startRotation(dbSecretID)
	require.NoError(t, fx.step(t, token, StepCreate))

	err := fx.step(t, token, StepSet)
	require.Error(t, err)
	assert.NotContains(t, err.Error(), "Leak-Canary-42")
	assert.NotContains(t, err.Error(), fx.server.masterPW)
	assert.Contains(t, err.Error(), "taskmanager_app_clone")
	assert.Equal(t, "ROLLBACK", fx.server.execs[len(fx.server.execs)-1])
	assert.NotContains(t, fx.server.execs, "COMMIT")
	assert.False(t, fx.server.roles["taskmanager_app_clone"], "the half-done role setup is rolled back")
	assert.Zero(t, fx.server.open)
}

func TestTestSecret(t *testing.T) {
	t.Run("connects as the pending user with TLS", func(t *testing.T) {
		fx := newDBFixture(t)
		token := fx.sm.startRotation(dbSecretID)
		require.NoError(t, fx.step(t, token, StepCreate))
		require.NoError(t, fx.step(t, token, StepSet))
		fx.server.connStrings = nil
		require.NoError(t, fx.step(t, token, StepTest))

		require.Len(t, fx.server.connStrings, 1)
		u, err := url.Parse(fx.server.connStrings[0])
		require.NoError(t, err)
		assert.Equal(t, "taskmanager_app_clone", u.User.Username())
		assert.Equal(t, "require", u.Query().Get("sslmode"))
		assert.Contains(t, fx.server.queries, "SELECT 1")
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

func TestFinishSecretUpdatesReaderSecret(t *testing.T) {
	fx := newDBFixture(t)
	fx.sm.passwords = []string{"Reader-Too-9"}
	token := rotate(t, fx.sm, fx.rotator, dbSecretID)

	reader := decodeDB(t, fx.sm.valueOf(t, readerSecretID, StageCurrent))
	assert.Equal(t, replicaHost, reader.Host)
	assert.Equal(t, "taskmanager_app_clone", reader.Username)
	assert.Equal(t, "Reader-Too-9", reader.Password)
	assert.Equal(t, 5432, reader.Port)
	assert.Equal(t, "taskmanager", reader.DBName)
	assert.Equal(t, "postgresql://taskmanager_app_clone:Reader-Too-9@"+replicaHost+":5432/taskmanager?sslmode=require", reader.URL)
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

func TestLogsAndErrorsNeverContainSecrets(t *testing.T) {
	fx := newDBFixture(t)
	fx.sm.passwords = []string{"Canary-One-1", "Canary-Two-2"}
	rotate(t, fx.sm, fx.rotator, dbSecretID)
	rotate(t, fx.sm, fx.rotator, dbSecretID)

	logs := fx.logs.String()
	require.NotEmpty(t, logs)
	for _, secret := range []string{"Canary-One-1", "Canary-Two-2", initialDBPW, fx.server.masterPW, "postgresql://"} {
		assert.NotContains(t, logs, secret)
	}
}

func TestMalformedSecretErrorHidesValue(t *testing.T) {
	tests := map[string]string{
		"not JSON":   `{"username": "u", "password": hunter2}`,
		"wrong type": `{"username": "u", "password": ["hunter2"]}`,
		"bad port":   `{"host": "h", "port": "hunter2", "dbname": "d", "username": "u", "password": "p"}`,
		"empty host": `{"port": 5432, "dbname": "d", "username": "u", "password": "hunter2"}`,
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

func TestDatabaseSecretAcceptsQuotedPort(t *testing.T) {
	s := decodeDB(t, `{"host":"h","port":"5433","dbname":"d","username":"u","password":"p"}`)
	assert.Equal(t, 5433, s.Port)
	s = decodeDB(t, `{"host":"h","port":5432,"dbname":"d","username":"u","password":"p"}`)
	assert.Equal(t, 5432, s.Port)
	assert.Equal(t, "h", s.Host)
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
	assert.Empty(t, fx.server.connStrings)
	assert.True(t, strings.Contains(err.Error(), masterSecretID))
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
