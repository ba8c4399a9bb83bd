package rotation

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/jackc/pgx/v5"
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

// DatabaseSecret is the JSON value of the database-url secret (and of the reader secret).
// URL is what ECS injects as DATABASE_URL, so it is always rebuilt from the other fields.
type DatabaseSecret struct {
	Engine   string `json:"engine"`
	Host     string `json:"host"`
	Port     int    `json:"port"`
	DBName   string `json:"dbname"`
	Username string `json:"username"`
	Password string `json:"password"`
	URL      string `json:"url"`
}

// UnmarshalJSON accepts the port as a number or as a numeric string, since secrets written by
// hand or by other tools often quote it.
func (s *DatabaseSecret) UnmarshalJSON(b []byte) error {
	type plain DatabaseSecret
	var aux struct {
		plain
		Port json.RawMessage `json:"port"`
	}
	if err := json.Unmarshal(b, &aux); err != nil {
		return err
	}
	*s = DatabaseSecret(aux.plain)
	if len(aux.Port) == 0 || string(aux.Port) == "null" {
		s.Port = 0
		return nil
	}
	if err := json.Unmarshal(aux.Port, &s.Port); err == nil {
		return nil
	}
	var text string
	if err := json.Unmarshal(aux.Port, &text); err != nil {
		return errors.New("port must be a number")
	}
	p, err := strconv.Atoi(text)
	if err != nil {
		return errors.New("port must be a number")
	}
	s.Port = p
	return nil
}

