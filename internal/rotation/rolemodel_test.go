package rotation

import (
	"context"
	"errors"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// run executes sql in a new session as user and returns the first column of its first row, if
// any, as text.
func (s *pgServer) run(user, password, sql string) (string, error) {
	conn, err := s.login(user, password)
	if err != nil {
		return "", err
	}
	defer conn.Close(context.Background())
	rows, err := conn.Query(context.Background(), sql)
	if err != nil {
		return "", err
	}
	defer rows.Close()
	var out string
	if rows.Next() && len(rows.FieldDescriptions()) == 1 {
		if err := rows.Scan(&out); err != nil {
			return "", err
		}
	}
	rows.Close()
	return out, rows.Err()
}

func (s *pgServer) must(user, password, sql string) string {
	s.t.Helper()
	out, err := s.run(user, password, sql)
	require.NoError(s.t, err, "%s: %s", user, sql)
	return out
}

// denied checks that PostgreSQL refuses sql to user for want of privilege (42501).
func (s *pgServer) denied(user, password, sql string) {
	s.t.Helper()
	_, err := s.run(user, password, sql)
	var pgErr *pgconn.PgError
	require.True(s.t, errors.As(err, &pgErr), "%s: %s: want a permission error, got %v", user, sql, err)
	assert.Equal(s.t, "42501", pgErr.Code, "%s: %s: %s", user, sql, pgErr.Message)
}

// The role model as the app and its migrations use it, from a database in the model before the
// security review (the app login acting as the owner role, a table made that way): after the
// bootstrap the migration login creates and alters tables, owned by the owner role; the app
// logins read and write them and use their sequences, old tables and new, but create, alter,
// truncate and drop nothing; and after each rotation a table the migrations add is usable at
// once, through the default privileges.
func TestRoleModelOnPostgres(t *testing.T) {
	fx := newDBFixture(t)
	fx.oldModel()
	s := fx.server
	s.must(AppUser, initialDBPW, "CREATE TABLE legacy_items (id serial PRIMARY KEY, n int)")
	s.must(AppUser, initialDBPW, "INSERT INTO legacy_items (n) VALUES (0)")
	require.Equal(t, OwnerRole, s.tableOwner("legacy_items"))

	require.NoError(t, invoke(fx.rotator, bootstrapPayload))
	assert.Equal(t, AppUser, s.must(AppUser, initialDBPW, "SELECT current_user::text"), "no SET role for the app login")
	assert.Equal(t, OwnerRole, s.must(MigrationsUser, migrationsPW, "SELECT current_user::text"), "migrations act as the owner role")

	s.must(MigrationsUser, migrationsPW, "CREATE TABLE items (id bigserial PRIMARY KEY, n int)")
	s.must(MigrationsUser, migrationsPW, "ALTER TABLE items ADD COLUMN note text")
	s.must(MigrationsUser, migrationsPW, "CREATE INDEX items_n ON items (n)")
	assert.Equal(t, OwnerRole, s.tableOwner("items"))

	passwords := map[string]string{AppUser: initialDBPW}
	checkRuntime := func(user string) {
		t.Helper()
		pw := passwords[user]
		s.must(user, pw, "INSERT INTO items (n, note) VALUES (1, 'x')")
		s.must(user, pw, "INSERT INTO legacy_items (n) VALUES (1)")
		s.must(user, pw, "UPDATE items SET n = n + 1")
		assert.NotEqual(t, "0", s.must(user, pw, "SELECT count(*)::text FROM items"))
		s.must(user, pw, "DELETE FROM legacy_items WHERE n = 1")
		s.denied(user, pw, "CREATE TABLE app_made (n int)")
		s.denied(user, pw, "ALTER TABLE items ADD COLUMN x int")
		s.denied(user, pw, "CREATE INDEX items_note ON items (note)")
		s.denied(user, pw, "TRUNCATE items")
		s.denied(user, pw, "DROP TABLE legacy_items")
		s.denied(user, pw, "SET ROLE taskmanager_app_owner")
		assert.False(t, s.hasRole(user, OwnerRole, "MEMBER"), user)
	}
	checkRuntime(AppUser)

	previous := AppUser
	for i, table := range []string{"later_a", "later_b"} {
		rotate(t, fx.sm, fx.rotator, dbSecretID)
		cur := decodeDB(t, fx.sm.valueOf(t, dbSecretID, StageCurrent))
		require.Equal(t, []string{AppCloneUser, AppUser}[i], cur.Username)
		passwords[cur.Username] = cur.Password
		checkRuntime(cur.Username)
		s.must(previous, passwords[previous], "INSERT INTO items (n) VALUES (9)")
		ident := pgx.Identifier{table}.Sanitize()
		s.must(MigrationsUser, migrationsPW, "CREATE TABLE "+ident+" (id serial PRIMARY KEY)")
		s.must(cur.Username, cur.Password, "INSERT INTO "+ident+" DEFAULT VALUES")
		previous = cur.Username
	}

	assert.False(t, query[bool](s, "SELECT has_schema_privilege('public', 'public', 'CREATE')"), "PUBLIC may not create in public")
}

// A table in public that the owner role does not own (one a person made as the master user
// through the bastion, or an extension's) stops neither a bootstrap nor a rotation: GRANT ... ON
// ALL TABLES IN SCHEMA public would fail on it with 42501, as the owner role may not grant on
// it. The runtime role gets nothing on it, and a warning names it and the fix.
func TestObjectsOfOtherOwnersInPublic(t *testing.T) {
	fx := newEmptyDBFixture(t)
	s := fx.server
	require.NoError(t, invoke(fx.rotator, bootstrapPayload))
	s.asMaster("CREATE TABLE public.by_hand (id serial PRIMARY KEY)")
	s.must(MigrationsUser, migrationsPW, "CREATE TABLE items (id bigserial PRIMARY KEY)")

	require.NoError(t, invoke(fx.rotator, bootstrapPayload))
	fx.sm.passwords = []string{"After-By-Hand-1"}
	rotate(t, fx.sm, fx.rotator, dbSecretID)

	s.must(AppCloneUser, "After-By-Hand-1", "INSERT INTO items DEFAULT VALUES")
	s.denied(AppCloneUser, "After-By-Hand-1", "SELECT * FROM by_hand")
	logs := fx.logs.String()
	assert.Contains(t, logs, `level=WARN msg="not granted to the runtime role: owned by another role"`)
	assert.Contains(t, logs, `object=public.by_hand object_kind=table owner=taskmanager_admin fix="if the app needs it: ALTER TABLE \"public\".\"by_hand\" OWNER TO \"taskmanager_app_owner\", then rotate or bootstrap again"`)
	assert.Contains(t, logs, "object=public.by_hand_id_seq object_kind=sequence owner=taskmanager_admin")
}
