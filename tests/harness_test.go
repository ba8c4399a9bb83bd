// Package tests runs the whole program on the real stack files under Pulumi's mocks and checks
// what it registers against the spec.
package tests

import (
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"os"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/taskmanager/taskmanager-infra/internal/mockengine"
	"github.com/taskmanager/taskmanager-infra/internal/spec"
	"github.com/taskmanager/taskmanager-infra/stacks"
)

// projectDir is the checkout's root, where the stack files are.
const projectDir = ".."

// allStacks are the environments, by stack name.
var allStacks = []string{"dev", "staging", "production"}

// evaluation is one stack file's run, shared by every test that reads it.
type evaluation struct {
	once sync.Once
	rec  *mockengine.Recorder
	err  error
	sum  [sha256.Size]byte // the recorder's fingerprint after the run
}

var (
	evaluationsMu sync.Mutex
	evaluations   = map[string]*evaluation{}
)

// runStack returns what the program registers for Pulumi.<stack>.yaml, with the person-supplied
// secrets an operator would have set, and fails the test if it errs. The stack files do not
// change while the suite runs, so each is evaluated once and every caller gets the same
// recorder: read it, never change it (a test that does fails, and so does the suite). A test
// that changes a resource takes runFresh; one that changes the config runs the program on its
// own source (mockengine.RunSource).
func runStack(t *testing.T, stack string) *mockengine.Recorder {
	t.Helper()
	evaluationsMu.Lock()
	e, ok := evaluations[stack]
	if !ok {
		e = &evaluation{}
		evaluations[stack] = e
	}
	evaluationsMu.Unlock()
	e.once.Do(func() {
		var src stacks.Source
		if src, e.err = mockengine.LoadStack(projectDir, stack); e.err != nil {
			return
		}
		if e.rec, e.err = mockengine.RunSource(mockengine.WithExternalSecrets(src)); e.err == nil {
			e.sum = fingerprint(e.rec)
		}
	})
	require.NoError(t, e.err, "stack %s", stack)
	t.Cleanup(func() {
		if fingerprint(e.rec) != e.sum {
			t.Errorf("this test changed the shared recorder of stack %s: read it only, or take runFresh", stack)
			// Later tests must not see the change: they get a new run.
			evaluationsMu.Lock()
			delete(evaluations, stack)
			evaluationsMu.Unlock()
		}
	})
	return e.rec
}

// runFresh runs the program on Pulumi.<stack>.yaml anew, for a test that changes what it
// registered.
func runFresh(t *testing.T, stack string) *mockengine.Recorder {
	t.Helper()
	rec, err := mockengine.RunSource(mockengine.WithExternalSecrets(loadStack(t, stack)))
	require.NoError(t, err, "stack %s", stack)
	return rec
}

// fingerprint hashes every registration and output of a recorder.
func fingerprint(rec *mockengine.Recorder) [sha256.Size]byte {
	b, err := json.Marshal(struct {
		Resources []*mockengine.Resource
		Outputs   map[string]mockengine.Output
	}{rec.Resources(), rec.Outputs()})
	if err != nil {
		panic(fmt.Sprintf("fingerprint: %v", err)) // the recorder holds plain values only
	}
	return sha256.Sum256(b)
}

// TestMain runs the suite, then checks that no test changed a shared recorder (a change that a
// test's own check missed, e.g. made from a goroutine after it ended).
func TestMain(m *testing.M) {
	code := m.Run()
	for stack, e := range evaluations {
		if e.rec != nil && fingerprint(e.rec) != e.sum {
			fmt.Fprintf(os.Stderr, "FAIL: a test changed the shared recorder of stack %s\n", stack)
			code = 1
		}
	}
	os.Exit(code)
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

// specOf returns the spec's tables for the environment a stack deploys (internal/spec/spec.yaml):
// what the tests hold the stack files against, written independently of them.
func specOf(t *testing.T, stack string) spec.Environment {
	t.Helper()
	s, err := spec.Load()
	require.NoError(t, err)
	e, ok := s.ByStack(stack)
	require.True(t, ok, "the spec has no environment for stack %s", stack)
	return e
}

// specMatrix returns the spec's Environment Comparison Matrix cell of a feature for a stack.
func specMatrix(t *testing.T, feature, stack string) string {
	t.Helper()
	s, err := spec.Load()
	require.NoError(t, err)
	cell, ok := s.Matrix[feature][specOf(t, stack).Name]
	require.True(t, ok, "the spec's matrix has no %s for stack %s", feature, stack)
	return cell
}
