package tests

import (
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/taskmanager/taskmanager-infra/internal/mockengine"
)

// subnetsAndNAT are what the foundation issue sets beside the spec's network (internal/spec:
// vpc_cidr, availability_zones): awsx's NAT strategy, None in dev, whose NAT instance
// (nat_test.go) replaced the one shared gateway the foundation issue set, one gateway per AZ
// elsewhere; and the private, public and isolated subnets, one per AZ.
var subnetsAndNAT = map[string]struct {
	nat                       string
	private, public, isolated []string
}{
	"dev": {"None",
		[]string{"10.1.0.0/18", "10.1.64.0/18"}, []string{"10.1.128.0/20", "10.1.144.0/20"}, []string{"10.1.160.0/20", "10.1.176.0/20"}},
	"staging": {"OnePerAz",
		[]string{"10.2.0.0/18", "10.2.64.0/18"}, []string{"10.2.128.0/20", "10.2.144.0/20"}, []string{"10.2.160.0/20", "10.2.176.0/20"}},
	"production": {"OnePerAz",
		[]string{"10.0.0.0/18", "10.0.64.0/18"}, []string{"10.0.128.0/20", "10.0.144.0/20"}, []string{"10.0.160.0/20", "10.0.176.0/20"}},
}

func TestVPCMatchesSpec(t *testing.T) {
	for _, stack := range allStacks {
		t.Run(stack, func(t *testing.T) {
			tfvars, want := specOf(t, stack).TFVars, subnetsAndNAT[stack]
			rec := runStack(t, stack)
			vpc := one(t, rec, "awsx:ec2:Vpc", stack)
			assert.Equal(t, tfvars.VpcCidr, vpc.Inputs["cidrBlock"])
			assert.Equal(t, toAny(tfvars.AvailabilityZones), vpc.Inputs["availabilityZoneNames"])
			assert.Equal(t, map[string]any{"strategy": want.nat}, vpc.Inputs["natGateways"])
			assert.Equal(t, true, vpc.Inputs["enableDnsHostnames"])
			assert.Equal(t, "Auto", vpc.Inputs["subnetStrategy"])

			tiers := map[string][]string{}
			for _, spec := range vpc.Inputs["subnetSpecs"].([]any) {
				s := spec.(map[string]any)
				tiers[s["type"].(string)] = toStrings(s["cidrBlocks"])
			}
			assert.Equal(t, map[string][]string{"Private": want.private, "Public": want.public, "Isolated": want.isolated}, tiers)
		})
	}
}

func TestFlowLogsAndDefaultGroup(t *testing.T) {
	traffic := map[string]string{"dev": "REJECT", "staging": "ALL", "production": "ALL"}
	for _, stack := range allStacks {
		t.Run(stack, func(t *testing.T) {
			rec := runStack(t, stack)
			flow := one(t, rec, "aws:ec2/flowLog:FlowLog", stack)
			assert.Equal(t, "vpc-"+stack, flow.Inputs["vpcId"])
			assert.Equal(t, traffic[stack], flow.Inputs["trafficType"])
			assert.Equal(t, "cloud-watch-logs", flow.Inputs["logDestinationType"])
			assert.NotEmpty(t, flow.Inputs["iamRoleArn"])

			group := one(t, rec, "aws:cloudwatch/logGroup:LogGroup", stack+"-flow-logs")
			assert.Equal(t, float64(specOf(t, stack).TFVars.LogRetentionDays), group.Inputs["retentionInDays"])
			assert.Equal(t, fmt.Sprintf("arn:aws:cloudwatch:us-east-1:%s:%s-flow-logs", mockengine.Account, stack), flow.Inputs["logDestination"])

			role := one(t, rec, "aws:iam/role:Role", stack+"-flow-logs")
			assert.Contains(t, role.Inputs["assumeRolePolicy"], `"Service":"vpc-flow-logs.amazonaws.com"`)

			def := one(t, rec, "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup", stack+"-default")
			assert.Equal(t, []any{}, def.Inputs["ingress"], "the default group allows nothing in")
			assert.Equal(t, []any{}, def.Inputs["egress"], "the default group allows nothing out")
		})
	}
}

