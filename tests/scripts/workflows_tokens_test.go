package scripts_test

import (
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/taskmanager/taskmanager-infra/access/pipeline"
)

// Issue 18, item 1. The Pulumi tokens are the one manual step: the runbook's one-time setup says,
// for every GitHub environment of the access table, which token goes into it: write for a deploy's
// environment, read (of its own stack only) for the drift, refresh and preview environments, none
// where no job runs pulumi.
func TestRunbookSaysWhichTokenGoesWhere(t *testing.T) {
	t.Parallel()
	b, err := os.ReadFile("../../docs/runbook.md")
	require.NoError(t, err)
	runbook := string(b)
	start := strings.Index(runbook, "| GitHub environment | secret | token can |")
	require.NotEqual(t, -1, start, "the runbook has no token table")
	var rows []string
	for _, line := range strings.Split(runbook[start:], "\n")[2:] {
		if !strings.HasPrefix(strings.TrimSpace(line), "|") {
			break
		}
		rows = append(rows, line)
	}
	for _, env := range pipeline.Environments {
		var row string
		for _, r := range rows {
			if strings.Contains(strings.Split(r, "|")[1], "`"+env.Name+"`") {
				row = r
			}
		}
		if !assert.NotEmpty(t, row, "the token table has no row for the environment %s", env.Name) {
			continue
		}
		cells := strings.Split(row, "|")
		secret, can := cells[2], cells[3]
		purposes := map[pipeline.Purpose]bool{}
		for _, r := range pipeline.Roles {
			if r.Environment == env.Name {
				purposes[r.Purpose] = true
			}
		}
		switch {
		case purposes[pipeline.Deploy]:
			assert.Contains(t, secret, "`PULUMI_ACCESS_TOKEN`", env.Name)
			assert.Contains(t, can, "**write**", env.Name)
		case purposes[pipeline.ReleaseCheck], purposes[pipeline.DataReap]:
			assert.Contains(t, secret, "none", env.Name)
		default:
			assert.Contains(t, can, "**read**", env.Name)
			assert.NotContains(t, can, "**write**", env.Name)
		}
	}
}
