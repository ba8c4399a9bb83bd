package rotation

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"slices"
	"strconv"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/jackc/pgx/v5"

	"github.com/taskmanager/taskmanager-infra/internal/dbtls"
)

// The database roles. The rotated secret may only name one of the two alternating app logins,
// and the migration secret only the migration login: whoever can write a secret must not be
// able to make the function set a password on, or grant roles to, any other role.
const (
	AppUser        = "taskmanager_app"         // first of the two alternating app logins
	AppCloneUser   = "taskmanager_app_clone"   // the other one
	MigrationsUser = "taskmanager_migrations"  // the migration task's login
	OwnerRole      = "taskmanager_app_owner"   // NOLOGIN; owns the schema's objects
	RuntimeRole    = "taskmanager_app_runtime" // NOLOGIN; reads and writes data, uses sequences
)

// cloneSuffix marks the second of the two alternating users.
const cloneSuffix = "_clone"

// dbPasswordLength and dbPasswordExclude shape the generated database password. RDS rejects
// '/', '"', '@' and spaces in passwords; the quote and backslash are excluded as well so the
// password is inert in SQL literals, URLs and shells.
const (
	dbPasswordLength  = 32
	dbPasswordExclude = "/@\"'\\ "
)

// DatabaseSecret is the JSON value of the database-url secret (and of the reader and migration
// secrets). URL is what ECS injects as DATABASE_URL, so it is always rebuilt from the other
// fields. The function reads only engine, username and password: host, port and dbname come
// from its own configuration (DB_HOST, DB_PORT, DB_NAME; READER_HOST for the reader secret),
// and are written from it.
type DatabaseSecret struct {
	Engine   string `json:"engine"`
	Host     string `json:"host"`
	Port     int    `json:"port"`
	DBName   string `json:"dbname"`
	Username string `json:"username"`
	Password string `json:"password"`
	URL      string `json:"url"`
}

// DatabaseURL is the PostgreSQL URL of the secret's fields, with the server verified (dbtls). User name,
// password and database name are percent-encoded except for RFC 3986 unreserved characters,
// which every URL parser in the app's stack (libpq, SQLAlchemy, asyncpg, pgx) decodes alike.
func DatabaseURL(s DatabaseSecret) string {
	return "postgresql://" + escapeURLPart(s.Username) + ":" + escapeURLPart(s.Password) +
		"@" + net.JoinHostPort(s.Host, strconv.Itoa(s.Port)) + "/" + escapeURLPart(s.DBName) +
		"?" + dbtls.Query
}

func escapeURLPart(s string) string {
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if isUnreserved(c) {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hex[c>>4])
		b.WriteByte(hex[c&0x0f])
	}
	return b.String()
}

func isUnreserved(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
		c == '-' || c == '.' || c == '_' || c == '~'
}

// AlternateUsername is the user the next rotation switches to: X becomes X_clone and X_clone
// becomes X.
func AlternateUsername(username string) string {
	if base, ok := strings.CutSuffix(username, cloneSuffix); ok {
		return base
	}
	return username + cloneSuffix
}

// storedLogin is what the function reads from a login secret. The host, port and dbname it
// may hold are not read at all, so a secret cannot steer any session.
type storedLogin struct {
	Engine   string `json:"engine"`
	Username string `json:"username"`
	Password string `json:"password"`
}

// login reads a login secret's version and checks its username against allowed before anything
// uses it. Errors name the secret, the version and the key, never the password.
func (r *Rotator) login(ctx context.Context, secretID, versionID, stage, what string, allowed ...string) (DatabaseSecret, error) {
	s, _, err := r.loginAndVersion(ctx, secretID, versionID, stage, what, allowed...)
	return s, err
}

