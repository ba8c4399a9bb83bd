// Package sanitize_test runs the staging data refresh's fixed SQL (staging.sql, then
// staging-verify.sql) on a real PostgreSQL 16 with a schema shaped like the app's: every address
// ends in the sandbox domain, no password, token, phone or person's name survives, and the
// verification, which returns rows before, returns none after (issue 18, item 3).
package sanitize_test

import (
	"context"
	"os"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/taskmanager/taskmanager-infra/internal/testserver"
)

var (
	pg    *testserver.Postgres
	pgErr error
)

func TestMain(m *testing.M) {
	pg, pgErr = testserver.StartPostgres()
	code := m.Run()
	pg.Stop()
	os.Exit(code)
}

const schema = `
CREATE SCHEMA app;
CREATE EXTENSION IF NOT EXISTS citext;
CREATE TABLE app.users (id serial PRIMARY KEY, email citext NOT NULL UNIQUE, password_hash text NOT NULL,
	first_name varchar(50), last_name varchar(50), phone_number text, mfa_secret text, notes text);
CREATE TABLE app.sessions (id serial PRIMARY KEY, user_id int, refresh_token text NOT NULL, ip_address text, user_agent text);
CREATE TABLE app.tasks (id serial PRIMARY KEY, title text NOT NULL, assignee_email varchar(100));
CREATE TABLE public.invitations (id serial PRIMARY KEY, "Email" text);
INSERT INTO app.users (email, password_hash, first_name, last_name, phone_number, mfa_secret, notes) VALUES
	('alice@real-customer.com', '$2b$12$abcdefghijklmnopqrstuv', 'Alice', 'Doe', '+15551234567', 'JBSWY3DPEHPK3PXP', 'vip'),
	('bob@real-customer.com', '$2b$12$bcdefghijklmnopqrstuvw', 'Bob', NULL, NULL, NULL, NULL);
INSERT INTO app.sessions (user_id, refresh_token, ip_address, user_agent) VALUES (1, 'rt-1', '198.51.100.7', 'Mozilla');
INSERT INTO app.tasks (title, assignee_email) VALUES ('Ship it', 'alice@real-customer.com'), ('Nobody', NULL);
INSERT INTO public.invitations ("Email") VALUES ('carol@real-customer.com');
`

func run(t *testing.T, conn *pgx.Conn, file string) [][]string {
	t.Helper()
	b, err := os.ReadFile(file)
	require.NoError(t, err)
	results, err := conn.PgConn().Exec(context.Background(), string(b)).ReadAll()
	require.NoError(t, err, file)
	var rows [][]string
	last := results[len(results)-1]
	for _, r := range last.Rows {
		var row []string
		for _, v := range r {
			row = append(row, string(v))
		}
		rows = append(rows, row)
	}
	return rows
}

func TestSanitizationLeavesNoRealAddress(t *testing.T) {
	testserver.Require(t, pgErr)
	ctx := context.Background()
	conn, err := pgx.ConnectConfig(ctx, pg.SuperuserConfig("postgres"))
	require.NoError(t, err)
	defer conn.Close(ctx)
	_, err = conn.Exec(ctx, "DROP DATABASE IF EXISTS sanitize")
	require.NoError(t, err)
	_, err = conn.Exec(ctx, "CREATE DATABASE sanitize")
	require.NoError(t, err)
	cfg := pg.SuperuserConfig("sanitize")
	db, err := pgx.ConnectConfig(ctx, cfg)
	require.NoError(t, err)
	defer db.Close(ctx)
	_, err = db.PgConn().Exec(ctx, schema).ReadAll()
	require.NoError(t, err)

	before := run(t, db, "staging-verify.sql")
	assert.Contains(t, before, []string{"app.users", "email", "2"})
	assert.Contains(t, before, []string{"app.tasks", "assignee_email", "1"})
	assert.Contains(t, before, []string{"public.invitations", "Email", "1"})
	assert.Contains(t, before, []string{"app.sessions", "refresh_token", "1"})
	for _, row := range before {
		assert.NotContains(t, strings.Join(row, " "), "real-customer", "the verification prints no value")
	}

	// Twice: a second run must work too (the refresh may be repeated on a copy).
	run(t, db, "staging.sql")
	run(t, db, "staging.sql")
	assert.Empty(t, run(t, db, "staging-verify.sql"), "the verification returns no rows after the sanitization")

	var n int
	require.NoError(t, db.QueryRow(ctx, `SELECT count(*) FROM app.users WHERE email::text LIKE '%@sandbox.invalid'`).Scan(&n))
	assert.Equal(t, 2, n)
	require.NoError(t, db.QueryRow(ctx, `SELECT count(DISTINCT email) FROM app.users`).Scan(&n))
	assert.Equal(t, 2, n, "addresses stay unique")
	var dump string
	require.NoError(t, db.QueryRow(ctx, `SELECT string_agg(t::text, ' ') FROM (
		SELECT row_to_json(u)::text AS t FROM app.users u UNION ALL SELECT row_to_json(s)::text FROM app.sessions s
		UNION ALL SELECT row_to_json(k)::text FROM app.tasks k UNION ALL SELECT row_to_json(i)::text FROM public.invitations i) x`).Scan(&dump))
	for _, leaked := range []string{"real-customer", "$2b$", "Alice", "Doe", "+1555", "JBSWY3", "rt-1", "198.51.100.7", "Mozilla"} {
		assert.NotContains(t, dump, leaked)
	}
	assert.Contains(t, dump, "Ship it", "what is not personal stays")
}
