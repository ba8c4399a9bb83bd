package scripts_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// restartRules answers every call of `deploy.sh --restart <stack>` on a stack whose services run
// revision newRev.
func restartRules(t *testing.T, s *sandbox, stack string) {
	t.Helper()
	c := cluster(stack)
	s.on("pulumi stack output --json --stack "+stack, 0, outputs(t, stack, newRev))
	s.on("aws ecs describe-services --cluster "+c+" --services api worker *", 0, serviceRows(stack, newRev, "api", "worker"))
	s.on("aws ecs describe-services --cluster "+c+" --services worker *", 0, serviceRows(stack, newRev, "worker"))
	s.on("aws ecs describe-services --cluster "+c+" --services api --query*", 0, serviceRows(stack, newRev, "api"))
	s.on("aws ecs describe-services --cluster "+c+" --services api --output json", 0, apiService(t, stack, newRev, "sg-0api"))
	s.on("aws ecs describe-task-definition --task-definition "+tdArn(stack, "api", newRev)+" --output json", 0,
		taskDefinition(t, stack, "api", newRev, newTag, "ACTIVE"))
	s.on("pulumi config get --path taskmanager:api.containerPort *", 0, "8000")
	s.on("pulumi config get --path taskmanager:compute.capacityProvider --stack "+stack, 0, stackCompute(t, stack).CapacityProvider)
	s.on("aws deploy create-deployment *", 0, deploymentID)
	s.on("aws deploy get-deployment *", 0, "InProgress\tTrue\tNone")
}

// After a person-supplied secret changes (pulumi config set --secret, pulumi up), nothing restarts
// by itself: the task definitions name the secrets without a version. --restart starts new tasks of
// every service on the task definitions they run: a forced deployment of each rolling service, and
// for production's blue/green API a CodeDeploy deployment of its PRIMARY task set's task definition,
// even though it already runs it. It changes no config, image or task definition, and runs no
// migration.
func TestRestart(t *testing.T) {
	t.Parallel()
	for _, stack := range stacks {
		t.Run(stack, func(t *testing.T) {
			t.Parallel()
			s := newSandbox(t)
			s.inCIFor(stack)
			restartRules(t, s, stack)
			r := s.run("", "deploy.sh", "--restart", stack)
			require.Equal(t, 0, r.code, r.stderr)
			calls := s.calls()
			c := cluster(stack)
			for _, never := range []string{"pulumi up", "pulumi config set", "aws ecs run-task", "aws ecs register-task-definition", "--task-definition " + c} {
				requireNoCall(t, calls, never)
			}
			if stack == "production" {
				at := requireSequence(t, calls,
					[]string{"aws ecs update-service --cluster " + c + " --service worker --force-new-deployment"},
					[]string{"aws ecs wait services-stable --cluster " + c + " --services worker"},
					[]string{"aws deploy create-deployment --application-name production-taskmanager-api --deployment-group-name api", "--description restart " + newTag},
				)
				requireNoCall(t, calls, "--service api --force-new-deployment")
				_, spec := appSpec(t, calls[at[2]])
				assert.Equal(t, tdArn(stack, "api", newRev), spec.Resources[0].TargetService.Properties.TaskDefinition, "the task definition it runs")
			} else {
				requireSequence(t, calls,
					[]string{"aws ecs update-service --cluster " + c + " --service api --force-new-deployment"},
					[]string{"aws ecs update-service --cluster " + c + " --service worker --force-new-deployment"},
					[]string{"aws ecs wait services-stable --cluster " + c + " --services api worker"},
					[]string{"aws ecs describe-services --cluster " + c + " --services api worker"},
				)
				requireNoCall(t, calls, "aws deploy")
			}
			assert.Contains(t, r.stderr, "Restarted the services of "+stack)
		})
	}
	t.Run("production outside CI needs the flag", func(t *testing.T) {
		t.Parallel()
		s := newSandbox(t)
		restartRules(t, s, "production")
		r := s.run("", "deploy.sh", "--restart", "production")
		assert.Equal(t, 1, r.code)
		assert.Contains(t, r.stderr, "refusing production outside CI")
		assert.Empty(t, s.calls())
	})
	t.Run("production outside CI, the name typed", func(t *testing.T) {
		t.Parallel()
		s := newSandbox(t)
		restartRules(t, s, "production")
		r := s.runAtTerminal("", "production\n", "deploy.sh", "--restart", "--i-mean-production", "production")
		require.Equal(t, 0, r.code, r.stderr)
		assert.Contains(t, r.stderr, "a CodeDeploy deployment of the task definition its PRIMARY task set runs")
		requireSequence(t, s.calls(), []string{"aws ecs update-service", "--force-new-deployment"}, []string{"aws deploy create-deployment"})
	})
	t.Run("a service that does not come back fails", func(t *testing.T) {
		t.Parallel()
		s := newSandbox(t)
		s.on("aws ecs describe-services --cluster staging-taskmanager --services api worker *", 0,
			strings.Replace(serviceRows("staging", newRev, "api", "worker"), "\t2\t2\n", "\t0\t2\n", 1))
		restartRules(t, s, "staging")
		r := s.run("", "deploy.sh", "--restart", "staging")
		assert.NotEqual(t, 0, r.code)
		assert.Contains(t, r.stderr, "the restart did not complete")
	})
}