// loginAndVersion is login, and the ID of the version read.
func (r *Rotator) loginAndVersion(ctx context.Context, secretID, versionID, stage, what string, allowed ...string) (DatabaseSecret, string, error) {
	raw, id, err := r.secretVersion(ctx, secretID, versionID, stage)
	if err != nil {
		return DatabaseSecret{}, "", err
	}
	var l storedLogin
	if err := decodeJSON(raw, secretID, what, &l); err != nil {
		return DatabaseSecret{}, "", err
	}
	var empty []string
	for _, f := range []struct{ key, value string }{{"username", l.Username}, {"password", l.Password}} {
		if f.value == "" {
			empty = append(empty, f.key)
		}
	}
	if len(empty) > 0 {
		return DatabaseSecret{}, "", fmt.Errorf("%s of secret %s has empty %s", what, secretID, strings.Join(empty, ", "))
	}
	if !slices.Contains(allowed, l.Username) {
		return DatabaseSecret{}, "", fmt.Errorf("%s of secret %s: key \"username\" is %q, which is not %s",
			what, secretID, l.Username, quotedList(allowed))
	}
	return r.onConfiguredDatabase(DatabaseSecret{Engine: l.Engine, Username: l.Username, Password: l.Password}, r.Config.AppHost), id, nil
}

// appLogin reads a version of the rotated secret, which may only name an alternating app login.
func (r *Rotator) appLogin(ctx context.Context, secretID, versionID, stage, what string) (DatabaseSecret, error) {
	return r.login(ctx, secretID, versionID, stage, what, AppUser, AppCloneUser)
}

// onConfiguredDatabase places the login on host (the primary, or the reader) and the configured
// port and database, and rebuilds the URL.
func (r *Rotator) onConfiguredDatabase(s DatabaseSecret, host string) DatabaseSecret {
	s.Host, s.Port, s.DBName = host, r.Config.DBPort, r.Config.DBName
	if s.Engine == "" {
		s.Engine = "postgres"
	}
	s.URL = DatabaseURL(s)
	return s
}

func quotedList(items []string) string {
	q := make([]string, len(items))
	for i, s := range items {
		q[i] = strconv.Quote(s)
	}
	if len(q) == 1 {
		return q[0]
	}
	return strings.Join(q[:len(q)-1], ", ") + " or " + q[len(q)-1]
}

func (r *Rotator) pendingDatabaseSecret(ctx context.Context, ev Event) (DatabaseSecret, error) {
	return r.appLogin(ctx, ev.SecretID, ev.ClientRequestToken, StagePending, "pending version")
}

func (r *Rotator) createDatabaseSecret(ctx context.Context, ev Event, log *slog.Logger) error {
	if done, err := r.stopIfPending(ctx, ev, log); done || err != nil {
		return err
	}
	current, err := r.appLogin(ctx, ev.SecretID, "", StageCurrent, "current version")
	if err != nil {
		return err
	}
	password, err := r.randomPassword(ctx, &secretsmanager.GetRandomPasswordInput{
		PasswordLength:    aws.Int64(dbPasswordLength),
		ExcludeCharacters: aws.String(dbPasswordExclude),
	})
	if err != nil {
		return err
	}
	pending := current
	pending.Username = AlternateUsername(current.Username)
	pending.Password = password
	pending = r.onConfiguredDatabase(pending, r.Config.AppHost)
	if err := r.putPending(ctx, ev, pending); err != nil {
		return err
	}
	log.Info("pending version created", "from_username", current.Username, "username", pending.Username)
	return nil
}

// masterCredentials reads the RDS-managed master secret, which holds only username and
// password; the host comes from the function's configuration.
func (r *Rotator) masterCredentials(ctx context.Context) (username, password string, err error) {
	if r.Config.MasterSecretARN == "" {
		return "", "", missing(EnvMasterSecretARN, "needed to connect as the master user")
	}
	raw, err := r.secretString(ctx, r.Config.MasterSecretARN, "", "")
	if err != nil {
		return "", "", err
	}
	var m struct {
		Username string `json:"username"`
		Password string `json:"password"`
	}
	if err := decodeJSON(raw, r.Config.MasterSecretARN, "current version", &m); err != nil {
		return "", "", err
	}
	if m.Username == "" || m.Password == "" {
		return "", "", fmt.Errorf("master secret %s has an empty username or password", r.Config.MasterSecretARN)
	}
	return m.Username, m.Password, nil
}

// setDatabaseSecret sets the pending login's password in PostgreSQL, then writes it to that
// login's secret for RDS Proxy (LOGIN_SECRET_ARNS), in that order: the proxy can only log in with
// a password PostgreSQL already has. The other login, which the running tasks use, keeps its
// password and its login secret.
func (r *Rotator) setDatabaseSecret(ctx context.Context, ev Event, log *slog.Logger) error {
	pending, err := r.pendingDatabaseSecret(ctx, ev)
	if err != nil {
		return err
	}
	if err := r.configureDatabase(ctx, pending, nil, log); err != nil {
		return err
	}
	return r.writeLoginSecret(ctx, pending, ev.ClientRequestToken, log)
}

