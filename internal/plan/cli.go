package plan

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/taskmanager/taskmanager-infra/internal/mockengine"
)

// Usage is the command line of cmd/plan.
const Usage = `usage: go run ./cmd/plan <command> [flags]

commands:
  plan <stack>            the resource tree (component → children) with each resource's sizing, and a summary
  cost <stack>            the itemised monthly cost estimate, set beside the spec's cost table and the
                          stack's budget (taskmanager:budget.monthlyUSD)
  delta --base <git-ref> [stack...]
                          what the working tree changes in each stack's monthly cost against <git-ref>
                          (every stack when none is named), each side evaluated by its own code
  diff <stackA> <stackB>  the resources and settings that differ between two stacks
  matrix                  the spec's Environment Comparison Matrix, from every stack file

flags (before or after the stack names):
  --markdown              markdown tables (a pull request comment, docs/)
  --json                  cost only: the estimate as JSON (what delta reads from the base)
  --base <git-ref>        delta only: the commit to compare with (a branch, tag or SHA)
  --write                 matrix only: write docs/environments.md instead of printing
  --dir <path>            the project directory (default: found from the working directory)

exit status: 0; 1 on an error; 2 on a usage mistake; 3 when cost or delta finds a stack's estimate
at the desired counts over its budget (after printing the report).
`

// stackArgs is how many stack names each command takes; -1 for any number.
var stackArgs = map[string]int{"plan": 1, "cost": 1, "delta": -1, "diff": 2, "matrix": 0}

// Main is cmd/plan: it runs the command line argv and returns the exit status. It lives here,
// not in cmd/plan, so that its tests share this package's test binary: every test binary links
// the whole AWS SDK (about five seconds a link on two cores).
func Main(argv []string, stdout, stderr io.Writer) int {
	usage := func(err error) int {
		fmt.Fprintf(stderr, "error: %v\n\n%s", err, Usage)
		return 2
	}
	if len(argv) == 0 {
		return usage(errors.New("no command"))
	}
	command := argv[0]
	switch command {
	case "help", "-h", "-help", "--help":
		fmt.Fprint(stdout, Usage)
		return 0
	}
	n, ok := stackArgs[command]
	if !ok {
		return usage(fmt.Errorf("unknown command %q", command))
	}
	// Each command has its own flags: --write is matrix's only.
	fs := flag.NewFlagSet(command, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	markdown := fs.Bool("markdown", false, "")
	dir := fs.String("dir", "", "")
	write, jsonOut, base := new(bool), new(bool), new(string)
	switch command {
	case "matrix":
		fs.BoolVar(write, "write", false, "")
	case "cost":
		fs.BoolVar(jsonOut, "json", false, "")
	case "delta":
		fs.StringVar(base, "base", "", "")
	}
	// The flag package stops at the first stack name: parse again after each one.
	var stacks []string
	for rest := argv[1:]; ; {
		if err := fs.Parse(rest); errors.Is(err, flag.ErrHelp) {
			fmt.Fprint(stdout, Usage)
			return 0
		} else if err != nil {
			return usage(err)
		}
		if rest = fs.Args(); len(rest) == 0 {
			break
		}
		stacks, rest = append(stacks, rest[0]), rest[1:]
	}
	if n >= 0 && len(stacks) != n {
		return usage(fmt.Errorf("%s takes %d stack name(s), got %d", command, n, len(stacks)))
	}
	if command == "delta" && *base == "" {
		return usage(errors.New("delta needs --base <git-ref>"))
	}
	format := Text
	if *markdown {
		format = Markdown
	}
	opts := options{format: format, write: *write, json: *jsonOut, base: *base}
	if err := run(command, stacks, *dir, opts, stdout); err != nil {
		code := 1
		var over *OverBudgetError
		if errors.As(err, &over) {
			code = ExitOverBudget
		}
		for _, line := range strings.Split(err.Error(), "\n") {
			if strings.HasPrefix(line, "  ") {
				fmt.Fprintln(stderr, line) // a bullet of an invalid config: as preview indents it
				continue
			}
			fmt.Fprintln(stderr, "error: "+line)
		}
		return code
	}
	return 0
}

// options are the flags of a command.
type options struct {
	format Format
	write  bool   // matrix --write
	json   bool   // cost --json
	base   string // delta --base
}

func run(command string, stacks []string, dir string, o options, stdout io.Writer) error {
	f := o.format
	if dir == "" {
		wd, err := os.Getwd()
		if err != nil {
			return err
		}
		if dir, err = mockengine.FindProjectDir(wd); err != nil {
			return err
		}
	}
	if command == "matrix" {
		all, err := EvaluateAll(dir)
		if err != nil {
			return err
		}
		if !o.write {
			return WriteMatrix(stdout, all, f)
		}
		doc, err := MatrixDocument(all)
		if err != nil {
			return err
		}
		path := filepath.Join(dir, MatrixDoc)
		if err := os.WriteFile(path, []byte(doc), 0o644); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "wrote %s\n", path)
		return nil
	}
	if command == "delta" {
		return Delta(stdout, dir, o.base, stacks, f)
	}
	var evaluated []*Stack
	for _, name := range stacks {
		s, err := Evaluate(dir, name)
		if err != nil {
			return err
		}
		evaluated = append(evaluated, s)
	}
	switch command {
	case "plan":
		return WritePlan(stdout, evaluated[0], f)
	case "cost":
		e, err := EstimateCost(evaluated[0])
		if err != nil {
			return err
		}
		if o.json {
			return WriteJSON(stdout, e)
		}
		if err := WriteCost(stdout, evaluated[0], f); err != nil {
			return err
		}
		return CheckBudget(e)
	}
	return WriteDiff(stdout, evaluated[0], evaluated[1], f)
}
