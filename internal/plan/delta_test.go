package plan

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/taskmanager/taskmanager-infra/internal/mockengine"
)

// copyProject copies the project's files (tracked, and new ones git does not ignore) into a
// temporary directory, as they are in the working tree.
func copyProject(t *testing.T) string {
	t.Helper()
	return copyProjectInto(t, t.TempDir())
}

// copyProjectInto is copyProject into dir.
func copyProjectInto(t *testing.T, dir string) string {
	t.Helper()
	out, err := exec.Command("git", "-C", projectDir, "ls-files", "--cached", "--others", "--exclude-standard").Output()
	if err != nil {
		t.Fatalf("git ls-files: %v", err)
	}
	for _, f := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		data, err := os.ReadFile(filepath.Join(projectDir, f))
		if os.IsNotExist(err) {
			continue // deleted in the working tree
		}
		if err != nil {
			t.Fatal(err)
		}
		if err := os.MkdirAll(filepath.Join(dir, filepath.Dir(f)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, f), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// editFile replaces old, which must be there, with new in one of dir's files.
func editFile(t *testing.T, dir, file, old, new string) {
	t.Helper()
	path := filepath.Join(dir, file)
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(data), old) {
		t.Fatalf("%s has no %q", file, old)
	}
	if err := os.WriteFile(path, []byte(strings.Replace(string(data), old, new, 1)), 0o644); err != nil {
		t.Fatal(err)
	}
}

// gitIn runs git in dir, as a throwaway identity.
func gitIn(t *testing.T, dir string, args ...string) {
	t.Helper()
	cmd := exec.Command("git", append([]string{"-C", dir, "-c", "user.name=test", "-c", "user.email=test@example.com", "-c", "commit.gpgsign=false", "-c", "maintenance.auto=false"}, args...)...)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("git %v: %v\n%s", args, err, out)
	}
}

// The comparison, on hand-made estimates: changed lines only, matched by key, with their causes.
func TestDeltaCompare(t *testing.T) {
	before := &Estimate{Stack: "production", BudgetUSD: 1000, Total: 700, TotalMax: 700, Lines: []Line{
		{Component: compRDS, Item: "db.r6g.xlarge primary", Key: "db|h", Monthly: 655.54, MonthlyMax: 655.54, UnitPrice: 0.449},
		{Component: compCache, Item: "cache.r7g.large × 3", Key: "cache|h", Monthly: 44.46, MonthlyMax: 44.46},
		{Component: compNAT, Item: "NAT processing", Key: "nat|GB", Monthly: 10, MonthlyMax: 10, Assumption: "imagePullsGB 200"},
	}}
	after := &Estimate{Stack: "production", BudgetUSD: 1000, Total: 1400, TotalMax: 1400, Lines: []Line{
		{Component: compRDS, Item: "db.r6g.2xlarge primary", Key: "db|h", Monthly: 1312.54, MonthlyMax: 1312.54, UnitPrice: 0.899},
		{Component: compCache, Item: "cache.r7g.large × 3", Key: "cache|h", Monthly: 44.46, MonthlyMax: 44.46},
		{Component: compNAT, Item: "NAT processing", Key: "nat|GB", Monthly: 12, MonthlyMax: 12, Assumption: "imagePullsGB 250"},
		{Component: compKMS, Item: "1 key", Key: "kms", Monthly: 2, MonthlyMax: 2},
	}}
	d := &stackDelta{name: "production", before: before, after: after, code: []string{"internal/plan/usage.yaml"},
		settings: []Change{{Path: "taskmanager:database.instanceClass", A: "db.r6g.xlarge", B: "db.r6g.2xlarge"}}}
	d.compare()
	if len(d.changed) != 3 {
		t.Fatalf("changed = %+v, want the database, the NAT and the new key", d.changed)
	}
	db, nat, key := d.changed[0], d.changed[1], d.changed[2]
	if db.item != "db.r6g.xlarge primary → db.r6g.2xlarge primary" || cents(db.diff()) != 65700 ||
		db.cause != "taskmanager:database.instanceClass: db.r6g.xlarge → db.r6g.2xlarge" {
		t.Errorf("database line = %+v", db)
	}
	if nat.cause != "usage assumption imagePullsGB 200 → imagePullsGB 250 (internal/plan/usage.yaml)" || cents(nat.diff()) != 200 {
		t.Errorf("NAT line = %+v", nat)
	}
	if key.item != "1 key (new)" || key.before != 0 || key.cause != "code: internal/plan/usage.yaml" {
		t.Errorf("new line = %+v", key)
	}
	// 1,400 > 1,000: over budget, naming the lines that grew most, largest first.
	for _, want := range []string{"is over taskmanager:budget.monthlyUSD ($1,000.00) by $400.00",
		"the lines that grew most: RDS db.r6g.xlarge primary → db.r6g.2xlarge primary +$657.00; NAT NAT processing +$2.00; KMS 1 key (new) +$2.00"} {
		if !strings.Contains(d.overBudget, want) {
			t.Errorf("over budget %q lacks %q", d.overBudget, want)
		}
	}
}

