package pipeline

import (
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
)

// The table is consistent: names unique; every role trusts an environment that exists, of its own
// stack's pipeline; an environment is shared by two roles only where a deploy copies the previous
// stack's image (the image read runs inside that deploy job); sessions within IAM's limits.
func TestTableIsConsistent(t *testing.T) {
	names, variables, roles := map[string]bool{}, map[string]bool{}, map[string]bool{}
	for _, e := range Environments {
		assert.False(t, names[e.Name], "environment %s twice", e.Name)
		names[e.Name] = true
		assert.Contains(t, Stacks, e.Stack, e.Name)
	}
	trustedBy := map[string][]Role{}
	for _, r := range Roles {
		assert.False(t, variables[r.Variable], "variable %s twice", r.Variable)
		variables[r.Variable] = true
		assert.False(t, roles[r.Name("")], "role %s twice", r.Name(""))
		roles[r.Name("")] = true
		assert.Contains(t, Stacks, r.Stack)
		_, ok := EnvironmentNamed(r.Environment)
		assert.True(t, ok, "%s trusts %s, which is not in the table", r.Variable, r.Environment)
		assert.GreaterOrEqual(t, r.MaxSessionSeconds, 3600, r.Variable)
		assert.LessOrEqual(t, r.MaxSessionSeconds, 43200, r.Variable)
		trustedBy[r.Environment] = append(trustedBy[r.Environment], r)
	}
	for env, rs := range trustedBy {
		if len(rs) == 1 {
			continue
		}
		purposes := []Purpose{}
		for _, r := range rs {
			purposes = append(purposes, r.Purpose)
		}
		slices.Sort(purposes)
		assert.Equal(t, []Purpose{Deploy, ImageRead}, purposes, "the environment %s is trusted by %v", env, purposes)
		for _, r := range rs {
			if r.Purpose == ImageRead {
				next := Stacks[slices.Index(Stacks, r.Stack)+1]
				assert.Equal(t, next, env, "%s is read by the next stack's deploy", r.Stack)
			}
		}
	}
	// Pull requests preview dev only, and only the preview's environment accepts any branch.
	for _, r := range Roles {
		if r.Purpose == Preview {
			assert.Equal(t, "dev", r.Stack)
		}
	}
	for _, e := range Environments {
		if e.Refs == AnyBranch {
			assert.Equal(t, "dev-preview", e.Name)
		}
	}
	assert.Equal(t, "repo:o/r:environment:dev", Subject("o", "r", "dev"))
}
