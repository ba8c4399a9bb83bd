package firewall

import (
	"fmt"
	"regexp"
	"testing"

	"github.com/stretchr/testify/assert"
)

// ec2Description is what EC2 accepts in a security group's or a rule's description (EC2 API
// Reference, CreateSecurityGroup and IpRange: "Up to 255 characters in length. Allowed characters
// are a-z, A-Z, 0-9, spaces, and ._-:/()#,@[]+=&;{}!$*"); tests/testdata/aws-constraints.yaml
// holds the same rule against what the stacks register.
var ec2Description = regexp.MustCompile(`^[a-zA-Z0-9 ._\-:/()#,@\[\]+=&;{}!$*]{0,255}$`)

// A role's name is in its group's and its rules' logical names: each role has one of its own.
func TestEveryRoleHasItsOwnNameAndADescription(t *testing.T) {
	seen := map[string]Role{}
	for _, r := range roles {
		name := r.String()
		assert.NotContains(t, name, "Role(", "role %d has no name", int(r))
		if other, dup := seen[name]; dup {
			t.Errorf("roles %d and %d are both named %q", int(other), int(r), name)
		}
		seen[name] = r
		assert.NotEmpty(t, descriptions[r], "group %s has no description", name)
		assert.Regexp(t, ec2Description, descriptions[r], "group %s: CreateSecurityGroup refuses the description", name)
	}
	assert.Equal(t, "Role(0)", Role(0).String())
}

// Every rule has another side, and names only groups the firewall creates: without a bastion,
// nothing refers to the bastion's group.
func TestRulesNameOnlyGroupsThatExist(t *testing.T) {
	ports := Ports{Container: 8000, Database: 5432, Cache: 6379, SMTP: 587}
	for _, args := range []*Args{
		{Ports: ports, PublicLoadBalancer: true, LoadBalancerPorts: []int{80, 443}, LoadBalancerSignIn: true},
		{Ports: ports, PublicLoadBalancer: true, LoadBalancerPorts: []int{80, 443}, Bastion: true, TestListenerPort: 8443},
		{Ports: ports, LoadBalancerPorts: []int{80}, Bastion: true},
	} {
		for _, r := range matrix(args) {
			assert.True(t, r.peer != 0 || len(r.blocks) > 0, "%s %d has no other side", r.group, r.port)
			assert.Regexp(t, ec2Description, r.description, "%s %d: EC2 refuses the rule's description", r.group, r.port)
			for _, role := range []Role{r.group, r.peer} {
				if role == Bastion {
					assert.True(t, args.Bastion, "%s %d names the bastion's group, which does not exist", r.group, r.port)
				}
			}
		}
	}
}

func TestAskingForAGroupThatDoesNotExistPanics(t *testing.T) {
	f := &Firewall{}
	assert.PanicsWithValue(t, "firewall: no bastion group in this environment", func() { f.GroupID(Bastion) })
}

// The queue-depth function's rules exist with Args.QueueDepth only: Redis, on its group and on
// the cache's, and HTTPS out.
func TestQueueDepthRules(t *testing.T) {
	ports := Ports{Container: 8000, Database: 5432, Cache: 6379, SMTP: 587}
	named := func(args *Args) (out []string) {
		for _, r := range matrix(args) {
			if r.group == QueueDepth || r.peer == QueueDepth {
				other := r.peer.String()
				if r.peer == 0 {
					other = fmt.Sprint(r.blocks)
				}
				dir := "in"
				if r.egress {
					dir = "out"
				}
				out = append(out, fmt.Sprintf("%s %s %d %s", r.group, dir, r.port, other))
			}
		}
		return out
	}
	assert.Empty(t, named(&Args{Ports: ports, LoadBalancerPorts: []int{443}}))
	assert.Equal(t, []string{
		fmt.Sprintf("queue-depth out 443 %v", []block{anyIPv4}),
		"queue-depth out 6379 cache",
		"cache in 6379 queue-depth",
	}, named(&Args{Ports: ports, LoadBalancerPorts: []int{443}, QueueDepth: true}))
}

// The NAT instance's group admits the private subnets only, on HTTPS and the SMTP relay's port,
// and lets the same ports out to the internet; nothing refers to it.
func TestNatGroupForwardsHTTPSAndMailFromThePrivateSubnets(t *testing.T) {
	ports := Ports{Container: 8000, Database: 5432, Cache: 6379, SMTP: 2525}
	var nat []string
	for _, r := range matrix(&Args{Ports: ports, LoadBalancerPorts: []int{80}, NatInstance: true}) {
		assert.NotEqual(t, Nat, r.peer, "%s %d refers to the NAT's group", r.group, r.port)
		if r.group != Nat {
			continue
		}
		dir, peer := "in", "private"
		if r.egress {
			dir = "out"
		}
		if !assert.Len(t, r.blocks, 1) {
			continue
		}
		if r.blocks[0] == anyIPv4 {
			peer = "any4"
		} else {
			assert.Equal(t, privateSubnets, r.blocks[0])
		}
		nat = append(nat, fmt.Sprintf("%s %d %s", dir, r.port, peer))
	}
	assert.ElementsMatch(t, []string{"in 443 private", "out 443 any4", "in 2525 private", "out 2525 any4"}, nat)
	for _, r := range matrix(&Args{Ports: ports, LoadBalancerPorts: []int{80}}) {
		assert.NotEqual(t, Nat, r.group, "no NAT instance, no NAT group")
	}
	// A relay on 443 is one port, not two rules for it.
	ports.SMTP = 443
	n := 0
	for _, r := range matrix(&Args{Ports: ports, LoadBalancerPorts: []int{80}, NatInstance: true}) {
		if r.group == Nat {
			n++
		}
	}
	assert.Equal(t, 2, n)
}
