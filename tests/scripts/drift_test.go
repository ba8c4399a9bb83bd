package scripts_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// scripts/report-drift.sh, the nightly drift check of one stack (.github/workflows/drift.yml):
// no drift, no issue touched; drift, one issue per stack, commented on while it is open.

const (
	driftSecret = "Sup3rS3cret-drift-value"
	issueURL    = "https://github.com/taskmanager/taskmanager-infra/issues/"
)

func urn(stack, typ, name string) string {
	return "urn:pulumi:" + stack + "::taskmanager::" + typ + "::" + name
}

// driftPreview is `pulumi preview --json` of a stack where someone changed the API service's
// desired count and task definition by hand and deleted a security group rule (replaced), with
// a secret in the states, the config and a diagnostic: the report must carry none of them.
func driftPreview(t *testing.T, stack string) string {
	t.Helper()
	api := urn(stack, "taskmanager:compute:Compute$aws:ecs/service:Service", stack+"-taskmanager-api")
	rule := urn(stack, "taskmanager:network:Network$aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule", stack+"-database-from-api")
	state := map[string]any{"inputs": map[string]any{"environment": "DATABASE_URL=postgres://app:" + driftSecret + "@db"}}
	p := map[string]any{
		"config": map[string]string{"taskmanager:externalSecrets.smtpPassword": driftSecret},
		"steps": []map[string]any{
			{"op": "same", "urn": urn(stack, "pulumi:pulumi:Stack", "taskmanager-"+stack)},
			{"op": "refresh", "urn": api},
			{"op": "update", "urn": api, "diffReasons": []string{"taskDefinition", "desiredCount"}, "oldState": state, "newState": state,
				"detailedDiff": map[string]any{"taskDefinition": map[string]any{"kind": "update"}}},
			{"op": "create-replacement", "urn": rule, "newState": state},
			{"op": "replace", "urn": rule, "replaceReasons": []string{"cidrIpv4"}, "diffReasons": []string{"cidrIpv4"}},
			{"op": "delete-replaced", "urn": rule, "oldState": state},
		},
		"diagnostics":   []map[string]any{{"message": "connecting with " + driftSecret, "severity": "info"}},
		"changeSummary": map[string]int{"same": 57, "update": 1, "replace": 1},
	}
	b, err := json.Marshal(p)
	require.NoError(t, err)
	return string(b)
}

func noDriftPreview(t *testing.T, stack string) string {
	t.Helper()
	b, err := json.Marshal(map[string]any{
		"steps":         []map[string]any{{"op": "same", "urn": urn(stack, "pulumi:pulumi:Stack", "taskmanager-"+stack)}},
		"changeSummary": map[string]int{"same": 59},
	})
	require.NoError(t, err)
	return string(b)
}

const previewCall = "pulumi preview --refresh --expect-no-changes --json --stack "

// driftSandbox: a sandbox with gh, where the preview of stack answers code and output.
func driftSandbox(t *testing.T, stack string, code int, output string) (*sandbox, func() string) {
	t.Helper()
	s := newSandbox(t)
	s.addStub("gh", ghPrelude)
	s.env["RUN_URL"] = "https://github.com/taskmanager/taskmanager-infra/actions/runs/99"
	s.on(previewCall+stack+" *", code, output)
	return s, s.setOutputs()
}

// No drift: the preview passes, nothing is asked of GitHub.
func TestDriftNoneTouchesNoIssue(t *testing.T) {
	t.Parallel()
	for _, stack := range stacks {
		t.Run(stack, func(t *testing.T) {
			t.Parallel()
			s, outputs := driftSandbox(t, stack, 0, noDriftPreview(t, stack))
			r := s.run("", "report-drift.sh", stack)
			require.Equal(t, 0, r.code, r.stderr)
			calls := s.calls()
			requireSequence(t, calls, []string{previewCall + stack})
			assert.Empty(t, filter(calls, "gh "), "no drift, no gh call")
			assert.Contains(t, outputs(), "drift=false")
			assert.Contains(t, r.stderr, "no drift")
		})
	}
}

