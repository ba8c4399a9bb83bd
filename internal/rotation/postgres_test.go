package rotation

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// envTestPostgres names a throwaway PostgreSQL database, as a URL of a CREATEROLE user that owns
// it (like the RDS master user), with TLS: for example
// postgresql://taskmanager_admin:pw@127.0.0.1:5432/taskmanager?sslmode=require. Without it the
// test is skipped; the other tests use fakes.
const envTestPostgres = "ROTATION_TEST_POSTGRES_URL"

func pgxConnect(ctx context.Context, connString string) (DB, error) {
	conn, err := pgx.Connect(ctx, connString)
	if err != nil {
		return nil, err
	}
	return conn, nil
}

// TestRotationAgainstPostgres runs three database rotations against a real server and checks what
// the fakes cannot: the SQL is accepted, the SCRAM verifier logs in, both alternating users act
// as the group role and share its tables, and the old user keeps working after a rotation.
func TestRotationAgainstPostgres(t *testing.T) {
	raw := os.Getenv(envTestPostgres)
	if raw == "" {
		t.Skip(envTestPostgres + " is not set")
	}
	ctx := context.Background()
	u, err := url.Parse(raw)
	require.NoError(t, err)
	port, err := strconv.Atoi(u.Port())
	require.NoError(t, err)
	masterPW, _ := u.User.Password()
	base := fmt.Sprintf("rot_it_%d", time.Now().UnixNano()%1_000_000_000)

	sm := newFakeSM()
	initial := DatabaseSecret{Engine: "postgres", Host: u.Hostname(), Port: port, DBName: u.Path[1:], Username: base, Password: "unused-initial"}
	initial.URL = DatabaseURL(initial)
	sm.addSecret(dbSecretID, true, mustJSON(t, initial))
	sm.addSecret(masterSecretID, false, mustJSON(t, map[string]string{"username": u.User.Username(), "password": masterPW}))
	sm.passwords = []string{"Pw1!#$%^&*()-_=+[]{}<>:?x", "Pw2-plain", "Pw3~;,."}
	r := &Rotator{Secrets: sm, Connect: pgxConnect, Config: Config{Kind: KindDatabase, MasterSecretARN: masterSecretID},
		Log: slog.New(slog.NewTextHandler(io.Discard, nil))}

	t.Cleanup(func() {
		master, err := pgx.Connect(ctx, raw)
		if err != nil {
			return
		}
		defer master.Close(ctx)
		for _, role := range []string{base + cloneSuffix, base} {
			ident := pgx.Identifier{role}.Sanitize()
			// DROP OWNED needs membership in the role, which CREATEROLE alone does not give.
			_, _ = master.Exec(ctx, "GRANT "+ident+" TO CURRENT_USER")
			_, _ = master.Exec(ctx, "DROP OWNED BY "+ident)
			_, _ = master.Exec(ctx, "DROP ROLE IF EXISTS "+ident)
		}
	})

	execAs := func(s DatabaseSecret, sql string) {
		t.Helper()
		conn, err := pgx.Connect(ctx, s.URL)
		require.NoError(t, err, "login as %s", s.Username)
		defer conn.Close(ctx)
		_, err = conn.Exec(ctx, sql)
		require.NoError(t, err, sql)
	}
	asUser := func(s DatabaseSecret, sql string) string {
		t.Helper()
		conn, err := pgx.Connect(ctx, s.URL)
		require.NoError(t, err, "login as %s", s.Username)
		defer conn.Close(ctx)
		var out string
		require.NoError(t, conn.QueryRow(ctx, sql).Scan(&out), sql)
		return out
	}

	table := pgx.Identifier{base + "_items"}.Sanitize()
	var previous DatabaseSecret
	for i := range 3 {
		rotate(t, sm, r, dbSecretID)
		cur := decodeDB(t, sm.valueOf(t, dbSecretID, StageCurrent))
		require.Equal(t, []string{base + cloneSuffix, base, base + cloneSuffix}[i], cur.Username)

		assert.Equal(t, base, asUser(cur, "SELECT current_user::text"), "sessions act as the group role")
		switch i {
		case 0:
			execAs(cur, "CREATE TABLE "+table+" (n int)")
			execAs(cur, "INSERT INTO "+table+" VALUES (1)")
		default:
			assert.Equal(t, strconv.Itoa(i), asUser(cur, "SELECT max(n)::text FROM "+table), "the other user's table is shared")
			execAs(cur, fmt.Sprintf("INSERT INTO %s VALUES (%d)", table, i+1))
			assert.Equal(t, "ok", asUser(previous, "SELECT 'ok'"), "the previous user still logs in")
		}
		assert.Equal(t, base, asUser(cur, "SELECT tableowner::text FROM pg_tables WHERE tablename = '"+base+"_items'"))
		previous = cur
	}
}
