package scripts_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A deploy whose rollback plan cannot be recorded stops before anything moves, and leaves no
// older plan behind for --rollback to act on: the rollback that the pipeline runs next fails
// loudly instead of printing "Rolled back." over services it never touched.
func TestDeployStopsWhenTheRollbackPlanCannotBeRecorded(t *testing.T) {
	t.Parallel()
	c := cluster("staging")
	for _, tc := range []struct {
		name  string
		setup func(s *sandbox)
		want  string
	}{
		{"describe-services throttled", func(s *sandbox) {
			s.failOn("aws ecs describe-services --cluster "+c+" --services api worker *", 254, throttled)
		}, "cause: aws ecs describe-services exited 254: " + throttled},
		{"the API missing from the answer", func(s *sandbox) {
			s.once("aws ecs describe-services --cluster "+c+" --services api worker *", 0, serviceRows("staging", oldRev, "worker"))
		}, "cannot tell which task definition api runs in staging-taskmanager"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := newSandbox(t)
			// An older deploy's plan, which must not survive.
			writeRecord(t, s, "staging", "")
			tc.setup(s)
			deployRules(t, s, "staging")
			r := s.run("", "deploy.sh", "staging", newTag)
			assert.Equal(t, 1, r.code)
			assert.Contains(t, r.stderr, "no rollback plan could be recorded; nothing was changed")
			assert.Contains(t, r.stderr, tc.want)
			assert.Contains(t, r.stderr, "error: stopped at: recording the rollback plan")
			calls := s.calls()
			for _, mover := range []string{"aws ecr", "aws ecs run-task", "pulumi config set", "pulumi up", "aws ecs update-service", "aws deploy"} {
				requireNoCall(t, calls, mover)
			}
			_, err := os.Stat(filepath.Join(s.dir, "state", "staging.env"))
			assert.True(t, os.IsNotExist(err), "the older plan is gone")

			// The pipeline's rollback-on-failure then runs: it fails, and moves nothing.
			r = s.run("", "deploy.sh", "--rollback", "staging")
			assert.Equal(t, 1, r.code)
			assert.Contains(t, r.stderr, "no deploy of staging is recorded")
			assert.NotContains(t, r.stderr, "Rolled back")
			requireNoCall(t, s.calls(), "aws ecs update-service")
		})
	}
}

// A plan without one of the services rolls nothing back and names the service.
func TestRollbackRefusesAPlanWithoutAService(t *testing.T) {
	t.Parallel()
	for _, missing := range []string{"api", "worker"} {
		t.Run(missing, func(t *testing.T) {
			t.Parallel()
			s := newSandbox(t)
			dir := filepath.Join(s.dir, "state")
			require.NoError(t, os.MkdirAll(dir, 0o755))
			other := map[string]string{"api": "worker", "worker": "api"}[missing]
			require.NoError(t, os.WriteFile(filepath.Join(dir, "staging.env"),
				[]byte("previous_"+other+"="+tdArn("staging", other, oldRev)+"\nimage_tag="+newTag+"\n"), 0o644))
			r := s.run("", "deploy.sh", "--rollback", "staging")
			assert.Equal(t, 1, r.code)
			assert.Contains(t, r.stderr, "has no previous task definition for "+missing+" ")
			assert.Contains(t, r.stderr, "nothing was rolled back")
			assert.NotContains(t, r.stderr, "Rolled back")
			assert.Empty(t, s.calls(), "nothing may run on a partial plan")
		})
	}
}

