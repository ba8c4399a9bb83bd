// Package cache is the environment's Redis: cache, Celery broker and result backend.
package cache

import (
	"regexp"

	"github.com/taskmanager/taskmanager-infra/internal/configcheck"
)

// Config sizes the cache. Every field comes from the stack file's taskmanager:cache (spec: cache_*).
type Config struct {
	// EngineVersion is the Redis version, major.minor from 7 on, e.g. "7.1".
	EngineVersion string `json:"engineVersion"`
	// NodeType is the ElastiCache node type, e.g. cache.t3.micro.
	NodeType string `json:"nodeType"`
	// NumNodes is the number of nodes: one primary and NumNodes-1 replicas (1 to 6).
	NumNodes int `json:"numNodes"`
	// AutomaticFailover promotes a replica when the primary fails; it needs two or more nodes.
	AutomaticFailover bool `json:"automaticFailover"`
	// MultiAZ spreads the nodes over AZs; it needs automatic failover.
	MultiAZ bool `json:"multiAz"`
	// SnapshotRetentionDays keeps daily snapshots this many days (0 to 35; 0 takes none).
	SnapshotRetentionDays int `json:"snapshotRetentionDays"`
}

var (
	nodeTypePattern      = regexp.MustCompile(`^cache\.[a-z][a-z0-9-]*\.[a-z0-9]+$`)
	engineVersionPattern = regexp.MustCompile(`^[7-9]\.[0-9]+$`)
)

// Validate reports every problem of the config, keys relative to taskmanager:cache.
func (c Config) Validate() error {
	var ps configcheck.Problems
	if !engineVersionPattern.MatchString(c.EngineVersion) {
		ps.Addf("engineVersion", "%q is not a Redis version ElastiCache takes for a new group; want major.minor from 7.0, e.g. \"7.1\"", c.EngineVersion)
	}
	if !nodeTypePattern.MatchString(c.NodeType) {
		ps.Addf("nodeType", "%q is not an ElastiCache node type; want cache.<family>.<size>, e.g. cache.t3.micro", c.NodeType)
	}
	if c.NumNodes < 1 || c.NumNodes > 6 {
		ps.Addf("numNodes", "%d is outside what a replication group allows; want 1 to 6 (a primary and up to 5 replicas)", c.NumNodes)
	}
	if c.AutomaticFailover && c.NumNodes < 2 {
		ps.Addf("automaticFailover", "true needs a replica to fail over to, and numNodes is %d; want numNodes 2 or more, or automaticFailover false", c.NumNodes)
	}
	if c.MultiAZ && !c.AutomaticFailover {
		ps.Addf("multiAz", "true needs automaticFailover true (ElastiCache rule)")
	}
	if c.SnapshotRetentionDays < 0 || c.SnapshotRetentionDays > 35 {
		ps.Addf("snapshotRetentionDays", "%d is outside what ElastiCache allows; want 0 to 35 days", c.SnapshotRetentionDays)
	}
	return ps.Err()
}
