// Package tests runs the whole program on the real stack files under Pulumi's mocks and checks
// what it registers against the spec.
package tests

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/taskmanager/taskmanager-infra/internal/mockengine"
	"github.com/taskmanager/taskmanager-infra/stacks"
)

// projectDir is the checkout's root, where the stack files are.
const projectDir = ".."

// allStacks are the environments, by stack name.
var allStacks = []string{"dev", "staging", "production"}

// runStack runs the program on Pulumi.<stack>.yaml, with the person-supplied secrets an operator
// would have set, and fails the test if it errs.
func runStack(t *testing.T, stack string) *mockengine.Recorder {
	t.Helper()
	rec, err := mockengine.RunSource(mockengine.WithExternalSecrets(loadStack(t, stack)))
	require.NoError(t, err, "stack %s", stack)
	return rec
}

// loadStack reads Pulumi.<stack>.yaml as the engine would hand it to the program.
func loadStack(t *testing.T, stack string) stacks.Source {
	t.Helper()
	src, err := mockengine.LoadStack(projectDir, stack)
	require.NoError(t, err)
	return src
}

// one returns the resource of a type and name, failing the test when there is none.
func one(t *testing.T, rec *mockengine.Recorder, typ, name string) *mockengine.Resource {
	t.Helper()
	res, ok := rec.Find(typ, name)
	require.True(t, ok, "no %s named %q was registered", typ, name)
	return res
}