// bootstrapDatabase creates the logins that the first values of the app's secret and of the
// migration secret name. Pulumi generates those values, and nothing else creates the users
// before the first rotation, so the program invokes this at deploy time before any task uses
// the secrets. It reads AWSCURRENT of both and writes no version or stage of them: run again, it
// only sets the same passwords once more. With LOGIN_SECRET_ARNS it then writes the app login's
// password to that login's secret for RDS Proxy, unless that secret holds it already.
func (r *Rotator) bootstrapDatabase(ctx context.Context, log *slog.Logger) error {
	if r.Config.SecretARN == "" {
		return missing(EnvSecretARN, "needed to bootstrap the database user")
	}
	if r.Config.MigrationsSecretARN == "" {
		return missing(EnvMigrationsSecretARN, "needed to bootstrap the migration login")
	}
	current, version, err := r.loginAndVersion(ctx, r.Config.SecretARN, "", StageCurrent, "current version", AppUser, AppCloneUser)
	if err != nil {
		return err
	}
	migrations, err := r.login(ctx, r.Config.MigrationsSecretARN, "", StageCurrent, "current version", MigrationsUser)
	if err != nil {
		return err
	}
	log = log.With("secret", r.Config.SecretARN, "version", version, "migrations_secret", r.Config.MigrationsSecretARN)
	if err := r.configureDatabase(ctx, current, &migrations, log); err != nil {
		return err
	}
	// The version read identifies the password: a bootstrap run again for it writes nothing new.
	return r.writeLoginSecret(ctx, current, "bootstrap "+version, log)
}

// configureDatabase connects as the master user and, in one transaction, puts the database in
// the role model (see roleModelStatements), creates the app login or sets its password, and,
// on bootstrap, does the same for the migration login.
func (r *Rotator) configureDatabase(ctx context.Context, app DatabaseSecret, migrations *DatabaseSecret, log *slog.Logger) error {
	masterUser, masterPassword, err := r.masterCredentials(ctx)
	if err != nil {
		return err
	}
	db, err := r.connect(ctx, masterUser, masterPassword)
	if err != nil {
		return err
	}
	defer closeQuietly(ctx, db)
	if err := configureRoles(ctx, db, r.Config.DBName, app, migrations, log); err != nil {
		return fmt.Errorf("set up database user %s on %s: %w", app.Username, r.Config.DBHost, err)
	}
	log.Info("database user ready", "username", app.Username, "member_of", RuntimeRole)
	if migrations != nil {
		log.Info("migration login ready", "username", migrations.Username, "member_of", OwnerRole)
	}
	return nil
}

func (r *Rotator) testDatabaseSecret(ctx context.Context, ev Event, log *slog.Logger) error {
	pending, err := r.pendingDatabaseSecret(ctx, ev)
	if err != nil {
		return err
	}
	db, err := r.connect(ctx, pending.Username, pending.Password)
	if err != nil {
		return err
	}
	defer closeQuietly(ctx, db)
	var one int
	if err := db.QueryRow(ctx, "SELECT 1").Scan(&one); err != nil {
		return fmt.Errorf("test query as %s on %s: %w", pending.Username, r.Config.DBHost, err)
	}
	if one != 1 {
		return fmt.Errorf("test query as %s on %s returned %d, want 1", pending.Username, r.Config.DBHost, one)
	}
	log.Info("pending credentials work", "username", pending.Username)
	return nil
}

// connect opens a session as user on the configured database, with certificate verification
// (see connConfig). The error names the user and the address, never the password.
func (r *Rotator) connect(ctx context.Context, user, password string) (DB, error) {
	if r.Connect == nil {
		return nil, errors.New("the rotator has no database connector")
	}
	cfg, err := r.connConfig(user, password)
	if err != nil {
		return nil, err
	}
	cctx, cancel := context.WithTimeout(ctx, connectTimeout)
	defer cancel()
	db, err := r.Connect(cctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("connect to database %s on %s as %s: %w", r.Config.DBName, net.JoinHostPort(r.Config.DBHost, strconv.Itoa(r.Config.DBPort)), user, err)
	}
	return db, nil
}

