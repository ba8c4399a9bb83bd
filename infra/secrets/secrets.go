package secrets

import (
	"encoding/json"
	"fmt"
	"net/url"

	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/secretsmanager"
	"github.com/pulumi/pulumi-random/sdk/v4/go/random"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/taskmanager/taskmanager-infra/internal/dbtls"
	"github.com/taskmanager/taskmanager-infra/internal/naming"
)

const storeType = "taskmanager:secrets:Secrets"

// Names of the secrets: taskmanager/<stack>/<name>. Every environment gets the same set, so that
// the task definitions do not differ between environments (parity).
const (
	DatabaseURL       = "database-url"
	DatabaseReaderURL = "database-reader-url"
	RedisURL          = "redis-url"
	CeleryBrokerURL   = "celery-broker-url"
	// QueueDepthRedisURL is the queue-depth function's Redis URL, with its read-only user.
	QueueDepthRedisURL  = "queue-depth-redis-url"
	CeleryResultBackend = "celery-result-backend"
	JWTSecret           = "jwt-secret"
	SMTP                = "smtp"
	OAuthGoogle         = "oauth-google"
	OAuthGitHub         = "oauth-github"
	SentryDSN           = "sentry-dsn"
	DatadogAPIKey       = "datadog-api-key"
	MigrationsURL       = "migrations-database-url"
	// SmokeTestHeader is the token the pipeline's smoke tests send to pass the load balancer's
	// sign-in, where there is one.
	SmokeTestHeader = "smoke-test-header"
)

// AppUser is the app's database login; the rotation alternates it with AppUser + "_clone".
// Both may read and write data, never change the schema.
const AppUser = "taskmanager_app"

// MigrationsUser is the migration task's login: it owns the schema through the owner role. The
// rotation function's bootstrap creates it with the password of MigrationsURL's first value.
const MigrationsUser = "taskmanager_migrations"

// DatabaseEndpoint is where the app's database is.
type DatabaseEndpoint struct {
	Host pulumi.StringInput // where the app connects: RDS Proxy's endpoint, or the primary's address
	// PrimaryHost is the primary's own address, where the migration task connects: its login is
	// not one RDS Proxy knows. Empty means Host.
	PrimaryHost pulumi.StringInput
	ReaderHost  pulumi.StringInput // the replica's, or the primary's when there is none
	Port        int
	Name        string
}

// CacheEndpoint is where Redis is, and its AUTH token.
type CacheEndpoint struct {
	Host      pulumi.StringInput
	Port      int
	AuthToken pulumi.StringInput // a secret output
	// ReaderUser and ReaderPassword, when set, are the queue-depth function's own Redis login
	// (read commands only): QueueDepthRedisURL holds it.
	ReaderUser     string
	ReaderPassword pulumi.StringInput // a secret output
}

// StoreArgs configures the secrets.
type StoreArgs struct {
	Stack              string
	KeyArn             pulumi.StringInput
	RecoveryWindowDays int
	Protect            bool
	Database           DatabaseEndpoint
	Cache              CacheEndpoint
	External           External
	// SmokeTestHeader adds the smoke tests' token (the edge's sign-in needs it).
	SmokeTestHeader bool
}

// Store is the environment's secrets. ARNs only: values never leave Secrets Manager and
// Pulumi's encrypted state.
type Store struct {
	pulumi.ResourceState
	// Arns are the secrets' ARNs by name (DatabaseURL, ...).
	Arns map[string]pulumi.StringOutput
	// SmokeTestToken is the smoke-test header's value (a secret output), with SmokeTestHeader.
	SmokeTestToken pulumi.StringOutput
	// Versions are the secrets' first values: what reads a secret at create time waits for them.
	Versions []pulumi.Resource
}

