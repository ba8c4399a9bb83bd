package plan

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"

	"github.com/taskmanager/taskmanager-infra/internal/mockengine"
	"github.com/taskmanager/taskmanager-infra/stacks"
)

// How plan delta evaluates the base: the program's code may differ there (a new resource, a
// price, a usage assumption), so the base is priced by its own code, never by the working tree's.
// The base commit's tree is extracted with `git archive` into a temporary directory (nothing is
// added to the repository, not even a worktree). The working tree is evaluated in this process.
// Both run offline on the mock engine of their own tree.
//
// When no file that cmd/plan is built from differs (buildInput: the usual pull request changes a
// size in Pulumi.<stack>.yaml and regenerates docs/costs.md), the base's code is this process's
// code, so its stack files are evaluated here too and nothing is built. Otherwise the base's
// cmd/plan is run with `go run` and asked for `cost --json` of each stack. The tree is extracted
// at a path named by its build inputs, so that Go's build cache, which keys a `go run` executable
// on its sources' paths as well as their contents, links a given base once (minutes cold,
// seconds warm) rather than on every run.

// stackDelta is one stack's estimate at the base and in the working tree.
type stackDelta struct {
	name         string
	before       *Estimate // nil when the base has no file for the stack
	after        *Estimate
	settings     []Change // the stack file's keys that differ (secrets left out)
	rank         int      // environment order
	code         []string // the files cmd/plan is built from that differ from the base
	changed      []lineDelta
	overBudget   string
	budgetChange *Change
}

// lineDelta is one line whose monthly cost differs.
type lineDelta struct {
	component, item string
	before, after   float64 // monthly at the desired counts; 0 when one side lacks the line
	beforeMax       float64
	afterMax        float64
	cause           string
}

func (l lineDelta) diff() float64    { return l.after - l.before }
func (l lineDelta) diffMax() float64 { return l.afterMax - l.beforeMax }

// cents rounds dollars to whole cents, so that float noise is not a change.
func cents(v float64) int64 { return int64(math.Round(v * 100)) }

// Delta writes what the working tree in dir changes in each named stack's monthly cost (every
// stack of the working tree when none is named) against the git ref base. It returns an
// OverBudgetError, after writing the report, when a stack's estimate at the desired counts is
// over its budget.
func Delta(w io.Writer, dir, base string, names []string, f Format) error {
	if len(names) == 0 {
		names = mockengine.Stacks(dir)
		if len(names) == 0 {
			return fmt.Errorf("working tree: no stack files (Pulumi.<stack>.yaml) in %s", dir)
		}
	}
	// The working tree first: its errors need no build of the base.
	var heads []*Stack
	for _, name := range names {
		s, err := Evaluate(dir, name)
		if err != nil {
			return fmt.Errorf("working tree: %w", err)
		}
		heads = append(heads, s)
	}
	b, err := openBase(dir, base)
	if err != nil {
		return err
	}
	defer b.close()

	var deltas []*stackDelta
	for _, s := range heads {
		after, err := EstimateCost(s)
		if err != nil {
			return fmt.Errorf("working tree: %w", err)
		}
		before, baseSource, err := b.estimate(s.Name)
		if err != nil {
			return err
		}
		d := &stackDelta{name: s.Name, before: before, after: after, rank: envRank(s), code: b.code}
		if baseSource != nil {
			d.settings = compareFlat(flattenSettings(&Stack{Source: *baseSource}), flattenSettings(s))
		}
		d.compare()
		deltas = append(deltas, d)
	}
	sort.SliceStable(deltas, func(i, j int) bool { return deltas[i].rank < deltas[j].rank })

	writeDelta(w, b, deltas, f)
	over := &OverBudgetError{}
	for _, d := range deltas {
		if d.overBudget != "" {
			over.Stacks = append(over.Stacks, d.name)
			over.Detail = append(over.Detail, d.overBudget)
		}
	}
	if len(over.Stacks) > 0 {
		return over
	}
	return nil
}

