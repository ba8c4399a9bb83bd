// Package edge is the way in: the load balancer, its certificate and DNS name, and the WAF.
package edge

import (
	"regexp"

	"github.com/taskmanager/taskmanager-infra/internal/configcheck"
)

// Config is the stack file's taskmanager:edge.
type Config struct {
	// DomainName is the environment's host name (spec: domain_name).
	DomainName string `json:"domainName"`
	// Internal keeps the load balancer inside the VPC (dev: reached through the bastion).
	Internal bool `json:"internal"`
}

var hostnamePattern = regexp.MustCompile(`^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$`)

// Validate reports every problem, keys relative to taskmanager:edge.
func (c Config) Validate() error {
	var ps configcheck.Problems
	if !hostnamePattern.MatchString(c.DomainName) || len(c.DomainName) > 253 {
		ps.Addf("domainName", "%q is not a DNS name; want lower-case labels separated by dots, e.g. staging.taskmanager.com", c.DomainName)
	}
	return ps.Err()
}