func closeQuietly(ctx context.Context, db DB) {
	// Closing only ends the session; a failure here cannot undo or invalidate the step.
	_ = db.Close(ctx)
}

// configureRoles runs the role setup in one transaction, so a failure halfway leaves the
// database as it was. app is the login whose password is set (the pending user, or AWSCURRENT's
// on bootstrap); the other alternating login, if it exists, is moved to the runtime role
// without a password change; migrations, when given, is the migration login.
func configureRoles(ctx context.Context, db DB, dbname string, app DatabaseSecret, migrations *DatabaseSecret, log *slog.Logger) (err error) {
	if _, err := db.Exec(ctx, "BEGIN"); err != nil {
		return fmt.Errorf("begin transaction: %w", err)
	}
	defer func() {
		if err != nil {
			_, _ = db.Exec(ctx, "ROLLBACK")
		}
	}()
	other := AlternateUsername(app.Username)
	exists := map[string]bool{}
	for _, role := range []string{OwnerRole, RuntimeRole, app.Username, other, MigrationsUser} {
		if exists[role], err = roleExists(ctx, db, role); err != nil {
			return err
		}
	}
	if err := execAll(ctx, db, roleModelStatements(dbname, exists[OwnerRole], exists[RuntimeRole])); err != nil {
		return err
	}
	owned, err := publicObjects(ctx, db, log)
	if err != nil {
		return err
	}
	stmts := ownerGrantStatements(owned)
	verifier, err := scramVerifier(app.Password)
	if err != nil {
		return err
	}
	stmts = append(stmts, loginStatement(app.Username, verifier, exists[app.Username]))
	stmts = append(stmts, appMemberStatements(app.Username)...)
	appUsers := []string{app.Username}
	if exists[other] {
		stmts = append(stmts, appMemberStatements(other)...)
		appUsers = append(appUsers, other)
	}
	if migrations != nil {
		v, err := scramVerifier(migrations.Password)
		if err != nil {
			return err
		}
		stmts = append(stmts, loginStatement(migrations.Username, v, exists[migrations.Username]))
		stmts = append(stmts, migrationMemberStatements(migrations.Username)...)
	}
	if err := execAll(ctx, db, stmts); err != nil {
		return err
	}
	for _, user := range appUsers {
		if err := checkNotOwner(ctx, db, user); err != nil {
			return err
		}
	}
	if _, err := db.Exec(ctx, "COMMIT"); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

// execAll runs the statements in order and stops at the first that fails, naming it.
func execAll(ctx context.Context, db DB, stmts []string) error {
	for _, stmt := range stmts {
		if _, err := db.Exec(ctx, stmt); err != nil {
			return fmt.Errorf("%s: %w", redactPassword(stmt), err)
		}
	}
	return nil
}

// redactPassword is a statement as an error may quote it: without the password verifier of a
// CREATE or ALTER ROLE ... PASSWORD, which is all that follows the keyword.
func redactPassword(stmt string) string {
	if before, _, found := strings.Cut(stmt, " PASSWORD "); found {
		return before + " PASSWORD [redacted]"
	}
	return stmt
}

func roleExists(ctx context.Context, db DB, role string) (bool, error) {
	var exists bool
	err := db.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = $1)", role).Scan(&exists)
	if err != nil {
		return false, fmt.Errorf("look up role %s: %w", role, err)
	}
	return exists, nil
}

// checkNotOwner fails if an app login is still a member of the owner role, directly or not.
// REVOKE only removes the grants the master user made, and a grant made by another role
// would survive it with a mere warning.
func checkNotOwner(ctx context.Context, db DB, user string) error {
	var member bool
	err := db.QueryRow(ctx, "SELECT pg_catalog.pg_has_role($1, $2, 'MEMBER')", user, OwnerRole).Scan(&member)
	if err != nil {
		return fmt.Errorf("check membership of %s in %s: %w", user, OwnerRole, err)
	}
	if member {
		return fmt.Errorf("%s is still a member of %s after REVOKE: a role other than the master user granted it; revoke that grant as that role (REVOKE ... GRANTED BY)", user, OwnerRole)
	}
	return nil
}

// Privileges of the runtime role, on what exists now and, by default privileges, on what the
// owner role creates later.
const (
	runtimeTablePrivileges    = "SELECT, INSERT, UPDATE, DELETE"
	runtimeSequencePrivileges = "USAGE, SELECT, UPDATE"
)

