package rotation

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/stretchr/testify/require"

	"github.com/taskmanager/taskmanager-infra/internal/testserver"
)

// pg is the package's PostgreSQL 16, started once for all its tests (TestMain) and set up as RDS
// sets up an instance (emulateRDS); pgErr says why it is missing, for testserver.Require.
var (
	pg    *testserver.Postgres
	pgErr error
)

// The master user and the database, as RDS creates them.
const (
	masterUser = "taskmanager_admin"
	masterPW   = "master-S3cret!"
	testDB     = "taskmanager"
)

// byHandRole is a role a person made, outside the function's role model.
const byHandRole = "taskmanager_someone"

// rolesUnderTest are dropped before each test: every role a test may create.
var rolesUnderTest = []string{AppUser, AppCloneUser, MigrationsUser, OwnerRole, RuntimeRole, byHandRole}

func TestMain(m *testing.M) {
	pg, pgErr = testserver.StartPostgres()
	if pgErr == nil {
		if err := emulateRDS(); err != nil {
			pgErr = fmt.Errorf("set PostgreSQL up as RDS does: %w", err)
		}
	}
	code := m.Run()
	pg.Stop()
	os.Exit(code)
}

// emulateRDS creates the master user as RDS does: not a superuser (RDS never gives one), but
// CREATEROLE and CREATEDB, a member of rds_superuser (which holds some predefined roles), and the
// owner of the initial database, and so of its schema public (pg_database_owner).
func emulateRDS() error {
	ctx := context.Background()
	conn, err := pgx.ConnectConfig(ctx, pg.SuperuserConfig("postgres"))
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	for _, sql := range []string{
		"CREATE ROLE rds_superuser NOLOGIN",
		"GRANT pg_monitor, pg_signal_backend, pg_checkpoint TO rds_superuser WITH ADMIN OPTION",
		"CREATE ROLE " + masterUser + " LOGIN CREATEROLE CREATEDB PASSWORD " + quoteLiteral(masterPW),
		"GRANT rds_superuser TO " + masterUser,
		"CREATE DATABASE " + testDB + " OWNER " + masterUser,
	} {
		if _, err := conn.Exec(ctx, sql); err != nil {
			return fmt.Errorf("%s: %w", sql, err)
		}
	}
	return nil
}

// pgServer is the server as one test sees it: the rotator's connector (which records each
// session's configuration and statements), and the superuser's view of roles and logins.
type pgServer struct {
	t          *testing.T
	host       string
	port       int
	dbname     string
	masterUser string
	masterPW   string
	super      *pgx.Conn // the superuser on testDB, over the Unix socket

	configs []*pgx.ConnConfig // every session the rotator asked for, in order
	execs   []string          // every statement the rotator ran, in order
	open    int               // the rotator's sessions not yet closed
}

// newPGServer gives a test the server with the database as RDS leaves it: no role of the app,
// schema public empty.
func newPGServer(t *testing.T) *pgServer {
	t.Helper()
	testserver.Require(t, pgErr)
	ctx := context.Background()
	super, err := pgx.ConnectConfig(ctx, pg.SuperuserConfig(testDB))
	require.NoError(t, err)
	t.Cleanup(func() { _ = super.Close(ctx) })
	s := &pgServer{t: t, host: pg.Host, port: pg.Port, dbname: testDB, masterUser: masterUser, masterPW: masterPW, super: super}
	var existing []string
	for _, role := range rolesUnderTest {
		if s.roleExists(role) {
			existing = append(existing, pgx.Identifier{role}.Sanitize())
		}
	}
	stmts := []string{
		// Schema public as PostgreSQL 15 and later create it: the database owner's, USAGE for all.
		"DROP SCHEMA public CASCADE",
		"CREATE SCHEMA public AUTHORIZATION pg_database_owner",
		"GRANT USAGE ON SCHEMA public TO PUBLIC",
	}
	if len(existing) > 0 {
		// One role at a time: DROP OWNED BY of two roles that share a default ACL entry (the owner
		// role's, granting to the runtime role) fails with "could not find tuple for default ACL".
		var drops []string
		for _, role := range existing {
			drops = append(drops, "DROP OWNED BY "+role)
		}
		stmts = append(drops, append(stmts, "DROP ROLE "+strings.Join(existing, ", "))...)
	}
	s.asSuperuser(stmts...)
	return s
}

