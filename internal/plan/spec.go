package plan

import (
	"fmt"
	"sort"
	"strings"

	"github.com/taskmanager/taskmanager-infra/internal/spec"
)

// usageNotes say, for the spec's rows whose figure is mostly traffic or data, what the
// estimate leaves out.
var usageNotes = map[string]string{
	compCloudWatch: "alarms, dashboards, Container Insights, the queue-depth function's metrics and log ingestion (from usage assumptions) are estimated; log storage is not",
	compS3:         "storage and requests are data: not estimated",
}

// CompareRow sets one component of the estimate beside the spec's row.
type CompareRow struct {
	Component string
	Spec      string // the spec's specification; "" when the spec has no such row
	InSpec    bool
	SpecLow   float64
	SpecHigh  float64
	Est       float64 // at the desired counts
	EstMax    float64 // at the maximum counts
	Usage     string
}

// Diff is the estimate minus the spec at the desired counts.
func (r CompareRow) Diff() float64 { return r.Est - r.SpecLow }

// DiffMax is the estimate at the maximum counts minus the spec's high figure.
func (r CompareRow) DiffMax() float64 { return r.EstMax - r.SpecHigh }

// Comparison is an estimate against the spec's table.
type Comparison struct {
	Section  string // where the table is in the spec
	SpecLow  float64
	SpecHigh float64 // the spec's total; equal to SpecLow unless it gives a range
	Rows     []CompareRow
	// Total, TotalMax are the estimate's.
	Total, TotalMax float64
}

// Compare sets an estimate beside the spec's cost table of its environment (internal/spec),
// leaving out the spec's free rows (the VPC). A spec row accounts for the estimate's component
// of its name, and for the WAF where its specification names one.
func Compare(e *Estimate) (*Comparison, error) {
	s, err := spec.Load()
	if err != nil {
		return nil, err
	}
	env, ok := s.ByName(e.Environment)
	if !ok {
		return nil, fmt.Errorf("the spec has no cost table for environment %q", e.Environment)
	}
	c := &Comparison{Section: env.Costs.Section, Total: e.Total, TotalMax: e.TotalMax}
	c.SpecLow, c.SpecHigh = env.Costs.Range()
	rowOf := map[string]int{}
	for _, r := range env.Costs.Rows {
		lo, hi := r.Range()
		if hi == 0 {
			continue
		}
		rowOf[r.Component] = len(c.Rows)
		if strings.Contains(r.Specification, "WAF") {
			rowOf[compWAF] = len(c.Rows)
		}
		c.Rows = append(c.Rows, CompareRow{Component: r.Component, Spec: r.Specification, InSpec: true, SpecLow: lo, SpecHigh: hi, Usage: usageNotes[r.Component]})
	}
	for _, l := range e.Lines {
		i, ok := rowOf[l.Component]
		if !ok {
			i = len(c.Rows)
			rowOf[l.Component] = i
			c.Rows = append(c.Rows, CompareRow{Component: l.Component})
		}
		c.Rows[i].Est += l.Monthly
		c.Rows[i].EstMax += l.MonthlyMax
	}
	return c, nil
}

// Excess is how far the estimate at the desired counts is above the spec's (low) total.
func (c *Comparison) Excess() float64 { return c.Total - c.SpecLow }

// ExcessMax is how far the estimate at the maximum counts is above the spec's high total.
func (c *Comparison) ExcessMax() float64 { return c.TotalMax - c.SpecHigh }

// Cause is one component's share of a difference.
type Cause struct {
	Component string
	Amount    float64
	InSpec    bool
}

// Causes returns the components above the spec (largest first) and those below it, at the
// desired counts, or at the maximum counts with atMax.
func (c *Comparison) Causes(atMax bool) (above, below []Cause) {
	for _, r := range c.Rows {
		d := r.Diff()
		if atMax {
			d = r.DiffMax()
		}
		// Cents are noise against figures the spec rounds to five or ten dollars.
		switch {
		case d >= 0.005:
			above = append(above, Cause{r.Component, d, r.InSpec})
		case d <= -0.005:
			below = append(below, Cause{r.Component, d, r.InSpec})
		}
	}
	sort.SliceStable(above, func(i, j int) bool { return above[i].Amount > above[j].Amount })
	sort.SliceStable(below, func(i, j int) bool { return below[i].Amount < below[j].Amount })
	return above, below
}

// Verdict says, in a sentence or two, how the estimate stands against the spec and, where it
// is above, by how much and which components cause it.
func (c *Comparison) Verdict() []string {
	var out []string
	out = append(out, verdict("at the desired task counts", c.Total, c.SpecLow, c.Excess(), func() ([]Cause, []Cause) { return c.Causes(false) }))
	if c.TotalMax != c.Total || c.SpecHigh != c.SpecLow {
		if c.SpecHigh == c.SpecLow {
			out = append(out, fmt.Sprintf("At the maximum task counts the estimate is %s; the spec gives no figure for maximum scale.", money(c.TotalMax)))
		} else {
			out = append(out, verdict("at the maximum task counts", c.TotalMax, c.SpecHigh, c.ExcessMax(), func() ([]Cause, []Cause) { return c.Causes(true) }))
		}
	}
	return out
}

func verdict(when string, est, spec, excess float64, causes func() ([]Cause, []Cause)) string {
	if excess < 0.005 {
		return fmt.Sprintf("Within the spec %s: %s against the spec's ~%s (%s).", when, money(est), wholeMoney(spec), signedMoney(excess))
	}
	above, below := causes()
	var parts []string
	for _, a := range above {
		p := fmt.Sprintf("%s %s", a.Component, signedMoney(a.Amount))
		if !a.InSpec {
			p += " (not in the spec's table)"
		}
		parts = append(parts, p)
	}
	s := fmt.Sprintf("Over the spec %s: %s against the spec's ~%s, %s more (%+.0f%%). Caused by: %s",
		when, money(est), wholeMoney(spec), money(excess), 100*excess/spec, strings.Join(parts, "; "))
	if len(below) > 0 {
		var offs []string
		for _, b := range below {
			offs = append(offs, fmt.Sprintf("%s %s", b.Component, signedMoney(b.Amount)))
		}
		s += "; partly offset by " + strings.Join(offs, "; ")
	}
	return s + "."
}