// flows renders every security group rule of a stack as "group in|out port peer".
func flows(t *testing.T, rec *mockengine.Recorder, stack string) []string {
	t.Helper()
	groupOf := func(id any) string {
		return strings.TrimSuffix(strings.TrimPrefix(fmt.Sprint(id), stack+"-"), "-id")
	}
	var out []string
	for _, kind := range []struct{ typ, dir string }{
		{"aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule", "in"},
		{"aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule", "out"},
	} {
		for _, r := range rec.All(kind.typ) {
			require.Equal(t, "tcp", r.Inputs["ipProtocol"], r.Name)
			require.Equal(t, r.Inputs["fromPort"], r.Inputs["toPort"], "%s opens one port", r.Name)
			require.NotEmpty(t, r.Inputs["description"], r.Name)
			peer := "sg:" + groupOf(r.Inputs["referencedSecurityGroupId"])
			if c, ok := r.Inputs["cidrIpv4"]; ok {
				peer = c.(string)
			} else if c, ok := r.Inputs["cidrIpv6"]; ok {
				peer = c.(string)
			}
			out = append(out, fmt.Sprintf("%s %s %v %s", groupOf(r.Inputs["securityGroupId"]), kind.dir, r.Inputs["fromPort"], peer))
		}
	}
	sort.Strings(out)
	return out
}

// appFlows are the rules every stack has: the load balancer reaches the API on 8000; the API and
// worker reach PostgreSQL, Redis, HTTPS and their SMTP relay; the migration task reaches PostgreSQL
// and HTTPS; the data stores take their port from exactly those groups.
func appFlows(smtp int) []string {
	return []string{
		"alb out 8000 sg:api",
		"api in 8000 sg:alb",
		"api out 443 0.0.0.0/0",
		fmt.Sprintf("api out %d 0.0.0.0/0", smtp),
		"api out 5432 sg:database",
		"api out 6379 sg:cache",
		"cache in 6379 sg:api",
		"cache in 6379 sg:worker",
		"database in 5432 sg:api",
		"database in 5432 sg:migrations",
		"database in 5432 sg:rotation",
		"database in 5432 sg:worker",
		"migrations out 443 0.0.0.0/0",
		"migrations out 5432 sg:database",
		"rotation out 443 0.0.0.0/0",
		"rotation out 5432 sg:database",
		"worker out 443 0.0.0.0/0",
		fmt.Sprintf("worker out %d 0.0.0.0/0", smtp),
		"worker out 5432 sg:database",
		"worker out 6379 sg:cache",
	}
}

func TestSecurityGroupRulesExactly(t *testing.T) {
	publicALB := []string{"alb in 443 0.0.0.0/0", "alb in 443 ::/0", "alb in 80 0.0.0.0/0", "alb in 80 ::/0"}
	bastion := []string{"bastion out 443 0.0.0.0/0", "bastion out 5432 sg:database", "database in 5432 sg:bastion"}
	// dev's NAT instance forwards HTTPS and mail (its relay's port) from the private subnets.
	nat := []string{"nat in 443 10.1.0.0/18", "nat in 443 10.1.64.0/18", "nat in 2525 10.1.0.0/18", "nat in 2525 10.1.64.0/18",
		"nat out 443 0.0.0.0/0", "nat out 2525 0.0.0.0/0"}
	// Where the worker autoscales, the queue-depth function reads Redis and calls AWS over HTTPS.
	queueDepth := []string{"cache in 6379 sg:queue-depth", "queue-depth out 443 0.0.0.0/0", "queue-depth out 6379 sg:cache"}
	// Staging and production reach the primary through RDS Proxy (the replica directly).
	proxy := []string{"api out 5432 sg:proxy", "worker out 5432 sg:proxy", "proxy in 5432 sg:api", "proxy in 5432 sg:worker",
		"proxy out 5432 sg:database", "database in 5432 sg:proxy"}
	want := map[string][]string{
		// dev's load balancer is internal: HTTP from inside the VPC only, reached through the bastion.
		"dev": append(append(append(appFlows(2525), bastion...), nat...), "alb in 80 10.1.0.0/16", "bastion out 80 sg:alb"),
		// staging's load balancer signs people in with Cognito: it calls the token endpoint. Its
		// bastion is the data refresh's way in, to staging's database and to the temporary copy of
		// production's, whose group admits the bastion and nothing else (issue 18).
		"staging": append(append(append(append(append(appFlows(587), publicALB...), bastion...), queueDepth...), proxy...),
			"alb out 443 0.0.0.0/0", "bastion out 5432 sg:data-refresh", "data-refresh in 5432 sg:bastion"),
		// production deploys blue/green: its test listener answers inside the VPC only.
		"production": append(append(append(append(append(appFlows(587), publicALB...), bastion...), queueDepth...), proxy...), "alb in 8443 10.0.0.0/16"),
	}
	for _, stack := range allStacks {
		t.Run(stack, func(t *testing.T) {
			rec := runStack(t, stack)
			expected := want[stack]
			sort.Strings(expected)
			assert.Equal(t, expected, flows(t, rec, stack))

			groups := map[string]string{}
			for _, sg := range rec.All("aws:ec2/securityGroup:SecurityGroup") {
				groups[sg.Name] = sg.Inputs["description"].(string)
				assert.Nil(t, sg.Inputs["ingress"], "%s: no inline rules (they would fight the rule resources)", sg.Name)
				assert.Nil(t, sg.Inputs["egress"], "%s: no inline rules", sg.Name)
				assert.Equal(t, "vpc-"+stack, sg.Inputs["vpcId"])
			}
			names := []string{"alb", "api", "worker", "migrations", "database", "cache", "rotation", "bastion"}
			if stack == "staging" {
				names = append(names, "data-refresh") // the data refresh's temporary copy
			}
			if stack == "dev" {
				names = append(names, "nat") // the others have NAT gateways
			}
			if stack != "dev" {
				names = append(names, "queue-depth") // dev's worker does not autoscale
				names = append(names, "proxy")       // dev connects to the database directly
			}
			assert.Len(t, groups, len(names))
			for _, g := range names {
				assert.NotEmpty(t, groups[stack+"-"+g], "group %s", g)
			}
		})
	}
}

