// Package database is the environment's PostgreSQL: the RDS primary and its optional read replica.
package database

import (
	"regexp"
	"slices"

	"github.com/taskmanager/taskmanager-infra/internal/configcheck"
	"github.com/taskmanager/taskmanager-infra/internal/naming"
)

// Config sizes the database. Every field comes from the stack file's taskmanager:database
// (spec: db_*).
type Config struct {
	// EngineVersion is the PostgreSQL major version, e.g. "16": minor versions are applied by RDS.
	EngineVersion string `json:"engineVersion"`
	// InstanceClass is the RDS instance class, e.g. db.t3.micro.
	InstanceClass string `json:"instanceClass"`
	// AllocatedStorage is the initial storage in GiB (gp3: 20 to 65536).
	AllocatedStorage int `json:"allocatedStorage"`
	// MaxAllocatedStorage is the storage autoscaling ceiling in GiB: 0 turns autoscaling off,
	// otherwise at least 1.1 × AllocatedStorage, as RDS requires.
	MaxAllocatedStorage int `json:"maxAllocatedStorage"`
	// MultiAZ keeps a synchronous standby in a second AZ.
	MultiAZ bool `json:"multiAz"`
	// BackupRetentionDays is how long automated backups are kept, 0 to 35 (spec: 7/14/30).
	BackupRetentionDays int `json:"backupRetentionDays"`
	// DeletionProtection makes RDS refuse to delete the instance.
	DeletionProtection bool `json:"deletionProtection"`
	// SkipFinalSnapshot deletes without a last snapshot (dev only).
	SkipFinalSnapshot bool `json:"skipFinalSnapshot"`
	// MonitoringIntervalSeconds is Enhanced Monitoring's interval: 0 (off), 1, 5, 10, 15, 30 or 60.
	MonitoringIntervalSeconds int `json:"monitoringIntervalSeconds"`
	// PerformanceInsights turns Performance Insights on (not offered on the smallest classes).
	PerformanceInsights bool `json:"performanceInsights"`
	// Replica, when set, adds a read replica (spec: db_create_replica, db_replica_instance_class).
	Replica *ReplicaConfig `json:"replica,omitempty"`
	// Proxy, when set, puts RDS Proxy in front of the primary: the app's DATABASE_URL points at
	// it, and its connections to the database stay under a ceiling however far the services scale.
	Proxy *ProxyConfig `json:"proxy,omitempty"`
}

// ProxyConfig is RDS Proxy's pool.
type ProxyConfig struct {
	// MaxConnectionsPercent is the share of the instance's max_connections the proxy may open,
	// leaving ReservedConnections for the migration task, the bastion and the rotation function.
	MaxConnectionsPercent int `json:"maxConnectionsPercent"`
}

// ReservedConnections are the database connections kept outside the proxy's ceiling: the
// migration task (its pool), people through the bastion, the rotation function, and RDS's own
// reserved superuser slots.
const ReservedConnections = 30

// ReplicaConfig sizes the read replica.
type ReplicaConfig struct {
	// InstanceClass is the replica's RDS instance class (spec: db_replica_instance_class).
	InstanceClass string `json:"instanceClass"`
}

// MonitoringIntervals are the Enhanced Monitoring intervals RDS takes, in seconds (0: off).
var MonitoringIntervals = []int{0, 1, 5, 10, 15, 30, 60}

var (
	instanceClassPattern = regexp.MustCompile(`^db\.[a-z][a-z0-9-]*\.[a-z0-9]+$`)
	majorVersionPattern  = regexp.MustCompile(`^[1-9][0-9]$`)
)

// Validate reports every problem of the config, keys relative to taskmanager:database.
func (c Config) Validate() error {
	var ps configcheck.Problems
	if !majorVersionPattern.MatchString(c.EngineVersion) {
		ps.Addf("engineVersion", "%q is not a PostgreSQL major version; want e.g. \"16\"", c.EngineVersion)
	}
	if !instanceClassPattern.MatchString(c.InstanceClass) {
		ps.Addf("instanceClass", "%q is not an RDS instance class; want db.<family>.<size>, e.g. db.t3.micro", c.InstanceClass)
	}
	if c.AllocatedStorage < 20 || c.AllocatedStorage > 65536 {
		ps.Addf("allocatedStorage", "%d GiB is outside what gp3 storage allows; want 20 to 65536", c.AllocatedStorage)
	}
	if minCeiling := (c.AllocatedStorage*11 + 9) / 10; c.MaxAllocatedStorage != 0 && c.MaxAllocatedStorage < minCeiling {
		ps.Addf("maxAllocatedStorage", "%d GiB must be 0 (autoscaling off) or at least %d (1.1 × allocatedStorage %d)",
			c.MaxAllocatedStorage, minCeiling, c.AllocatedStorage)
	} else if c.MaxAllocatedStorage > 65536 {
		ps.Addf("maxAllocatedStorage", "%d GiB is above gp3's 65536", c.MaxAllocatedStorage)
	}
	if c.BackupRetentionDays < 0 || c.BackupRetentionDays > 35 {
		ps.Addf("backupRetentionDays", "%d is outside what RDS allows; want 0 to 35 days", c.BackupRetentionDays)
	}
	if !slices.Contains(MonitoringIntervals, c.MonitoringIntervalSeconds) {
		ps.Addf("monitoringIntervalSeconds", "%d is not an Enhanced Monitoring interval; want %s", c.MonitoringIntervalSeconds, configcheck.OneOf(MonitoringIntervals))
	}
	if p := c.Proxy; p != nil && (p.MaxConnectionsPercent < 1 || p.MaxConnectionsPercent > 100) {
		ps.Addf("proxy.maxConnectionsPercent", "%d is not a percentage RDS Proxy takes; want 1 to 100", p.MaxConnectionsPercent)
	}
	if c.Replica != nil {
		if c.BackupRetentionDays == 0 {
			ps.Addf("backupRetentionDays", "0 turns backups off, and a read replica needs them; want 1 to 35 days, or remove replica")
		}
		if !instanceClassPattern.MatchString(c.Replica.InstanceClass) {
			ps.Addf("replica.instanceClass", "%q is not an RDS instance class; want db.<family>.<size>, e.g. db.r6g.large", c.Replica.InstanceClass)
		}
	}
	return ps.Err()
}

// Identifier is the instance's name in RDS, which the spec's runbook uses:
// <stack>-taskmanager-db.
func Identifier(stack string) string { return naming.For(stack).Resource("db") }