// Production's API is back on its previous task definition when the rollback ends, checked on
// the PRIMARY task set: a CodeDeploy deployment that had already succeeded (the stop came too
// late) is followed by a deployment of the previous task definition; one the API still does not
// run fails the rollback.
func TestRollbackProductionAPIEndsOnWhatRanBefore(t *testing.T) {
	t.Parallel()
	c := cluster("production")
	rules := func(s *sandbox, apiAfter int) {
		s.inCI()
		writeRecord(t, s, "production", "codedeploy_deployment="+deploymentID+"\n")
		s.on("pulumi stack output --json --stack production", 0, outputs(t, "production", newRev))
		s.on("aws ecs describe-services --cluster "+c+" --services worker *", 0, serviceRows("production", oldRev, "worker"))
		s.once("aws ecs describe-services --cluster "+c+" --services api --query*", 0, serviceRows("production", newRev, "api"))
		s.on("aws ecs describe-services --cluster "+c+" --services api --query*", 0, serviceRows("production", apiAfter, "api"))
		s.on("aws ecs describe-services --cluster "+c+" --services api --output json", 0, apiService(t, "production", newRev, "sg-0api"))
		s.once("aws deploy get-deployment --deployment-id "+deploymentID+" --query deploymentInfo.status *", 0, "Succeeded")
		s.on("aws ecs describe-task-definition --task-definition "+tdArn("production", "api", oldRev)+" --query taskDefinition.status *", 0, "ACTIVE")
		s.on("aws ecs describe-task-definition --task-definition "+tdArn("production", "api", oldRev)+" --output json", 0,
			taskDefinition(t, "production", "api", oldRev, oldTag, "ACTIVE"))
		s.on("pulumi config get --path taskmanager:api.containerPort *", 0, "8000")
		s.on("pulumi config get --path taskmanager:compute.capacityProvider --stack production", 0, stackCompute(t, "production").CapacityProvider)
		s.on("aws deploy create-deployment *", 0, "d-ROLLBACK1")
		s.on("aws deploy get-deployment --deployment-id d-ROLLBACK1 *", 0, "InProgress\tTrue\tNone")
	}
	t.Run("deployed again through CodeDeploy", func(t *testing.T) {
		t.Parallel()
		s := newSandbox(t)
		rules(s, oldRev)
		r := s.run("", "deploy.sh", "--rollback", "production")
		require.Equal(t, 0, r.code, r.stderr)
		calls := s.calls()
		at := requireSequence(t, calls,
			[]string{"aws deploy get-deployment --deployment-id " + deploymentID},
			[]string{"aws deploy create-deployment --application-name production-taskmanager-api"},
		)
		_, spec := appSpec(t, calls[at[1]])
		assert.Equal(t, tdArn("production", "api", oldRev), spec.Resources[0].TargetService.Properties.TaskDefinition)
		requireNoCall(t, calls, "aws deploy stop-deployment")
		assert.Contains(t, r.stderr, "api: back on production-taskmanager-api:4")
		assert.Contains(t, r.stderr, "Rolled back.")
	})
	t.Run("still not back: fails", func(t *testing.T) {
		t.Parallel()
		s := newSandbox(t)
		rules(s, newRev)
		r := s.run("", "deploy.sh", "--rollback", "production")
		assert.Equal(t, 1, r.code)
		assert.Contains(t, r.stderr, "the API runs production-taskmanager-api:5, not production-taskmanager-api:4 (what it ran before the deploy): the rollback did not complete")
		assert.Contains(t, r.stderr, "to get back: run the rollback again (scripts/deploy.sh --rollback production)")
		assert.NotContains(t, r.stderr, "Rolled back.")
	})
}

