// Package compute runs the application on ECS Fargate: the API and worker services and the
// migration task.
package compute

import (
	"fmt"
	"net/url"
	"regexp"
	"slices"

	"github.com/taskmanager/taskmanager-infra/internal/awslimits"
	"github.com/taskmanager/taskmanager-infra/internal/configcheck"
)

// ServiceConfig sizes one ECS service (spec: api_* and worker_*).
type ServiceConfig struct {
	// CPU is the task's CPU units (256 = 0.25 vCPU), a Fargate size.
	CPU int `json:"cpu"`
	// Memory is the task's memory in MiB; Fargate accepts only certain sizes for each CPU.
	Memory int `json:"memory"`
	// DesiredCount is the number of tasks at deploy time, between MinCapacity and MaxCapacity.
	DesiredCount int `json:"desiredCount"`
	// MinCapacity and MaxCapacity bound auto scaling. They are validated even where auto scaling
	// is off, so that turning it on is a one-line change.
	MinCapacity int `json:"minCapacity"`
	MaxCapacity int `json:"maxCapacity"`
	// Autoscaling turns Application Auto Scaling on; off, the service runs DesiredCount tasks.
	Autoscaling bool `json:"autoscaling"`
	// Command is the container's command: one image runs the API, the worker and the migrations.
	Command []string `json:"command"`
}

// Validate reports the service's problems, keys relative to its stack-file key.
func (c ServiceConfig) Validate() error {
	var ps configcheck.Problems
	if mems := awslimits.FargateMemories(c.CPU); mems == nil {
		ps.Addf("cpu", "%d is not a Fargate CPU size; want %s", c.CPU, configcheck.OneOf(awslimits.FargateCPUs))
	} else if !slices.Contains(mems, c.Memory) {
		ps.Addf("memory", "%d MiB is not a Fargate memory size for cpu %d; want %s MiB", c.Memory, c.CPU, awslimits.DescribeMemories(c.CPU))
	}
	for _, f := range []struct {
		key string
		v   int
	}{{"desiredCount", c.DesiredCount}, {"minCapacity", c.MinCapacity}, {"maxCapacity", c.MaxCapacity}} {
		if f.v < 0 {
			ps.Addf(f.key, "%d is negative; want 0 or more tasks", f.v)
		}
	}
	if c.MaxCapacity < 1 {
		ps.Addf("maxCapacity", "%d allows no task; want 1 or more", c.MaxCapacity)
	}
	if len(c.Command) == 0 {
		ps.Addf("command", "is empty; want the container's command as a list, e.g. [celery, -A, app.worker, worker]")
	}
	if c.MinCapacity > c.MaxCapacity {
		ps.Addf("minCapacity", "%d is above maxCapacity (%d); want minCapacity <= desiredCount <= maxCapacity", c.MinCapacity, c.MaxCapacity)
	} else if c.DesiredCount < c.MinCapacity || c.DesiredCount > c.MaxCapacity {
		ps.Addf("desiredCount", "%d is outside minCapacity..maxCapacity (%d..%d); want minCapacity <= desiredCount <= maxCapacity",
			c.DesiredCount, c.MinCapacity, c.MaxCapacity)
	}
	return ps.Err()
}

// APIConfig is the HTTP API service (taskmanager:api).
type APIConfig struct {
	ServiceConfig
	// ContainerPort is the port the API listens on inside its container.
	ContainerPort int `json:"containerPort"`
	// HealthCheckPath is the readiness endpoint the load balancer and the container check.
	HealthCheckPath string `json:"healthCheckPath"`
}

// Validate reports the API's problems, keys relative to taskmanager:api.
func (c APIConfig) Validate() error {
	var ps configcheck.Problems
	ps.Merge("", c.ServiceConfig.Validate())
	if c.ContainerPort < 1 || c.ContainerPort > 65535 {
		ps.Addf("containerPort", "%d is not a TCP port; want 1 to 65535", c.ContainerPort)
	}
	if len(c.HealthCheckPath) == 0 || c.HealthCheckPath[0] != '/' || len(c.HealthCheckPath) > 1024 {
		ps.Addf("healthCheckPath", "%q is not a path; want an absolute path such as /health (at most 1024 characters)", c.HealthCheckPath)
	}
	return ps.Err()
}

// WorkerConfig is the Celery worker service (taskmanager:worker).
type WorkerConfig struct {
	ServiceConfig
	// Concurrency is CELERY_WORKER_CONCURRENCY: worker processes per task.
	Concurrency int `json:"concurrency"`
	// BacklogPerTask is the queue-depth scaling target: Celery tasks waiting in the queue per
	// running worker task (docs/queue-depth.md), which a second target-tracking policy holds
	// beside the CPU policy. Required where autoscaling is on, validated wherever it is set;
	// without autoscaling nothing scales on it, and the program deploys no queue-depth function.
	BacklogPerTask *float64 `json:"backlogPerTask,omitempty"`
}

