package compute

import (
	"encoding/json"
	"strconv"
)

// Settings are what the containers' environment is made of.
type Settings struct {
	Environment string // ENVIRONMENT: development, staging or production
	LogLevel    string
	App         AppConfig
	Worker      WorkerConfig
	Port        int // the API's port, PORT
}

// Environment is the plain environment of the app's containers: every non-secret setting of the
// spec's environment blocks, and nothing secret.
func Environment(s Settings) map[string]string {
	b := strconv.FormatBool
	i := strconv.Itoa
	app := s.App
	origins, _ := json.Marshal(app.CORSOrigins) // a list of strings: cannot fail
	env := map[string]string{
		"ENVIRONMENT":                     s.Environment,
		"DEBUG":                           b(app.Debug),
		"LOG_LEVEL":                       s.LogLevel,
		"INCLUDE_TRACEBACK":               b(app.IncludeTraceback),
		"PORT":                            i(s.Port),
		"DB_POOL_SIZE":                    i(app.DBPoolSize),
		"DB_POOL_MAX_OVERFLOW":            i(app.DBPoolMaxOverflow),
		"DB_POOL_RECYCLE":                 i(app.DBPoolRecycleSeconds),
		"REDIS_MAX_CONNECTIONS":           i(app.RedisMaxConnections),
		"CELERY_WORKER_CONCURRENCY":       i(s.Worker.Concurrency),
		"JWT_ALGORITHM":                   app.JWT.Algorithm,
		"JWT_ACCESS_TOKEN_EXPIRE_MINUTES": i(app.JWT.AccessTokenExpireMinutes),
		"SMTP_HOST":                       app.SMTP.Host,
		"SMTP_PORT":                       i(app.SMTP.Port),
		// pydantic-settings reads a list from JSON.
		"CORS_ORIGINS":              string(origins),
		"RATE_LIMIT_ENABLED":        b(app.Features.RateLimiting),
		"RATE_LIMIT_PER_MINUTE":     i(app.RateLimitPerMinute),
		"SENTRY_ENABLED":            b(app.SentryEnabled),
		"DATADOG_ENABLED":           b(app.DatadogEnabled),
		"ENABLE_REGISTRATION":       b(app.Features.Registration),
		"ENABLE_EMAIL_VERIFICATION": b(app.Features.EmailVerification),
		"ENABLE_RATE_LIMITING":      b(app.Features.RateLimiting),
		"ENABLE_MFA":                b(app.Features.MFA),
	}
	if d := app.JWT.RefreshTokenExpireDays; d != nil {
		env["JWT_REFRESH_TOKEN_EXPIRE_DAYS"] = i(*d)
	}
	if seed := app.RandomSeed; seed != nil {
		env["RANDOM_SEED"] = i(*seed)
	}
	return env
}

// SecretRef is one environment variable delivered from Secrets Manager: the secret's name
// (taskmanager/<stack>/<Secret>) and, for a JSON secret, the key inside it.
type SecretRef struct {
	Secret string
	Key    string
}

// Secret names, as the secrets component creates them.
const (
	secretDatabaseURL   = "database-url"
	secretDatabaseRead  = "database-reader-url"
	secretRedisURL      = "redis-url"
	secretCeleryBroker  = "celery-broker-url"
	secretCeleryResults = "celery-result-backend"
	secretJWT           = "jwt-secret"
	secretSMTP          = "smtp"
	secretOAuthGoogle   = "oauth-google"
	secretOAuthGitHub   = "oauth-github"
	secretSentry        = "sentry-dsn"
	secretDatadog       = "datadog-api-key"
	secretMigrationsURL = "migrations-database-url"
)

// AppSecrets are the secret environment variables of the API and the worker.
var AppSecrets = map[string]SecretRef{
	"DATABASE_URL":               {secretDatabaseURL, "url"},
	"DATABASE_READER_URL":        {secretDatabaseRead, "url"},
	"REDIS_URL":                  {secretRedisURL, ""},
	"CELERY_BROKER_URL":          {secretCeleryBroker, ""},
	"CELERY_RESULT_BACKEND":      {secretCeleryResults, ""},
	"JWT_SECRET_KEY":             {secretJWT, "current"},
	"JWT_SECRET_KEY_PREVIOUS":    {secretJWT, "previous"},
	"SMTP_USERNAME":              {secretSMTP, "username"},
	"SMTP_PASSWORD":              {secretSMTP, "password"},
	"OAUTH_GOOGLE_CLIENT_ID":     {secretOAuthGoogle, "client_id"},
	"OAUTH_GOOGLE_CLIENT_SECRET": {secretOAuthGoogle, "client_secret"},
	"OAUTH_GITHUB_CLIENT_ID":     {secretOAuthGitHub, "client_id"},
	"OAUTH_GITHUB_CLIENT_SECRET": {secretOAuthGitHub, "client_secret"},
	"SENTRY_DSN":                 {secretSentry, ""},
	"DATADOG_API_KEY":            {secretDatadog, ""},
}

// MigrationSecrets are the migration task's: the database only, as the schema owner's login,
// which the API and the worker never get.
var MigrationSecrets = map[string]SecretRef{
	"DATABASE_URL": {secretMigrationsURL, "url"},
}

// ValueFrom is the ECS valueFrom of a reference, given its secret's ARN: the ARN alone for a
// whole secret, or ARN:key:: for one JSON key of its current version.
func (r SecretRef) ValueFrom(arn string) string {
	if r.Key == "" {
		return arn
	}
	return arn + ":" + r.Key + "::"
}
