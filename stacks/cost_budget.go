package stacks

import (
	"fmt"

	"github.com/taskmanager/taskmanager-infra/internal/configcheck"
)

// CostBudget is taskmanager:budget: the most the stack may cost a month. It builds nothing: the
// offline estimate (`go run ./cmd/plan cost|delta`) reads it and fails when the estimate at the
// desired task counts is above it, so that a pull request that grows a stack past its budget is
// seen, and approved or not, before it is merged (docs/costs.md).
type CostBudget struct {
	// MonthlyUSD is the budget in US dollars a month, above 0.
	MonthlyUSD float64 `json:"monthlyUSD"`
}

// Validate refuses a budget that is not above zero: nothing this program builds is free, so a
// budget of 0 or less could only fail every estimate.
func (b CostBudget) Validate() error {
	var ps configcheck.Problems
	if b.MonthlyUSD <= 0 {
		what := "is negative"
		if b.MonthlyUSD == 0 {
			what = "is zero"
		}
		ps.Addf("monthlyUSD", "%s %s; want the most this stack may cost a month in US dollars, a number above 0 (e.g. 82)",
			fmt.Sprint(b.MonthlyUSD), what)
	}
	return ps.Err()
}
