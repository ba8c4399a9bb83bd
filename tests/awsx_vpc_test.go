package tests

import (
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
)

// awsxVpcProblems is what awsx v2.22.0 (awsx/ec2/vpc.ts and subnetDistributorNew.ts) and AWS
// refuse in an awsx:ec2:Vpc's inputs, for the explicit layout this program uses: awsx runs in its
// own plugin, so the mocks never apply these rules and a real `pulumi preview` would be the first
// to. Each rule cites the awsx function that throws.
func awsxVpcProblems(in map[string]any) []string {
	var problems []string
	add := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }

	vpc, err := netip.ParsePrefix(fmt.Sprint(in["cidrBlock"]))
	if err != nil {
		return []string{fmt.Sprintf("cidrBlock %v is not a CIDR block", in["cidrBlock"])}
	}
	azs, _ := in["availabilityZoneNames"].([]any)
	if in["numberOfAvailabilityZones"] != nil && azs != nil {
		add("Vpc.initialize: only one of availabilityZoneNames and numberOfAvailabilityZones")
	}
	specs, _ := in["subnetSpecs"].([]any)
	// The strategy defaults to Legacy, whose allocator ignores cidrBlocks (pickSubnetAllocator):
	// the subnets would not be the ones the program and its tests computed.
	strategy, _ := in["subnetStrategy"].(string)
	if strategy != "Auto" && strategy != "Exact" {
		add("pickSubnetAllocator: subnetStrategy %q ignores explicit cidrBlocks; want Auto or Exact", strategy)
	}

	type subnet struct {
		name  string
		block netip.Prefix
	}
	// getSubnetSpecsExplicit lays the subnets out AZ by AZ, each AZ in the specs' order.
	var subnets []subnet
	types := map[string]bool{}
	names := map[string]bool{}
	for i, s := range specs {
		spec := s.(map[string]any)
		typ := spec["type"].(string)
		types[typ] = true
		name, _ := spec["name"].(string)
		if name == "" {
			name = strings.ToLower(typ)
		}
		if names[name] {
			add("subnetName: two subnet specs named %q would make the same subnets", name)
		}
		names[name] = true
		blocks, ok := spec["cidrBlocks"].([]any)
		if !ok { // validateAndNormalizeSubnetInputs
			add("subnetSpecs[%d]: if any subnet spec has explicit cidrBlocks, all subnets must have explicit cidrBlocks", i)
			continue
		}
		if len(blocks) != len(azs) {
			add("subnetSpecs[%d]: the number of CIDR blocks (%d) must match the number of availability zones (%d)", i, len(blocks), len(azs))
			continue
		}
		for az, b := range blocks {
			block, err := netip.ParsePrefix(b.(string))
			if err != nil || block.Masked() != block {
				add("subnetSpecs[%d].cidrBlocks[%d]: %v is not a network block", i, az, b)
				continue
			}
			if mask, ok := spec["cidrMask"].(float64); ok && int(mask) != block.Bits() {
				add("subnetSpecs[%d]: the cidrMask must match all cidrBlocks (%s)", i, block)
			}
			// AWS, not awsx: a subnet is inside its VPC and from /16 to /28.
			if !vpc.Contains(block.Addr()) || block.Bits() < vpc.Bits() {
				add("AWS: subnet %s is not inside the VPC %s", block, vpc)
			}
			if block.Bits() < 16 || block.Bits() > 28 {
				add("AWS: subnet %s is not between /16 and /28", block)
			}
			subnets = append(subnets, subnet{fmt.Sprintf("%s-%d", name, az+1), block})
		}
	}
	slices.SortStableFunc(subnets, func(a, b subnet) int { // AZ-major, as awsx creates them
		return strings.Compare(a.name[strings.LastIndex(a.name, "-"):], b.name[strings.LastIndex(b.name, "-"):])
	})
	// validateSubnets: no two subnets overlap.
	for i, a := range subnets {
		for _, b := range subnets[i+1:] {
			if a.block.Overlaps(b.block) {
				add("validateSubnets: %s (%s) overlaps %s (%s)", a.name, a.block, b.name, b.block)
			}
		}
	}
	// validateNoGaps, Exact only: in awsx's order the subnets start at the VPC's first address,
	// follow one another with no gap, and end at its last.
	if strategy == "Exact" && len(subnets) > 0 {
		next := vpc.Addr()
		for _, s := range subnets {
			if s.block.Addr() != next {
				add("validateNoGaps: there are gaps in the subnet ranges: %s (%s) does not start at %s", s.name, s.block, next)
			}
			next = lastAddr(s.block).Next()
		}
		if last := lastAddr(subnets[len(subnets)-1].block); last != lastAddr(vpc) {
			add("validateNoGaps: the last subnet ends at %s, before the VPC ends (at %s)", last, lastAddr(vpc))
		}
	}
	// validateNatGatewayStrategy: a NAT gateway needs a public subnet to sit in and a private one
	// to serve; None (a stack with a NAT instance) needs neither. The strategy is one awsx knows.
	nat, _ := in["natGateways"].(map[string]any)
	switch s, _ := nat["strategy"].(string); s {
	case "None":
	case "Single", "OnePerAz", "":
		if !types["Public"] || !types["Private"] {
			add("validateNatGatewayStrategy: NAT strategy %q needs both private and public subnets (have %v)", s, slices.Sorted(maps.Keys(types)))
		}
	default:
		add("validateNatGatewayStrategy: unknown NAT gateway strategy %q", s)
	}
	// validateEips: no Elastic IPs without gateways.
	if ids, _ := nat["elasticIpAllocationIds"].([]any); len(ids) > 0 && nat["strategy"] == "None" {
		add("validateEips: Elastic IP allocation IDs cannot be specified when NAT Gateway strategy is 'None'")
	}
	return problems
}

