package plan

import (
	"errors"
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
  cost <stack>            the itemised monthly cost estimate, set beside the spec's cost table
  diff <stackA> <stackB>  the resources and settings that differ between two stacks
  matrix                  the spec's Environment Comparison Matrix, from every stack file

flags:
  --markdown              markdown tables (a pull request comment, docs/)
  --write                 matrix only: write docs/environments.md instead of printing
  --dir <path>            the project directory (default: found from the working directory)
`

// errUsage marks a mistake in the command line.
var errUsage = errors.New("usage")

// options is a parsed command line.
type options struct {
	command  string
	args     []string
	format   Format
	write    bool
	dir      string
	dirGiven bool
}

// Main is cmd/plan: it runs the command line argv and returns the exit status. It lives here,
// not in cmd/plan, so that its tests share this package's test binary: every test binary links
// the whole AWS SDK (about five seconds a link on two cores).
func Main(argv []string, stdout, stderr io.Writer) int {
	opts, err := parse(argv)
	if err != nil {
		fmt.Fprintf(stderr, "error: %v\n\n%s", err, Usage)
		return 2
	}
	if opts.command == "help" {
		fmt.Fprint(stdout, Usage)
		return 0
	}
	if err := execute(opts, stdout); err != nil {
		if errors.Is(err, errUsage) {
			fmt.Fprintf(stderr, "error: %v\n\n%s", err, Usage)
			return 2
		}
		for _, line := range strings.Split(err.Error(), "\n") {
			if strings.HasPrefix(line, "  ") {
				fmt.Fprintln(stderr, line) // a bullet of an invalid config: as preview indents it
				continue
			}
			fmt.Fprintln(stderr, "error: "+line)
		}
		return 1
	}
	return 0
}

func parse(argv []string) (options, error) {
	var o options
	var positional []string
	for i := 0; i < len(argv); i++ {
		a := argv[i]
		switch {
		case a == "--markdown" || a == "-markdown":
			o.format = Markdown
		case a == "--write" || a == "-write":
			o.write = true
		case a == "--dir" || a == "-dir":
			if i+1 >= len(argv) {
				return o, fmt.Errorf("%s needs a directory", a)
			}
			i++
			o.dir, o.dirGiven = argv[i], true
		case strings.HasPrefix(a, "--dir=") || strings.HasPrefix(a, "-dir="):
			o.dir, o.dirGiven = a[strings.Index(a, "=")+1:], true
		case a == "-h" || a == "--help" || a == "-help":
			o.command = "help"
			return o, nil
		case strings.HasPrefix(a, "-"):
			return o, fmt.Errorf("unknown flag %s", a)
		default:
			positional = append(positional, a)
		}
	}
	if len(positional) == 0 {
		return o, errors.New("no command")
	}
	o.command, o.args = positional[0], positional[1:]
	want := map[string]int{"plan": 1, "cost": 1, "diff": 2, "matrix": 0, "help": 0}
	n, ok := want[o.command]
	if !ok {
		return o, fmt.Errorf("unknown command %q", o.command)
	}
	if len(o.args) != n {
		return o, fmt.Errorf("%s takes %d stack name(s), got %d", o.command, n, len(o.args))
	}
	if o.write && o.command != "matrix" {
		return o, fmt.Errorf("--write applies to matrix only")
	}
	return o, nil
}

func execute(o options, stdout io.Writer) error {
	dir := o.dir
	if !o.dirGiven {
		wd, err := os.Getwd()
		if err != nil {
			return err
		}
		if dir, err = mockengine.FindProjectDir(wd); err != nil {
			return err
		}
	}
	switch o.command {
	case "plan", "cost":
		s, err := Evaluate(dir, o.args[0])
		if err != nil {
			return err
		}
		if o.command == "plan" {
			return WritePlan(stdout, s, o.format)
		}
		return WriteCost(stdout, s, o.format)
	case "diff":
		a, err := Evaluate(dir, o.args[0])
		if err != nil {
			return err
		}
		b, err := Evaluate(dir, o.args[1])
		if err != nil {
			return err
		}
		return WriteDiff(stdout, a, b, o.format)
	case "matrix":
		all, err := EvaluateAll(dir)
		if err != nil {
			return err
		}
		if !o.write {
			return WriteMatrix(stdout, all, o.format)
		}
		path := filepath.Join(dir, MatrixDoc)
		doc, err := MatrixDocument(all)
		if err != nil {
			return err
		}
		if err := os.WriteFile(path, []byte(doc), 0o644); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "wrote %s\n", path)
		return nil
	}
	return fmt.Errorf("%w: unknown command %q", errUsage, o.command)
}
