package scripts_test

import (
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Outside CI, production needs intent: deploy.sh (a deploy or a rollback) and
// create-environment.sh refuse it without --i-mean-production, and with it go on only after
// showing the preview and reading the stack's name, typed at the terminal (/dev/tty: not stdin,
// and no terminal means no production). In CI (CI=true, as GitHub sets it) they run as the
// pipeline always has: production's approval is the GitHub environment's reviewers.

// productionWrites are the calls that change something: a refused run makes none of them.
var productionWrites = regexp.MustCompile(`^(pulumi (up|destroy|refresh|import|config set --path taskmanager:compute\.imageTag ` + newTag + `)|` +
	`aws ecs (run-task|register-task-definition|deregister-task-definition|update-service)|aws deploy (create|stop)-deployment|skopeo copy)`)

func requireNoWrite(t *testing.T, calls []string) {
	t.Helper()
	for _, c := range calls {
		assert.NotRegexp(t, productionWrites, c, "a refused run changed something; calls:\n%s", strings.Join(calls, "\n"))
	}
}

const prompt = "Type the stack's name (production) to go on:"

// productionDeployRules: deployRules, and the worker running main-0000000 when the deploy starts
// (what its preview is made with).
func productionDeployRules(t *testing.T, s *sandbox) {
	t.Helper()
	c := cluster("production")
	s.once("aws ecs describe-services --cluster "+c+" --services worker *", 0, serviceRows("production", oldRev, "worker"))
	s.on("aws ecs describe-task-definition --task-definition "+tdArn("production", "worker", oldRev)+" --output json", 0,
		taskDefinition(t, "production", "worker", oldRev, oldTag, "ACTIVE"))
	deployRules(t, s, "production")
}

func TestDeployProductionOutsideCI(t *testing.T) {
	t.Parallel()
	t.Run("refused without the flag", func(t *testing.T) {
		t.Parallel()
		for _, ci := range []string{"", "false", "1", "TRUE"} {
			s := newSandbox(t)
			if ci != "" {
				s.env["CI"] = ci
			}
			productionDeployRules(t, s)
			r := s.run("production\n", "deploy.sh", "production", newTag)
			assert.Equal(t, 1, r.code, "CI=%q", ci)
			assert.Contains(t, r.stderr, "refusing production outside CI")
			assert.Contains(t, r.stderr, "--i-mean-production")
			assert.Empty(t, s.calls(), "CI=%q: nothing may run before the refusal", ci)
		}
	})
	t.Run("refused with the flag but no terminal", func(t *testing.T) {
		t.Parallel()
		s := newSandbox(t)
		productionDeployRules(t, s)
		// The name on stdin does not count: only a person at the terminal.
		r := s.run("production\n", "deploy.sh", "--i-mean-production", "production", newTag)
		assert.Equal(t, 1, r.code)
		assert.Contains(t, r.stderr, "no terminal to confirm production on")
		calls := s.calls()
		requireNoWrite(t, calls)
		requireNoCall(t, calls, "pulumi preview")
	})
	// "\x04" is Ctrl-D: the end of the terminal's input.
	for _, typed := range []string{"prod\n", "Production\n", " production\n", "production \n", "\n", "staging\n", "\x04"} {
		t.Run("refused on typing "+strings.TrimSpace(typed), func(t *testing.T) {
			t.Parallel()
			s := newSandbox(t)
			productionDeployRules(t, s)
			r := s.runAtTerminal("", typed, "deploy.sh", "--i-mean-production", "production", newTag)
			assert.Equal(t, 1, r.code)
			assert.Contains(t, r.stderr, prompt)
			assert.Contains(t, r.stderr, `aborted: the name typed is not "production"; nothing was changed in production`)
			calls := s.calls()
			// It was shown the preview, then nothing changed.
			requireSequence(t, calls, []string{"pulumi preview --diff --stack production"})
			requireNoWrite(t, calls)
		})
	}
	t.Run("goes on with the flag and the name typed", func(t *testing.T) {
		t.Parallel()
		s := newSandbox(t)
		productionDeployRules(t, s)
		r := s.runAtTerminal("", "production\n", "deploy.sh", "--i-mean-production", "production", newTag)
		require.Equal(t, 0, r.code, r.stderr)
		calls := s.calls()
		at := requireSequence(t, calls,
			// The preview with the image production runs now, so that its diff is this checkout's.
			[]string{"pulumi config set --path taskmanager:compute.imageTag " + oldTag + " --stack production"},
			[]string{"pulumi preview --diff --stack production"},
			[]string{"aws ecs run-task"},
			[]string{"pulumi config set --path taskmanager:compute.imageTag " + newTag + " --stack production"},
			[]string{"pulumi up --yes --stack production"},
			[]string{"aws deploy create-deployment"},
		)
		// Nothing changed before the preview.
		for i, c := range calls[:at[1]] {
			assert.NotRegexp(t, productionWrites, c, "call %d", i)
		}
		assert.Contains(t, r.stderr, "from "+oldTag+" to "+newTag)
		assert.Less(t, strings.Index(r.stderr, "from "+oldTag+" to "+newTag), strings.Index(r.stderr, prompt))
		assert.Contains(t, r.stderr, "confirmed at the terminal: production")
	})
	t.Run("in CI as before", func(t *testing.T) {
		t.Parallel()
		s := newSandbox(t)
		s.inCI()
		deployRules(t, s, "production")
		r := s.run("", "deploy.sh", "production", newTag)
		require.Equal(t, 0, r.code, r.stderr)
		calls := s.calls()
		requireNoCall(t, calls, "pulumi preview")
		assert.NotContains(t, r.stderr, prompt)
		requireSequence(t, calls, []string{"aws ecs run-task"}, []string{"pulumi up --yes --stack production"}, []string{"aws deploy create-deployment"})
	})
	t.Run("dev and staging need neither", func(t *testing.T) {
		t.Parallel()
		for _, stack := range []string{"dev", "staging"} {
			s := newSandbox(t)
			deployRules(t, s, stack)
			r := s.run("", "deploy.sh", stack, newTag)
			require.Equal(t, 0, r.code, r.stderr)
			requireNoCall(t, s.calls(), "pulumi preview")
		}
	})
}

// A rollback changes production too: the same flag and typed name outside CI, after being shown
// what it puts back.
func TestRollbackProductionOutsideCI(t *testing.T) {
	t.Parallel()
	rules := func(s *sandbox) {
		writeRecord(t, s, "production", "codedeploy_deployment="+deploymentID+"\n")
		c := cluster("production")
		s.on("pulumi stack output --json --stack production", 0, outputs(t, "production", newRev))
		s.once("aws ecs describe-services --cluster "+c+" --services worker --query*", 0, serviceRows("production", newRev, "worker"))
		s.on("aws ecs describe-task-definition --task-definition "+tdArn("production", "worker", oldRev)+" --query taskDefinition.status *", 0, "ACTIVE")
		s.on("aws ecs describe-services --cluster "+c+" --services worker *", 0, serviceRows("production", oldRev, "worker"))
		s.once("aws ecs describe-services --cluster "+c+" --services api --query*", 0, serviceRows("production", newRev, "api"))
		s.on("aws ecs describe-services --cluster "+c+" --services api --query*", 0, serviceRows("production", oldRev, "api"))
		s.once("aws deploy get-deployment *", 0, "InProgress")
		s.on("aws deploy get-deployment *", 0, "Stopped")
	}
	t.Run("refused without the flag", func(t *testing.T) {
		t.Parallel()
		s := newSandbox(t)
		rules(s)
		r := s.run("", "deploy.sh", "--rollback", "production")
		assert.Equal(t, 1, r.code)
		assert.Contains(t, r.stderr, "--i-mean-production")
		assert.Empty(t, s.calls())
	})
	t.Run("refused on a wrong name", func(t *testing.T) {
		t.Parallel()
		s := newSandbox(t)
		rules(s)
		r := s.runAtTerminal("", "yes\n", "deploy.sh", "--rollback", "--i-mean-production", "production")
		assert.Equal(t, 1, r.code)
		assert.Contains(t, r.stderr, "worker back to: "+tdArn("production", "worker", oldRev))
		requireNoWrite(t, s.calls())
	})
	t.Run("goes on with the flag and the name typed", func(t *testing.T) {
		t.Parallel()
		s := newSandbox(t)
		rules(s)
		r := s.runAtTerminal("", "production\n", "deploy.sh", "--rollback", "--i-mean-production", "production")
		require.Equal(t, 0, r.code, r.stderr)
		requireSequence(t, s.calls(),
			[]string{"aws ecs update-service --cluster production-taskmanager --service worker"},
			[]string{"aws deploy stop-deployment --deployment-id " + deploymentID + " --auto-rollback-enabled"},
		)
	})
}

// create-environment.sh production: refused without the flag before anything runs; with it, the
// preview of production and the typed name come before `pulumi up`, and deploy.sh (given the
// flag) asks again, after its own preview, before the migrations.
func TestCreateProductionOutsideCI(t *testing.T) {
	t.Parallel()
	var secrets strings.Builder
	for _, k := range externalSecrets {
		secrets.WriteString(secretValue(k) + "\n")
	}
	t.Run("refused without the flag", func(t *testing.T) {
		t.Parallel()
		s := newSandbox(t)
		createRules(t, s, "production")
		r := s.run(secrets.String(), "create-environment.sh", "production", newTag)
		assert.Equal(t, 1, r.code)
		assert.Contains(t, r.stderr, "refusing production outside CI")
		assert.Empty(t, s.calls(), "not even pulumi stack select")
	})
	t.Run("refused without a terminal", func(t *testing.T) {
		t.Parallel()
		s := newSandbox(t)
		createRules(t, s, "production")
		r := s.run(secrets.String()+"production\n", "create-environment.sh", "--i-mean-production", "production", newTag)
		assert.Equal(t, 1, r.code)
		assert.Contains(t, r.stderr, "no terminal to confirm production on")
		requireNoWrite(t, s.calls())
	})
	t.Run("refused on a wrong name", func(t *testing.T) {
		t.Parallel()
		s := newSandbox(t)
		createRules(t, s, "production")
		r := s.runAtTerminal(secrets.String(), "yes\n", "create-environment.sh", "--i-mean-production", "production", newTag)
		assert.Equal(t, 1, r.code)
		assert.Contains(t, r.stderr, prompt)
		calls := s.calls()
		requireSequence(t, calls, []string{"build-lambdas"}, []string{"pulumi preview --diff --stack production"})
		requireNoWrite(t, calls)
		requireNoCall(t, calls, "aws ")
	})
	t.Run("goes on with the flag and the name typed twice", func(t *testing.T) {
		t.Parallel()
		s := newSandbox(t)
		// The deploy's preview reads the image the worker runs: createRules with that answer.
		s.on("pulumi config get --path taskmanager:externalSecrets.* --stack production", 255, "")
		productionDeployRules(t, s)
		r := s.runAtTerminal(secrets.String(), "production\nproduction\n", "create-environment.sh", "--i-mean-production", "production", newTag)
		require.Equal(t, 0, r.code, r.stderr)
		requireSequence(t, s.calls(),
			[]string{"pulumi stack select --create production"},
			[]string{"pulumi config set --secret --path taskmanager:externalSecrets.datadogApiKey --stack production"},
			[]string{"build-lambdas"},
			[]string{"pulumi preview --diff --stack production"},
			[]string{"pulumi up --yes --stack production"},
			[]string{"pulumi preview --diff --stack production"},
			[]string{"aws ecs run-task"},
			[]string{"pulumi up --yes --stack production"},
			[]string{"aws deploy create-deployment"},
		)
		assert.Equal(t, 2, strings.Count(r.stderr, prompt))
	})
	t.Run("the deploy's own confirmation still counts", func(t *testing.T) {
		t.Parallel()
		s := newSandbox(t)
		createRules(t, s, "production")
		r := s.runAtTerminal(secrets.String(), "production\nno\n", "create-environment.sh", "--i-mean-production", "production", newTag)
		assert.Equal(t, 1, r.code)
		calls := s.calls()
		assert.Len(t, filter(calls, "pulumi up"), 1, "the infrastructure, not the deploy")
		requireNoCall(t, calls, "aws ecs run-task")
		assert.Contains(t, r.stderr, "scripts/deploy.sh --i-mean-production production <image-tag>")
	})
	t.Run("in CI as before", func(t *testing.T) {
		t.Parallel()
		s := newSandbox(t)
		s.inCI()
		createRules(t, s, "production")
		r := s.run(secrets.String(), "create-environment.sh", "production", newTag)
		require.Equal(t, 0, r.code, r.stderr)
		requireNoCall(t, s.calls(), "pulumi preview")
		assert.NotContains(t, r.stderr, prompt)
	})
}