// Validate reports the worker's problems, keys relative to taskmanager:worker.
func (c WorkerConfig) Validate() error {
	var ps configcheck.Problems
	ps.Merge("", c.ServiceConfig.Validate())
	if c.Concurrency < 1 {
		ps.Addf("concurrency", "%d is not a process count; want 1 or more", c.Concurrency)
	}
	switch b := c.BacklogPerTask; {
	case b == nil && c.Autoscaling:
		ps.Addf("backlogPerTask", "missing, and autoscaling is on; want the waiting tasks per worker task to scale on, e.g. 5 × concurrency")
	case b != nil && *b <= 0:
		ps.Addf("backlogPerTask", "%g is not allowed; want more than 0 waiting tasks per worker task", *b)
	}
	return ps.Err()
}

// JWTAlgorithms are the signing algorithms the app's JWT library accepts with a shared secret.
var JWTAlgorithms = []string{"HS256", "HS384", "HS512"}

// AppConfig is the application's non-secret settings (taskmanager:app): each becomes a plain
// environment variable of the API, worker and migration containers. Secrets never appear here.
type AppConfig struct {
	// Debug is DEBUG.
	Debug bool `json:"debug"`
	// IncludeTraceback puts tracebacks in error responses (spec: development only).
	IncludeTraceback bool `json:"includeTraceback"`
	// RandomSeed, when set, fixes the app's random seed for repeatable tests (spec: 42 in dev).
	RandomSeed *int `json:"randomSeed,omitempty"`
	// DBPoolSize and DBPoolMaxOverflow size SQLAlchemy's pool per process.
	DBPoolSize        int `json:"dbPoolSize"`
	DBPoolMaxOverflow int `json:"dbPoolMaxOverflow"`
	// DBPoolRecycleSeconds recycles connections older than this (spec: 3600).
	DBPoolRecycleSeconds int `json:"dbPoolRecycleSeconds"`
	// RedisMaxConnections bounds the Redis pool per process (spec: 100).
	RedisMaxConnections int `json:"redisMaxConnections"`
	// JWT is the token settings (JWT_*).
	JWT JWTConfig `json:"jwt"`
	// SMTP is the mail relay (SMTP_HOST, SMTP_PORT); its credentials are externalSecrets.
	SMTP SMTPConfig `json:"smtp"`
	// CORSOrigins are the browser origins allowed to call the API.
	CORSOrigins []string `json:"corsOrigins"`
	// RateLimitPerMinute is the per-client request limit when rate limiting is on.
	RateLimitPerMinute int `json:"rateLimitPerMinute"`
	// SentryEnabled and DatadogEnabled turn the app's monitoring integrations on.
	SentryEnabled  bool `json:"sentryEnabled"`
	DatadogEnabled bool `json:"datadogEnabled"`
	// Features are the feature flags (ENABLE_*).
	Features Features `json:"features"`
}

// JWTConfig is the token settings (JWT_*); the signing key is a generated secret.
type JWTConfig struct {
	// Algorithm is JWT_ALGORITHM, a shared-secret algorithm.
	Algorithm string `json:"algorithm"`
	// AccessTokenExpireMinutes is JWT_ACCESS_TOKEN_EXPIRE_MINUTES (spec: 1440 in dev, 15 elsewhere).
	AccessTokenExpireMinutes int `json:"accessTokenExpireMinutes"`
	// RefreshTokenExpireDays is JWT_REFRESH_TOKEN_EXPIRE_DAYS; the spec sets it in production only.
	RefreshTokenExpireDays *int `json:"refreshTokenExpireDays,omitempty"`
}

// SMTPConfig is the mail relay (SMTP_HOST, SMTP_PORT); its credentials are secrets.
type SMTPConfig struct {
	// Host is SMTP_HOST, the mail relay's host name.
	Host string `json:"host"`
	// Port is SMTP_PORT.
	Port int `json:"port"`
}

// Features are the feature flags (ENABLE_*).
type Features struct {
	// Registration is ENABLE_REGISTRATION: people may sign up.
	Registration bool `json:"registration"`
	// EmailVerification is ENABLE_EMAIL_VERIFICATION (spec: skipped in dev).
	EmailVerification bool `json:"emailVerification"`
	// RateLimiting is ENABLE_RATE_LIMITING, at RateLimitPerMinute.
	RateLimiting bool `json:"rateLimiting"`
	// MFA is ENABLE_MFA (spec: a future feature, off everywhere).
	MFA bool `json:"mfa"`
}

