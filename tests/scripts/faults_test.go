package scripts_test

import (
	"fmt"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/taskmanager/taskmanager-infra/internal/testserver"
)

// An operator's worst day, call by call: every external call (aws, pulumi, curl, skopeo) of a
// deploy, a smoke test and a rollback of each stack fails once in turn, as a CLI fails (exit code
// 254, its message on stderr), and the invariants hold:
//   - a failed dependency ends the run non-zero, unless the script retries it by design (the AWS
//     CLI's waiters, the smoke test's GET) or only warns (deregistering the migrations' copy);
//   - the failure says where it stopped, what state it left and how to get back, and gives the
//     CLI's own cause, never a guessed one;
//   - nothing moves after a failed migration, and no CodeDeploy deployment follows a failed `up`;
//   - whatever moved, the rollback plan holds what both services ran before;
//   - a rollback restores exactly what ran before, or fails;
//   - production outside CI changes nothing without the typed confirmation;
//   - no secret on a command line or in the output.

// smokeToken is staging's smoke-test header value; ecrPassword the registry login's.
const (
	smokeToken  = "Sm0keT0kenFault42"
	ecrPassword = "ecr-password-not-for-print"
)

// movers are the calls that change what runs.
var movers = regexp.MustCompile(`^(pulumi config set --path taskmanager:compute\.imageTag ` + newTag + ` |pulumi up |aws ecs update-service |aws deploy (create|stop)-deployment )`)

// wrongCauses are messages a fault injected as an expired token must never produce.
var wrongCauses = []string{"is not in the repository", "the migrations failed", "another deployment", "Rolled back.", "Deployed " + newTag}

type faultScenario struct {
	name     string
	stack    string
	setup    func(t *testing.T, s *sandbox)
	args     []string
	terminal string // typed at a terminal when not empty
	// tolerated: a call whose single failure the script survives by design.
	tolerated func(call string) bool
	check     func(t *testing.T, s *sandbox, r result, stack string, happy []string, fault int)
}

func faultScenarios() []faultScenario {
	waiters := func(call string) bool {
		return strings.HasPrefix(call, "aws ecs wait ") || strings.HasPrefix(call, "aws ecr wait ")
	}
	var out []faultScenario
	for _, stack := range stacks {
		args := []string{stack, newTag}
		if stack != "dev" {
			// As the pipeline promotes staging and production: skopeo's calls too.
			args = []string{"--promote-from", repoURL("dev") + ":" + newTag, stack, newTag}
		}
		out = append(out, faultScenario{
			name: "deploy " + stack, stack: stack, args: args,
			setup: func(t *testing.T, s *sandbox) {
				s.inCIFor(stack)
				promoteRules(s)
				deployRules(t, s, stack)
			},
			tolerated: func(call string) bool {
				return waiters(call) || strings.HasPrefix(call, "aws ecs deregister-task-definition ")
			},
			check: checkDeployFault,
		})
		out = append(out, faultScenario{
			name: "smoke test " + stack, stack: stack, args: []string{"--smoke-test", stack},
			setup: func(t *testing.T, s *sandbox) {
				s.on("pulumi stack output --json --stack "+stack, 0, outputs(t, stack, newRev))
				s.on("aws ecs describe-services *", 0, serviceRows(stack, newRev, "api", "worker"))
				s.on("pulumi config get --path taskmanager:api.healthCheckPath *", 0, "/health")
				s.on("aws secretsmanager get-secret-value *", 0, smokeToken)
				s.on("curl *", 0, "200")
			},
			// The alert subscriptions are reported, never a reason to fail (or roll back) a release.
			tolerated: func(call string) bool {
				return strings.HasPrefix(call, "curl ") || strings.HasPrefix(call, "aws sns list-subscriptions-by-topic ")
			},
		})
		out = append(out, faultScenario{
			name: "rollback " + stack, stack: stack, args: []string{"--rollback", stack},
			setup: func(t *testing.T, s *sandbox) {
				s.inCIFor(stack)
				rollbackRules(t, s, stack)
			},
			tolerated: waiters,
			check:     checkRollbackFault,
		})
	}
	// Production from a person's machine, the wrong name typed: whatever fails before the
	// question, nothing changes.
	out = append(out, faultScenario{
		name: "deploy production outside CI, wrong name typed", stack: "production",
		args: []string{"--i-mean-production", "production", newTag}, terminal: "prod\n",
		setup: func(t *testing.T, s *sandbox) { productionDeployRules(t, s) },
		check: func(t *testing.T, s *sandbox, r result, _ string, _ []string, _ int) {
			requireNoWrite(t, s.calls())
			assert.Regexp(t, `(?m)^  where things stand: nothing has changed$`, r.stderr)
		},
	})
	return out
}

