package stacks

import (
	"fmt"
	"net/netip"
)

// documentationRanges are the address blocks reserved for examples (RFC 5737, RFC 3849): no
// client ever has such an address, so an allowlist of one admits nobody.
var documentationRanges = []netip.Prefix{
	netip.MustParsePrefix("192.0.2.0/24"),    // TEST-NET-1
	netip.MustParsePrefix("198.51.100.0/24"), // TEST-NET-2
	netip.MustParsePrefix("203.0.113.0/24"),  // TEST-NET-3
	netip.MustParsePrefix("2001:db8::/32"),   // IPv6 documentation
}

// DocumentationRangeWarnings names each taskmanager:edge.adminAllowCidrs block of staging or
// production that lies in a documentation range: the stack file still holds the example, and
// /admin is closed to everyone until it names the real office and VPN egress. A warning, not an
// error: a closed /admin is safe, and the stack deploys. Dev has no allowlist to get wrong.
func DocumentationRangeWarnings(c *Config) []string {
	if c.Environment != "staging" && c.Environment != "production" {
		return nil
	}
	var out []string
	for i, cidr := range c.Edge.AdminAllowCidrs {
		p, err := netip.ParsePrefix(cidr)
		if err != nil {
			continue // Load reports a malformed block
		}
		for _, doc := range documentationRanges {
			if p.Bits() >= doc.Bits() && doc.Contains(p.Addr()) {
				out = append(out, fmt.Sprintf("%s:edge.adminAllowCidrs[%d]: %s is in %s, an address range reserved for documentation (RFC 5737/3849) that no client has: /admin is refused to everyone until it names the real office or VPN egress blocks",
					Namespace, i, cidr, doc))
				break
			}
		}
	}
	return out
}