// DatabaseURL is the PostgreSQL URL of the secret's fields, with TLS required. User name,
// password and database name are percent-encoded except for RFC 3986 unreserved characters,
// which every URL parser in the app's stack (libpq, SQLAlchemy, asyncpg, pgx) decodes alike.
func DatabaseURL(s DatabaseSecret) string {
	return "postgresql://" + escapeURLPart(s.Username) + ":" + escapeURLPart(s.Password) +
		"@" + net.JoinHostPort(s.Host, strconv.Itoa(s.Port)) + "/" + escapeURLPart(s.DBName) +
		"?sslmode=require"
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

// GroupRole is the NOLOGIN role that owns the app's objects, of which both alternating users
// are members (taskmanager_app_owner for taskmanager_app and taskmanager_app_clone).
func GroupRole(username string) string {
	return strings.TrimSuffix(username, cloneSuffix) + groupSuffix
}

const groupSuffix = "_owner"

func (s DatabaseSecret) validate(secretID, what string) error {
	var empty []string
	for _, f := range []struct{ name, value string }{
		{"host", s.Host}, {"dbname", s.DBName}, {"username", s.Username}, {"password", s.Password},
	} {
		if f.value == "" {
			empty = append(empty, f.name)
		}
	}
	if len(empty) > 0 {
		return fmt.Errorf("%s of secret %s has empty %s", what, secretID, strings.Join(empty, ", "))
	}
	if s.Port <= 0 || s.Port > 65535 {
		return fmt.Errorf("%s of secret %s has invalid port %d", what, secretID, s.Port)
	}
	return nil
}

func (r *Rotator) databaseSecret(ctx context.Context, secretID, versionID, stage, what string) (DatabaseSecret, error) {
	raw, err := r.secretString(ctx, secretID, versionID, stage)
	if err != nil {
		return DatabaseSecret{}, err
	}
	var s DatabaseSecret
	if err := decodeJSON(raw, secretID, what, &s); err != nil {
		return DatabaseSecret{}, err
	}
	return s, s.validate(secretID, what)
}

func (r *Rotator) pendingDatabaseSecret(ctx context.Context, ev Event) (DatabaseSecret, error) {
	return r.databaseSecret(ctx, ev.SecretID, ev.ClientRequestToken, StagePending, "pending version")
}

func (r *Rotator) createDatabaseSecret(ctx context.Context, ev Event, log *slog.Logger) error {
	if done, err := r.stopIfPending(ctx, ev, log); done || err != nil {
		return err
	}
	current, err := r.databaseSecret(ctx, ev.SecretID, "", StageCurrent, "current version")
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
	if pending.Engine == "" {
		pending.Engine = "postgres"
	}
	pending.Username = AlternateUsername(current.Username)
	pending.Password = password
	pending.URL = DatabaseURL(pending)
	if err := r.putPending(ctx, ev, pending); err != nil {
		return err
	}
	log.Info("pending version created", "from_username", current.Username, "username", pending.Username)
	return nil
}

// masterCredentials reads the RDS-managed master secret, which holds only username and
// password; the host comes from the secret being rotated.
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

func (r *Rotator) setDatabaseSecret(ctx context.Context, ev Event, log *slog.Logger) error {
	pending, err := r.pendingDatabaseSecret(ctx, ev)
	if err != nil {
		return err
	}
	return r.ensureLogin(ctx, pending, log)
}

// bootstrapDatabase creates the login that the first value of the secret names. Pulumi
// generates that value, and nothing else creates the user before the first rotation, so the
// program invokes this at deploy time before any task uses the secret. It reads AWSCURRENT and
// writes no version or stage: run again, it only sets the same password once more.
func (r *Rotator) bootstrapDatabase(ctx context.Context, log *slog.Logger) error {
	if r.Config.SecretARN == "" {
		return missing(EnvSecretARN, "needed to bootstrap the database user")
	}
	current, err := r.databaseSecret(ctx, r.Config.SecretARN, "", StageCurrent, "current version")
	if err != nil {
		return err
	}
	return r.ensureLogin(ctx, current, log.With("secret", r.Config.SecretARN))
}

// ensureLogin connects as the master user to the secret's host and creates the secret's user,
// or sets its password, with the group role setup every login gets.
func (r *Rotator) ensureLogin(ctx context.Context, creds DatabaseSecret, log *slog.Logger) error {
	masterUser, masterPassword, err := r.masterCredentials(ctx)
	if err != nil {
		return err
	}
	master := creds
	master.Username, master.Password = masterUser, masterPassword
	db, err := r.connect(ctx, master)
	if err != nil {
		return err
	}
	defer closeQuietly(ctx, db)
	if err := configureRoles(ctx, db, creds); err != nil {
		return fmt.Errorf("set up database user %s on %s: %w", creds.Username, creds.Host, err)
	}
	log.Info("database user ready", "username", creds.Username, "group_role", GroupRole(creds.Username))
	return nil
}

func (r *Rotator) testDatabaseSecret(ctx context.Context, ev Event, log *slog.Logger) error {
	pending, err := r.pendingDatabaseSecret(ctx, ev)
	if err != nil {
		return err
	}
	db, err := r.connect(ctx, pending)
	if err != nil {
		return err
	}
	defer closeQuietly(ctx, db)
	var one int
	if err := db.QueryRow(ctx, "SELECT 1").Scan(&one); err != nil {
		return fmt.Errorf("test query as %s on %s: %w", pending.Username, pending.Host, err)
	}
	if one != 1 {
		return fmt.Errorf("test query as %s on %s returned %d, want 1", pending.Username, pending.Host, one)
	}
	log.Info("pending credentials work", "username", pending.Username)
	return nil
}

// connect opens a TLS session with the given credentials. The error names the user and host,
// never the URL, which contains the password.
func (r *Rotator) connect(ctx context.Context, creds DatabaseSecret) (DB, error) {
	if r.Connect == nil {
		return nil, errors.New("the rotator has no database connector")
	}
	cctx, cancel := context.WithTimeout(ctx, connectTimeout)
	defer cancel()
	db, err := r.Connect(cctx, DatabaseURL(creds))
	if err != nil {
		return nil, fmt.Errorf("connect to database %s on %s as %s: %w", creds.DBName, net.JoinHostPort(creds.Host, strconv.Itoa(creds.Port)), creds.Username, err)
	}
	return db, nil
}

func closeQuietly(ctx context.Context, db DB) {
	// Closing only ends the session; a failure here cannot undo or invalidate the step.
	_ = db.Close(ctx)
}

// configureRoles makes the user (the pending one, or AWSCURRENT's on bootstrap) a login member
// of the group role in one transaction, so a failure halfway leaves the database as it was.
func configureRoles(ctx context.Context, db DB, s DatabaseSecret) (err error) {
	if _, err := db.Exec(ctx, "BEGIN"); err != nil {
		return fmt.Errorf("begin transaction: %w", err)
	}
	defer func() {
		if err != nil {
			_, _ = db.Exec(ctx, "ROLLBACK")
		}
	}()
	group := GroupRole(s.Username)
	groupExists, err := roleExists(ctx, db, group)
	if err != nil {
		return err
	}
	userExists, err := roleExists(ctx, db, s.Username)
	if err != nil {
		return err
	}
	verifier, err := scramVerifier(s.Password)
	if err != nil {
		return err
	}
	for i, stmt := range roleStatements(s, verifier, groupExists, userExists) {
		if _, err := db.Exec(ctx, stmt); err != nil {
			// Report the position only: the statement carries the password verifier.
			return fmt.Errorf("statement %d of the role setup: %w", i+1, err)
		}
	}
	if _, err := db.Exec(ctx, "COMMIT"); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

func roleExists(ctx context.Context, db DB, role string) (bool, error) {
	var exists bool
	err := db.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = $1)", role).Scan(&exists)
	if err != nil {
		return false, fmt.Errorf("look up role %s: %w", role, err)
	}
	return exists, nil
}

// roleStatements is the role setup for the pending user, whose password is given as its SCRAM
// verifier. The group role owns the app's objects; "SET role" makes every session of either
// alternating user (migrations included) act as the group, so both users create and see the
// same objects. CREATE/ALTER ROLE ... PASSWORD takes no bind parameters, hence the literal.
func roleStatements(s DatabaseSecret, verifier string, groupExists, userExists bool) []string {
	group := pgx.Identifier{GroupRole(s.Username)}.Sanitize()
	user := pgx.Identifier{s.Username}.Sanitize()
	dbname := pgx.Identifier{s.DBName}.Sanitize()
	var stmts []string
	if !groupExists {
		stmts = append(stmts, "CREATE ROLE "+group+" NOLOGIN")
	}
	stmts = append(stmts,
		"GRANT CONNECT, CREATE, TEMPORARY ON DATABASE "+dbname+" TO "+group,
		"GRANT USAGE, CREATE ON SCHEMA public TO "+group,
	)
	verb := "ALTER"
	if !userExists {
		verb = "CREATE"
	}
	return append(stmts,
		verb+" ROLE "+user+" WITH LOGIN PASSWORD "+quoteLiteral(verifier),
		"GRANT "+group+" TO "+user,
		"ALTER ROLE "+user+" SET role TO "+group,
	)
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
	creds, err := r.databaseSecret(ctx, ev.SecretID, ev.ClientRequestToken, "", "new version")
	if err != nil {
		return err
	}
	reader := creds
	reader.Host = r.Config.ReaderHost
	reader.URL = DatabaseURL(reader)
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
