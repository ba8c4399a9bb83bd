package plan

import (
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/taskmanager/taskmanager-infra/internal/mockengine"
	"github.com/taskmanager/taskmanager-infra/stacks"
)

// WritePlan writes the resource tree of a stack, component → children by parent URN, with each
// resource's sizing, then the resources by type.
func WritePlan(w io.Writer, s *Stack, f Format) error {
	svcs, err := services(s.Resources)
	if err != nil {
		return fmt.Errorf("stack %s: %w", s.Name, err)
	}
	bySvc := map[*mockengine.Resource]service{}
	for _, sv := range svcs {
		bySvc[sv.Res] = sv
	}

	heading(w, f, 2, fmt.Sprintf("Plan: stack %s (%s), %d resources", s.Name, s.Config.Environment, len(s.Resources)))
	para(w, fmt.Sprintf("What %s would create for %s, evaluated offline on the mock engine. %s",
		code(f, "pulumi preview"), code(f, "Pulumi."+s.Name+".yaml"), StandInNote))

	t := &table{header: []string{"Type", "Name", "Sizing"}}
	children := map[string][]*mockengine.Resource{}
	urns := map[string]bool{}
	for _, r := range s.Resources {
		urns[r.URN] = true
	}
	for _, r := range s.Resources {
		parent := r.Parent
		if !urns[parent] {
			// Top-level resources hang off the stack; so does anything whose parent is unknown.
			parent = ""
		}
		children[parent] = append(children[parent], r)
	}
	for _, kids := range children {
		sort.SliceStable(kids, func(i, j int) bool {
			a, b := kids[i], kids[j]
			if a.Custom != b.Custom {
				return !a.Custom // components first, as they group the rest
			}
			if a.Type != b.Type {
				return a.Type < b.Type
			}
			return a.Name < b.Name
		})
	}
	t.add("pulumi:pulumi:Stack", "taskmanager-"+s.Name, "")
	var walk func(parent, prefix string)
	walk = func(parent, prefix string) {
		kids := children[parent]
		for i, r := range kids {
			branch, next := "├─ ", "│  "
			if i == len(kids)-1 {
				branch, next = "└─ ", "   "
			}
			p := prefix + branch
			if f == Markdown {
				// Markdown trims a cell's leading spaces: keep the tree's shape with no-break spaces.
				p = strings.ReplaceAll(p, " ", "\u00a0")
			}
			t.add(p+r.Type, r.Name, sizing(r, bySvc))
			walk(r.URN, prefix+next)
		}
	}
	walk("", "")
	if f == Markdown {
		// A pull request comment folds the long tree; the summary below stays visible.
		fmt.Fprintf(w, "<details><summary>Resource tree: %d resources</summary>\n\n", len(s.Resources))
	}
	if err := t.write(w, f); err != nil {
		return err
	}
	fmt.Fprintln(w)
	if f == Markdown {
		fmt.Fprint(w, "</details>\n\n")
	}

	heading(w, f, 3, "Summary")
	types := map[string]int{}
	components := 0
	for _, r := range s.Resources {
		types[r.Type]++
		if !r.Custom {
			components++
		}
	}
	var names []string
	for t := range types {
		names = append(names, t)
	}
	sort.Strings(names)
	sum := &table{header: []string{"Type", "Count"}, right: map[int]bool{1: true}}
	for _, n := range names {
		sum.add(n, fmt.Sprint(types[n]))
	}
	sum.add("Total", fmt.Sprint(len(s.Resources)))
	if err := sum.write(w, f); err != nil {
		return err
	}
	fmt.Fprintln(w)
	para(w, fmt.Sprintf("%d resources: %d components and %d cloud resources, of %d types.",
		len(s.Resources), components, len(s.Resources)-components, len(names)))

	b := stacks.Budget(s.Config)
	line := fmt.Sprintf("Database connections: %d at the desired task counts, %d at the maximum counts", b.AtDesired, b.AtMax)
	if b.MaxConnections > 0 {
		line += fmt.Sprintf("; %s allows about %d", s.Config.Database.InstanceClass, b.MaxConnections)
	}
	line += "."
	if warn := b.Warning(s.Config.Database.InstanceClass); warn != "" {
		line += " Warning: " + warn + "."
	}
	para(w, line)
	return nil
}

