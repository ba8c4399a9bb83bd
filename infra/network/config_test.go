package network

import (
	"net/netip"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestSubnetLayoutFitsAndNeverOverlaps(t *testing.T) {
	for _, c := range []struct {
		cidr string
		azs  int
	}{{"10.0.0.0/16", 2}, {"10.0.0.0/16", 3}, {"10.0.0.0/16", 6}, {"10.9.0.0/24", 2}, {"172.16.0.0/22", 4}} {
		l, err := SubnetLayout(c.cidr, c.azs)
		require.NoError(t, err)
		vpc := netip.MustParsePrefix(c.cidr)
		all := append(append(append([]string{}, l.Private...), l.Public...), l.Isolated...)
		require.Len(t, all, 3*c.azs)
		for i, a := range all {
			pa := netip.MustParsePrefix(a)
			assert.True(t, vpc.Contains(pa.Addr()) && pa.Bits() >= vpc.Bits(), "%s outside %s", a, c.cidr)
			assert.LessOrEqual(t, pa.Bits(), 28, "%s is smaller than AWS allows", a)
			for _, b := range all[i+1:] {
				assert.False(t, pa.Overlaps(netip.MustParsePrefix(b)), "%s overlaps %s", a, b)
			}
		}
	}
}

func TestSmallestVPCForTwoAZsGivesSlash28Subnets(t *testing.T) {
	l, err := SubnetLayout("10.9.0.0/24", 2)
	require.NoError(t, err)
	assert.Equal(t, Layout{
		Private:  []string{"10.9.0.0/26", "10.9.0.64/26"},
		Public:   []string{"10.9.0.128/28", "10.9.0.144/28"},
		Isolated: []string{"10.9.0.160/28", "10.9.0.176/28"},
	}, l)
}