// Drift and no open issue: the label (if missing) and one issue, titled and labelled for the
// stack, with the summary.
func TestDriftOpensTheStacksIssue(t *testing.T) {
	t.Parallel()
	for _, stack := range stacks {
		t.Run(stack, func(t *testing.T) {
			t.Parallel()
			s, outputs := driftSandbox(t, stack, 255, driftPreview(t, stack))
			// Open drift issues of the other stacks, and a title that only starts like this one's.
			s.on("gh issue list *", 0, `[{"number": 3, "title": "Drift: other", "url": "`+issueURL+`3"},
				{"number": 4, "title": "Drift: `+stack+` (old)", "url": "`+issueURL+`4"}]`)
			s.on("gh issue create *", 0, issueURL+"43")
			r := s.run("", "report-drift.sh", stack)
			require.Equal(t, 0, r.code, r.stderr)
			calls := s.calls()
			requireSequence(t, calls,
				[]string{previewCall + stack},
				[]string{"gh issue list --state open --label drift"},
				[]string{"gh issue create --title Drift: " + stack + " --label drift --body-file "},
			)
			assert.Empty(t, filter(calls, "gh issue comment"))
			assert.Len(t, filter(calls, "gh issue create"), 1)
			out := outputs()
			assert.Contains(t, out, "drift=true\n")
			assert.Contains(t, out, "issue="+issueURL+"43\n")
			assert.Contains(t, out, "summary=1 to update, 1 to replace, 57 unchanged\n")
			assert.Equal(t, issueURL+"43\n", r.stdout)
			assert.NotContains(t, r.output(), driftSecret)
			assertDriftBody(t, s, stack)
		})
	}
}

// Drift and an open issue for the stack: a comment on it, no new issue.
func TestDriftCommentsOnTheOpenIssue(t *testing.T) {
	t.Parallel()
	s, outputs := driftSandbox(t, "production", 255, driftPreview(t, "production"))
	s.on("gh issue list *", 0, `[{"number": 5, "title": "Drift: staging", "url": "`+issueURL+`5"},
		{"number": 42, "title": "Drift: production", "url": "`+issueURL+`42"}]`)
	s.on("gh issue comment *", 0, issueURL+"42#issuecomment-1")
	r := s.run("", "report-drift.sh", "production")
	require.Equal(t, 0, r.code, r.stderr)
	calls := s.calls()
	requireSequence(t, calls,
		[]string{previewCall + "production"},
		[]string{"gh issue list --state open --label drift"},
		[]string{"gh issue comment 42 --body-file "},
	)
	assert.Empty(t, filter(calls, "gh issue create"))
	assert.Empty(t, filter(calls, "gh label"))
	assert.Contains(t, outputs(), "issue="+issueURL+"42\n")
	assert.NotContains(t, r.output(), driftSecret)
	assertDriftBody(t, s, "production")
}

// The body carries the counts and the changed resources with the names of what differs, and
// nothing of the states, the config or the diagnostics: no secret.
func assertDriftBody(t *testing.T, s *sandbox, stack string) {
	t.Helper()
	body := s.read("gh-bodies.log")
	require.NotEmpty(t, body)
	assert.Contains(t, body, "**Drift in `"+stack+"`** found on ")
	assert.Contains(t, body, "by the drift check (`drift.yml`)")
	assert.Contains(t, body, "Changes: 1 to update, 1 to replace, 57 unchanged")
	assert.Contains(t, body, "| update | `"+stack+"-taskmanager-api` | `aws:ecs/service:Service` | desiredCount, taskDefinition |")
	assert.Contains(t, body, "| replace | `"+stack+"-database-from-api` | `aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule` | cidrIpv4 |")
	assert.Contains(t, body, "actions/runs/99")
	assert.Contains(t, body, "close this\nissue")
	// A replacement is one row; the refresh and unchanged steps are none.
	assert.Equal(t, 1, strings.Count(body, "-database-from-api`"))
	assert.Equal(t, 1, strings.Count(body, "-taskmanager-api`"))
	assert.NotContains(t, body, "create-replacement")
	assert.NotContains(t, body, "pulumi:pulumi:Stack")
	assert.NotContains(t, body, driftSecret)
	assert.NotContains(t, body, "DATABASE_URL")
	for _, c := range s.calls() {
		assert.NotContains(t, c, driftSecret)
	}
	assert.NotContains(t, s.read("github-output"), driftSecret)
	assert.NotContains(t, s.read("step-summary"), driftSecret)
}

// A preview that fails without proposing changes (no credentials, the program fails) is an
// error, not drift: no issue, and the step fails.
func TestDriftPreviewErrorIsNotDrift(t *testing.T) {
	t.Parallel()
	for name, output := range map[string]string{
		"no JSON":    "error: getting stack: 401 Unauthorized",
		"no changes": `{"diagnostics": [{"message": "panic", "severity": "error"}], "changeSummary": {"same": 3}}`,
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			s, outputs := driftSandbox(t, "staging", 255, output)
			r := s.run("", "report-drift.sh", "staging")
			assert.Equal(t, 1, r.code)
			assert.Contains(t, r.stderr, "not drift, an error")
			assert.Empty(t, filter(s.calls(), "gh "))
			assert.NotContains(t, outputs(), "drift=true")
		})
	}
}

