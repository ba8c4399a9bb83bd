// Package storage is the environment's S3 buckets: backups, static assets and logs.
package storage

// Config is the stack file's taskmanager:storage: which buckets the environment has (spec:
// backups and static assets in production; elsewhere where the stack turns them on).
type Config struct {
	// Backups keeps database exports and other backups, versioned, for the backup retention.
	Backups bool `json:"backups"`
	// StaticAssets holds the web app's files, private (served through a CDN, never public S3).
	StaticAssets bool `json:"staticAssets"`
	// Logs receives the load balancer's access logs. The log archive (Firehose, where
	// taskmanager:logging.archiveDays is set) has a bucket of its own, log-archive.
	Logs bool `json:"logs"`
}

// Validate reports every problem; every combination of buckets is allowed.
func (c Config) Validate() error { return nil }
