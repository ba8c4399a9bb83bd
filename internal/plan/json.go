package plan

import (
	"encoding/json"
	"fmt"
	"io"
)

// JSONSchema is the version of `cost --json`'s output. plan delta refuses another: a base whose
// estimate it cannot read is an error, not a wrong difference.
const JSONSchema = 1

// estimateJSON is `cost --json`'s output: one stack's estimate, for plan delta to read from the
// cmd/plan of another commit.
type estimateJSON struct {
	Schema      int      `json:"schema"`
	Stack       string   `json:"stack"`
	Environment string   `json:"environment"`
	BudgetUSD   float64  `json:"budgetUSD"`
	Total       float64  `json:"total"`
	TotalMax    float64  `json:"totalMax"`
	Lines       []Line   `json:"lines"`
	Missing     []string `json:"missing,omitempty"`
}

// WriteJSON writes an estimate as `cost --json` does.
func WriteJSON(w io.Writer, e *Estimate) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(estimateJSON{Schema: JSONSchema, Stack: e.Stack, Environment: e.Environment, BudgetUSD: e.BudgetUSD,
		Total: e.Total, TotalMax: e.TotalMax, Lines: e.Lines, Missing: e.Missing})
}

// readJSON reads `cost --json`'s output back into an estimate.
func readJSON(data []byte) (*Estimate, error) {
	var j estimateJSON
	if err := json.Unmarshal(data, &j); err != nil {
		return nil, fmt.Errorf("its `cost --json` output is not JSON: %w", err)
	}
	if j.Schema != JSONSchema {
		return nil, fmt.Errorf("its `cost --json` output has schema %d; this cmd/plan reads schema %d", j.Schema, JSONSchema)
	}
	return &Estimate{Stack: j.Stack, Environment: j.Environment, BudgetUSD: j.BudgetUSD, Total: j.Total, TotalMax: j.TotalMax,
		Lines: j.Lines, Missing: j.Missing}, nil
}