// connect is the rotator's Connect: it refuses a configuration that is not verify-full against
// the RDS bundle and DB_HOST, then connects with exactly that configuration but the test CA in
// place of the RDS bundle (the server's certificate is the test CA's, for "localhost").
func (s *pgServer) connect(ctx context.Context, cfg *pgx.ConnConfig) (DB, error) {
	s.configs = append(s.configs, cfg)
	if err := checkVerifyFull(cfg); err != nil {
		return nil, err
	}
	conn, err := pgx.ConnectConfig(ctx, withTestCA(cfg))
	if err != nil {
		return nil, err
	}
	s.open++
	return &recordingConn{Conn: conn, s: s}, nil
}

func withTestCA(cfg *pgx.ConnConfig) *pgx.ConnConfig {
	c := cfg.Copy()
	c.TLSConfig = cfg.TLSConfig.Clone()
	c.TLSConfig.RootCAs = pg.CA.Pool
	return c
}

// recordingConn is a real session that records the statements run on it.
type recordingConn struct {
	*pgx.Conn
	s      *pgServer
	closed bool
}

func (c *recordingConn) Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error) {
	c.s.execs = append(c.s.execs, sql)
	return c.Conn.Exec(ctx, sql, args...)
}

func (c *recordingConn) Close(ctx context.Context) error {
	if !c.closed {
		c.closed = true
		c.s.open--
	}
	return c.Conn.Close(ctx)
}

// login opens a session as user over TLS, verified against the test CA, as the app would.
func (s *pgServer) login(user, password string) (*pgx.Conn, error) {
	cfg, err := pgx.ParseConfig(fmt.Sprintf("host=%s port=%d dbname=%s sslmode=verify-full", s.host, s.port, s.dbname))
	require.NoError(s.t, err)
	cfg.User, cfg.Password = user, password
	cfg.TLSConfig = &tls.Config{RootCAs: pg.CA.Pool, ServerName: s.host, MinVersion: tls.VersionTLS12}
	return pgx.ConnectConfig(context.Background(), cfg)
}

// mustLogin is login that fails the test when PostgreSQL refuses it.
func (s *pgServer) mustLogin(user, password string) *pgx.Conn {
	s.t.Helper()
	conn, err := s.login(user, password)
	require.NoError(s.t, err, "log in as %s", user)
	s.t.Cleanup(func() { _ = conn.Close(context.Background()) })
	return conn
}

// accepts reports whether PostgreSQL lets user log in with password. Any other failure than a
// refused login fails the test.
func (s *pgServer) accepts(user, password string) bool {
	s.t.Helper()
	conn, err := s.login(user, password)
	if err == nil {
		require.NoError(s.t, conn.Close(context.Background()))
		return true
	}
	var pgErr *pgconn.PgError
	require.True(s.t, errors.As(err, &pgErr), "log in as %s: %v", user, err)
	require.Contains(s.t, []string{"28P01", "28000"}, pgErr.Code, "log in as %s: %v", user, err)
	return false
}

// asMaster runs statements as the master user, as a person at the bastion would.
func (s *pgServer) asMaster(stmts ...string) {
	s.t.Helper()
	conn := s.mustLogin(s.masterUser, s.masterPW)
	for _, sql := range stmts {
		_, err := conn.Exec(context.Background(), sql)
		require.NoError(s.t, err, sql)
	}
	require.NoError(s.t, conn.Close(context.Background()))
}

