package plan

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/taskmanager/taskmanager-infra/internal/spec"
)

type specResource struct{ typ, name, sizing string }

// specResources are the spec's sizes (internal/spec: each environment's tfvars), as the plan of
// its stack must list them, by stack.
func specResources(t *testing.T) map[string][]specResource {
	t.Helper()
	sp, err := spec.Load()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]specResource{}
	for _, e := range sp.Environments {
		v, stack := e.TFVars, e.Stack
		az := "Single-AZ"
		if v.DBMultiAZ {
			az = "Multi-AZ"
		}
		cache := fmt.Sprintf("%s × %d", v.CacheNodeType, v.CacheNumNodes)
		if v.CacheAutomaticFailover {
			cache += ", failover"
		}
		want := []specResource{
			{typeVpc, stack, fmt.Sprintf("%s over %d AZs", v.VpcCidr, len(v.AvailabilityZones))},
			{typeDBInstance, stack, fmt.Sprintf("%s, %s, gp3 %d GB (up to %d), backups %d d",
				v.DBInstanceClass, az, v.DBAllocatedStorage, v.DBMaxAllocatedStorage, v.DBBackupRetentionDays)},
			{typeCacheGroup, stack, cache},
			{typeLogGroup, stack + "-api", fmt.Sprintf("retention %d d", v.LogRetentionDays)},
		}
		if v.DBCreateReplica {
			want = append(want, specResource{typeDBInstance, stack + "-replica", v.DBReplicaInstanceClass + ", read replica of"})
		}
		for _, name := range []string{"api", "worker"} {
			svc, _ := v.Service(name)
			counts := "(fixed)" // the spec's matrix: auto scaling disabled
			if sp.Matrix["Auto Scaling"][e.Name] == "Enabled" {
				counts = fmt.Sprintf("(%d–%d)", svc.Min, svc.Max)
			}
			want = append(want, specResource{typeService, stack + "-" + name, fmt.Sprintf("%s vCPU / %s GB × %d %s",
				trimFloat(float64(svc.CPU)/1024), trimFloat(float64(svc.Memory)/1024), svc.Desired, counts)})
		}
		out[stack] = want
	}
	return out
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
	for stack, want := range specResources(t) {
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