// Validate reports the app settings' problems, keys relative to taskmanager:app.
func (c AppConfig) Validate() error {
	var ps configcheck.Problems
	positive := []struct {
		key string
		v   int
	}{
		{"dbPoolSize", c.DBPoolSize},
		{"dbPoolRecycleSeconds", c.DBPoolRecycleSeconds},
		{"redisMaxConnections", c.RedisMaxConnections},
		{"jwt.accessTokenExpireMinutes", c.JWT.AccessTokenExpireMinutes},
		{"rateLimitPerMinute", c.RateLimitPerMinute},
	}
	for _, f := range positive {
		if f.v < 1 {
			ps.Addf(f.key, "%d is not allowed; want 1 or more", f.v)
		}
	}
	if c.DBPoolMaxOverflow < 0 {
		ps.Addf("dbPoolMaxOverflow", "%d is negative; want 0 or more connections", c.DBPoolMaxOverflow)
	}
	if d := c.JWT.RefreshTokenExpireDays; d != nil && *d < 1 {
		ps.Addf("jwt.refreshTokenExpireDays", "%d is not allowed; want 1 or more days, or leave it out", *d)
	}
	if !slices.Contains(JWTAlgorithms, c.JWT.Algorithm) {
		ps.Addf("jwt.algorithm", "%q is not a shared-secret JWT algorithm; want %s", c.JWT.Algorithm, configcheck.OneOf(JWTAlgorithms))
	}
	if c.SMTP.Host == "" {
		ps.Addf("smtp.host", `"" is empty; want the mail relay's host name`)
	}
	if c.SMTP.Port < 1 || c.SMTP.Port > 65535 {
		ps.Addf("smtp.port", "%d is not a TCP port; want 1 to 65535", c.SMTP.Port)
	}
	if len(c.CORSOrigins) == 0 {
		ps.Addf("corsOrigins", "is empty; want the browser origins of the web app, e.g. https://taskmanager.com")
	}
	for i, o := range c.CORSOrigins {
		u, err := url.Parse(o)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || (u.Path != "" && u.Path != "/") {
			ps.Addf(fmt.Sprintf("corsOrigins[%d]", i), "%q is not an origin; want scheme and host, e.g. https://taskmanager.com", o)
		}
	}
	return ps.Err()
}

// Capacity providers a service can run on.
const (
	Fargate     = "FARGATE"
	FargateSpot = "FARGATE_SPOT" // about 70% cheaper; tasks can be interrupted with two minutes' notice
)

// Deployment strategies of the API service.
const (
	Rolling   = "rolling"   // ECS rolling update with the deployment circuit breaker and rollback
	BlueGreen = "blueGreen" // CodeDeploy: canary 10% for 15 minutes, then 100%, rollback on alarm
)

var imageTagPattern = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$`)

// Config is the stack file's taskmanager:compute: what runs, and how it is deployed.
type Config struct {
	// ImageTag is the app image's tag in the environment's repository, set by CI
	// (pulumi config set --path taskmanager:compute.imageTag main-abc1234). Tags are immutable,
	// so "latest" is refused.
	ImageTag string `json:"imageTag"`
	// CapacityProvider is FARGATE or FARGATE_SPOT.
	CapacityProvider string `json:"capacityProvider"`
	// APIDeployment is rolling or blueGreen (blue/green needs an HTTPS load balancer).
	APIDeployment string `json:"apiDeployment"`
	// MigrationsCommand runs the database migrations (the pipeline runs it before each deploy).
	MigrationsCommand []string `json:"migrationsCommand"`
}

// Validate reports every problem, keys relative to taskmanager:compute.
func (c Config) Validate() error {
	var ps configcheck.Problems
	if !imageTagPattern.MatchString(c.ImageTag) || c.ImageTag == "latest" {
		ps.Addf("imageTag", "%q is not an image tag this program deploys; want 1 to 128 letters, digits, '.', '_' or '-', not starting with '.' or '-', and not \"latest\" (tags are immutable), e.g. main-abc1234", c.ImageTag)
	}
	if !slices.Contains([]string{Fargate, FargateSpot}, c.CapacityProvider) {
		ps.Addf("capacityProvider", "%q is not a Fargate capacity provider; want one of %s, %s", c.CapacityProvider, Fargate, FargateSpot)
	}
	if !slices.Contains([]string{Rolling, BlueGreen}, c.APIDeployment) {
		ps.Addf("apiDeployment", "%q is not a deployment strategy; want one of %s, %s", c.APIDeployment, Rolling, BlueGreen)
	}
	if len(c.MigrationsCommand) == 0 {
		ps.Addf("migrationsCommand", "is empty; want the migration command as a list, e.g. [alembic, upgrade, head]")
	}
	return ps.Err()
}