// A line that was nominal at the base and is an assumption now names both sides.
func TestDeltaCauseOfANewAssumption(t *testing.T) {
	line := func(a string, q float64) Line {
		return Line{Component: compALB, Item: "LCUs", Key: "alb | LCU-h", Unit: "LCU-h", UnitPrice: 0.008, Monthly: q, MonthlyMax: q, Assumption: a}
	}
	d := &stackDelta{name: "dev", before: &Estimate{Lines: []Line{line("", 5.84)}}, after: &Estimate{Lines: []Line{line("albLCUs 0.1", 0.58)}}}
	d.compare()
	if len(d.changed) != 1 || d.changed[0].cause != "usage assumption none → albLCUs 0.1 (internal/plan/usage.yaml)" {
		t.Errorf("changed = %+v", d.changed)
	}
}

// The issue's "done when": a size changed in one stack file on a branch makes delta report that
// stack's changed lines with the right sign, and no change for the others; a budget below the
// estimate fails it (exit 3) naming the budget; with the code unchanged, nothing is built. A
// missing base ref and a stack file that does not load on either side are errors naming the side.
func TestDelta(t *testing.T) {
	if _, err := exec.LookPath("git"); err != nil {
		t.Fatal("plan delta needs git")
	}
	dir := copyProject(t)
	gitIn(t, dir, "init", "-q", "-b", "main")
	gitIn(t, dir, "add", "-A")
	gitIn(t, dir, "commit", "-q", "-m", "base")

	// The branch: production's database one size up, staging's budget below its estimate.
	editFile(t, dir, "Pulumi.production.yaml", "instanceClass: db.r6g.xlarge", "instanceClass: db.r6g.2xlarge")
	editFile(t, dir, "Pulumi.staging.yaml", "monthlyUSD: 720", "monthlyUSD: 700")
	// Not code: the regenerated estimate, and a report redirected into the checkout (as CI does).
	editFile(t, dir, "docs/costs.md", "# Costs", "# Costs (regenerated)")
	if err := os.WriteFile(filepath.Join(dir, "delta.md"), nil, 0o644); err != nil {
		t.Fatal(err)
	}

	// A working-tree stack file that does not load: an error naming the side, before any build.
	editFile(t, dir, "Pulumi.dev.yaml", "monthlyUSD: 82", "monthlyUSD: -1")
	code, _, errOut := runPlan(t, "delta", "--base", "main", "--dir", dir, "dev")
	if code != 1 || !strings.Contains(errOut, `error: working tree: stack "dev" has invalid configuration`) ||
		!strings.Contains(errOut, "taskmanager:budget.monthlyUSD: -1 is negative") {
		t.Errorf("a bad working-tree stack file: exit %d, stderr:\n%s", code, errOut)
	}
	editFile(t, dir, "Pulumi.dev.yaml", "monthlyUSD: -1", "monthlyUSD: 82")

	code, _, errOut = runPlan(t, "delta", "--base", "no-such-branch", "--dir", dir)
	if code != 1 || !strings.Contains(errOut, `error: base: git ref "no-such-branch" does not exist`) {
		t.Errorf("a missing base: exit %d, stderr:\n%s", code, errOut)
	}

	code, out, errOut := runPlan(t, "delta", "--base", "main", "--dir", dir, "--markdown")
	if code != ExitOverBudget {
		t.Fatalf("exit %d, want %d (staging over budget); stderr:\n%s", code, ExitOverBudget, errOut)
	}
	prod := estimated(t, "production")
	// db.r6g.2xlarge Multi-AZ: $0.899 × 1,460 h = $1,312.54, from $655.54; its proxy 8 vCPU for 4: +$43.80.
	for _, want := range []string{
		"| RDS | db.r6g.xlarge primary, Multi-AZ (primary + standby) → db.r6g.2xlarge primary, Multi-AZ (primary + standby) | $655.54 | $1,312.54 | +$657.00 | +$657.00 | taskmanager:database.instanceClass: db.r6g.xlarge → db.r6g.2xlarge |",
		"| RDS Proxy | RDS Proxy for db.r6g.xlarge: 4 vCPU → RDS Proxy for db.r6g.2xlarge: 8 vCPU | $43.80 | $87.60 | +$43.80 | +$43.80 |",
		"Total for production: " + money(prod.Total) + " → " + money(prod.Total+700.80) + " a month (+$700.80)",
		"Total for production at the maximum counts: " + money(prod.TotalMax) + " → " + money(prod.TotalMax+700.80) + " a month (+$700.80)",
		"both sides evaluated offline on the mock engine by the same code: no file the program is built from differs.",
		"No change in cost for dev: ",
		"No change in cost for staging: ",
		"This change sets `taskmanager:budget.monthlyUSD`: 720 → 700.",
		"**Over budget**: stack staging: the estimate at the desired counts, ",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("delta lacks %q:\n%s", want, out)
		}
	}
	if n := len(regexp.MustCompile(`(?m)^\| RDS`).FindAllString(out, -1)); n != 2 {
		t.Errorf("%d changed lines, want the primary and its proxy:\n%s", n, out)
	}
	if !regexp.MustCompile(`(?m)^### dev\n\nNo change`).MatchString(out) {
		t.Errorf("dev is not reported unchanged in one line:\n%s", out)
	}
	if !strings.Contains(errOut, "error: stack staging: the estimate at the desired counts") || !strings.Contains(errOut, "over taskmanager:budget.monthlyUSD ($700.00)") {
		t.Errorf("stderr does not name staging's budget:\n%s", errOut)
	}

	// A base whose stack file does not load (committed broken, fixed in the working tree).
	editFile(t, dir, "Pulumi.staging.yaml", "monthlyUSD: 700", "monthlyUSD: lots")
	gitIn(t, dir, "commit", "-q", "-am", "broken staging")
	editFile(t, dir, "Pulumi.staging.yaml", "monthlyUSD: lots", "monthlyUSD: 720")
	code, _, errOut = runPlan(t, "delta", "--base", "HEAD", "--dir", dir, "staging")
	if code != 1 || !regexp.MustCompile(`error: base HEAD \([0-9a-f]{12}\): stack staging does not load:`).MatchString(errOut) ||
		!strings.Contains(errOut, `taskmanager:budget.monthlyUSD: "lots" is not a number`) {
		t.Errorf("a base stack file that does not load: exit %d, stderr:\n%s", code, errOut)
	}
}