// `deploy.sh production current` after an infrastructure change: the same image, but `pulumi up`
// registered a new API task definition, which CodeDeploy must deploy. The comparison is between
// task definitions, the one the API runs read from its PRIMARY task set.
func TestDeployProductionCurrentDeploysTheNewAPITaskDefinition(t *testing.T) {
	t.Parallel()
	c := cluster("production")
	rules := func(s *sandbox, apiRuns int, apiGroup string) {
		s.inCI()
		// Everything runs newTag already, at revision 4: the change is the infrastructure's.
		s.once("aws ecs describe-services --cluster "+c+" --services worker *", 0, serviceRows("production", oldRev, "worker"))
		s.on("aws ecs describe-task-definition --task-definition "+tdArn("production", "worker", oldRev)+" --output json", 0,
			taskDefinition(t, "production", "worker", oldRev, newTag, "ACTIVE"))
		s.on("aws ecs describe-task-definition --task-definition "+tdArn("production", "api", oldRev)+" --output json", 0,
			taskDefinition(t, "production", "api", oldRev, newTag, "ACTIVE"))
		s.on("aws ecs describe-services --cluster "+c+" --services api --query*", 0, serviceRows("production", apiRuns, "api"))
		s.on("aws ecs describe-services --cluster "+c+" --services api --output json", 0, apiService(t, "production", apiRuns, apiGroup))
		deployRules(t, s, "production")
	}
	t.Run("the API runs the previous task definition", func(t *testing.T) {
		t.Parallel()
		s := newSandbox(t)
		rules(s, oldRev, "sg-0api")
		r := s.run("", "deploy.sh", "production", "current")
		require.Equal(t, 0, r.code, r.stderr)
		calls := s.calls()
		at := requireSequence(t, calls,
			[]string{"pulumi up --yes --stack production"},
			[]string{"aws ecs describe-services --cluster " + c + " --services api --output json"},
			[]string{"aws deploy create-deployment"},
		)
		_, spec := appSpec(t, calls[at[2]])
		assert.Equal(t, tdArn("production", "api", newRev), spec.Resources[0].TargetService.Properties.TaskDefinition)
		assert.NotContains(t, r.stderr, "no CodeDeploy deployment needed")
	})
	t.Run("the API runs it already", func(t *testing.T) {
		t.Parallel()
		s := newSandbox(t)
		rules(s, newRev, "sg-0api")
		r := s.run("", "deploy.sh", "production", "current")
		require.Equal(t, 0, r.code, r.stderr)
		requireNoCall(t, s.calls(), "aws deploy create-deployment")
		assert.Contains(t, r.stderr, "the API already runs production-taskmanager-api:5 on the stack's network and capacity provider: no CodeDeploy deployment needed")
	})
	// Issue 16: `pulumi up` leaves a CODE_DEPLOY service's network to CodeDeploy (UpdateService
	// refuses it), so a replaced security group reaches the API through this deployment, with the
	// same task definition.
	t.Run("a replaced security group", func(t *testing.T) {
		t.Parallel()
		s := newSandbox(t)
		rules(s, newRev, "sg-0replaced")
		r := s.run("", "deploy.sh", "production", "current")
		require.Equal(t, 0, r.code, r.stderr)
		calls := s.calls()
		at := requireSequence(t, calls, []string{"aws deploy create-deployment"})
		_, spec := appSpec(t, calls[at[0]])
		props := spec.Resources[0].TargetService.Properties
		assert.Equal(t, tdArn("production", "api", newRev), props.TaskDefinition)
		assert.Equal(t, []string{"sg-0api"}, props.NetworkConfiguration.AwsvpcConfiguration.SecurityGroups, "the stack's group, from apiSecurityGroupId")
		assert.Equal(t, []string{"subnet-0aaa", "subnet-0bbb"}, props.NetworkConfiguration.AwsvpcConfiguration.Subnets)
		assert.Equal(t, "DISABLED", props.NetworkConfiguration.AwsvpcConfiguration.AssignPublicIp)
	})
}

