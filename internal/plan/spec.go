package plan

import (
	"fmt"
	"sort"
	"strings"
)

// SpecRow is one row of a spec cost table ("Infrastructure Configuration" of each environment),
// written down as the spec gives it.
type SpecRow struct {
	Component string   // the spec's name for it
	Spec      string   // the spec's "Specification" column
	Low, High float64  // the spec's "Cost/Month"; equal unless it gives a range
	Covers    []string // the estimate's components this row accounts for
	// Usage says that the spec's figure is mostly traffic or data, which the estimate leaves out.
	Usage string
}

// SpecTable is one environment's spec cost table.
type SpecTable struct {
	Section   string // where it is in the spec
	Rows      []SpecRow
	Low, High float64 // the spec's total
}

// specCosts are the spec's cost tables, by environment (taskmanager:environment). The VPC's
// "Free" rows are left out: they cost nothing in the spec and nothing here.
var specCosts = map[string]SpecTable{
	"development": {
		Section: `"Development Environment" > "Infrastructure Configuration"`,
		Rows: []SpecRow{
			{Component: "RDS", Spec: "db.t3.micro (1 vCPU, 1 GB RAM)", Low: 15, High: 15, Covers: []string{compRDS}},
			{Component: "ElastiCache", Spec: "cache.t3.micro (1 node)", Low: 12, High: 12, Covers: []string{compCache}},
			{Component: "ECS API", Spec: "0.25 vCPU, 512 MB × 2 tasks", Low: 15, High: 15, Covers: []string{compAPI}},
			{Component: "ECS Worker", Spec: "0.25 vCPU, 512 MB × 2 tasks", Low: 15, High: 15, Covers: []string{compWorker}},
			{Component: "ALB", Spec: "Application Load Balancer", Low: 20, High: 20, Covers: []string{compALB}},
		},
		Low: 77, High: 77,
	},
	"staging": {
		Section: `"Staging Environment" > "Infrastructure Configuration"`,
		Rows: []SpecRow{
			{Component: "RDS", Spec: "db.t3.large (2 vCPU, 8 GB RAM), Multi-AZ", Low: 180, High: 180, Covers: []string{compRDS}},
			{Component: "ElastiCache", Spec: "cache.t3.medium (2 nodes, Multi-AZ)", Low: 80, High: 80, Covers: []string{compCache}},
			{Component: "ECS API", Spec: "0.5 vCPU, 1 GB × 3 tasks", Low: 35, High: 35, Covers: []string{compAPI}},
			{Component: "ECS Worker", Spec: "0.5 vCPU, 1 GB × 5 tasks", Low: 60, High: 60, Covers: []string{compWorker}},
			{Component: "ALB", Spec: "Application Load Balancer", Low: 25, High: 25, Covers: []string{compALB}},
		},
		Low: 380, High: 380,
	},
	"production": {
		Section: `"Production Environment" > "Infrastructure Configuration"`,
		Rows: []SpecRow{
			{Component: "RDS", Spec: "db.r6g.xlarge (4 vCPU, 32 GB RAM), Multi-AZ", Low: 850, High: 850, Covers: []string{compRDS}},
			{Component: "RDS Replica", Spec: "db.r6g.large (2 vCPU, 16 GB RAM)", Low: 400, High: 400, Covers: []string{compReplica}},
			{Component: "ElastiCache", Spec: "cache.r7g.large (3 nodes, Multi-AZ)", Low: 400, High: 400, Covers: []string{compCache}},
			{Component: "ECS API", Spec: "1 vCPU, 2 GB × 5-50 tasks (auto-scale)", Low: 180, High: 1800, Covers: []string{compAPI}},
			{Component: "ECS Worker", Spec: "0.5 vCPU, 1 GB × 10-100 tasks (auto-scale)", Low: 180, High: 1800, Covers: []string{compWorker}},
			{Component: "ALB", Spec: "Application Load Balancer + WAF", Low: 50, High: 50, Covers: []string{compALB, compWAF}},
			{Component: "CloudWatch", Spec: "Logs + Metrics", Low: 100, High: 100, Covers: []string{compCloudWatch},
				Usage: "log ingestion and metrics are traffic: only alarms and dashboards are estimated"},
			{Component: "S3", Spec: "Backups + Static Assets", Low: 50, High: 50, Covers: []string{compS3},
				Usage: "storage and requests are data: not estimated"},
		},
		Low: 2210, High: 5450,
	},
}

// SpecCost returns the spec's cost table of an environment.
func SpecCost(environment string) (SpecTable, bool) {
	t, ok := specCosts[environment]
	return t, ok
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
	Table SpecTable
	Rows  []CompareRow
	// Total, TotalMax are the estimate's; the spec's are Table.Low and Table.High.
	Total, TotalMax float64
}

// Compare sets an estimate beside the spec's table of its environment.
func Compare(e *Estimate) (*Comparison, error) {
	table, ok := SpecCost(e.Environment)
	if !ok {
		return nil, fmt.Errorf("the spec has no cost table for environment %q", e.Environment)
	}
	c := &Comparison{Table: table, Total: e.Total, TotalMax: e.TotalMax}
	rowOf := map[string]int{}
	for _, r := range table.Rows {
		for _, comp := range r.Covers {
			rowOf[comp] = len(c.Rows)
		}
		c.Rows = append(c.Rows, CompareRow{Component: r.Component, Spec: r.Spec, InSpec: true, SpecLow: r.Low, SpecHigh: r.High, Usage: r.Usage})
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
func (c *Comparison) Excess() float64 { return c.Total - c.Table.Low }

// ExcessMax is how far the estimate at the maximum counts is above the spec's high total.
func (c *Comparison) ExcessMax() float64 { return c.TotalMax - c.Table.High }

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
	out = append(out, verdict("at the desired task counts", c.Total, c.Table.Low, c.Excess(), func() ([]Cause, []Cause) { return c.Causes(false) }))
	if c.TotalMax != c.Total || c.Table.High != c.Table.Low {
		if c.Table.High == c.Table.Low {
			out = append(out, fmt.Sprintf("At the maximum task counts the estimate is %s; the spec gives no figure for maximum scale.", money(c.TotalMax)))
		} else {
			out = append(out, verdict("at the maximum task counts", c.TotalMax, c.Table.High, c.ExcessMax(), func() ([]Cause, []Cause) { return c.Causes(true) }))
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
