package firewall

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

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
