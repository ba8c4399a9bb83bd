package plan

import (
	"fmt"
	"sort"
	"strings"
)

// BudgetKey is the stack-file key of a stack's cost budget.
const BudgetKey = "taskmanager:budget.monthlyUSD"

// ExitOverBudget is cmd/plan's exit status when a stack's estimate is over its budget: not 1, so
// that a workflow can tell a stack over budget (which a label may approve) from an error.
const ExitOverBudget = 3

// OverBudgetError says which stacks are over their budget at the desired task counts.
type OverBudgetError struct {
	Stacks []string
	Detail []string // one sentence a stack
}

func (e *OverBudgetError) Error() string { return strings.Join(e.Detail, "\n") }

// BudgetLine says where a stack's estimate stands against its budget.
func BudgetLine(e *Estimate) string {
	if e.BudgetUSD <= 0 {
		return fmt.Sprintf("Budget: none (%s is not set).", BudgetKey)
	}
	if e.Total > e.BudgetUSD {
		return fmt.Sprintf("Budget: %s a month (%s); the estimate at the desired counts, %s, is over it by %s.",
			money(e.BudgetUSD), BudgetKey, money(e.Total), money(e.Total-e.BudgetUSD))
	}
	return fmt.Sprintf("Budget: %s a month (%s); the estimate at the desired counts, %s, is within it (%s to spare).",
		money(e.BudgetUSD), BudgetKey, money(e.Total), money(e.BudgetUSD-e.Total))
}

// overBudget is the sentence for a stack over its budget, naming the given lines (those that grew
// most, or the biggest), or "" when the stack is within it.
func overBudget(e *Estimate, lines []string) string {
	if e.BudgetUSD <= 0 || e.Total <= e.BudgetUSD {
		return ""
	}
	return fmt.Sprintf("stack %s: the estimate at the desired counts, %s a month, is over %s (%s) by %s; %s. Lower a size, or raise %s in Pulumi.%s.yaml with the reason",
		e.Stack, money(e.Total), BudgetKey, money(e.BudgetUSD), money(e.Total-e.BudgetUSD), strings.Join(lines, "; "), BudgetKey, e.Stack)
}

// biggestLines are the n most expensive lines at the desired counts, for a stack over its budget.
func biggestLines(e *Estimate, n int) []string {
	lines := append([]Line(nil), e.Lines...)
	sort.SliceStable(lines, func(i, j int) bool { return lines[i].Monthly > lines[j].Monthly })
	var out []string
	for _, l := range lines[:min(n, len(lines))] {
		out = append(out, fmt.Sprintf("%s %s %s", l.Component, l.Item, money(l.Monthly)))
	}
	if len(out) == 0 {
		return nil
	}
	out[0] = "the biggest lines: " + out[0]
	return out
}

// CheckBudget is nil when the stack's estimate is within its budget, else an OverBudgetError
// naming its biggest lines.
func CheckBudget(e *Estimate) error {
	if msg := overBudget(e, biggestLines(e, 3)); msg != "" {
		return &OverBudgetError{Stacks: []string{e.Stack}, Detail: []string{msg}}
	}
	return nil
}