// Production's alarms mail its alert topic's subscribers, and an e-mail subscription does nothing
// until its address confirms it. The smoke test reports each one still PendingConfirmation (with
// the command that resends the confirmation) without failing: an unconfirmed address is no reason
// to roll a release back.
func TestSmokeTestReportsUnconfirmedAlertSubscriptions(t *testing.T) {
	t.Parallel()
	rules := func(s *sandbox, subscriptions string) {
		s.inCI()
		s.on("pulumi stack output --json --stack production", 0, outputs(t, "production", newRev))
		s.on("aws ecs describe-services *", 0, serviceRows("production", newRev, "api", "worker"))
		s.on("pulumi config get --path taskmanager:api.healthCheckPath *", 0, "/health")
		s.on("curl *", 0, "200")
		s.on("aws sns list-subscriptions-by-topic --topic-arn "+alertTopic+" *", 0, subscriptions)
	}
	t.Run("pending", func(t *testing.T) {
		t.Parallel()
		s := newSandbox(t)
		rules(s, `{"Subscriptions":[
			{"SubscriptionArn":"PendingConfirmation","Protocol":"email","Endpoint":"oncall@taskmanager.com"},
			{"SubscriptionArn":"`+alertTopic+`:0f1e","Protocol":"email","Endpoint":"lead@taskmanager.com"}]}`)
		r := s.run("", "deploy.sh", "--smoke-test", "production")
		require.Equal(t, 0, r.code, r.stderr)
		assert.Contains(t, r.stderr, "warning: the alert subscription of oncall@taskmanager.com is PendingConfirmation")
		assert.Contains(t, r.stderr, "aws sns subscribe --topic-arn "+alertTopic+" --protocol email --notification-endpoint oncall@taskmanager.com")
		assert.NotContains(t, r.stderr, "lead@taskmanager.com is PendingConfirmation")
	})
	t.Run("confirmed", func(t *testing.T) {
		t.Parallel()
		s := newSandbox(t)
		rules(s, `{"Subscriptions":[{"SubscriptionArn":"`+alertTopic+`:0f1e","Protocol":"email","Endpoint":"oncall@taskmanager.com"}]}`)
		r := s.run("", "deploy.sh", "--smoke-test", "production")
		require.Equal(t, 0, r.code, r.stderr)
		assert.Contains(t, r.stderr, "every subscription is confirmed")
		assert.NotContains(t, r.stderr, "PendingConfirmation")
	})
	t.Run("stacks without a topic are not asked", func(t *testing.T) {
		t.Parallel()
		s := newSandbox(t)
		s.on("pulumi stack output --json --stack dev", 0, outputs(t, "dev", newRev))
		s.on("aws ecs describe-services *", 0, serviceRows("dev", newRev, "api", "worker"))
		r := s.run("", "deploy.sh", "--smoke-test", "dev")
		require.Equal(t, 0, r.code, r.stderr)
		requireNoCall(t, s.calls(), "aws sns")
	})
}