// rollbackRules: the record of a deploy from revision 4 to 5 that failed with every service on
// revision 5 (production: its API's CodeDeploy deployment still in its canary); revision 4 of the
// API is INACTIVE (re-registered as 6), the worker's ACTIVE.
func rollbackRules(t *testing.T, s *sandbox, stack string) {
	c := cluster(stack)
	extra := ""
	if stack == "production" {
		extra = "codedeploy_deployment=" + deploymentID + "\n"
	}
	writeRecord(t, s, stack, extra)
	s.on("pulumi stack output --json --stack "+stack, 0, outputs(t, stack, newRev))
	for _, svc := range []string{"api", "worker"} {
		s.once("aws ecs describe-services --cluster "+c+" --services "+svc+" --query*", 0, serviceRows(stack, newRev, svc))
	}
	s.on("aws ecs describe-services --cluster "+c+" --services api --query*", 0, serviceRows(stack, oldRev, "api"))
	s.on("aws ecs describe-services --cluster "+c+" --services worker --query*", 0, serviceRows(stack, oldRev, "worker"))
	s.on("aws ecs describe-services --cluster "+c+" --services api worker *", 0, serviceRows(stack, 6, "api")+serviceRows(stack, oldRev, "worker"))
	s.on("aws ecs describe-task-definition --task-definition "+tdArn(stack, "api", oldRev)+" --query taskDefinition.status *", 0, "INACTIVE")
	s.on("aws ecs describe-task-definition --task-definition "+tdArn(stack, "worker", oldRev)+" --query taskDefinition.status *", 0, "ACTIVE")
	s.on("aws ecs describe-task-definition --task-definition "+tdArn(stack, "api", oldRev)+" --include TAGS *", 0,
		taskDefinition(t, stack, "api", oldRev, oldTag, "INACTIVE"))
	s.on("aws ecs register-task-definition *", 0, tdArn(stack, "api", 6))
	s.once("aws deploy get-deployment *", 0, "InProgress")
	s.on("aws deploy get-deployment *", 0, "Stopped")
}

// faultMessage is what the failed call prints, as each CLI words an expired credential.
func faultMessage(call string) string {
	fields := strings.Fields(call)
	switch fields[0] {
	case "aws":
		return fmt.Sprintf(expiredToken, strings.Join(fields[1:3], " "))
	case "pulumi":
		return "error: [401] Unauthorized: the Pulumi access token has expired"
	case "curl":
		return "curl: (28) Connection timed out after 10001 milliseconds"
	default:
		return "FATA[0000] Error: unauthorized: authentication token has expired"
	}
}

func TestEveryExternalCallFailingOnce(t *testing.T) {
	// CI runs it whatever the flags say: a -short there would otherwise drop it unnoticed.
	if testing.Short() && !testserver.InCI() {
		t.Skip("-short: the fault matrix (some 230 script runs) runs in CI, and with scripts/test.sh -short=false")
	}
	t.Parallel()
	for _, sc := range faultScenarios() {
		t.Run(sc.name, func(t *testing.T) {
			t.Parallel()
			runScenario := func(fault map[string]string) (*sandbox, result) {
				s := newSandbox(t)
				s.failingCLIs()
				sc.setup(t, s)
				for k, v := range fault {
					s.env[k] = v
				}
				if sc.terminal != "" {
					return s, s.runAtTerminal("", sc.terminal, "deploy.sh", sc.args...)
				}
				return s, s.run("", "deploy.sh", sc.args...)
			}
			s, r := runScenario(nil)
			happy := s.calls()
			if sc.terminal == "" {
				require.Equal(t, 0, r.code, "the scenario without a fault must succeed:\n%s", r.stderr)
			}
			require.NotEmpty(t, happy)
			nth := map[string]int{}
			for i, call := range happy {
				nth[call]++
				n := nth[call]
				t.Run(fmt.Sprintf("%02d %s", i+1, short(call)), func(t *testing.T) {
					t.Parallel()
					message := faultMessage(call)
					s, r := runScenario(map[string]string{
						"FAULT_LINE": call, "FAULT_NTH": fmt.Sprint(n), "FAULT_ERROR": message,
					})
					calls := s.calls()
					require.GreaterOrEqual(t, len(filter(calls, call)), n, "the fault did not fire:\n%s", r.stderr)
					assertNoSecret(t, calls, r)
					if sc.tolerated != nil && sc.tolerated(call) {
						require.Equal(t, 0, r.code, "a single failure of %q is retried or only warned about:\n%s", call, r.stderr)
						return
					}
					require.NotEqual(t, 0, r.code, "a failed %q must fail the run:\n%s", call, r.stderr)
					assertFailureReport(t, r, message)
					if sc.check != nil {
						sc.check(t, s, r, sc.stack, happy, i)
					}
				})
			}
		})
	}
}

