package tests

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/taskmanager/taskmanager-infra/internal/mockengine"
)

// Every role of every stack carries the pipeline's permissions boundary: the deploy role the
// access program makes may create a role only with it (access/permissions, Boundary), so a role
// without it would fail the deploy, and a role with another could escalate.
func TestEveryRoleCarriesThePipelineBoundary(t *testing.T) {
	for _, stack := range []string{"dev", "staging", "production"} {
		rec := runStack(t, stack)
		roles := rec.All("aws:iam/role:Role")
		require.NotEmpty(t, roles, stack)
		for _, r := range roles {
			assert.Equal(t, "arn:aws:iam::"+mockengine.Account+":policy/taskmanager-"+stack+"-pipeline-boundary",
				r.Inputs["permissionsBoundary"], "%s: role %s", stack, r.Name)
		}
	}
}