// WriteCost writes a stack's itemised monthly estimate and sets it beside the spec's table.
func WriteCost(w io.Writer, s *Stack, f Format) error {
	e, err := EstimateCost(s)
	if err != nil {
		return err
	}
	c, err := Compare(e)
	if err != nil {
		return err
	}
	heading(w, f, 3, fmt.Sprintf("Monthly cost estimate: %s (%s)", s.Name, s.Config.Environment))
	para(w, fmt.Sprintf("%s on-demand list prices as of %s (%s); %.0f hours a month. %s",
		PricesRegion, PricesAsOf, PricesSource, HoursPerMonth, StandInNote))

	// The maximum counts matter only where a service scales: otherwise the column repeats.
	scales := e.TotalMax != e.Total
	header := []string{"Component", "Item", "From", "Quantity", "Unit price", "Monthly"}
	if scales {
		header = append(header, "At max counts")
	}
	t := &table{header: header, right: map[int]bool{3: true, 4: true, 5: true, 6: true}}
	for _, l := range e.Lines {
		item := l.Item
		if l.Assumption != "" {
			item += " (assumption: " + l.Assumption + ")"
		}
		cells := []string{l.Component, item, code(f, l.Resources), quantity(l.Quantity) + " " + l.Unit,
			unitPrice(l.UnitPrice) + "/" + l.Unit, money(l.Monthly)}
		if scales {
			atMax := money(l.MonthlyMax)
			if l.QuantityMax != l.Quantity {
				atMax += " (" + quantity(l.QuantityMax) + " " + l.Unit + ")"
			}
			cells = append(cells, atMax)
		}
		t.add(cells...)
	}
	total := []string{"Total", "", "", "", "", money(e.Total)}
	if scales {
		total = append(total, money(e.TotalMax))
	}
	t.add(total...)
	if err := t.write(w, f); err != nil {
		return err
	}
	fmt.Fprintln(w)
	para(w, TotalLine(e, c))
	para(w, BudgetLine(e))
	para(w, fmt.Sprintf("Lines marked \"assumption\" are priced from the usage assumed for %s in %s (traffic and data the program does not say); %s.",
		s.Name, code(f, UsageFile), "change a figure there when a measured one is known"))

	heading(w, f, 4, "Against the spec's cost table")
	para(w, fmt.Sprintf("The spec's table: %s.", c.Section))
	// At maximum scale there is something to compare only where the spec gives a range.
	ranged := c.SpecHigh != c.SpecLow
	cheader := []string{"Component", "Spec", "Spec cost", "Estimate", "Difference"}
	if ranged {
		cheader = append(cheader, "Estimate at max", "Difference at max")
	}
	ct := &table{header: cheader, right: map[int]bool{2: true, 3: true, 4: true, 5: true, 6: true}}
	for _, r := range c.Rows {
		spec, specCost := r.Spec, specRange(r.SpecLow, r.SpecHigh)
		if !r.InSpec {
			spec, specCost = "not in the spec's table", "–"
		}
		if r.Usage != "" {
			spec += " (" + r.Usage + ")"
		}
		cells := []string{r.Component, spec, specCost, money(r.Est), signedMoney(r.Diff())}
		if ranged {
			cells = append(cells, money(r.EstMax), signedMoney(r.DiffMax()))
		}
		ct.add(cells...)
	}
	total = []string{"Total", "", specRange(c.SpecLow, c.SpecHigh), money(c.Total), signedMoney(c.Excess())}
	if ranged {
		total = append(total, money(c.TotalMax), signedMoney(c.ExcessMax()))
	}
	ct.add(total...)
	if err := ct.write(w, f); err != nil {
		return err
	}
	fmt.Fprintln(w)
	for _, v := range c.Verdict() {
		para(w, v)
	}
	if err := writeProposals(w, s, e, c, f); err != nil {
		return err
	}

	var notes []string
	for _, u := range e.Usage {
		notes = append(notes, fmt.Sprintf("%s × %d: %s", code(f, u.Type), u.Count, u.Why))
	}
	if len(notes) > 0 {
		para(w, "Not estimated (usage: traffic and data): "+strings.Join(notes, "; ")+
			". Nor are data transfer out, cross-AZ traffic, or API calls other than the queue-depth function's.")
	}
	if len(e.Missing) > 0 {
		para(w, "No price here, so the total is too low by their cost: "+strings.Join(e.Missing, "; ")+".")
	}
	return nil
}

// TotalLine is the estimate's one-line summary; docs/costs.md records it for each stack.
func TotalLine(e *Estimate, c *Comparison) string {
	return fmt.Sprintf("Total for %s: %s a month at the desired task counts, %s at the maximum counts; the spec's table says ~%s.",
		e.Stack, money(e.Total), money(e.TotalMax), specRange(c.SpecLow, c.SpecHigh))
}

// specRange formats a spec figure: $77, or $2,210–$5,450.
func specRange(lo, hi float64) string {
	if lo == hi {
		return wholeMoney(lo)
	}
	return wholeMoney(lo) + "–" + wholeMoney(hi)
}

// wholeMoney drops the cents of a round figure, as the spec writes them.
func wholeMoney(v float64) string { return strings.TrimSuffix(money(v), ".00") }
