package rotation

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// envTestPostgres names a throwaway PostgreSQL database, as a URL of a CREATEROLE user that owns
// it and is not a superuser (like the RDS master user), with TLS: for example
// postgresql://taskmanager_admin:pw@127.0.0.1:5432/taskmanager?sslmode=require. The server
// must not have the app's roles (taskmanager_app, taskmanager_app_clone, taskmanager_migrations,
// taskmanager_app_owner, taskmanager_app_runtime): the test creates them and drops them at the
// end. Without the variable the test is skipped; the other tests use fakes.
const envTestPostgres = "ROTATION_TEST_POSTGRES_URL"

// TestRotationAgainstPostgres checks what the fakes cannot: the SQL is accepted by a real server
// as a non-superuser master user; a database in the old model (app login acting as the owner
// role) ends up in the new one; the migration login creates objects owned by the owner role;
// the app logins read and write them and use their sequences but cannot create, alter or drop
// anything; the SCRAM verifiers log in; and the old user keeps working after a rotation.
//
// The server's certificate is not RDS's: the connector checks that the rotator asked for
// verify-full against the RDS bundle, then connects with the TLS settings of the URL instead.
func TestRotationAgainstPostgres(t *testing.T) {
	raw := os.Getenv(envTestPostgres)
	if raw == "" {
		t.Skip(envTestPostgres + " is not set")
	}
	ctx := context.Background()
	server, err := pgx.ParseConfig(raw)
	require.NoError(t, err)
	master, err := pgx.ConnectConfig(ctx, server)
	require.NoError(t, err)
	appRoles := []string{AppUser, AppCloneUser, MigrationsUser, RuntimeRole, OwnerRole}
	for _, role := range appRoles {
		var exists bool
		require.NoError(t, master.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = $1)", role).Scan(&exists))
		require.False(t, exists, "role %s exists on the server of %s: the test needs one without the app's roles", role, envTestPostgres)
	}
	t.Cleanup(func() {
		for _, role := range appRoles {
			ident := pgx.Identifier{role}.Sanitize()
			// DROP OWNED needs membership in the role, which CREATEROLE alone does not give.
			_, _ = master.Exec(ctx, "GRANT "+ident+" TO CURRENT_USER")
			_, _ = master.Exec(ctx, "DROP OWNED BY "+ident)
		}
		for _, role := range appRoles {
			if _, err := master.Exec(ctx, "DROP ROLE IF EXISTS "+pgx.Identifier{role}.Sanitize()); err != nil {
				t.Errorf("drop role %s: %v", role, err)
			}
		}
		_ = master.Close(ctx)
	})

	// The database as the code before the security review left it: the app login is a member
	// of the owner role and acts as it, and created a table that the owner role owns.
	for _, sql := range []string{
		`CREATE ROLE "taskmanager_app_owner" NOLOGIN`,
		`CREATE ROLE "taskmanager_app" WITH LOGIN PASSWORD 'Initial-PW-1'`,
		`GRANT "taskmanager_app_owner" TO "taskmanager_app"`,
		`GRANT USAGE, CREATE ON SCHEMA public TO "taskmanager_app_owner"`,
		`ALTER ROLE "taskmanager_app" SET role TO "taskmanager_app_owner"`,
	} {
		_, err := master.Exec(ctx, sql)
		require.NoError(t, err, sql)
	}

	sm := newFakeSM()
	port := int(server.Port)
	sm.addSecret(dbSecretID, true, mustJSON(t, loginSecret(server.Host, AppUser, "Initial-PW-1")))
	sm.addSecret(migrationsSecretID, false, mustJSON(t, loginSecret(server.Host, MigrationsUser, "Migrations-PW-1")))
	sm.addSecret(masterSecretID, false, mustJSON(t, map[string]string{"username": server.User, "password": server.Password}))
	sm.passwords = []string{"Pw1!#$%^&*()-_=+[]{}<>:?x", "Pw2-plain", "Pw3~;,."}
	r := &Rotator{
		Secrets: sm,
		Config: Config{Kind: KindDatabase, SecretARN: dbSecretID, MasterSecretARN: masterSecretID, MigrationsSecretARN: migrationsSecretID,
			DBHost: server.Host, DBPort: port, DBName: server.Database},
		Log: slog.New(slog.NewTextHandler(io.Discard, nil)),
	}
	r.Connect = func(ctx context.Context, cfg *pgx.ConnConfig) (DB, error) {
		if err := checkVerifyFull(cfg); err != nil {
			return nil, err
		}
		c := cfg.Copy()
		c.TLSConfig, c.Fallbacks = server.TLSConfig, nil
		conn, err := pgx.ConnectConfig(ctx, c)
		if err != nil {
			return nil, err
		}
		return conn, nil
	}
	session := func(user, password string) *pgx.Conn {
		t.Helper()
		db, err := r.connect(ctx, user, password)
		require.NoError(t, err, "login as %s", user)
		return db.(*pgx.Conn)
	}
	// run executes sql as user; a query's single value is returned.
	run := func(user, password, sql string) (string, error) {
		t.Helper()
		conn := session(user, password)
		defer conn.Close(ctx)
		var out string
		rows, err := conn.Query(ctx, sql)
		if err != nil {
			return "", err
		}
		defer rows.Close()
		if rows.Next() && len(rows.FieldDescriptions()) == 1 {
			if err := rows.Scan(&out); err != nil {
				return "", err
			}
		}
		rows.Close()
		return out, rows.Err()
	}
	must := func(user, password, sql string) string {
		t.Helper()
		out, err := run(user, password, sql)
		require.NoError(t, err, "%s: %s", user, sql)
		return out
	}
	denied := func(user, password, sql string) {
		t.Helper()
		_, err := run(user, password, sql)
		var pgErr *pgconn.PgError
		require.True(t, errors.As(err, &pgErr), "%s: %s: want a permission error, got %v", user, sql, err)
		assert.Equal(t, "42501", pgErr.Code, "%s: %s: %s", user, sql, pgErr.Message)
	}
	isMember := func(user, role string) bool {
		t.Helper()
		var member bool
		require.NoError(t, master.QueryRow(ctx, "SELECT pg_has_role($1, $2, 'MEMBER')", user, role).Scan(&member))
		return member
	}
	owner := func(table string) string {
		t.Helper()
		var o string
		require.NoError(t, master.QueryRow(ctx, "SELECT tableowner::text FROM pg_tables WHERE schemaname = 'public' AND tablename = $1", table).Scan(&o))
		return o
	}

	must(AppUser, "Initial-PW-1", "CREATE TABLE legacy_items (id serial PRIMARY KEY, n int)")
	must(AppUser, "Initial-PW-1", "INSERT INTO legacy_items (n) VALUES (0)")
	require.Equal(t, OwnerRole, owner("legacy_items"))

	// The first deploy after the change: the bootstrap moves the database to the new model.
	require.NoError(t, invoke(r, bootstrapPayload))
	require.NoError(t, invoke(r, bootstrapPayload), "the bootstrap can run again")
	assert.False(t, isMember(AppUser, OwnerRole), "the app login no longer acts as the owner")
	assert.True(t, isMember(AppUser, RuntimeRole))
	assert.True(t, isMember(MigrationsUser, OwnerRole))
	assert.Equal(t, AppUser, must(AppUser, "Initial-PW-1", "SELECT current_user::text"), "no SET role for the app login")
	assert.Equal(t, OwnerRole, must(MigrationsUser, "Migrations-PW-1", "SELECT current_user::text"), "migrations act as the owner role")

	// Migrations create tables and sequences owned by the owner role.
	must(MigrationsUser, "Migrations-PW-1", "CREATE TABLE items (id bigserial PRIMARY KEY, n int)")
	assert.Equal(t, OwnerRole, owner("items"))

	// The app reads and writes data, old tables and new, and uses their sequences...
	app := map[string]string{AppUser: "Initial-PW-1"}
	checkRuntime := func(user string, n int) {
		t.Helper()
		pw := app[user]
		must(user, pw, "INSERT INTO items (n) VALUES (1)")
		must(user, pw, "INSERT INTO legacy_items (n) VALUES (1)")
		must(user, pw, "UPDATE items SET n = n + 1")
		assert.NotEmpty(t, must(user, pw, "SELECT count(*)::text FROM items"))
		must(user, pw, "DELETE FROM legacy_items WHERE n = 1")
		// ...but neither creates, alters, truncates nor drops anything.
		denied(user, pw, "CREATE TABLE app_made (n int)")
		denied(user, pw, "ALTER TABLE items ADD COLUMN x int")
		denied(user, pw, "TRUNCATE items")
		denied(user, pw, "DROP TABLE legacy_items")
		denied(user, pw, "SET ROLE taskmanager_app_owner")
		assert.False(t, isMember(user, OwnerRole), "%s (check %d)", user, n)
	}
	checkRuntime(AppUser, 0)

	previous := AppUser
	for i := range 3 {
		rotate(t, sm, r, dbSecretID)
		cur := decodeDB(t, sm.valueOf(t, dbSecretID, StageCurrent))
		require.Equal(t, []string{AppCloneUser, AppUser, AppCloneUser}[i], cur.Username)
		app[cur.Username] = cur.Password
		checkRuntime(cur.Username, i+1)
		assert.Equal(t, "ok", must(previous, app[previous], "SELECT 'ok'"), "the previous user still logs in")
		must(previous, app[previous], "INSERT INTO items (n) VALUES (9)")
		// A table the migrations add later is usable at once, through default privileges.
		table := pgx.Identifier{[]string{"later_a", "later_b", "later_c"}[i]}.Sanitize()
		must(MigrationsUser, "Migrations-PW-1", "CREATE TABLE "+table+" (id serial PRIMARY KEY)")
		must(cur.Username, cur.Password, "INSERT INTO "+table+" DEFAULT VALUES")
		previous = cur.Username
	}

	// PUBLIC may not create in public (PostgreSQL before 15 allows it by default).
	var publicCreate bool
	require.NoError(t, master.QueryRow(ctx, "SELECT has_schema_privilege('public', 'public', 'CREATE')").Scan(&publicCreate))
	assert.False(t, publicCreate)
}