// compare finds the lines whose cost differs, their causes, and the budget's verdict.
func (d *stackDelta) compare() {
	before := map[string]Line{}
	var keys []string
	index := func(lines []Line, into map[string]Line) {
		for _, l := range lines {
			if prev, ok := into[l.Key]; ok {
				// Two lines of one key (an older base's keys may be coarser): add them up.
				l.Monthly += prev.Monthly
				l.MonthlyMax += prev.MonthlyMax
			} else if !slices.Contains(keys, l.Key) {
				keys = append(keys, l.Key)
			}
			into[l.Key] = l
		}
	}
	after := map[string]Line{}
	index(d.after.Lines, after)
	if d.before != nil {
		index(d.before.Lines, before)
	}
	for _, k := range keys {
		a, inAfter := after[k]
		bl, inBefore := before[k]
		if cents(a.Monthly) == cents(bl.Monthly) && cents(a.MonthlyMax) == cents(bl.MonthlyMax) {
			continue
		}
		l := lineDelta{before: bl.Monthly, after: a.Monthly, beforeMax: bl.MonthlyMax, afterMax: a.MonthlyMax}
		switch {
		case !inBefore:
			l.component, l.item = a.Component, a.Item+" (new)"
		case !inAfter:
			l.component, l.item = bl.Component, bl.Item+" (removed)"
		case a.Item != bl.Item:
			l.component, l.item = a.Component, bl.Item+" → "+a.Item
		default:
			l.component, l.item = a.Component, a.Item
		}
		l.cause = d.cause(l.component, bl, a, inBefore && inAfter)
		d.changed = append(d.changed, l)
	}
	for i, c := range d.settings {
		if c.Path == BudgetKey {
			d.budgetChange = &d.settings[i]
		}
	}
	// Lines that grew most, for a stack over its budget.
	grew := slices.Clone(d.changed)
	sort.SliceStable(grew, func(i, j int) bool { return grew[i].diff() > grew[j].diff() })
	var named []string
	for _, l := range grew[:min(3, len(grew))] {
		if cents(l.diff()) > 0 {
			named = append(named, fmt.Sprintf("%s %s %s", l.component, l.item, signedMoney(l.diff())))
		}
	}
	if len(named) > 0 {
		named[0] = "the lines that grew most: " + named[0]
	} else {
		named = biggestLines(d.after, 3)
	}
	d.overBudget = overBudget(d.after, named)
}

// componentKeys are the stack-file groups whose keys size each component's lines: a changed key
// in one of them is named as the cause of a changed line.
var componentKeys = map[string][]string{
	compRDS: {"database"}, compReplica: {"database"}, compProxy: {"database"}, compCache: {"cache"},
	compAPI: {"api", "compute"}, compWorker: {"worker", "compute"}, compALB: {"edge"}, compWAF: {"edge"},
	compNAT: {"network"}, compIPv4: {"network", "edge"}, compSecrets: {"secrets", "database", "worker"},
	compKMS: {"secrets"}, compCloudWatch: {"monitoring", "logging", "network", "worker", "api", "database", "cache"},
	compRoute53: {"edge"}, compLambda: {"secrets", "worker"}, compEC2: {"bastion", "network"}, compS3: {"storage"},
}

// cause says what changed a line, where it can tell: the stack file's keys of the component's
// groups, else the unit price or the usage assumption, else the code.
func (d *stackDelta) cause(component string, before, after Line, both bool) string {
	var keys []string
	for _, c := range d.settings {
		for _, g := range componentKeys[component] {
			if strings.HasPrefix(c.Path, "taskmanager:"+g+".") || c.Path == "taskmanager:"+g {
				keys = append(keys, fmt.Sprintf("%s: %s → %s", c.Path, c.A, c.B))
				break
			}
		}
	}
	if len(keys) > 0 {
		if len(keys) > 3 {
			keys = append(keys[:3], fmt.Sprintf("and %d more", len(keys)-3))
		}
		return strings.Join(keys, "; ")
	}
	if both && before.UnitPrice != after.UnitPrice {
		return fmt.Sprintf("price %s → %s per %s (code: internal/plan/prices.go)", unitPrice(before.UnitPrice), unitPrice(after.UnitPrice), after.Unit)
	}
	if both && before.Assumption != after.Assumption {
		return fmt.Sprintf("usage assumption %s → %s (%s)", orNone(before.Assumption), orNone(after.Assumption), UsageFile)
	}
	if len(d.code) > 0 {
		files := d.code
		if len(files) > 3 {
			files = append(slices.Clone(files[:3]), fmt.Sprintf("and %d more", len(files)-3))
		}
		return "code: " + strings.Join(files, ", ")
	}
	return ""
}

// orNone is s, or "none" when it is empty.
func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}

