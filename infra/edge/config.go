// Package edge is the way in: the load balancer, its certificate and DNS name, and the WAF.
package edge

import (
	"fmt"
	"net/netip"
	"regexp"
	"slices"
	"strings"

	"github.com/taskmanager/taskmanager-infra/internal/configcheck"
)

// Config is the stack file's taskmanager:edge.
type Config struct {
	// DomainName is the environment's host name (spec: domain_name).
	DomainName string `json:"domainName"`
	// AlternativeNames are further host names of the certificate and DNS (production: www).
	AlternativeNames []string `json:"alternativeNames,omitempty"`
	// HostedZone is the existing public Route53 zone the names live in, e.g. taskmanager.com.
	// An internal edge creates a private zone for DomainName instead.
	HostedZone string `json:"hostedZone"`
	// Internal keeps the load balancer inside the VPC (dev: reached through the bastion), where
	// no public certificate can be issued: it serves HTTP.
	Internal bool `json:"internal"`
	// DeletionProtection makes AWS refuse to delete the load balancer.
	DeletionProtection bool `json:"deletionProtection"`
	// AdminAllowCidrs, when set, allows /admin only from these blocks (spec, staging: "IP
	// whitelist for admin endpoints"). It needs the WAF.
	AdminAllowCidrs []string `json:"adminAllowCidrs,omitempty"`
	// SignIn puts the load balancer's own authentication (a Cognito user pool of the
	// environment's own, invited users only) in front of every path: the spec's "basic auth for
	// non-production users" (staging), which cannot share the Authorization header with the
	// app's Bearer tokens. The pipeline's smoke tests pass with a secret header.
	SignIn bool `json:"signIn"`
	// WAF protects a public load balancer; nil leaves it off.
	WAF *WAFConfig `json:"waf,omitempty"`
}

// WAFConfig is the web ACL.
type WAFConfig struct {
	// ManagedRuleGroups are AWS managed rule groups, by name.
	ManagedRuleGroups []string `json:"managedRuleGroups"`
	// RateLimit is the most requests one IP may make in five minutes (WAF's minimum is 10).
	RateLimit int `json:"rateLimit"`
}

// ManagedRuleGroups are the AWS managed rule groups this program knows (vendor AWS).
var ManagedRuleGroups = []string{
	"AWSManagedRulesCommonRuleSet", "AWSManagedRulesKnownBadInputsRuleSet", "AWSManagedRulesSQLiRuleSet",
	"AWSManagedRulesAmazonIpReputationList", "AWSManagedRulesAnonymousIpList", "AWSManagedRulesLinuxRuleSet",
	"AWSManagedRulesUnixRuleSet", "AWSManagedRulesAdminProtectionRuleSet", "AWSManagedRulesBotControlRuleSet",
}

var hostnamePattern = regexp.MustCompile(`^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$`)

func validHostname(name string) bool { return len(name) <= 253 && hostnamePattern.MatchString(name) }

// Validate reports every problem, keys relative to taskmanager:edge.
func (c Config) Validate() error {
	var ps configcheck.Problems
	if !validHostname(c.DomainName) {
		ps.Addf("domainName", "%q is not a DNS name; want lower-case labels separated by dots, e.g. staging.taskmanager.com", c.DomainName)
	}
	for i, n := range c.AlternativeNames {
		if !validHostname(n) {
			ps.Addf(fmt.Sprintf("alternativeNames[%d]", i), "%q is not a DNS name; want e.g. www.taskmanager.com", n)
		}
	}
	if !validHostname(c.HostedZone) {
		ps.Addf("hostedZone", "%q is not a DNS zone name; want e.g. taskmanager.com", c.HostedZone)
	} else {
		for _, n := range append([]string{c.DomainName}, c.AlternativeNames...) {
			if n != c.HostedZone && !strings.HasSuffix(n, "."+c.HostedZone) {
				ps.Addf("hostedZone", "%q does not contain %q; want the zone the names live in", c.HostedZone, n)
			}
		}
	}
	for i, cidr := range c.AdminAllowCidrs {
		if p, err := netip.ParsePrefix(cidr); err != nil || p.Masked() != p {
			ps.Addf(fmt.Sprintf("adminAllowCidrs[%d]", i), "%q is not a CIDR block; want e.g. 203.0.113.0/24", cidr)
		}
	}
	if len(c.AdminAllowCidrs) > 0 && c.WAF == nil {
		ps.Addf("adminAllowCidrs", "needs the WAF, which enforces it; add waf")
	}
	if c.SignIn && c.Internal {
		ps.Addf("signIn", "true needs the HTTPS listener of an internet-facing load balancer, and internal is true; want false")
	}
	if c.Internal && (c.WAF != nil || len(c.AlternativeNames) > 0) {
		ps.Addf("internal", "true serves plain HTTP inside the VPC: no waf and no alternativeNames there")
	}
	if w := c.WAF; w != nil {
		for i, g := range w.ManagedRuleGroups {
			if !slices.Contains(ManagedRuleGroups, g) {
				ps.Addf(fmt.Sprintf("waf.managedRuleGroups[%d]", i), "%q is not an AWS managed rule group this program knows; want %s", g, configcheck.OneOf(ManagedRuleGroups))
			}
		}
		if w.RateLimit < 10 || w.RateLimit > 2000000000 {
			ps.Addf("waf.rateLimit", "%d is outside what WAF allows; want 10 to 2000000000 requests per 5 minutes", w.RateLimit)
		}
	}
	return ps.Err()
}