// ownedObjects are the tables (and views) and sequences in schema public that the owner role
// owns, as quoted, schema-qualified names.
type ownedObjects struct {
	tables, sequences []string
}

// publicObjects lists what the owner role owns in schema public. Whatever else is there (a table
// someone created as the master user through the bastion, an extension's table) is left alone:
// the owner role cannot grant on it, and GRANT ... ON ALL TABLES IN SCHEMA would fail with 42501
// on it, failing every rotation until a person intervened. Each such object is logged as a
// warning with the fix, in case the app does need it.
func publicObjects(ctx context.Context, db DB, log *slog.Logger) (ownedObjects, error) {
	rows, err := db.Query(ctx, `SELECT c.relname::text, c.relkind = 'S', pg_catalog.pg_get_userbyid(c.relowner)::text
FROM pg_catalog.pg_class c
WHERE c.relnamespace = 'public'::regnamespace AND c.relkind IN ('r', 'p', 'v', 'm', 'f', 'S')
ORDER BY c.relname`)
	if err != nil {
		return ownedObjects{}, fmt.Errorf("list the objects in schema public: %w", err)
	}
	var owned ownedObjects
	var name, owner string
	var sequence bool
	_, err = pgx.ForEachRow(rows, []any{&name, &sequence, &owner}, func() error {
		qualified := pgx.Identifier{"public", name}.Sanitize()
		switch {
		case owner != OwnerRole:
			kind, alter := "table", "ALTER TABLE"
			if sequence {
				kind, alter = "sequence", "ALTER SEQUENCE"
			}
			log.Warn("not granted to the runtime role: owned by another role", "object", "public."+name, "object_kind", kind, "owner", owner,
				"fix", "if the app needs it: "+alter+" "+qualified+" OWNER TO "+pgx.Identifier{OwnerRole}.Sanitize()+", then rotate or bootstrap again")
		case sequence:
			owned.sequences = append(owned.sequences, qualified)
		default:
			owned.tables = append(owned.tables, qualified)
		}
		return nil
	})
	if err != nil {
		return ownedObjects{}, fmt.Errorf("list the objects in schema public: %w", err)
	}
	return owned, nil
}

// roleModelStatements set up the two NOLOGIN roles. The owner role owns the schema's objects:
// the migration login acts as it. The runtime role may only read and write data and use
// sequences: the app logins are its members. Every statement can run again.
//
// The master user then grants itself the owner role, so that it can act as it (see
// ownerGrantStatements): on PostgreSQL 16 creating a role gives its creator only the ADMIN
// option on it (createrole_self_grant is empty on RDS), not the right to SET ROLE to it. ADMIN
// lets it grant the role to anyone, itself included (tested on PostgreSQL 16).
func roleModelStatements(dbname string, ownerExists, runtimeExists bool) []string {
	owner := pgx.Identifier{OwnerRole}.Sanitize()
	runtime := pgx.Identifier{RuntimeRole}.Sanitize()
	db := pgx.Identifier{dbname}.Sanitize()
	var stmts []string
	if !ownerExists {
		stmts = append(stmts, "CREATE ROLE "+owner+" NOLOGIN")
	}
	if !runtimeExists {
		stmts = append(stmts, "CREATE ROLE "+runtime+" NOLOGIN")
	}
	return append(stmts,
		"GRANT CONNECT, CREATE, TEMPORARY ON DATABASE "+db+" TO "+owner,
		"GRANT USAGE, CREATE ON SCHEMA public TO "+owner,
		// PostgreSQL before 15 lets every role create objects in public.
		"REVOKE CREATE ON SCHEMA public FROM PUBLIC",
		"GRANT CONNECT ON DATABASE "+db+" TO "+runtime,
		"GRANT USAGE ON SCHEMA public TO "+runtime,
		"GRANT "+owner+" TO CURRENT_USER",
	)
}