// writeDelta writes the report.
func writeDelta(w io.Writer, b *baseTree, deltas []*stackDelta, f Format) {
	var names []string
	for _, d := range deltas {
		names = append(names, d.name)
	}
	heading(w, f, 2, fmt.Sprintf("Monthly cost of this change: %s", strings.Join(names, ", ")))
	how := fmt.Sprintf("each side evaluated offline on the mock engine by its own code: the base's %s run from its tree, the working tree's in this run. "+
		"Lines priced from usage assumptions take each side's %s.", code(f, "cmd/plan cost --json"), code(f, UsageFile))
	if b.plan == nil {
		how = "both sides evaluated offline on the mock engine by the same code: no file the program is built from differs."
	}
	para(w, fmt.Sprintf("Against %s (%s), %s", code(f, b.ref), code(f, b.short()), how))
	for _, d := range deltas {
		heading(w, f, 3, d.name)
		if d.before == nil {
			para(w, fmt.Sprintf("The base has no %s: every line is new.", code(f, "Pulumi."+d.name+".yaml")))
		}
		if len(d.changed) == 0 {
			para(w, fmt.Sprintf("No change in cost for %s: %s a month at the desired counts, %s at the maximum counts.",
				d.name, money(d.after.Total), money(d.after.TotalMax)))
		} else {
			t := &table{header: []string{"Component", "Item", "Before", "After", "Monthly difference", "At max counts", "Cause"},
				right: map[int]bool{2: true, 3: true, 4: true, 5: true}}
			for _, l := range d.changed {
				t.add(l.component, l.item, money(l.before), money(l.after), signedMoney(l.diff()), signedMoney(l.diffMax()), l.cause)
			}
			_ = t.write(w, f)
			fmt.Fprintln(w)
			var before, beforeMax float64
			if d.before != nil {
				before, beforeMax = d.before.Total, d.before.TotalMax
			}
			para(w, fmt.Sprintf("Total for %s: %s → %s a month (%s)", d.name, money(before), money(d.after.Total), signedMoney(d.after.Total-before)))
			para(w, fmt.Sprintf("Total for %s at the maximum counts: %s → %s a month (%s)", d.name, money(beforeMax), money(d.after.TotalMax), signedMoney(d.after.TotalMax-beforeMax)))
		}
		if d.budgetChange != nil {
			para(w, fmt.Sprintf("This change sets %s: %s → %s.", code(f, BudgetKey), d.budgetChange.A, d.budgetChange.B))
		}
		if d.overBudget != "" {
			label := "Over budget: "
			if f == Markdown {
				label = "**Over budget**: "
			}
			para(w, label+d.overBudget+".")
		} else if len(d.changed) > 0 || d.budgetChange != nil {
			para(w, BudgetLine(d.after))
		}
	}
}

// baseTree is the base commit's tree, extracted.
type baseTree struct {
	ref, sha string
	top      string   // the repository's top directory
	tmp      string   // removed by close
	unlock   func()   // releases tmp's lock (nil: tmp is a path of its own)
	dir      string   // the project directory inside the extracted tree
	plan     []string // the command that runs the base's cmd/plan; nil: its code is this process's
	code     []string // the files cmd/plan is built from that differ from the base
}

func (b *baseTree) short() string { return b.sha[:min(12, len(b.sha))] }

func (b *baseTree) close() {
	_ = os.RemoveAll(b.tmp)
	if b.unlock != nil {
		b.unlock()
	}
}

// side names the base in an error.
func (b *baseTree) side() string { return fmt.Sprintf("base %s (%s)", b.ref, b.short()) }

func git(dir string, args ...string) (string, error) {
	cmd := exec.Command("git", append([]string{"-C", dir}, args...)...)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Run(); err != nil {
		msg := strings.TrimSpace(errOut.String())
		if msg == "" {
			msg = err.Error()
		}
		return "", errors.New(msg)
	}
	return strings.TrimSpace(out.String()), nil
}

