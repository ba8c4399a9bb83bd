package network

import (
	"fmt"
	"math/bits"
	"net/netip"
	"slices"

	"github.com/taskmanager/taskmanager-infra/internal/awslimits"
	"github.com/taskmanager/taskmanager-infra/internal/configcheck"
)

// How the private subnets reach the internet: awsx's NAT gateway strategies, or a NAT instance.
const (
	NatSingle   = "Single"   // one NAT gateway shared by every AZ: cheaper, one AZ's failure cuts egress
	NatOnePerAz = "OnePerAz" // one per AZ: no cross-AZ single point of failure
	// NatInstance is no NAT gateway (awsx's strategy None) but one small Graviton instance that
	// forwards the private subnets' traffic (NewNatInstance): about $29 a month cheaper than a
	// gateway, at the price of one instance's availability and bandwidth. For dev, which has no SLA.
	NatInstance = "Instance"
)

// NatStrategies are the values of taskmanager:network.natGateways.
var NatStrategies = []string{NatSingle, NatOnePerAz, NatInstance}

// awsxNatStrategy is the strategy awsx is given: with a NAT instance, awsx creates no gateway
// and leaves the private route tables without a default route, which the instance's routes add.
func (c Config) awsxNatStrategy() string {
	if c.NatGateways == NatInstance {
		return "None"
	}
	return c.NatGateways
}

// Config shapes the network. Every field comes from the stack file's taskmanager:network.
type Config struct {
	// VpcCidr is the VPC's IPv4 block, e.g. 10.1.0.0/16 (spec: vpc_cidr). The stacks' blocks must
	// not overlap, so that the environments can be peered or reached over one VPN.
	VpcCidr string `json:"vpcCidr"`
	// AvailabilityZones are the AZs to spread over, at least two, all in aws:region
	// (spec: availability_zones). They are explicit so that a preview never looks them up.
	AvailabilityZones []string `json:"availabilityZones"`
	// NatGateways is Single (one shared NAT gateway), OnePerAz (one per AZ) or Instance (one NAT
	// instance instead of gateways, see NatInstance).
	NatGateways string `json:"natGateways"`
	// FlowLogTrafficType is what the VPC flow logs capture: ALL, or REJECT to save cost outside
	// production.
	FlowLogTrafficType string `json:"flowLogTrafficType"`
	// DataRefreshGroup adds the security group the staging data refresh restores production's
	// temporary copy into (scripts/refresh-staging-data.sh, output dataRefreshSecurityGroupId): it
	// admits PostgreSQL from the bastion only, so no workload of the stack reaches the copy. Needs
	// taskmanager:bastion.enabled (the refresh's way in).
	DataRefreshGroup bool `json:"dataRefreshGroup,omitempty"`
}

// Validate reports every problem of the config, with keys relative to taskmanager:network.
func (c Config) Validate() error {
	var ps configcheck.Problems
	prefix, err := netip.ParsePrefix(c.VpcCidr)
	switch {
	case err != nil || !prefix.Addr().Is4():
		ps.Addf("vpcCidr", "%q is not an IPv4 CIDR block; want e.g. 10.1.0.0/16", c.VpcCidr)
	case prefix.Masked() != prefix:
		ps.Addf("vpcCidr", "%q has host bits set; the block starts at %s", c.VpcCidr, prefix.Masked())
	case prefix.Bits() < awslimits.MinVPCPrefix || prefix.Bits() > awslimits.MaxVPCPrefix:
		ps.Addf("vpcCidr", "%q has prefix /%d; AWS allows a VPC prefix from /%d to /%d",
			c.VpcCidr, prefix.Bits(), awslimits.MinVPCPrefix, awslimits.MaxVPCPrefix)
	case len(c.AvailabilityZones) >= 2 && maxVPCPrefix(len(c.AvailabilityZones)) < prefix.Bits():
		ps.Addf("vpcCidr", "%q is too small for three subnet tiers over %d availability zones (AWS's smallest subnet is /%d); use a prefix from /%d to /%d",
			c.VpcCidr, len(c.AvailabilityZones), awslimits.MaxSubnetPrefix, awslimits.MinVPCPrefix, maxVPCPrefix(len(c.AvailabilityZones)))
	}
	if len(c.AvailabilityZones) < 2 {
		ps.Addf("availabilityZones", "%d given; at least two availability zones are required (an ALB and Multi-AZ databases need two)", len(c.AvailabilityZones))
	}
	seen := map[string]bool{}
	for i, az := range c.AvailabilityZones {
		if seen[az] {
			ps.Addf(fmt.Sprintf("availabilityZones[%d]", i), "%q is listed twice; each AZ once", az)
		}
		seen[az] = true
	}
	if !slices.Contains(NatStrategies, c.NatGateways) {
		ps.Addf("natGateways", "%q is not a NAT strategy; want %s", c.NatGateways, configcheck.OneOf(NatStrategies))
	}
	if !slices.Contains([]string{"ALL", "REJECT"}, c.FlowLogTrafficType) {
		ps.Addf("flowLogTrafficType", "%q is not a flow log traffic type; want one of ALL, REJECT", c.FlowLogTrafficType)
	}
	return ps.Err()
}

// Subnet layout: each AZ gets one private (app) subnet and, each a quarter of its size, one
// public and one isolated (data) subnet. Private subnets come first, then public, then isolated,
// so the tiers are contiguous ranges that a route or NACL can name. For a /16 over two AZs:
// private /18, public and isolated /20, a quarter of the block left free for growth.

// azBits is the number of prefix bits that split the VPC between the AZs.
func azBits(azs int) int { return bits.Len(uint(azs - 1)) }

// maxVPCPrefix is the longest VPC prefix whose smallest subnet is still one AWS allows.
func maxVPCPrefix(azs int) int { return awslimits.MaxSubnetPrefix - azBits(azs) - 3 }

// Layout is the subnets' CIDR blocks, one per AZ in each tier, in the AZs' order.
type Layout struct {
	Private, Public, Isolated []string
}

// SubnetLayout computes the subnets of a valid config.
func SubnetLayout(vpcCidr string, azs int) (Layout, error) {
	prefix, err := netip.ParsePrefix(vpcCidr)
	if err != nil {
		return Layout{}, err
	}
	k := azBits(azs)
	privateBits, smallBits := prefix.Bits()+k+1, prefix.Bits()+k+3
	base := ipv4(prefix.Addr())
	privateSize, smallSize := uint32(1)<<(32-privateBits), uint32(1)<<(32-smallBits)
	block := func(offset uint32, bitsLen int) string {
		return netip.PrefixFrom(fromIPv4(base+offset), bitsLen).String()
	}
	var l Layout
	publicStart := uint32(azs) * privateSize
	isolatedStart := publicStart + uint32(azs)*smallSize
	for i := range azs {
		n := uint32(i)
		l.Private = append(l.Private, block(n*privateSize, privateBits))
		l.Public = append(l.Public, block(publicStart+n*smallSize, smallBits))
		l.Isolated = append(l.Isolated, block(isolatedStart+n*smallSize, smallBits))
	}
	return l, nil
}

func ipv4(a netip.Addr) uint32 {
	b := a.As4()
	return uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
}

func fromIPv4(v uint32) netip.Addr {
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
}
