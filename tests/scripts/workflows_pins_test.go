package scripts_test

import (
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Issue 18, item 16. Every pulumi/actions step installs one exact CLI version, the one released
// with the Go SDK the program builds with (go.mod): a job never gets whatever CLI is newest that
// day, and a Dependabot bump of the SDK fails here until the pin follows it.
func TestPulumiCLIIsPinned(t *testing.T) {
	t.Parallel()
	mod, err := os.ReadFile("../../go.mod")
	require.NoError(t, err)
	sdk := regexp.MustCompile(`(?m)^\s*github\.com/pulumi/pulumi/sdk/v3 v(\d+\.\d+\.\d+)\s*$`).FindStringSubmatch(string(mod))
	require.NotNil(t, sdk, "go.mod has no github.com/pulumi/pulumi/sdk/v3")
	steps := 0
	for _, file := range sortedKeys(loadWorkflows(t)) {
		w := loadWorkflows(t)[file]
		for _, id := range sortedKeys(w.jobs) {
			for _, s := range w.jobs[id].Steps {
				if !strings.HasPrefix(s.Uses, "pulumi/actions@") {
					continue
				}
				steps++
				v, _ := s.With["pulumi-version"].(string)
				assert.Regexp(t, `^\d+\.\d+\.\d+$`, v, "%s/%s step %q: pulumi-version is not an exact version", file, id, s.Name)
				assert.Equal(t, sdk[1], v, "%s/%s step %q: the CLI is not the SDK's version (go.mod)", file, id, s.Name)
			}
		}
	}
	assert.NotZero(t, steps, "no pulumi/actions step: is this test still reading the workflows right?")
}

// Issue 18, item 16. The Slack webhook's URL is a secret: it never appears on a command line (where
// the process list and a failing command's log show it). It reaches curl as a config on stdin,
// written by printf, a builtin; the only other use is the test whether it is set.
func TestSlackWebhookNeverOnACommandLine(t *testing.T) {
	t.Parallel()
	use := regexp.MustCompile(`\$\{?SLACK_WEBHOOK_URL\b`)
	allowed := []*regexp.Regexp{
		regexp.MustCompile(`^if \[\[ -z \$SLACK_WEBHOOK_URL \]\]; then$`),
		regexp.MustCompile(`^printf 'url = "%s"\\n' "\$SLACK_WEBHOOK_URL" \|$`),
	}
	steps := 0
	for _, file := range sortedKeys(loadWorkflows(t)) {
		w := loadWorkflows(t)[file]
		for _, id := range sortedKeys(w.jobs) {
			for _, s := range w.jobs[id].Steps {
				if !use.MatchString(s.Run) {
					continue
				}
				steps++
				lines := strings.Split(s.Run, "\n")
				for i, line := range lines {
					line = strings.TrimSpace(line)
					if !use.MatchString(line) {
						continue
					}
					ok := false
					for _, a := range allowed {
						ok = ok || a.MatchString(line)
					}
					assert.True(t, ok, "%s/%s step %q: the webhook is used as %q", file, id, s.Name, line)
					if strings.HasPrefix(line, "printf") && assert.Less(t, i+1, len(lines)) {
						next := strings.TrimSpace(lines[i+1])
						assert.Regexp(t, `^curl .*-K - `, next, "%s/%s step %q: the config goes to curl -K -", file, id, s.Name)
					}
				}
			}
		}
	}
	assert.GreaterOrEqual(t, steps, 2, "the drift check and the release notify Slack")
}