// Each failure names its own cause and the state it leaves.
func TestDeployFailuresNameTheirCauseAndTheWayBack(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, stack, pattern, message string
		want, not                     []string
		noCall                        []string
	}{
		{
			name: "expired token reading the image", stack: "dev",
			pattern: "aws ecr describe-images *", message: "An error occurred (ExpiredTokenException) when calling the DescribeImages operation: The security token included in the request is expired",
			want: []string{"cannot read the image taskmanager-dev:main-abc1234 from ECR", "stopped at: checking the image", "where things stand: nothing has changed"},
			not:  []string{"is not in the repository"}, noCall: []string{"aws ecs run-task"},
		},
		{
			name: "run-task refused", stack: "staging",
			pattern: "aws ecs run-task *", message: "An error occurred (AccessDeniedException) when calling the RunTask operation: User is not authorized to perform: iam:PassRole",
			want: []string{"ECS did not start the migration task (aws ecs run-task failed): the migrations did not run",
				"stopped at: the migrations of main-abc1234", "where things stand: no service moved and no migration ran",
				"to get back: no rollback is needed; fix the cause, then run the deploy again: scripts/deploy.sh staging main-abc1234"},
			not: []string{"the migrations failed"}, noCall: []string{"pulumi up"},
		},
		{
			name: "pulumi up fails", stack: "production",
			pattern: "pulumi up *", message: "error: update failed: 1 error occurred: creating ECS Task Definition: ClientException: Too many concurrent attempts",
			want: []string{"pulumi up of main-abc1234 to production failed", "stopped at: pulumi up of main-abc1234",
				"where things stand: the migrations of main-abc1234 have run; this checkout's Pulumi.production.yaml sets taskmanager:compute.imageTag to main-abc1234",
				"the worker may be moving to new task definitions; the API has not moved",
				"to get back: scripts/deploy.sh --rollback production puts the services back on the task definitions recorded in"},
			noCall: []string{"aws deploy create-deployment"},
		},
		{
			name: "another CodeDeploy deployment", stack: "production",
			pattern: "aws deploy create-deployment *", message: "An error occurred (DeploymentLimitExceededException) when calling the CreateDeployment operation: The Deployment Group 'api' already has an active Deployment 'd-OTHER'",
			want: []string{"another deployment of production-taskmanager-api/api is in progress", "stopped at: the CodeDeploy deployment of the API",
				"where things stand: the migrations of main-abc1234 have run; the worker runs main-abc1234; the API runs what it ran before the deploy",
				"to get back: scripts/deploy.sh --rollback production"},
		},
		{
			name: "CodeDeploy refuses otherwise", stack: "production",
			pattern: "aws deploy create-deployment *", message: "An error occurred (InvalidRoleException) when calling the CreateDeployment operation: The service role cannot be assumed",
			want: []string{"CodeDeploy refused the deployment of production-taskmanager-api:5 (aws deploy create-deployment)"},
			not:  []string{"another deployment", "in progress"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := newSandbox(t)
			s.inCIFor(tc.stack)
			s.failOn(tc.pattern, 254, tc.message)
			deployRules(t, s, tc.stack)
			r := s.run("", "deploy.sh", tc.stack, newTag)
			assert.Equal(t, 1, r.code)
			assert.Contains(t, r.stderr, "cause: "+strings.Fields(tc.pattern)[0]+" "+strings.Fields(tc.pattern)[1]+" ")
			assert.Contains(t, r.stderr, "exited 254: "+tc.message)
			for _, w := range tc.want {
				assert.Contains(t, r.stderr, w)
			}
			for _, n := range tc.not {
				assert.NotContains(t, r.stderr, n)
			}
			for _, c := range tc.noCall {
				requireNoCall(t, s.calls(), c)
			}
		})
	}
}

// ECS answers run-task with no task and a reason (capacity, ENIs): the reason is the message.
func TestDeployReportsWhyNoMigrationTaskStarted(t *testing.T) {
	t.Parallel()
	s := newSandbox(t)
	s.on("aws ecs run-task *", 0, "None\tRESOURCE:ENI")
	deployRules(t, s, "dev")
	r := s.run("", "deploy.sh", "dev", newTag)
	assert.Equal(t, 1, r.code)
	assert.Contains(t, r.stderr, "ECS did not start the migration task (aws ecs run-task returned no task: RESOURCE:ENI)")
	assert.NotContains(t, r.stderr, "the migrations failed")
	requireNoCall(t, s.calls(), "pulumi up")
}