// The security groups and their rules are the firewall's. They were the network's: each carries
// an alias of its URN there, so that `pulumi up` moves it instead of replacing it. The groups of
// the roles added since (nat, proxy, queue-depth, data-refresh), and the rules to or from them, never were,
// and carry none.
func TestFirewallOwnsTheGroupsAndTheirRules(t *testing.T) {
	for _, stack := range allStacks {
		t.Run(stack, func(t *testing.T) {
			// <stack>-<group>[-<in|out>-<port>-<peer>]
			later := regexp.MustCompile(`^` + stack + `-(nat|proxy|queue-depth|data-refresh)(-|$)|-(nat|proxy|queue-depth|data-refresh)$`)
			laterSeen := 0
			rec := runStack(t, stack)
			fw := one(t, rec, "taskmanager:firewall:Firewall", stack)
			owned := []string{
				"aws:ec2/securityGroup:SecurityGroup",
				"aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule",
				"aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule",
			}
			children := 0
			for _, r := range rec.Resources() {
				if slices.Contains(owned, r.Type) {
					assert.Equal(t, fw.URN, r.Parent, "%s belongs to the firewall", r.Name)
				}
				if r.Parent != fw.URN {
					continue
				}
				children++
				assert.Contains(t, owned, r.Type, "%s: the firewall holds groups and rules only", r.Name)
				if later.MatchString(r.Name) {
					laterSeen++
					assert.Empty(t, r.Aliases, "%s: came with the firewall, never under the network", r.Name)
					continue
				}
				was := strings.Replace(r.URN, "::taskmanager:firewall:Firewall$", "::taskmanager:network:Network$", 1)
				assert.Equal(t, []string{was}, r.Aliases, "%s: moved from the network", r.Name)
			}
			assert.Equal(t, len(rec.All(owned[0]))+len(rec.All(owned[1]))+len(rec.All(owned[2])), children)
			assert.NotZero(t, laterSeen, "every stack has one of the later roles")
		})
	}
}

func TestOnlyTheLoadBalancerIsReachableFromTheInternet(t *testing.T) {
	for _, stack := range allStacks {
		t.Run(stack, func(t *testing.T) {
			rec := runStack(t, stack)
			for _, r := range rec.All("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule") {
				world := r.Inputs["cidrIpv4"] == "0.0.0.0/0" || r.Inputs["cidrIpv6"] == "::/0"
				if !world {
					continue
				}
				assert.Equal(t, stack+"-alb-id", r.Inputs["securityGroupId"], "%s opens a non-ALB group to the internet", r.Name)
				assert.Contains(t, []any{80.0, 443.0}, r.Inputs["fromPort"], "%s opens a port other than 80/443 to the internet", r.Name)
			}
			for _, r := range rec.All("aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule") {
				assert.NotEqual(t, "-1", r.Inputs["ipProtocol"], "%s allows every protocol out", r.Name)
			}
		})
	}
}

func TestNetworkExportsForLaterComponents(t *testing.T) {
	rec := runStack(t, "staging")
	out := rec.Outputs()
	assert.Equal(t, "vpc-staging", out["vpcId"].Value)
	assert.Equal(t, []string{"subnet-staging-private-0", "subnet-staging-private-1"}, out["privateSubnetIds"].Value)
	assert.Equal(t, []string{"subnet-staging-isolated-0", "subnet-staging-isolated-1"}, out["isolatedSubnetIds"].Value)
	assert.Equal(t, []string{"subnet-staging-public-0", "subnet-staging-public-1"}, out["publicSubnetIds"].Value)
}

func toAny(ss []string) []any {
	out := make([]any, len(ss))
	for i, s := range ss {
		out[i] = s
	}
	return out
}

func toStrings(v any) []string {
	var out []string
	for _, x := range v.([]any) {
		out = append(out, x.(string))
	}
	return out
}