// openBase resolves ref in the repository holding dir and extracts its tree.
func openBase(dir, ref string) (*baseTree, error) {
	if strings.HasPrefix(ref, "-") {
		return nil, fmt.Errorf("base: %q is not a git ref", ref)
	}
	prefix, err := git(dir, "rev-parse", "--show-prefix")
	if err != nil {
		return nil, fmt.Errorf("base: %s is not in a git repository: %v", dir, err)
	}
	sha, err := git(dir, "rev-parse", "--verify", "--quiet", ref+"^{commit}")
	if err != nil || sha == "" {
		return nil, fmt.Errorf("base: git ref %q does not exist in the repository at %s; fetch it first (a shallow clone lacks the pull request's base: check out with fetch-depth: 0)", ref, dir)
	}
	b := &baseTree{ref: ref, sha: sha}
	if b.top, err = git(dir, "rev-parse", "--show-toplevel"); err != nil {
		return nil, fmt.Errorf("base: %v", err)
	}
	files, err := git(dir, "ls-tree", "-r", "-z", sha, "--", ".")
	if err != nil {
		return nil, fmt.Errorf("%s: %v", b.side(), err)
	}
	if err := b.makeDir(buildInputsKey(files)); err != nil {
		return nil, err
	}
	ok := false
	defer func() {
		if !ok {
			b.close()
		}
	}()
	if err := b.extract(); err != nil {
		return nil, fmt.Errorf("%s: extracting its tree: %w", b.side(), err)
	}
	b.dir = filepath.Join(b.tmp, "src", filepath.FromSlash(prefix))
	if _, err := os.Stat(filepath.Join(b.dir, "cmd", "plan")); err != nil {
		return nil, fmt.Errorf("%s has no cmd/plan: it predates the offline estimate; compare with a later commit", b.side())
	}
	// The code that differs (changed, or new and not ignored), of the files cmd/plan is built
	// from: what a changed line owes to code. A pull request that resizes a stack also updates
	// docs/costs.md, and a report redirected to a file in the checkout is a new file: neither is
	// code.
	// --no-renames: a file moved out of the program's packages is a change to them.
	changed, err := git(dir, "diff", "--name-only", "--no-renames", "-z", "--relative", sha, "--", ".")
	if err != nil {
		return nil, fmt.Errorf("%s: %v", b.side(), err)
	}
	added, err := git(dir, "ls-files", "--others", "--exclude-standard", "-z", "--", ".")
	if err != nil {
		return nil, fmt.Errorf("working tree: %v", err)
	}
	// -z: names as they are, unquoted, whatever characters they hold.
	for _, path := range strings.Split(changed+"\x00"+added, "\x00") {
		if path != "" && buildInput(path) {
			b.code = append(b.code, path)
		}
	}
	if len(b.code) > 0 {
		b.plan = []string{"go", "run", "./cmd/plan"}
	}
	ok = true
	return b, nil
}

// makeDir makes the directory the base is extracted in: one path per base (see above), named by
// the key of the files the base's cmd/plan is built from, so that a change to a test, a document
// or a stack file does not cost a link. Its lock file says whether a run is using it: a run that
// was killed leaves the directory, which the next one clears; a run on the same base meanwhile
// gets a path of its own.
func (b *baseTree) makeDir(key string) error {
	path := filepath.Join(os.TempDir(), "plan-delta-"+key)
	if release, ok := lockFile(path + ".lock"); ok {
		if os.RemoveAll(path) == nil && os.Mkdir(path, 0o700) == nil {
			b.tmp, b.unlock = path, release
			return nil
		}
		release()
	}
	var err error
	b.tmp, err = os.MkdirTemp("", "plan-delta-")
	return err
}

// extract writes the base commit's whole tree under b.tmp/src, from `git archive` at the
// repository's top (from a subdirectory it would archive that subdirectory alone).
func (b *baseTree) extract() error {
	cmd := exec.Command("git", "-C", b.top, "archive", "--format=tar", b.sha)
	var errOut bytes.Buffer
	cmd.Stderr = &errOut
	out, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	if err := cmd.Start(); err != nil {
		return err
	}
	root := filepath.Join(b.tmp, "src")
	readErr := untar(out, root)
	// Drain what is left so that git exits, then report the first failure.
	_, _ = io.Copy(io.Discard, out)
	if err := cmd.Wait(); err != nil {
		return fmt.Errorf("git archive: %v: %s", err, strings.TrimSpace(errOut.String()))
	}
	return readErr
}

// untar writes a tar stream's directories and regular files under root; links and anything that
// would land outside root are skipped (the program's tree has none).
func untar(r io.Reader, root string) error {
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		path := filepath.Join(root, filepath.FromSlash(h.Name))
		if !strings.HasPrefix(path, root+string(filepath.Separator)) {
			continue
		}
		switch h.Typeflag {
		case tar.TypeDir:
			if err := os.MkdirAll(path, 0o755); err != nil {
				return err
			}
		case tar.TypeReg:
			if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
				return err
			}
			f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, os.FileMode(h.Mode)&0o755|0o600)
			if err != nil {
				return err
			}
			_, err = io.Copy(f, tr)
			if cerr := f.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				return err
			}
		}
	}
}

