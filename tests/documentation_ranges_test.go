package tests

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/taskmanager/taskmanager-infra/internal/mockengine"
	"github.com/taskmanager/taskmanager-infra/stacks"
)

// Staging's stack file still holds the example allowlist 203.0.113.0/24 (RFC 5737): /admin is
// closed to everyone until it is replaced. The preview warns (it does not fail) where staging or
// production allows a documentation range, for each such block, IPv6's 2001:db8::/32 too; dev,
// and real blocks, give no warning.
func TestAdminAllowlistInADocumentationRangeWarns(t *testing.T) {
	load := func(stack string) *stacks.Config {
		cfg, err := stacks.Load(mockengine.WithExternalSecrets(loadStack(t, stack)))
		require.NoError(t, err)
		return cfg
	}
	assert.Equal(t, []string{
		"taskmanager:edge.adminAllowCidrs[0]: 203.0.113.0/24 is in 203.0.113.0/24, an address range reserved for documentation (RFC 5737/3849) that no client has: /admin is refused to everyone until it names the real office or VPN egress blocks",
	}, stacks.DocumentationRangeWarnings(load("staging")))
	assert.Empty(t, stacks.DocumentationRangeWarnings(load("dev")))
	assert.Empty(t, stacks.DocumentationRangeWarnings(load("production")), "production has no allowlist")

	prod := load("production")
	prod.Edge.AdminAllowCidrs = []string{"198.51.100.7/32", "10.20.0.0/16", "192.0.0.0/16", "2001:db8:1::/48", "2001:db9::/32"}
	w := stacks.DocumentationRangeWarnings(prod)
	require.Len(t, w, 2, "only blocks inside a documentation range: %q", w)
	assert.Contains(t, w[0], "adminAllowCidrs[0]: 198.51.100.7/32 is in 198.51.100.0/24")
	assert.Contains(t, w[1], "adminAllowCidrs[3]: 2001:db8:1::/48 is in 2001:db8::/32")

	dev := load("dev")
	dev.Edge.AdminAllowCidrs = []string{"203.0.113.0/24"}
	assert.Empty(t, stacks.DocumentationRangeWarnings(dev), "dev is not checked")
}