// gh cannot list the issues: stop, rather than open a second issue for the stack.
func TestDriftStopsWhenTheIssuesCannotBeListed(t *testing.T) {
	t.Parallel()
	s, _ := driftSandbox(t, "dev", 255, driftPreview(t, "dev"))
	s.on("gh issue list *", 1, "HTTP 403")
	r := s.run("", "report-drift.sh", "dev")
	assert.Equal(t, 1, r.code)
	assert.Empty(t, filter(s.calls(), "gh issue create"))
	assert.Empty(t, filter(s.calls(), "gh issue comment"))
}

func TestDriftRefusesUnknownStack(t *testing.T) {
	t.Parallel()
	s, _ := driftSandbox(t, "qa", 0, "")
	r := s.run("", "report-drift.sh", "qa")
	assert.Equal(t, 1, r.code)
	assert.Contains(t, r.stderr, `unknown stack "qa"`)
	assert.Empty(t, s.calls())
}

// The stack's name reaches Pulumi with the organisation, as every script's calls do.
func TestDriftNamesTheOrganisationsStack(t *testing.T) {
	t.Parallel()
	s, _ := driftSandbox(t, "acme/staging", 0, noDriftPreview(t, "staging"))
	s.env["PULUMI_ORG"] = "acme"
	r := s.run("", "report-drift.sh", "staging")
	require.Equal(t, 0, r.code, r.stderr)
	requireSequence(t, s.calls(), []string{previewCall + "acme/staging "})
}

// Issue 18, item 2: the drift role is denied GetSecretValue, which refreshing a Secrets Manager
// secret version calls: those resources, read by URN from the state (pulumi stack export, secrets
// still encrypted), are left out of the preview (--exclude each), and the check says how many it
// did not check. Nothing else is left out.
func TestDriftLeavesOutWhatItMayNotRead(t *testing.T) {
	t.Parallel()
	const stack = "production"
	versions := []string{
		urn(stack, "taskmanager:secrets:Secrets$aws:secretsmanager/secretVersion:SecretVersion", stack+"-jwt-secret"),
		urn(stack, "taskmanager:database:Database$aws:secretsmanager/secretVersion:SecretVersion", stack+"-login-taskmanager_app"),
	}
	secret := urn(stack, "taskmanager:secrets:Secrets$aws:secretsmanager/secret:Secret", stack+"-jwt-secret")
	state, err := json.Marshal(map[string]any{"version": 3, "deployment": map[string]any{"resources": []map[string]any{
		{"urn": urn(stack, "pulumi:pulumi:Stack", "taskmanager-"+stack), "type": "pulumi:pulumi:Stack"},
		{"urn": secret, "type": "aws:secretsmanager/secret:Secret"},
		{"urn": versions[0], "type": "aws:secretsmanager/secretVersion:SecretVersion",
			"outputs": map[string]any{"secretString": map[string]any{"4dabf18193072939515e22adb298388d": "1b47061264138c4ac30d75fd1eb44270", "ciphertext": "v1:abc"}}},
		{"urn": versions[1], "type": "aws:secretsmanager/secretVersion:SecretVersion"},
	}}})
	require.NoError(t, err)

	s, outputs := driftSandbox(t, stack, 0, noDriftPreview(t, stack))
	s.on("pulumi stack export --stack "+stack, 0, string(state))
	r := s.run("", "report-drift.sh", stack)
	require.Equal(t, 0, r.code, r.stderr)
	calls := s.calls()
	at := requireSequence(t, calls, []string{"pulumi stack export --stack " + stack}, []string{previewCall + stack})
	preview := calls[at[1]]
	for _, v := range versions {
		assert.Contains(t, preview, " --exclude "+v)
	}
	assert.Equal(t, 2, strings.Count(preview, "--exclude"), "only the secret versions are left out")
	assert.NotContains(t, preview, secret)
	requireNoCall(t, calls, "--show-secrets")
	assert.Contains(t, outputs(), "not_checked=2\n")
	assert.Contains(t, r.stderr, "not checked: 2 secret version(s)")

	// The export fails: no preview, an error, no issue.
	s, _ = driftSandbox(t, stack, 0, noDriftPreview(t, stack))
	s.on("pulumi stack export *", 255, "error: unauthorized")
	r = s.run("", "report-drift.sh", stack)
	assert.NotEqual(t, 0, r.code)
	assert.Contains(t, r.stderr, "cannot read the state of production")
	requireNoCall(t, s.calls(), "pulumi preview")
}
