// Package plan evaluates the program offline, on the shared mock recorder, and reports on what a
// stack would build: the resource tree with each resource's sizing, an itemised monthly cost
// estimate set against the spec's cost tables, the differences between two stacks, and the
// spec's environment comparison matrix. It never re-implements the program: every report is
// derived from the resources stacks.Deploy registers for a real stack file.
package plan

import (
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/taskmanager/taskmanager-infra/internal/mockengine"
	"github.com/taskmanager/taskmanager-infra/stacks"
)

// Stack is one evaluated environment.
type Stack struct {
	Name   string         // the stack's name: dev, staging, production
	Config *stacks.Config // its typed, validated config
	// Source is the config the program ran on, with stand-ins for the person-supplied secrets.
	Source stacks.Source
	// Resources are the registrations, in a stable order (by URN): the engine registers
	// concurrently, so the recorder's order changes from run to run.
	Resources []*mockengine.Resource
}

// StandInNote says what the offline run cannot know; every report prints it.
const StandInNote = "Secret values are stand-ins: Pulumi secrets cannot be decrypted offline, and the person-supplied " +
	"secrets (taskmanager:externalSecrets, set with `pulumi config set --secret`) are filled with placeholders " +
	"where the stack file lacks them. Sizes, counts and settings are the stack file's."

// Evaluate runs the program on Pulumi.<stack>.yaml in the project directory dir, under mocks,
// with stand-ins for the secrets only a person can set (production requires them, and an
// operator sets them before the first preview). The error is what `pulumi preview` would print:
// a bad stack name lists the stacks; an invalid config lists every problem.
func Evaluate(dir, stack string) (*Stack, error) {
	src, err := mockengine.LoadStack(dir, stack)
	if err != nil {
		return nil, err
	}
	src = mockengine.WithExternalSecrets(src)
	rec, err := mockengine.RunSource(src)
	if err != nil {
		return nil, unwrapRun(err)
	}
	// The program accepted this config a moment ago: Load cannot fail here unless the two
	// disagree, a bug worth a clear message rather than a nil config.
	cfg, err := stacks.Load(src)
	if err != nil {
		return nil, fmt.Errorf("stack %q: the program ran but its config does not load: %w", stack, err)
	}
	res := rec.Resources()
	sort.SliceStable(res, func(i, j int) bool { return res[i].URN < res[j].URN })
	return &Stack{Name: stack, Config: cfg, Source: src, Resources: res}, nil
}

// EvaluateAll evaluates every stack of the project, in environment order (development, staging,
// production, then any other).
func EvaluateAll(dir string) ([]*Stack, error) {
	names := mockengine.Stacks(dir)
	if len(names) == 0 {
		return nil, fmt.Errorf("no stack files (Pulumi.<stack>.yaml) in %s", dir)
	}
	var out []*Stack
	for _, name := range names {
		s, err := Evaluate(dir, name)
		if err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	sort.SliceStable(out, func(i, j int) bool { return envRank(out[i]) < envRank(out[j]) })
	return out, nil
}

func envRank(s *Stack) int {
	for i, e := range stacks.Environments {
		if s.Config.Environment == e {
			return i
		}
	}
	return len(stacks.Environments)
}

// unwrapRun removes the SDK's "1 error occurred:" wrapping, so the message reads as the
// program's own, the way `pulumi preview` prints it.
func unwrapRun(err error) error {
	var multi interface{ WrappedErrors() []error }
	if errors.As(err, &multi) {
		var msgs []string
		for _, e := range multi.WrappedErrors() {
			msgs = append(msgs, strings.TrimSpace(e.Error()))
		}
		if len(msgs) > 0 {
			return errors.New(strings.Join(msgs, "\n"))
		}
	}
	return errors.New(strings.TrimSpace(err.Error()))
}
