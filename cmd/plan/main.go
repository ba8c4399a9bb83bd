// Command plan evaluates the Pulumi program offline, on the mock engine the tests use, and
// reports what a stack would build and cost. It needs no AWS credentials, no Pulumi CLI and no
// network.
//
//	go run ./cmd/plan plan <stack>              the resource tree with sizes, and a summary
//	go run ./cmd/plan cost <stack>              the itemised monthly estimate against the spec and the budget
//	go run ./cmd/plan cost --json <stack>       the same as JSON (what delta reads from another commit)
//	go run ./cmd/plan delta --base <ref> [stack...]  what the working tree changes in each stack's cost
//	go run ./cmd/plan diff <stackA> <stackB>    what differs between two environments
//	go run ./cmd/plan matrix [--write]          the spec's environment comparison matrix
//
// Each command parses its own flags (the standard flag package), before or after the stack
// names: --markdown writes markdown tables (for a pull request comment or docs); --dir names the
// project directory (default: the nearest one at or above the working directory holding
// Pulumi.yaml); matrix's --write updates docs/environments.md. The spec's tables the reports
// compare against are internal/spec/spec.yaml. Errors go to stderr with exit status 1, as
// `pulumi preview` prints them; a usage mistake exits 2; a stack over its budget
// (taskmanager:budget.monthlyUSD) exits 3 after the report. The command is internal/plan's Main,
// tested there.
package main

import (
	"os"

	"github.com/taskmanager/taskmanager-infra/internal/plan"
)

func main() { os.Exit(plan.Main(os.Args[1:], os.Stdout, os.Stderr)) }