// estimate prices a stack at the base: nil, nil when the base has no file for the stack. It also
// returns the base's stack file values, to name the keys that changed.
func (b *baseTree) estimate(stack string) (*Estimate, *stacks.Source, error) {
	if _, err := os.Stat(filepath.Join(b.dir, "Pulumi."+stack+".yaml")); errors.Is(err, os.ErrNotExist) {
		return nil, nil, nil
	}
	var e *Estimate
	var err error
	if b.plan == nil {
		e, err = b.estimateHere(stack)
	} else {
		e, err = b.estimateByItsCode(stack)
	}
	if err != nil {
		return nil, nil, err
	}
	src, err := mockengine.LoadStack(b.dir, stack)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", b.side(), err)
	}
	return e, &src, nil
}

// estimateHere evaluates the base's stack file with this process's code: the base's code is the
// same.
func (b *baseTree) estimateHere(stack string) (*Estimate, error) {
	s, err := Evaluate(b.dir, stack)
	if err == nil {
		var e *Estimate
		if e, err = EstimateCost(s); err == nil {
			return e, nil
		}
	}
	return nil, fmt.Errorf("%s: stack %s does not load:\n%s", b.side(), stack, indent(err.Error()))
}

// buildInputsKey hashes a `git ls-tree -r -z` listing of the project's files, less those cmd/plan is not
// built from. Go's build cache still checks every source's content; the key only decides which
// runs share a path, and so a cached executable.
func buildInputsKey(lsTree string) string {
	h := sha256.New()
	for _, line := range strings.Split(lsTree, "\x00") {
		if _, path, _ := strings.Cut(line, "\t"); buildInput(path) {
			fmt.Fprintln(h, line)
		}
	}
	return hex.EncodeToString(h.Sum(nil))[:16]
}

// buildInput says whether cmd/plan's build or its evaluation of a stack can read a file (a path
// relative to the project directory): not the stack files (each side's are compared as
// settings), tests, Markdown, or the directories that hold no package of the program (a package
// embeds files from its own directory only). It errs towards code: any other file in a package's
// directory counts.
func buildInput(path string) bool {
	name := filepath.Base(path)
	if strings.HasSuffix(name, "_test.go") || strings.HasSuffix(name, ".md") {
		return false
	}
	top, _, nested := strings.Cut(path, "/")
	if !nested {
		return strings.HasSuffix(name, ".go") || name == "go.mod" || name == "go.sum" || name == "Pulumi.yaml"
	}
	// .github, .ci, an editor's settings: no Go package is in a directory whose name starts with
	// a dot (the go command ignores them).
	return !strings.HasPrefix(top, ".") && !slices.Contains([]string{"docs", "scripts", "tests"}, top)
}

var goRunExit = regexp.MustCompile(`(?m)^exit status \d+\n?\z`)

// estimateByItsCode asks the base's own cmd/plan for `cost --json`.
func (b *baseTree) estimateByItsCode(stack string) (*Estimate, error) {
	cmd := exec.Command(b.plan[0], append(b.plan[1:], "cost", "--json", "--dir", b.dir, stack)...)
	cmd.Dir = b.dir
	cmd.Env = append(os.Environ(), "GOWORK=off")
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Run(); err != nil {
		// go run exits 1 whatever went wrong; when the program ran, it ends the program's error
		// output with the program's own "exit status N".
		raw := errOut.String()
		ran := goRunExit.MatchString(raw)
		msg := strings.TrimSpace(goRunExit.ReplaceAllString(raw, ""))
		switch {
		case !ran:
			return nil, fmt.Errorf("%s: its cmd/plan does not build:\n%s", b.side(), indent(msg))
		case strings.Contains(msg, "flag provided but not defined: -json"):
			return nil, fmt.Errorf("%s predates `plan cost --json`, which plan delta reads from the base; compare with a later commit", b.side())
		default:
			return nil, fmt.Errorf("%s: stack %s does not load:\n%s", b.side(), stack, indent(strings.ReplaceAll(msg, "error: ", "")))
		}
	}
	e, err := readJSON(out.Bytes())
	if err != nil {
		return nil, fmt.Errorf("%s: stack %s: %w", b.side(), stack, err)
	}
	return e, nil
}

// indent indents every line of s by four spaces, for a tool's output inside an error.
func indent(s string) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	for i, l := range lines {
		lines[i] = "    " + l
	}
	return strings.Join(lines, "\n")
}
