package plan

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
	"unicode/utf8"
)

// specResources are the spec's sizes ("Infrastructure Configuration" and the tfvars of each
// environment), written here once more, independently of the stack files: the plan of each stack
// must list these resources with these sizes.
var specResources = map[string][]struct{ typ, name, sizing string }{
	"dev": {
		{typeVpc, "dev", "10.1.0.0/16 over 2 AZs"},
		{typeDBInstance, "dev", "db.t3.micro, Single-AZ, gp3 20 GB (up to 50), backups 7 d"},
		{typeCacheGroup, "dev", "cache.t3.micro × 1"},
		{typeService, "dev-api", "0.25 vCPU / 0.5 GB × 2 (fixed)"},
		{typeService, "dev-worker", "0.25 vCPU / 0.5 GB × 2 (fixed)"},
		{typeLoadBalancer, "dev", "internal"},
		{typeLogGroup, "dev-api", "retention 7 d"},
	},
	"staging": {
		{typeVpc, "staging", "10.2.0.0/16 over 2 AZs"},
		{typeDBInstance, "staging", "db.t3.large, Multi-AZ, gp3 50 GB (up to 200), backups 14 d"},
		{typeDBInstance, "staging-replica", "db.t3.medium, read replica of staging-taskmanager-db"},
		{typeCacheGroup, "staging", "cache.t3.medium × 2, failover"},
		{typeService, "staging-api", "0.5 vCPU / 1 GB × 3 (3–10)"},
		{typeService, "staging-worker", "0.5 vCPU / 1 GB × 5 (3–20)"},
		{typeLoadBalancer, "staging", "internet-facing"},
		{typeLogGroup, "staging-api", "retention 30 d"},
	},
	"production": {
		{typeVpc, "production", "10.0.0.0/16 over 2 AZs"},
		{typeDBInstance, "production", "db.r6g.xlarge, Multi-AZ, gp3 100 GB (up to 1000), backups 30 d"},
		{typeDBInstance, "production-replica", "db.r6g.large, read replica of production-taskmanager-db"},
		{typeCacheGroup, "production", "cache.r7g.large × 3, failover"},
		{typeService, "production-api", "1 vCPU / 2 GB × 5 (5–50)"},
		{typeService, "production-worker", "0.5 vCPU / 1 GB × 10 (5–100)"},
		{typeLoadBalancer, "production", "internet-facing"},
		{typeWebACL, "production", "REGIONAL"},
		{typeLogGroup, "production-api", "retention 30 d"},
	},
}

// planRow is one row of the text plan: its depth in the tree, type, name and sizing.
type planRow struct {
	depth             int
	typ, name, sizing string
}

// planRows renders a stack's plan as text and parses its tree back.
func planRows(t *testing.T, stack string) ([]planRow, string) {
	t.Helper()
	var b bytes.Buffer
	if err := WritePlan(&b, evaluate(t, stack), Text); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	var rows []planRow
	inTree := false
	for _, line := range strings.Split(out, "\n") {
		if strings.HasPrefix(line, "Type ") && strings.Contains(line, "Sizing") {
			inTree = true
			continue
		}
		if !inTree {
			continue
		}
		if strings.TrimSpace(line) == "" {
			break
		}
		// The tree's prefix is three runes a level: "├─ ", "│  ", "└─ ", "   ".
		i, depth := 0, 0
		for strings.HasPrefix(line[i:], "├─ ") || strings.HasPrefix(line[i:], "└─ ") ||
			strings.HasPrefix(line[i:], "│  ") || strings.HasPrefix(line[i:], "   ") {
			_, w1 := utf8.DecodeRuneInString(line[i:])
			_, w2 := utf8.DecodeRuneInString(line[i+w1:])
			i += w1 + w2 + 1
			depth++
		}
		fields := strings.Fields(line[i:])
		if len(fields) < 2 {
			t.Fatalf("unparsable plan row %q", line)
		}
		rows = append(rows, planRow{depth: depth, typ: fields[0], name: fields[1], sizing: strings.Join(fields[2:], " ")})
	}
	return rows, out
}

func TestPlanListsTheSpecResources(t *testing.T) {
	for stack, want := range specResources {
		t.Run(stack, func(t *testing.T) {
			rows, _ := planRows(t, stack)
			for _, w := range want {
				found := false
				for _, r := range rows {
					if r.typ == w.typ && r.name == w.name {
						found = true
						if !strings.Contains(r.sizing, w.sizing) {
							t.Errorf("%s %s: sizing %q, want it to say %q", w.typ, w.name, r.sizing, w.sizing)
						}
					}
				}
				if !found {
					t.Errorf("the plan of %s does not list %s %s", stack, w.typ, w.name)
				}
			}
		})
	}
}

// The tree is the parent URNs: every resource is listed once, one level below its parent.
func TestPlanTreeFollowsParents(t *testing.T) {
	for _, stack := range []string{"dev", "production"} {
		s := evaluate(t, stack)
		rows, out := planRows(t, stack)
		if len(rows) != len(s.Resources)+1 { // and the stack itself
			t.Fatalf("%s: %d rows for %d resources", stack, len(rows), len(s.Resources))
		}
		byURN := map[string]string{}
		for _, r := range s.Resources {
			byURN[r.URN] = r.Type + " " + r.Name
		}
		// For each row, the nearest row above it one level up is its parent.
		for i, row := range rows[1:] {
			i++
			var parent string
			for j := i - 1; j >= 0; j-- {
				if rows[j].depth == row.depth-1 {
					parent = rows[j].typ + " " + rows[j].name
					break
				}
			}
			var want string
			for _, r := range s.Resources {
				if r.Type == row.typ && r.Name == row.name {
					if p, ok := byURN[r.Parent]; ok {
						want = p
					} else {
						want = "pulumi:pulumi:Stack taskmanager-" + stack
					}
					if parent == want {
						break
					}
				}
			}
			if parent != want {
				t.Errorf("%s: %s %s is listed under %q, its parent is %q", stack, row.typ, row.name, parent, want)
			}
		}
		// The summary's total row, whatever tabwriter's padding.
		found := false
		for _, line := range strings.Split(out, "\n") {
			if f := strings.Fields(line); len(f) == 2 && f[0] == "Total" && f[1] == fmt.Sprint(len(s.Resources)) {
				found = true
			}
		}
		if !found {
			t.Errorf("%s: the summary does not total %d resources", stack, len(s.Resources))
		}
	}
}

func TestPlanMarkdownAndStandIns(t *testing.T) {
	var b bytes.Buffer
	if err := WritePlan(&b, evaluate(t, "production"), Markdown); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{"| Type | Name | Sizing |", "| --- | --- | --- |", "Secret values are stand-ins", "db.r6g.xlarge, Multi-AZ"} {
		if !strings.Contains(out, want) {
			t.Errorf("markdown plan lacks %q", want)
		}
	}
}
