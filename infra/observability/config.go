// Package observability is the environment's logs, dashboards and alarms.
package observability

import (
	"slices"

	"github.com/taskmanager/taskmanager-infra/internal/awslimits"
	"github.com/taskmanager/taskmanager-infra/internal/configcheck"
)

// LogLevels are the Python logging levels the app accepts as LOG_LEVEL.
var LogLevels = []string{"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}

// LoggingConfig is the stack file's taskmanager:logging (spec: log_retention_days,
// log_archive_days, log_level).
type LoggingConfig struct {
	// RetentionDays keeps logs in CloudWatch this long (hot data): a value CloudWatch allows.
	RetentionDays int `json:"retentionDays"`
	// ArchiveDays, when set, archives logs to S3 and keeps them this long (cold data).
	ArchiveDays *int `json:"archiveDays,omitempty"`
	// Level is the app's LOG_LEVEL.
	Level string `json:"level"`
}

// Validate reports every problem, keys relative to taskmanager:logging.
func (c LoggingConfig) Validate() error {
	var ps configcheck.Problems
	if !awslimits.ValidLogRetention(c.RetentionDays) {
		ps.Addf("retentionDays", "%d is not a retention CloudWatch Logs allows; want %s", c.RetentionDays, configcheck.OneOf(awslimits.LogRetentionDays))
	}
	if a := c.ArchiveDays; a != nil && *a <= c.RetentionDays {
		ps.Addf("archiveDays", "%d must be above retentionDays (%d): the archive keeps logs after CloudWatch drops them", *a, c.RetentionDays)
	}
	if !slices.Contains(LogLevels, c.Level) {
		ps.Addf("level", "%q is not a log level; want %s", c.Level, configcheck.OneOf(LogLevels))
	}
	return ps.Err()
}