// NewStore creates the secrets and their first values.
func NewStore(ctx *pulumi.Context, name string, args *StoreArgs, opts ...pulumi.ResourceOption) (*Store, error) {
	s := &Store{Arns: map[string]pulumi.StringOutput{}}
	if err := ctx.RegisterComponentResource(storeType, name, s, opts...); err != nil {
		return nil, err
	}
	parent := pulumi.Parent(s)

	// RDS refuses '/', '"', '@' and spaces in passwords; the URL escapes the rest.
	dbPassword, err := random.NewRandomPassword(ctx, name+"-database", &random.RandomPasswordArgs{
		Length: pulumi.Int(32), Special: pulumi.Bool(true), OverrideSpecial: pulumi.String("!#$%^&*()-_=+[]{}<>:?"),
	}, parent)
	if err != nil {
		return nil, err
	}
	migrationsPassword, err := random.NewRandomPassword(ctx, name+"-migrations", &random.RandomPasswordArgs{
		Length: pulumi.Int(32), Special: pulumi.Bool(true), OverrideSpecial: pulumi.String("!#$%^&*()-_=+[]{}<>:?"),
	}, parent)
	if err != nil {
		return nil, err
	}
	jwtKey, err := random.NewRandomPassword(ctx, name+"-jwt", &random.RandomPasswordArgs{
		Length: pulumi.Int(64), Special: pulumi.Bool(false),
	}, parent)
	if err != nil {
		return nil, err
	}

	db := args.Database
	databaseJSON := func(host pulumi.StringInput, user string, password pulumi.StringOutput) pulumi.StringOutput {
		return pulumi.All(host, password).ApplyT(func(v []any) (string, error) {
			return DatabaseSecret(v[0].(string), db.Port, db.Name, user, v[1].(string))
		}).(pulumi.StringOutput)
	}
	redis := func(index int) pulumi.StringOutput {
		return pulumi.All(args.Cache.Host, args.Cache.AuthToken).ApplyT(func(v []any) string {
			return RedisURLFor(v[0].(string), args.Cache.Port, v[1].(string), index)
		}).(pulumi.StringOutput)
	}
	jwtJSON := jwtKey.Result.ApplyT(func(k string) (string, error) {
		// Before the first rotation there is no earlier key: previous is the current one.
		b, err := json.Marshal(map[string]string{"current": k, "previous": k})
		return string(b), err
	}).(pulumi.StringOutput)

	ext := args.External
	values := []struct {
		name, description string
		value             pulumi.StringInput
		// rotated secrets are rewritten by their rotation function, and person-supplied ones left
		// empty here are set out of band: Pulumi must not put its first value back.
		keepExternalChanges bool
	}{
		{DatabaseURL, "The app's database login and DATABASE_URL (key url); rotated", databaseJSON(db.Host, AppUser, dbPassword.Result), true},
		{DatabaseReaderURL, "DATABASE_READER_URL (key url): the read replica, or the primary without one; rewritten by the database rotation", databaseJSON(db.ReaderHost, AppUser, dbPassword.Result), true},
		{MigrationsURL, "The migration task's login, which owns the schema, and its DATABASE_URL (key url)", databaseJSON(primaryHost(db), MigrationsUser, migrationsPassword.Result), false},
		{RedisURL, "REDIS_URL: Redis db 0 over TLS with AUTH", redis(0), false},
		{CeleryBrokerURL, "CELERY_BROKER_URL: Redis db 0", redis(0), false},
		{CeleryResultBackend, "CELERY_RESULT_BACKEND: Redis db 1", redis(1), false},
		{JWTSecret, "JWT signing keys: current (JWT_SECRET_KEY) and previous (JWT_SECRET_KEY_PREVIOUS); rotated", jwtJSON, true},
		{SMTP, "SMTP_USERNAME and SMTP_PASSWORD (keys username, password)", jsonOf(map[string]*string{"username": ext.SMTPUsername, "password": ext.SMTPPassword}), ext.SMTPUsername == nil},
		{OAuthGoogle, "OAUTH_GOOGLE_CLIENT_ID and _SECRET (keys client_id, client_secret); rotated by hand", jsonOf(map[string]*string{"client_id": ext.GoogleClientID, "client_secret": ext.GoogleClientSecret}), ext.GoogleClientID == nil},
		{OAuthGitHub, "OAUTH_GITHUB_CLIENT_ID and _SECRET (keys client_id, client_secret); rotated by hand", jsonOf(map[string]*string{"client_id": ext.GitHubClientID, "client_secret": ext.GitHubClientSecret}), ext.GitHubClientID == nil},
		{SentryDSN, "SENTRY_DSN", plainOf(ext.SentryDSN), ext.SentryDSN == nil},
		{DatadogAPIKey, "DATADOG_API_KEY", plainOf(ext.DatadogAPIKey), ext.DatadogAPIKey == nil},
	}
	if c := args.Cache; c.ReaderUser != "" {
		reader := pulumi.All(c.Host, c.ReaderPassword).ApplyT(func(v []any) string {
			return redisURL(v[0].(string), c.Port, c.ReaderUser, v[1].(string), 0)
		}).(pulumi.StringOutput)
		values = append(values, struct {
			name, description   string
			value               pulumi.StringInput
			keepExternalChanges bool
		}{QueueDepthRedisURL, "The queue-depth function's Redis login: read commands only", reader, false})
	}
	if args.SmokeTestHeader {
		// Letters and digits only: the load balancer's header match treats * and ? as wildcards,
		// and compares without case, so 64 characters keep well over 256 bits.
		token, err := random.NewRandomPassword(ctx, name+"-smoke-test", &random.RandomPasswordArgs{
			Length: pulumi.Int(64), Special: pulumi.Bool(false),
		}, parent)
		if err != nil {
			return nil, err
		}
		s.SmokeTestToken = pulumi.ToSecret(token.Result).(pulumi.StringOutput)
		values = append(values, struct {
			name, description   string
			value               pulumi.StringInput
			keepExternalChanges bool
		}{SmokeTestHeader, "The token the pipeline's smoke tests send in X-Smoke-Test-Token to pass the load balancer's sign-in; rotated with pulumi up --replace of its random value", token.Result, false})
	}
	for _, v := range values {
		secret, err := secretsmanager.NewSecret(ctx, name+"-"+v.name, &secretsmanager.SecretArgs{
			Name:                 pulumi.String(naming.For(args.Stack).Secret(v.name)),
			Description:          pulumi.String(v.description),
			KmsKeyId:             args.KeyArn,
			RecoveryWindowInDays: pulumi.Int(args.RecoveryWindowDays),
		}, parent, pulumi.Protect(args.Protect))
		if err != nil {
			return nil, err
		}
		versionOpts := []pulumi.ResourceOption{parent}
		// After a rotation or an out-of-band put, AWSCURRENT is on a newer version: a refresh must
		// not make Pulumi move it back to this first one.
		if v.keepExternalChanges {
			versionOpts = append(versionOpts, pulumi.IgnoreChanges([]string{"secretString", "versionStages"}))
		}
		version, err := secretsmanager.NewSecretVersion(ctx, name+"-"+v.name, &secretsmanager.SecretVersionArgs{
			SecretId:     secret.ID(),
			SecretString: pulumi.ToSecret(v.value).(pulumi.StringOutput),
		}, versionOpts...)
		if err != nil {
			return nil, err
		}
		s.Versions = append(s.Versions, version)
		s.Arns[v.name] = secret.Arn
	}

	arns := pulumi.StringMap{}
	for n, arn := range s.Arns {
		arns[n] = arn
	}
	outs := pulumi.Map{"arns": arns}
	if args.SmokeTestHeader {
		outs["smokeTestToken"] = s.SmokeTestToken // a secret output
	}
	return s, ctx.RegisterResourceOutputs(s, outs)
}

