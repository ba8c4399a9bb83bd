// Package secrets is the environment's customer-managed KMS key and its Secrets Manager secrets,
// with the rotation of those the system generates.
package secrets

import (
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/taskmanager/taskmanager-infra/internal/configcheck"
)

// Config is the stack file's taskmanager:secrets.
type Config struct {
	// KeyDeletionWindowDays is how long a deleted KMS key can still be recovered (7 to 30).
	KeyDeletionWindowDays int `json:"keyDeletionWindowDays"`
	// RecoveryWindowDays is how long a deleted secret can be restored: 0 deletes at once (so a
	// destroyed dev stack can be recreated with the same names), else 7 to 30.
	RecoveryWindowDays int `json:"recoveryWindowDays"`
	// DatabaseRotationDays rotates the app's database credentials (spec: 30 days). The rotation
	// function's first run creates the app's database user, so it cannot be turned off.
	DatabaseRotationDays int `json:"databaseRotationDays"`
	// JWTRotationDays rotates the JWT signing key (spec: 90 days); 0 leaves it manual.
	JWTRotationDays int `json:"jwtRotationDays"`
	// RequireExternal makes the values only a person has (SMTP, OAuth, Sentry, Datadog) required
	// in taskmanager:externalSecrets: a preview fails while one is missing.
	RequireExternal bool `json:"requireExternal"`
	// KeyPrincipals, when set, are the only IAM principals (ARN patterns, as aws:PrincipalArn
	// matches them) that may use the key, directly or through a service (Secrets Manager, RDS,
	// S3 act with the caller's identity): every other principal is denied whatever IAM grants
	// it; only AWS service principals acting on their own are not. In one account shared by the
	// environments, this keeps staging's roles off production's data. Include the stack's own
	// roles, the pipeline's roles that read or copy it (deploy, drift, the staging data refresh),
	// service-linked roles and the root (required: the way back in), or they are locked out.
	KeyPrincipals []string `json:"keyPrincipals,omitempty"`
}

// keyPrincipalPattern is an IAM role or user ARN, or the account root, with * for any account
// or name part.
var keyPrincipalPattern = regexp.MustCompile(`^arn:aws:iam::(\d{12}|\*):(root|role/\S+|user/\S+)$`)

// Validate reports every problem, keys relative to taskmanager:secrets.
func (c Config) Validate() error {
	var ps configcheck.Problems
	if c.KeyDeletionWindowDays < 7 || c.KeyDeletionWindowDays > 30 {
		ps.Addf("keyDeletionWindowDays", "%d is outside what KMS allows; want 7 to 30 days", c.KeyDeletionWindowDays)
	}
	if w := c.RecoveryWindowDays; w != 0 && (w < 7 || w > 30) {
		ps.Addf("recoveryWindowDays", "%d is outside what Secrets Manager allows; want 0 (delete at once) or 7 to 30 days", w)
	}
	// Secrets Manager allows up to 1000 days; Security Hub (SecretsManager.4) wants at most 90.
	if d := c.DatabaseRotationDays; d < 1 || d > 90 {
		ps.Addf("databaseRotationDays", "%d is not allowed; want 1 to 90 days (the rotation creates the app's database user, so it is always on)", d)
	}
	if d := c.JWTRotationDays; d < 0 || d > 90 {
		ps.Addf("jwtRotationDays", "%d is not allowed; want 0 (manual) or 1 to 90 days", d)
	}
	for i, p := range c.KeyPrincipals {
		if !keyPrincipalPattern.MatchString(p) {
			ps.Addf(fmt.Sprintf("keyPrincipals[%d]", i), "%q is not an IAM principal ARN pattern; want e.g. arn:aws:iam::*:role/production-* or arn:aws:iam::123456789012:root", p)
		}
	}
	if c.KeyPrincipals != nil && !slices.ContainsFunc(c.KeyPrincipals, func(p string) bool { return strings.HasSuffix(p, ":root") }) {
		ps.Addf("keyPrincipals", "does not name the account root (arn:aws:iam::<account>:root): with the root denied too, a mistake in the list locks everyone out of the key; add it")
	}
	return ps.Err()
}

// External are the values only a person has, from the stack file's taskmanager:externalSecrets,
// set with `pulumi config set --secret --path taskmanager:externalSecrets.<key> <value>`: they
// live encrypted in the stack file and in Secrets Manager, never in plain text.
type External struct {
	// SMTPUsername and SMTPPassword log in to the mail relay (secret smtp).
	SMTPUsername *string `json:"smtpUsername,omitempty"`
	SMTPPassword *string `json:"smtpPassword,omitempty"`
	// GoogleClientID and GoogleClientSecret are the Google OAuth client (secret oauth-google).
	GoogleClientID     *string `json:"googleClientId,omitempty"`
	GoogleClientSecret *string `json:"googleClientSecret,omitempty"`
	// GitHubClientID and GitHubClientSecret are the GitHub OAuth client (secret oauth-github).
	GitHubClientID     *string `json:"githubClientId,omitempty"`
	GitHubClientSecret *string `json:"githubClientSecret,omitempty"`
	// SentryDSN is SENTRY_DSN (secret sentry-dsn).
	SentryDSN *string `json:"sentryDsn,omitempty"`
	// DatadogAPIKey is DATADOG_API_KEY (secret datadog-api-key).
	DatadogAPIKey *string `json:"datadogApiKey,omitempty"`
}

// fields names each value by its key.
func (e External) fields() []struct {
	key   string
	value *string
} {
	return []struct {
		key   string
		value *string
	}{
		{"smtpUsername", e.SMTPUsername}, {"smtpPassword", e.SMTPPassword},
		{"googleClientId", e.GoogleClientID}, {"googleClientSecret", e.GoogleClientSecret},
		{"githubClientId", e.GitHubClientID}, {"githubClientSecret", e.GitHubClientSecret},
		{"sentryDsn", e.SentryDSN}, {"datadogApiKey", e.DatadogAPIKey},
	}
}

// Missing lists the keys without a value.
func (e External) Missing() []string {
	var out []string
	for _, f := range e.fields() {
		if f.value == nil || *f.value == "" {
			out = append(out, f.key)
		}
	}
	return out
}

// ExternalKeys are the keys of taskmanager:externalSecrets.
func ExternalKeys() []string {
	var out []string
	for _, f := range (External{}).fields() {
		out = append(out, f.key)
	}
	return out
}
