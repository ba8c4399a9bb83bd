package secrets

import (
	"maps"
	"slices"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// Ref is one environment variable delivered from Secrets Manager: a secret of the store and,
// for a JSON secret, the key inside it.
type Ref struct {
	Secret string
	Key    string
}

// AppEnv are the secret environment variables of the API and the worker.
var AppEnv = map[string]Ref{
	"DATABASE_URL":               {DatabaseURL, "url"},
	"DATABASE_READER_URL":        {DatabaseReaderURL, "url"},
	"REDIS_URL":                  {RedisURL, ""},
	"CELERY_BROKER_URL":          {CeleryBrokerURL, ""},
	"CELERY_RESULT_BACKEND":      {CeleryResultBackend, ""},
	"JWT_SECRET_KEY":             {JWTSecret, "current"},
	"JWT_SECRET_KEY_PREVIOUS":    {JWTSecret, "previous"},
	"SMTP_USERNAME":              {SMTP, "username"},
	"SMTP_PASSWORD":              {SMTP, "password"},
	"OAUTH_GOOGLE_CLIENT_ID":     {OAuthGoogle, "client_id"},
	"OAUTH_GOOGLE_CLIENT_SECRET": {OAuthGoogle, "client_secret"},
	"OAUTH_GITHUB_CLIENT_ID":     {OAuthGitHub, "client_id"},
	"OAUTH_GITHUB_CLIENT_SECRET": {OAuthGitHub, "client_secret"},
	"SENTRY_DSN":                 {SentryDSN, ""},
	"DATADOG_API_KEY":            {DatadogAPIKey, ""},
}

// MigrationsEnv are the migration task's: the database only, as the schema owner's login, which
// the API and the worker never get.
var MigrationsEnv = map[string]Ref{
	"DATABASE_URL": {MigrationsURL, "url"},
}

// Injection is what a container needs to receive secrets: each variable's ECS valueFrom, and the
// ARNs of the secrets they come from, which its execution role may read (exactly those).
type Injection struct {
	ValueFrom  map[string]pulumi.StringOutput
	SecretArns []pulumi.StringOutput
}

// Inject resolves variables against the store: the ECS valueFrom is the secret's ARN for a
// whole secret, or ARN:key:: for one JSON key of its current version.
func (s *Store) Inject(env map[string]Ref) Injection {
	in := Injection{ValueFrom: map[string]pulumi.StringOutput{}}
	var seen []string
	for _, name := range slices.Sorted(maps.Keys(env)) {
		ref := env[name]
		arn := s.Arns[ref.Secret]
		if ref.Key == "" {
			in.ValueFrom[name] = arn
		} else {
			in.ValueFrom[name] = pulumi.Sprintf("%s:%s::", arn, ref.Key)
		}
		if !slices.Contains(seen, ref.Secret) {
			seen = append(seen, ref.Secret)
			in.SecretArns = append(in.SecretArns, arn)
		}
	}
	return in
}
