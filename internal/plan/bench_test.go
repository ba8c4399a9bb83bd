package plan

import "testing"

// The time to evaluate a stack offline: load the stack file, run the whole program under the
// mocks, load the typed config. The target is under a second per stack (docs/performance.md).
func benchmarkEvaluate(b *testing.B, stack string) {
	for b.Loop() {
		if _, err := Evaluate(projectDir, stack); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkEvaluateDev(b *testing.B)        { benchmarkEvaluate(b, "dev") }
func BenchmarkEvaluateStaging(b *testing.B)    { benchmarkEvaluate(b, "staging") }
func BenchmarkEvaluateProduction(b *testing.B) { benchmarkEvaluate(b, "production") }

// The whole cost report of production, the largest stack: evaluation plus pricing and rendering.
func BenchmarkCostProduction(b *testing.B) {
	for b.Loop() {
		s, err := Evaluate(projectDir, "production")
		if err != nil {
			b.Fatal(err)
		}
		if _, err := EstimateCost(s); err != nil {
			b.Fatal(err)
		}
	}
}
