package compute

import (
	"encoding/json"
	"strconv"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
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

// SecretEnv are a container's secret variables: each variable's ECS valueFrom, and the secrets
// they come from, which its execution role may read (exactly those). The secrets component owns
// the names, the JSON keys and the valueFrom form (secrets.Store.Inject).
type SecretEnv struct {
	ValueFrom  map[string]pulumi.StringOutput
	SecretArns []pulumi.StringOutput
}