func (s *pgServer) asSuperuser(stmts ...string) {
	s.t.Helper()
	for _, sql := range stmts {
		_, err := s.super.Exec(context.Background(), sql)
		require.NoError(s.t, err, sql)
	}
}

// query returns the single value of a query the superuser runs.
func query[T any](s *pgServer, sql string, args ...any) T {
	s.t.Helper()
	var v T
	require.NoError(s.t, s.super.QueryRow(context.Background(), sql, args...).Scan(&v), sql)
	return v
}

func (s *pgServer) roleExists(role string) bool {
	return query[bool](s, "SELECT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = $1)", role)
}

// memberOf lists the roles user is a direct member of, sorted.
func (s *pgServer) memberOf(user string) []string {
	return query[[]string](s, `SELECT coalesce(array_agg(DISTINCT r.rolname::text ORDER BY r.rolname::text), '{}')
FROM pg_auth_members m JOIN pg_roles r ON r.oid = m.roleid JOIN pg_roles u ON u.oid = m.member WHERE u.rolname = $1`, user)
}

// hasRole is pg_has_role(user, role, privilege): MEMBER, USAGE (inherits its privileges) or SET.
func (s *pgServer) hasRole(user, role, privilege string) bool {
	return query[bool](s, "SELECT pg_has_role($1, $2, $3)", user, role, privilege)
}

// defaultRole is the role user's sessions act as from login (ALTER ROLE ... SET role), "" for none.
func (s *pgServer) defaultRole(user string) string {
	return query[string](s, `SELECT coalesce((SELECT substr(c, 6) FROM pg_db_role_setting d JOIN pg_roles u ON u.oid = d.setrole
CROSS JOIN unnest(d.setconfig) c WHERE u.rolname = $1 AND d.setdatabase = 0 AND c LIKE 'role=%'), '')`, user)
}

// tableOwner is the owner of public.table.
func (s *pgServer) tableOwner(table string) string {
	return query[string](s, "SELECT tableowner::text FROM pg_tables WHERE schemaname = 'public' AND tablename = $1", table)
}

// state is what the role setup may change, as text: the app's roles and their attributes,
// memberships with their options and grantors, role settings, and the privileges on the
// database, the schema, its objects and the default privileges. Passwords are left out (their
// verifiers have a random salt); accepts checks them.
func (s *pgServer) state() string {
	return query[string](s, `SELECT concat_ws(E'\n',
 (SELECT string_agg(format('role %s login=%s inherit=%s createrole=%s', rolname, rolcanlogin, rolinherit, rolcreaterole), E'\n' ORDER BY rolname) FROM pg_roles WHERE rolname LIKE 'taskmanager%'),
 (SELECT string_agg(format('member %s in %s admin=%s inherit=%s set=%s by %s', u.rolname, r.rolname, m.admin_option, m.inherit_option, m.set_option, g.rolname), E'\n' ORDER BY u.rolname, r.rolname, g.rolname)
    FROM pg_auth_members m JOIN pg_roles r ON r.oid = m.roleid JOIN pg_roles u ON u.oid = m.member JOIN pg_roles g ON g.oid = m.grantor),
 (SELECT string_agg(format('settings %s %s', setrole::regrole, setconfig), E'\n' ORDER BY setrole::regrole::text) FROM pg_db_role_setting),
 (SELECT format('database %s', datacl) FROM pg_database WHERE datname = current_database()),
 (SELECT format('schema %s', nspacl) FROM pg_namespace WHERE nspname = 'public'),
 (SELECT string_agg(format('relation %s %s', relname, relacl), E'\n' ORDER BY relname) FROM pg_class WHERE relnamespace = 'public'::regnamespace),
 (SELECT string_agg(format('default %s %s %s', defaclrole::regrole, defaclobjtype, defaclacl), E'\n' ORDER BY defaclrole::regrole::text, defaclobjtype) FROM pg_default_acl))`)
}