// assertFailureReport: the step, the state, the way back, and the CLI's own cause.
func assertFailureReport(t *testing.T, r result, message string) {
	t.Helper()
	assert.Regexp(t, `(?m)^  cause: \S.* exited 254: `+regexp.QuoteMeta(message)+`$`, r.stderr, "the cause is the CLI's own")
	assert.Contains(t, r.stderr, "\nerror: stopped at: ")
	assert.Regexp(t, `(?m)^  where things stand: \S`, r.stderr)
	assert.Regexp(t, `(?m)^  to get back: \S`, r.stderr)
	for _, wrong := range wrongCauses {
		assert.NotContains(t, r.stderr, wrong, "a wrong cause or outcome")
	}
}

func assertNoSecret(t *testing.T, calls []string, r result) {
	t.Helper()
	for _, secret := range []string{smokeToken, ecrPassword} {
		assert.NotContains(t, r.output(), secret)
		for _, c := range calls {
			assert.NotContains(t, c, secret, "a secret on a command line")
		}
	}
}

// checkDeployFault: the deploy's invariants after the call happy[fault] failed.
func checkDeployFault(t *testing.T, s *sandbox, r result, stack string, happy []string, fault int) {
	calls := s.calls()
	// What moved: the mover calls, but a failed config set changed nothing (a failed `up` may have).
	moved := false
	for i, c := range calls {
		failedConfigSet := i == len(calls)-1 && i == fault && strings.HasPrefix(c, "pulumi config set")
		moved = moved || (movers.MatchString(c) && !failedConfigSet)
	}
	// The migrations' outcome is the describe-tasks call; nothing before it may be followed by a move.
	if fault <= find(happy, 0, "aws ecs describe-tasks") {
		assert.False(t, moved, "something moved after a failure before or in the migrations; calls:\n%s", strings.Join(calls, "\n"))
	}
	if fault <= find(happy, 0, "pulumi up ") {
		requireNoCall(t, calls, "aws deploy create-deployment")
	}
	if moved {
		record := s.read(filepath.Join("state", stack+".env"))
		assert.Contains(t, record, "previous_api="+tdArn(stack, "api", oldRev)+"\n")
		assert.Contains(t, record, "previous_worker="+tdArn(stack, "worker", oldRev)+"\n")
		assert.Contains(t, r.stderr, "scripts/deploy.sh --rollback "+stack, "the way back after a move is --rollback")
	}
}

// checkRollbackFault: a failed rollback moved each service only to what it ran before.
func checkRollbackFault(t *testing.T, s *sandbox, r result, stack string, _ []string, _ int) {
	c := cluster(stack)
	allowed := map[string]bool{
		"aws ecs update-service --cluster " + c + " --service api --task-definition " + tdArn(stack, "api", 6):            true,
		"aws ecs update-service --cluster " + c + " --service worker --task-definition " + tdArn(stack, "worker", oldRev): true,
	}
	for _, call := range filter(s.calls(), "aws ecs update-service") {
		i := strings.Index(call, " --query")
		require.NotEqual(t, -1, i, call)
		assert.True(t, allowed[call[:i]], "a rollback moved a service elsewhere than back: %s", call)
	}
	requireNoCall(t, s.calls(), "aws deploy create-deployment")
}

// short names a subtest after the call: the tool and its first words.
func short(call string) string {
	fields := strings.Fields(call)
	if len(fields) > 4 {
		fields = fields[:4]
	}
	return strings.Join(fields, " ")
}
