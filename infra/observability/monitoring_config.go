package observability

import (
	"fmt"
	"net/mail"
	"slices"

	"github.com/taskmanager/taskmanager-infra/internal/configcheck"
)

// Monitoring Levels, the spec's comparison matrix row "Monitoring".
const (
	Basic    = "basic"    // alarms, without actions; no dashboards; no Container Insights
	Full     = "full"     // alarms, the dashboards and Container Insights
	Alerting = "alerting" // full, and alarms page through an SNS topic
)

// Levels are the values of taskmanager:monitoring.level.
var Levels = []string{Basic, Full, Alerting}

// MonitoringConfig is the stack file's taskmanager:monitoring.
type MonitoringConfig struct {
	// Level is basic, full or alerting: basic is alarms without actions on AWS's free metrics;
	// full adds the dashboards and Container Insights; alerting adds the alert topic.
	Level string `json:"level"`
	// AlertEmails subscribe to the alert topic (alerting only); each confirms by mail.
	AlertEmails []string `json:"alertEmails,omitempty"`
	// Thresholds of the alarms.
	Thresholds Thresholds `json:"thresholds"`
}

// Thresholds are what the alarms compare with.
type Thresholds struct {
	// ALB5xxPercent is the share of requests answered 5xx by the targets, in percent.
	ALB5xxPercent float64 `json:"alb5xxPercent"`
	// P99LatencySeconds is the targets' 99th-percentile response time.
	P99LatencySeconds float64 `json:"p99LatencySeconds"`
	// ServiceCPUPercent and ServiceMemoryPercent are the ECS services' averages.
	ServiceCPUPercent    float64 `json:"serviceCpuPercent"`
	ServiceMemoryPercent float64 `json:"serviceMemoryPercent"`
	// DatabaseCPUPercent, DatabaseFreeStorageGiB and ReplicaLagSeconds watch RDS.
	DatabaseCPUPercent     float64 `json:"databaseCpuPercent"`
	DatabaseFreeStorageGiB float64 `json:"databaseFreeStorageGiB"`
	ReplicaLagSeconds      float64 `json:"replicaLagSeconds"`
	// CacheMemoryPercent, CacheCPUPercent and CacheEvictions watch Redis; any eviction loses a
	// queued task, so CacheEvictions is normally 0.
	CacheMemoryPercent float64 `json:"cacheMemoryPercent"`
	CacheCPUPercent    float64 `json:"cacheCpuPercent"`
	CacheEvictions     float64 `json:"cacheEvictions"`
	// OldestTaskAgeSeconds is how long the oldest task in the Celery queues may wait before the
	// alarm fires (the queue-depth function's OldestTaskAgeSeconds, where it runs).
	OldestTaskAgeSeconds float64 `json:"oldestTaskAgeSeconds"`
}

// ContainerInsights says whether the ECS cluster sends Container Insights' per-task metrics: above
// the basic level. Basic is AWS's free default metrics, which every alarm here reads; Container
// Insights' are custom metrics, about $19 a month for the two services (docs/costs.md), a fifth
// of dev's budget. Security Hub's ECS.12 asks for them everywhere: dev is a named waiver (README).
func (c MonitoringConfig) ContainerInsights() bool { return c.Level != Basic }

// Validate reports every problem, keys relative to taskmanager:monitoring.
func (c MonitoringConfig) Validate() error {
	var ps configcheck.Problems
	if !slices.Contains(Levels, c.Level) {
		ps.Addf("level", "%q is not a monitoring level; want %s", c.Level, configcheck.OneOf(Levels))
	}
	if c.Level == Alerting && len(c.AlertEmails) == 0 {
		ps.Addf("alertEmails", "is empty, and level alerting pages someone; want at least one address")
	}
	if c.Level != Alerting && len(c.AlertEmails) > 0 {
		ps.Addf("alertEmails", "has addresses, but only level alerting sends mail; want level alerting, or no alertEmails")
	}
	for i, e := range c.AlertEmails {
		if a, err := mail.ParseAddress(e); err != nil || a.Address != e {
			ps.Addf(fmt.Sprintf("alertEmails[%d]", i), "%q is not an e-mail address; want e.g. oncall@taskmanager.com", e)
		}
	}
	t := c.Thresholds
	for _, p := range []struct {
		key string
		v   float64
	}{
		{"alb5xxPercent", t.ALB5xxPercent}, {"serviceCpuPercent", t.ServiceCPUPercent}, {"serviceMemoryPercent", t.ServiceMemoryPercent},
		{"databaseCpuPercent", t.DatabaseCPUPercent}, {"cacheMemoryPercent", t.CacheMemoryPercent}, {"cacheCpuPercent", t.CacheCPUPercent},
	} {
		if p.v <= 0 || p.v > 100 {
			ps.Addf("thresholds."+p.key, "%g is not a percentage; want more than 0 and at most 100", p.v)
		}
	}
	for _, p := range []struct {
		key string
		v   float64
	}{
		{"p99LatencySeconds", t.P99LatencySeconds}, {"databaseFreeStorageGiB", t.DatabaseFreeStorageGiB}, {"replicaLagSeconds", t.ReplicaLagSeconds},
		{"oldestTaskAgeSeconds", t.OldestTaskAgeSeconds},
	} {
		if p.v <= 0 {
			ps.Addf("thresholds."+p.key, "%g is not allowed; want more than 0", p.v)
		}
	}
	if t.CacheEvictions < 0 {
		ps.Addf("thresholds.cacheEvictions", "%g is negative; want 0 or more evictions", t.CacheEvictions)
	}
	return ps.Err()
}