// DatabaseSecret is the JSON of a database login secret, in the shape Secrets Manager's rotation
// functions use, plus the url the app reads as DATABASE_URL.
func DatabaseSecret(host string, port int, dbname, username, password string) (string, error) {
	u := url.URL{
		Scheme:   "postgresql",
		User:     url.UserPassword(username, password),
		Host:     fmt.Sprintf("%s:%d", host, port),
		Path:     "/" + dbname,
		RawQuery: dbtls.Query,
	}
	b, err := json.Marshal(map[string]any{
		"engine": "postgres", "host": host, "port": port, "dbname": dbname,
		"username": username, "password": password, "url": u.String(),
	})
	return string(b), err
}

// RedisURLFor is a Redis URL over TLS with the AUTH token. Celery refuses a rediss:// URL without
// ssl_cert_reqs.
func RedisURLFor(host string, port int, token string, db int) string {
	return redisURL(host, port, "", token, db)
}

// redisURL is RedisURLFor with a user: "" is the token's (AUTH <token>, Redis's default user).
func redisURL(host string, port int, user, password string, db int) string {
	u := url.URL{
		Scheme:   "rediss",
		User:     url.UserPassword(user, password),
		Host:     fmt.Sprintf("%s:%d", host, port),
		Path:     fmt.Sprintf("/%d", db),
		RawQuery: "ssl_cert_reqs=required",
	}
	return u.String()
}

// jsonOf renders person-supplied values as a JSON object; a missing value is "" so that the
// secret has a value and tasks start, with the integration off.
func jsonOf(fields map[string]*string) pulumi.StringInput {
	m := map[string]string{}
	for k, v := range fields {
		if v != nil {
			m[k] = *v
		} else {
			m[k] = ""
		}
	}
	b, _ := json.Marshal(m) // strings only: cannot fail
	return pulumi.String(string(b))
}

// Unset is the value of a plain person-supplied secret nobody has set: Secrets Manager takes no
// empty value, and the app leaves the integration off (sentryEnabled, datadogEnabled).
const Unset = "unset"

func plainOf(v *string) pulumi.StringInput {
	if v == nil {
		return pulumi.String(Unset)
	}
	return pulumi.String(*v)
}

func primaryHost(db DatabaseEndpoint) pulumi.StringInput {
	if db.PrimaryHost != nil {
		return db.PrimaryHost
	}
	return db.Host
}