func lastAddr(p netip.Prefix) netip.Addr {
	a := p.Masked().Addr().As4()
	host := 32 - p.Bits()
	v := uint32(a[0])<<24 | uint32(a[1])<<16 | uint32(a[2])<<8 | uint32(a[3]) | (1<<host - 1)
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
}

func TestAwsxAcceptsEveryStacksVpc(t *testing.T) {
	for _, stack := range allStacks {
		t.Run(stack, func(t *testing.T) {
			vpc := one(t, runStack(t, stack), "awsx:ec2:Vpc", stack)
			assert.Empty(t, awsxVpcProblems(vpc.Inputs))
		})
	}
}

// The rules above catch what awsx would: the layout this program had under Exact, and a layout
// whose cidrBlocks the default strategy would ignore.
func TestAwsxVpcRulesCatchRefusedLayouts(t *testing.T) {
	vpc := one(t, runStack(t, "dev"), "awsx:ec2:Vpc", "dev")
	with := func(key string, value any) map[string]any {
		in := maps.Clone(vpc.Inputs)
		in[key] = value
		return in
	}
	assert.Contains(t, strings.Join(awsxVpcProblems(with("subnetStrategy", "Exact")), "\n"),
		"validateNoGaps: there are gaps in the subnet ranges: public-1 (10.1.128.0/20) does not start at 10.1.64.0")
	assert.Contains(t, awsxVpcProblems(with("subnetStrategy", nil)),
		`pickSubnetAllocator: subnetStrategy "" ignores explicit cidrBlocks; want Auto or Exact`)
	overlapping := []any{
		map[string]any{"type": "Private", "cidrBlocks": []any{"10.1.0.0/18", "10.1.64.0/18"}},
		map[string]any{"type": "Public", "cidrBlocks": []any{"10.1.32.0/20", "10.1.144.0/20"}},
	}
	assert.Equal(t, []string{"validateSubnets: private-1 (10.1.0.0/18) overlaps public-1 (10.1.32.0/20)"},
		awsxVpcProblems(with("subnetSpecs", overlapping)))
	noPublic := []any{map[string]any{"type": "Private", "cidrBlocks": []any{"10.1.0.0/18", "10.1.64.0/18"}}}
	single := with("subnetSpecs", noPublic)
	single["natGateways"] = map[string]any{"strategy": "Single"}
	assert.Equal(t, []string{`validateNatGatewayStrategy: NAT strategy "Single" needs both private and public subnets (have [Private])`},
		awsxVpcProblems(single))
	// Dev's NAT instance: awsx's strategy None asks for no public or private subnet.
	assert.Equal(t, map[string]any{"strategy": "None"}, vpc.Inputs["natGateways"])
	assert.Empty(t, awsxVpcProblems(with("subnetSpecs", noPublic)))
	assert.Equal(t, []string{`validateNatGatewayStrategy: unknown NAT gateway strategy "Instance"`},
		awsxVpcProblems(with("natGateways", map[string]any{"strategy": "Instance"})), "the program's setting is not awsx's")
	assert.Equal(t, []string{"validateEips: Elastic IP allocation IDs cannot be specified when NAT Gateway strategy is 'None'"},
		awsxVpcProblems(with("natGateways", map[string]any{"strategy": "None", "elasticIpAllocationIds": []any{"eipalloc-1"}})))
}