// ownerGrantStatements give the runtime role its privileges on what the owner role owns now and,
// by default privileges, on what it creates later. The owner role makes these grants itself
// (SET LOCAL ROLE): only an object's owner may grant on it, and the master user owns none.
func ownerGrantStatements(owned ownedObjects) []string {
	owner := pgx.Identifier{OwnerRole}.Sanitize()
	runtime := pgx.Identifier{RuntimeRole}.Sanitize()
	stmts := []string{"SET LOCAL ROLE " + owner}
	if len(owned.tables) > 0 {
		stmts = append(stmts, "GRANT "+runtimeTablePrivileges+" ON TABLE "+strings.Join(owned.tables, ", ")+" TO "+runtime)
	}
	if len(owned.sequences) > 0 {
		stmts = append(stmts, "GRANT "+runtimeSequencePrivileges+" ON SEQUENCE "+strings.Join(owned.sequences, ", ")+" TO "+runtime)
	}
	return append(stmts,
		"ALTER DEFAULT PRIVILEGES FOR ROLE "+owner+" IN SCHEMA public GRANT "+runtimeTablePrivileges+" ON TABLES TO "+runtime,
		"ALTER DEFAULT PRIVILEGES FOR ROLE "+owner+" IN SCHEMA public GRANT "+runtimeSequencePrivileges+" ON SEQUENCES TO "+runtime,
		"RESET ROLE",
	)
}

// loginStatement creates the login with the password given as its SCRAM verifier, or sets that
// password. CREATE/ALTER ROLE ... PASSWORD takes no bind parameters, hence the literal.
func loginStatement(user, verifier string, exists bool) string {
	verb := "ALTER"
	if !exists {
		verb = "CREATE"
	}
	return verb + " ROLE " + pgx.Identifier{user}.Sanitize() + " WITH LOGIN PASSWORD " + quoteLiteral(verifier)
}

// appMemberStatements make an app login a member of the runtime role only. Before this model
// the app logins were members of the owner role and acted as it by default ("SET role"); both
// are undone, which is a no-op (a warning at most) where they were never there.
func appMemberStatements(user string) []string {
	u := pgx.Identifier{user}.Sanitize()
	return []string{
		"REVOKE " + pgx.Identifier{OwnerRole}.Sanitize() + " FROM " + u,
		"ALTER ROLE " + u + " RESET role",
		"GRANT " + pgx.Identifier{RuntimeRole}.Sanitize() + " TO " + u,
	}
}

// migrationMemberStatements make the migration login a member of the owner role that acts as
// it in every session, so that what migrations create belongs to the owner role.
func migrationMemberStatements(user string) []string {
	u := pgx.Identifier{user}.Sanitize()
	owner := pgx.Identifier{OwnerRole}.Sanitize()
	return []string{
		"GRANT " + owner + " TO " + u,
		"ALTER ROLE " + u + " SET role TO " + owner,
	}
}

// quoteLiteral quotes s as an escape-string literal (E'...'), whose meaning does not depend on
// the server's standard_conforming_strings setting: quotes and backslashes are doubled.
func quoteLiteral(s string) string {
	s = strings.ReplaceAll(s, `\`, `\\`)
	s = strings.ReplaceAll(s, `'`, `''`)
	return "E'" + s + "'"
}

// updateReaderSecret writes the new credentials, with the read replica's host, as the reader
// secret's AWSCURRENT. The replica replays the primary's roles, so the same user works there.
// The rotation token is reused as version ID: a retry puts identical data, which Secrets
// Manager accepts as a no-op.
func (r *Rotator) updateReaderSecret(ctx context.Context, ev Event, log *slog.Logger) error {
	creds, err := r.appLogin(ctx, ev.SecretID, ev.ClientRequestToken, "", "new version")
	if err != nil {
		return err
	}
	reader := r.onConfiguredDatabase(creds, r.Config.ReaderHost)
	b, err := json.Marshal(reader)
	if err != nil {
		return fmt.Errorf("encode reader secret %s: %w", r.Config.ReaderSecretARN, err)
	}
	_, err = r.Secrets.PutSecretValue(ctx, &secretsmanager.PutSecretValueInput{
		SecretId:           aws.String(r.Config.ReaderSecretARN),
		ClientRequestToken: aws.String(ev.ClientRequestToken),
		SecretString:       aws.String(string(b)),
		VersionStages:      []string{StageCurrent},
	})
	if err != nil {
		return fmt.Errorf("put new version %s of reader secret %s: %w", ev.ClientRequestToken, r.Config.ReaderSecretARN, err)
	}
	log.Info("reader secret updated", "reader_secret", r.Config.ReaderSecretARN, "username", reader.Username)
	return nil
}