// A base without `cost --json` is refused, naming it, rather than compared wrongly.
func TestDeltaBaseWithoutJSON(t *testing.T) {
	dir := copyProject(t)
	gitIn(t, dir, "init", "-q", "-b", "main")
	gitIn(t, dir, "add", "-A")
	gitIn(t, dir, "commit", "-q", "-m", "base")
	d := &baseTree{ref: "main", sha: "0123456789abcdef", dir: dir}
	// A stand-in for an old cmd/plan under go run: the flag package's complaint and its exit
	// status 2, which go run reports and turns into its own 1.
	script := filepath.Join(t.TempDir(), "plan")
	if err := os.WriteFile(script, []byte("#!/bin/sh\necho 'flag provided but not defined: -json' >&2\necho 'exit status 2' >&2\nexit 1\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	d.plan = []string{script}
	_, _, err := d.estimate("dev")
	if err == nil || err.Error() != "base main (0123456789ab) predates `plan cost --json`, which plan delta reads from the base; compare with a later commit" {
		t.Errorf("err = %v", err)
	}
}

// A base whose code differs is priced by its own code, run from its tree: here the base charged
// less for a load balancer hour, so dev's ALB line grows by the difference, owed to the price.
// (The go run links the base once per base tree: warm, it is a cache hit.)
func TestDeltaPricesTheBaseByItsOwnCode(t *testing.T) {
	dir := copyProject(t)
	editFile(t, dir, "internal/plan/prices.go", "albHour    = 0.0225", "albHour    = 0.0200")
	gitIn(t, dir, "init", "-q", "-b", "main")
	gitIn(t, dir, "add", "-A")
	gitIn(t, dir, "commit", "-q", "-m", "base")
	editFile(t, dir, "internal/plan/prices.go", "albHour    = 0.0200", "albHour    = 0.0225")

	// A run that was killed left the base's directory: the next run clears it and uses the path.
	listing, err := exec.Command("git", "-C", dir, "ls-tree", "-r", "-z", "main", "--", ".").Output()
	if err != nil {
		t.Fatal(err)
	}
	stale := filepath.Join(os.TempDir(), "plan-delta-"+buildInputsKey(strings.TrimSpace(string(listing))))
	if err := os.MkdirAll(filepath.Join(stale, "src"), 0o700); err != nil {
		t.Fatal(err)
	}

	code, out, errOut := runPlan(t, "delta", "--base", "main", "--dir", dir, "--markdown", "dev")
	if code != 0 {
		t.Fatalf("exit %d; stderr:\n%s", code, errOut)
	}
	dev := estimated(t, "dev")
	// 730 h × $0.0025 = $1.825, rounded per side: $14.60 → $16.43.
	for _, want := range []string{
		"the base's `cmd/plan cost --json` run from its tree",
		"| ALB | Application Load Balancer | $14.60 | $16.43 | +$1.83 | +$1.83 | price $0.02 → $0.0225 per ALB-h (code: internal/plan/prices.go) |",
		"Total for dev: " + money(dev.Total-1.825) + " → " + money(dev.Total) + " a month (+$1.83)",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("delta lacks %q:\n%s", want, out)
		}
	}
	if _, err := os.Stat(stale); !os.IsNotExist(err) {
		t.Errorf("the killed run's directory %s is still there (%v): the run did not use its path", stale, err)
	}

	// A base stack file that does not load, priced by the base's own code.
	editFile(t, dir, "Pulumi.dev.yaml", "monthlyUSD: 82", "monthlyUSD: lots")
	gitIn(t, dir, "commit", "-q", "-m", "broken dev", "--", "Pulumi.dev.yaml")
	editFile(t, dir, "Pulumi.dev.yaml", "monthlyUSD: lots", "monthlyUSD: 82")
	code, _, errOut = runPlan(t, "delta", "--base", "HEAD", "--dir", dir, "dev")
	if code != 1 || !regexp.MustCompile(`error: base HEAD \([0-9a-f]{12}\): stack dev does not load:`).MatchString(errOut) ||
		!strings.Contains(errOut, `taskmanager:budget.monthlyUSD: "lots" is not a number`) || strings.Contains(errOut, "exit status") {
		t.Errorf("a base stack file that does not load: exit %d, stderr:\n%s", code, errOut)
	}

	// A base whose cmd/plan does not build.
	editFile(t, dir, "internal/plan/prices.go", "albHour    = 0.0225", "albHour    = ")
	gitIn(t, dir, "commit", "-q", "-m", "broken code", "--", "internal/plan/prices.go")
	editFile(t, dir, "internal/plan/prices.go", "albHour    = ", "albHour    = 0.0225")
	code, _, errOut = runPlan(t, "delta", "--base", "HEAD", "--dir", dir, "dev")
	if code != 1 || !regexp.MustCompile(`error: base HEAD \([0-9a-f]{12}\): its cmd/plan does not build:\n    .*internal/plan`).MatchString(errOut) {
		t.Errorf("a base that does not build: exit %d, stderr:\n%s", code, errOut)
	}
}

// A project in a subdirectory of its repository: the base is the repository's whole tree, and
// the project is found in it.
func TestDeltaProjectInASubdirectory(t *testing.T) {
	root := t.TempDir()
	dir := copyProjectInto(t, filepath.Join(root, "infrastructure"))
	gitIn(t, root, "init", "-q", "-b", "main")
	gitIn(t, root, "add", "-A")
	gitIn(t, root, "commit", "-q", "-m", "base")
	editFile(t, dir, "Pulumi.production.yaml", "instanceClass: db.r6g.xlarge", "instanceClass: db.r6g.2xlarge")
	code, out, errOut := runPlan(t, "delta", "--base", "main", "--dir", dir, "production")
	if code != 0 || !strings.Contains(out, "Total for production: ") || !strings.Contains(out, "(+$700.80)") {
		t.Errorf("exit %d; stdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
}

// What counts as code for plan delta: a file the base's cmd/plan is built from or reads.
func TestBuildInput(t *testing.T) {
	for path, want := range map[string]bool{
		"main.go": true, "go.mod": true, "go.sum": true, "Pulumi.yaml": true,
		"internal/plan/prices.go": true, "internal/plan/usage.yaml": true, "internal/spec/spec.yaml": true,
		"infra/compute/compute.go": true, "cmd/plan/main.go": true, "access/pipeline/table.go": true,
		"Pulumi.dev.yaml": false, "Pulumi.production.yaml": false, "delta.md": false, "delta.err": false,
		"README.md": false, "docs/costs.md": false, "internal/plan/delta_test.go": false,
		"tests/testdata/dev.urns": false, "scripts/deploy.sh": false, ".github/workflows/cost.yml": false,
		".ci/run": false, ".vscode/settings.json": false,
	} {
		if got := buildInput(path); got != want {
			t.Errorf("buildInput(%q) = %v, want %v", path, got, want)
		}
	}
}

// A change that lowers a stack's cost: the closing lines carry the minus sign, exactly as the
// issue writes them, at the desired and at the maximum counts.
func TestDeltaReportsAFall(t *testing.T) {
	line := func(monthly float64) Line {
		return Line{Component: compRDS, Item: "primary", Key: "db | h", Unit: "instance-h", Monthly: monthly, MonthlyMax: monthly}
	}
	d := &stackDelta{name: "production",
		before: &Estimate{Stack: "production", Total: 1400, TotalMax: 2000, Lines: []Line{line(1312.54)}},
		after:  &Estimate{Stack: "production", Total: 743, TotalMax: 1343, Lines: []Line{line(655.54)}}}
	d.compare()
	var out strings.Builder
	writeDelta(&out, &baseTree{ref: "main", sha: "0123456789abcdef"}, []*stackDelta{d}, Text)
	for _, want := range []string{
		"Total for production: $1,400.00 → $743.00 a month (−$657.00)",
		"Total for production at the maximum counts: $2,000.00 → $1,343.00 a month (−$657.00)",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("report lacks %q:\n%s", want, out.String())
		}
	}
}

// The budgets issue 20 set: dev $82 (the matrix's ~$80 with the NAT instance), staging its
// estimate rounded up (to under $10 above it), production the top of the spec's range ($5,450);
// every stack within its budget on main, so that no pull request fails for a change it did not make.
func TestBudgetsAsTheIssueSetThem(t *testing.T) {
	for _, name := range mockengine.Stacks(projectDir) {
		e := estimated(t, name)
		if e.Total > e.BudgetUSD {
			t.Errorf("%s: estimate $%.2f is over its budget $%.2f", name, e.Total, e.BudgetUSD)
		}
		switch name {
		case "dev":
			if e.BudgetUSD != 82 {
				t.Errorf("dev's budget is $%.2f, want $82", e.BudgetUSD)
			}
		case "staging":
			if e.BudgetUSD-e.Total >= 10 {
				t.Errorf("staging's budget $%.2f is not its estimate $%.2f rounded up", e.BudgetUSD, e.Total)
			}
		case "production":
			if e.BudgetUSD != 5450 {
				t.Errorf("production's budget is $%.2f, want the top of the spec's range, $5,450", e.BudgetUSD)
			}
		}
	}
}
