package plan

import (
	"sync"
	"testing"
)

// projectDir is the checkout's root, where the stack files are.
const projectDir = "../.."

var (
	evaluated   = map[string]*Stack{}
	evaluatedMu sync.Mutex
)

// estimated is the estimate of a project stack, evaluated once (evaluate).
func estimated(t testing.TB, stack string) *Estimate {
	t.Helper()
	e, err := EstimateCost(evaluate(t, stack))
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// evaluate runs the program on a real stack file once per test binary and fails the test if it
// errs. The reports read a Stack and never change it, so the tests share it.
func evaluate(t testing.TB, stack string) *Stack {
	t.Helper()
	evaluatedMu.Lock()
	defer evaluatedMu.Unlock()
	if s, ok := evaluated[stack]; ok {
		return s
	}
	s, err := Evaluate(projectDir, stack)
	if err != nil {
		t.Fatalf("evaluate %s: %v", stack, err)
	}
	evaluated[stack] = s
	return s
}
