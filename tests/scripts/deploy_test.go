package scripts_test

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The migrations run with the new image, to completion and successfully, before `pulumi up`
// moves any service; then the services are checked on the new task definitions. Production's API
// goes through CodeDeploy with the new task definition; the other stacks never call CodeDeploy.
func TestDeployRunsMigrationsBeforeTheServices(t *testing.T) {
	t.Parallel()
	for _, stack := range stacks {
		t.Run(stack, func(t *testing.T) {
			t.Parallel()
			s := newSandbox(t)
			s.inCIFor(stack)
			deployRules(t, s, stack)
			r := s.run("", "deploy.sh", stack, newTag)
			require.Equal(t, 0, r.code, r.stderr)
			calls := s.calls()
			c := cluster(stack)

			at := requireSequence(t, calls,
				[]string{"aws ecr describe-images", "imageTag=" + newTag},
				[]string{"aws ecs describe-task-definition --task-definition " + stack + "-taskmanager-migrations"},
				[]string{"aws ecs register-task-definition"},
				[]string{"aws ecs describe-task-definition --task-definition " + tdArn(stack, "migrations", copyRev) + " --output json"},
				[]string{"aws ecs run-task --cluster " + c + " --task-definition " + tdArn(stack, "migrations", copyRev) + " --launch-type FARGATE",
					"awsvpcConfiguration={subnets=[subnet-0aaa,subnet-0bbb],securityGroups=[sg-0migrations],assignPublicIp=DISABLED}"},
				[]string{"aws ecs wait tasks-stopped --cluster " + c + " --tasks " + fmt.Sprintf(migrationTask, stack)},
				[]string{"aws ecs describe-tasks --cluster " + c},
				[]string{"aws ecs deregister-task-definition --task-definition " + tdArn(stack, "migrations", copyRev)},
				[]string{"pulumi config set --path taskmanager:compute.imageTag " + newTag + " --stack " + stack},
				[]string{"pulumi up --yes --stack " + stack},
			)

			// Nothing moves a service before the migrations have succeeded.
			for _, mover := range []string{"pulumi up", "pulumi config set", "aws ecs update-service", "aws deploy create-deployment"} {
				if i := find(calls, 0, mover); i != -1 {
					assert.Greater(t, i, at[6], "%q before the migrations finished", mover)
				}
			}
			assert.Len(t, filter(calls, "pulumi up"), 1)

			// The migrations ran the new image, from a copy of the current task definition with
			// only the image changed and ECS's bookkeeping fields dropped.
			register := calls[at[2]]
			input := register[strings.Index(register, "{") : strings.LastIndex(register, "}")+1]
			var td map[string]any
			require.NoError(t, json.Unmarshal([]byte(input), &td), register)
			containers := td["containerDefinitions"].([]any)
			require.Len(t, containers, 1)
			assert.Equal(t, repoURL(stack)+":"+newTag, containers[0].(map[string]any)["image"])
			assert.Equal(t, stack+"-taskmanager-migrations", td["family"])
			assert.NotNil(t, containers[0].(map[string]any)["secrets"], "the copy keeps the secrets")
			assert.NotNil(t, td["tags"], "the copy keeps the tags")
			for _, field := range []string{"taskDefinitionArn", "revision", "status", "compatibilities", "requiresAttributes", "registeredAt", "registeredBy"} {
				assert.NotContains(t, td, field)
			}

			// The migration container checks /tmp first, then execs the program's migration
			// command (the copy's, from the stack file), unchanged.
			command := migrationCommand(t, calls[at[4]])
			assert.Equal(t, stackCompute(t, stack).MigrationsCommand, command[4:])
			assertTmpCheck(t, command[:4], true)

			up := at[len(at)-1]
			if stack == "production" {
				// The worker rolls with `pulumi up`; the API waits for CodeDeploy.
				deploy := requireSequence(t, calls[up:],
					[]string{"aws ecs wait services-stable --cluster " + c + " --services worker"},
					[]string{"aws deploy create-deployment --application-name production-taskmanager-api --deployment-group-name api"},
					[]string{"aws deploy get-deployment --deployment-id " + deploymentID},
				)
				// The AppSpec names the new task definition, the API's container and port, and the
				// capacity provider strategy the program gives the service (infra/compute/services.go:
				// the stack's capacityProvider, weight 1, base 0): without it CodeDeploy moves the
				// service to the launch type, away from the program.
				raw, spec := appSpec(t, calls[up+deploy[1]])
				assert.True(t, strings.HasPrefix(raw, `{"version":0.0,`), raw)
				props := spec.Resources[0].TargetService.Properties
				assert.Equal(t, "AWS::ECS::Service", spec.Resources[0].TargetService.Type)
				assert.Equal(t, tdArn(stack, "api", newRev), props.TaskDefinition)
				assert.Equal(t, loadBalancerInfo{ContainerName: "api", ContainerPort: 8000}, props.LoadBalancerInfo)
				assert.Equal(t, []capacityProviderItem{{Base: 0, CapacityProvider: stackCompute(t, stack).CapacityProvider, Weight: 1}},
					props.CapacityProviderStrategy)
				assert.Contains(t, raw, `"CapacityProviderStrategy":[{"Base":0,"CapacityProvider":"FARGATE","Weight":1}]`,
					"Pulumi.production.yaml sets FARGATE")
				// It waited until traffic had shifted: two polls (InProgress, then shifted).
				assert.Len(t, filter(calls, "aws deploy get-deployment"), 2)
				requireNoCall(t, calls, "aws ecs update-service")
			} else {
				requireSequence(t, calls[up:],
					[]string{"aws ecs wait services-stable --cluster " + c + " --services api worker"},
					[]string{"aws ecs describe-services --cluster " + c + " --services api worker"},
				)
				requireNoCall(t, calls, "aws deploy")
			}

			// The record --rollback reads: what the services ran before.
			record := s.read(filepath.Join("state", stack+".env"))
			assert.Contains(t, record, "previous_api="+tdArn(stack, "api", oldRev))
			assert.Contains(t, record, "previous_worker="+tdArn(stack, "worker", oldRev))
		})
	}
}

// argument is the value of one option in a stub's call line ("<tool> <args>" joined by spaces),
// up to the option that follows it.
func argument(t *testing.T, call, option, next string) string {
	t.Helper()
	start := strings.Index(call, option+" ")
	require.NotEqual(t, -1, start, "no %s in %s", option, call)
	rest := call[start+len(option)+1:]
	end := strings.Index(rest, " "+next+" ")
	require.NotEqual(t, -1, end, "no %s after %s in %s", next, option, call)
	return rest[:end]
}

type appSpecDoc struct {
	Version   float64 `json:"version"`
	Resources []struct {
		TargetService struct {
			Type       string `json:"Type"`
			Properties struct {
				TaskDefinition           string                 `json:"TaskDefinition"`
				LoadBalancerInfo         loadBalancerInfo       `json:"LoadBalancerInfo"`
				CapacityProviderStrategy []capacityProviderItem `json:"CapacityProviderStrategy"`
				NetworkConfiguration     struct {
					AwsvpcConfiguration struct {
						Subnets, SecurityGroups []string
						AssignPublicIp          string
					}
				} `json:"NetworkConfiguration"`
			} `json:"Properties"`
		} `json:"TargetService"`
	} `json:"Resources"`
}

type loadBalancerInfo struct {
	ContainerName string `json:"ContainerName"`
	ContainerPort int    `json:"ContainerPort"`
}

type capacityProviderItem struct {
	Base             int    `json:"Base"`
	CapacityProvider string `json:"CapacityProvider"`
	Weight           int    `json:"Weight"`
}

// appSpec is the AppSpec an `aws deploy create-deployment` call sent: as text and parsed.
func appSpec(t *testing.T, call string) (string, appSpecDoc) {
	t.Helper()
	var revision struct {
		RevisionType   string `json:"revisionType"`
		AppSpecContent struct {
			Content string `json:"content"`
		} `json:"appSpecContent"`
	}
	require.NoError(t, json.Unmarshal([]byte(argument(t, call, "--revision", "--description")), &revision), call)
	require.Equal(t, "AppSpecContent", revision.RevisionType)
	var spec appSpecDoc
	require.NoError(t, json.Unmarshal([]byte(revision.AppSpecContent.Content), &spec), revision.AppSpecContent.Content)
	require.Len(t, spec.Resources, 1)
	return revision.AppSpecContent.Content, spec
}

// migrationCommand is the command an `aws ecs run-task` call gave the migration container.
func migrationCommand(t *testing.T, call string) []string {
	t.Helper()
	var overrides struct {
		ContainerOverrides []struct {
			Name    string   `json:"name"`
			Command []string `json:"command"`
		} `json:"containerOverrides"`
	}
	require.NoError(t, json.Unmarshal([]byte(argument(t, call, "--overrides", "--started-by")), &overrides), call)
	require.Len(t, overrides.ContainerOverrides, 1)
	require.Equal(t, "migrations", overrides.ContainerOverrides[0].Name)
	require.GreaterOrEqual(t, len(overrides.ContainerOverrides[0].Command), 4, call)
	return overrides.ContainerOverrides[0].Command
}

// assertTmpCheck: sh -c '<the /tmp check>[; exec "$@"]' tmp-check.
func assertTmpCheck(t *testing.T, wrapper []string, execs bool) {
	t.Helper()
	require.Len(t, wrapper, 4)
	assert.Equal(t, []string{"sh", "-c"}, wrapper[:2])
	assert.Equal(t, "tmp-check", wrapper[3])
	assert.True(t, strings.HasPrefix(wrapper[2], "t=$(mktemp -p /tmp) && rm -f \"$t\" || {"), wrapper[2])
	assert.Contains(t, wrapper[2], "exit 97; }")
	assert.Equal(t, execs, strings.HasSuffix(wrapper[2], `; exec "$@"`), wrapper[2])
}

func filter(calls []string, part string) []string {
	var out []string
	for _, c := range calls {
		if strings.Contains(c, part) {
			out = append(out, c)
		}
	}
	return out
}

// A migration task that exits non-zero stops the deploy: no config change, no `pulumi up`, no
// service or CodeDeploy update; the migrations copy is still deregistered.
func TestDeployStopsWhenTheMigrationsFail(t *testing.T) {
	t.Parallel()
	for _, stack := range stacks {
		t.Run(stack, func(t *testing.T) {
			t.Parallel()
			s := newSandbox(t)
			s.inCIFor(stack)
			s.on("aws ecs describe-tasks *", 0, "1\tEssential container in task exited")
			deployRules(t, s, stack)
			r := s.run("", "deploy.sh", stack, newTag)
			assert.NotEqual(t, 0, r.code)
			assert.Contains(t, r.stderr, "exited with code 1")
			assert.Contains(t, r.stderr, "the migrations failed")
			calls := s.calls()
			requireSequence(t, calls, []string{"aws ecs run-task"}, []string{"aws ecs describe-tasks"}, []string{"aws ecs deregister-task-definition"})
			requireNoCall(t, calls, "pulumi config set")
			requireNoCall(t, calls, "pulumi up")
			requireNoCall(t, calls, "aws ecs update-service")
			requireNoCall(t, calls, "aws deploy create-deployment")
		})
	}
}

// An image whose /tmp the containers' user cannot write (the read-only root filesystem leaves
// only the /tmp task volume, which Fargate creates owned by root unless the image declares it)
// stops the deploy at the migration task's check, exit code 97: the message names the image,
// /tmp, the fix and the README's "Image contract", and no service moves.
func TestDeployStopsWhenTmpIsNotWritable(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		stack string
		args  []string
	}{
		{"dev", nil}, {"staging", nil}, {"production", nil},
		{"production", []string{"--skip-migrations"}},
	} {
		t.Run(strings.Join(append([]string{tc.stack}, tc.args...), " "), func(t *testing.T) {
			t.Parallel()
			s := newSandbox(t)
			s.inCIFor(tc.stack)
			s.on("aws ecs describe-tasks *", 0, "97\tEssential container in task exited")
			deployRules(t, s, tc.stack)
			r := s.run("", "deploy.sh", append(tc.args, tc.stack, newTag)...)
			assert.Equal(t, 1, r.code)
			assert.Contains(t, r.stderr, "the image "+repoURL(tc.stack)+":"+newTag+" cannot write /tmp as the containers' user 1000:1000")
			assert.Contains(t, r.stderr, "TMP_NOT_WRITABLE")
			assert.Contains(t, r.stderr, "`RUN mkdir -p /tmp && chown 1000:1000 /tmp` (as root) followed by `VOLUME /tmp`")
			assert.Contains(t, r.stderr, `README, "Image contract"`)
			assert.Contains(t, r.stderr, "the services were not updated")
			assert.NotContains(t, r.stderr, "the migrations failed")
			calls := s.calls()
			requireSequence(t, calls, []string{"aws ecs run-task", "--overrides "}, []string{"aws ecs describe-tasks"},
				[]string{"aws ecs deregister-task-definition --task-definition " + tdArn(tc.stack, "migrations", copyRev)})
			for _, mover := range []string{"pulumi config set", "pulumi up", "aws ecs update-service", "aws deploy create-deployment"} {
				requireNoCall(t, calls, mover)
			}
		})
	}
}

// --skip-migrations still checks the image's /tmp: the migration task runs the check alone.
func TestDeploySkipMigrationsStillChecksTmp(t *testing.T) {
	t.Parallel()
	s := newSandbox(t)
	deployRules(t, s, "staging")
	r := s.run("", "deploy.sh", "--skip-migrations", "staging", newTag)
	require.Equal(t, 0, r.code, r.stderr)
	calls := s.calls()
	at := requireSequence(t, calls,
		[]string{"aws ecs register-task-definition"},
		[]string{"aws ecs run-task --cluster staging-taskmanager --task-definition " + tdArn("staging", "migrations", copyRev)},
		[]string{"aws ecs deregister-task-definition"},
		[]string{"pulumi up --yes --stack staging"},
	)
	assertTmpCheck(t, migrationCommand(t, calls[at[1]]), false)
	requireNoCall(t, calls, "aws ecs describe-task-definition --task-definition "+tdArn("staging", "migrations", copyRev))
}

// The check the migration container runs, run here by a real sh: a writable /tmp passes the
// migration command's arguments through untouched; a /tmp it cannot write to (here: mktemp fails)
// exits 97 with TMP_NOT_WRITABLE, and the migrations do not run.
func TestTmpCheckInTheContainer(t *testing.T) {
	t.Parallel()
	sh, err := exec.LookPath("sh")
	require.NoError(t, err)
	s := newSandbox(t)
	deployRules(t, s, "dev")
	r := s.run("", "deploy.sh", "dev", newTag)
	require.Equal(t, 0, r.code, r.stderr)
	wrapper := migrationCommand(t, s.calls()[find(s.calls(), 0, "aws ecs run-task")])[:4]

	run := func(path string, args ...string) (string, string, int) {
		cmd := exec.Command(sh, append(wrapper[1:], args...)...)
		cmd.Env = []string{"PATH=" + path, "HOME=/nonexistent"}
		var stdout, stderr strings.Builder
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		err := cmd.Run()
		code := 0
		if exit, ok := err.(*exec.ExitError); ok {
			code = exit.ExitCode()
		} else {
			require.NoError(t, err)
		}
		return stdout.String(), stderr.String(), code
	}

	stdout, stderr, code := run(os.Getenv("PATH"), "printf", "%s|", "a b", "$HOME", "*")
	require.Equal(t, 0, code, stderr)
	assert.Equal(t, "a b|$HOME|*|", stdout)

	failing := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(failing, "mktemp"), []byte("#!/bin/sh\necho 'mktemp: Permission denied' >&2\nexit 1\n"), 0o755))
	stdout, stderr, code = run(failing+string(os.PathListSeparator)+os.Getenv("PATH"), "echo", "migrated")
	assert.Equal(t, 97, code)
	assert.Empty(t, stdout, "the migrations must not run")
	assert.Contains(t, stderr, "TMP_NOT_WRITABLE: /tmp is not writable for uid ")
	assert.Contains(t, stderr, "declare VOLUME /tmp owned by ")
	assert.Contains(t, stderr, "(see README, Image contract)")
}

// A migration task that never started (no exit code, e.g. the image could not be pulled) fails too.
func TestDeployStopsWhenTheMigrationTaskDidNotRun(t *testing.T) {
	t.Parallel()
	s := newSandbox(t)
	s.on("aws ecs describe-tasks *", 0, "None\tCannotPullContainerError: pull image manifest has been retried 5 time(s)")
	deployRules(t, s, "staging")
	r := s.run("", "deploy.sh", "staging", newTag)
	assert.NotEqual(t, 0, r.code)
	assert.Contains(t, r.stderr, "CannotPullContainerError")
	requireNoCall(t, s.calls(), "pulumi up")
}

func TestDeployRefusesUnknownStacksAndBadTags(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ args []string }{
		{[]string{"qa", newTag}},
		{[]string{"prod", newTag}},
		{[]string{"dev", "latest"}},
		{[]string{"dev", "-bad"}},
		{[]string{"staging", "has space"}},
		{[]string{"dev"}},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			s := newSandbox(t)
			r := s.run("", "deploy.sh", tc.args...)
			assert.Equal(t, 1, r.code)
			assert.Empty(t, s.calls(), "nothing may run before the arguments are checked")
		})
	}
	s := newSandbox(t)
	r := s.run("", "deploy.sh", "qa", newTag)
	assert.Contains(t, r.stderr, `unknown stack "qa"; want one of: dev staging production`)
}

// An image that is not in the repository, or whose scan has a gated finding, stops the deploy
// before the migrations.
func TestDeployChecksTheImageFirst(t *testing.T) {
	t.Parallel()
	t.Run("missing", func(t *testing.T) {
		s := newSandbox(t)
		s.failOn("aws ecr describe-images *", 254, imageNotFound)
		deployRules(t, s, "dev")
		r := s.run("", "deploy.sh", "dev", newTag)
		assert.NotEqual(t, 0, r.code)
		assert.Contains(t, r.stderr, "is not in the repository")
		requireNoCall(t, s.calls(), "aws ecs run-task")
		requireNoCall(t, s.calls(), "pulumi up")
	})
	t.Run("critical finding", func(t *testing.T) {
		s := newSandbox(t)
		s.on("aws ecr describe-image-scan-findings *", 0, `{"CRITICAL": 2, "HIGH": 5}`)
		deployRules(t, s, "staging")
		r := s.run("", "deploy.sh", "staging", newTag)
		assert.NotEqual(t, 0, r.code)
		assert.Contains(t, r.stderr, "found CRITICAL=2")
		requireNoCall(t, s.calls(), "aws ecs run-task")
	})
	t.Run("high finding gated on request", func(t *testing.T) {
		s := newSandbox(t)
		s.env["SCAN_FAIL_ON"] = "CRITICAL,HIGH"
		deployRules(t, s, "staging")
		r := s.run("", "deploy.sh", "staging", newTag)
		assert.NotEqual(t, 0, r.code)
		assert.Contains(t, r.stderr, "found HIGH=1")
	})
	t.Run("scan still running", func(t *testing.T) {
		s := newSandbox(t)
		s.on("aws ecr describe-images *", 0, "IN_PROGRESS")
		deployRules(t, s, "dev")
		r := s.run("", "deploy.sh", "dev", newTag)
		require.Equal(t, 0, r.code, r.stderr)
		requireSequence(t, s.calls(), []string{"aws ecr wait image-scan-complete"}, []string{"aws ecs run-task"})
	})
}

// A service the ECS circuit breaker rolled back is stable, on the old task definition: the deploy
// must fail.
func TestDeployFailsWhenTheCircuitBreakerRolledBack(t *testing.T) {
	t.Parallel()
	s := newSandbox(t)
	c := cluster("staging")
	s.once("aws ecs describe-services --cluster "+c+" --services api worker *", 0, serviceRows("staging", oldRev, "api", "worker"))
	s.once("aws ecs describe-services --cluster "+c+" --services api worker *", 0,
		serviceRows("staging", oldRev, "api")+serviceRows("staging", newRev, "worker"))
	deployRules(t, s, "staging")
	r := s.run("", "deploy.sh", "staging", newTag)
	assert.NotEqual(t, 0, r.code)
	assert.Contains(t, r.stderr, "ECS rolled it back")
}

// A release tag has dots, which ECS's startedBy does not allow.
func TestDeployVersionTag(t *testing.T) {
	t.Parallel()
	s := newSandbox(t)
	s.inCI()
	deployRules(t, s, "production")
	r := s.run("", "deploy.sh", "production", "v1.2.3")
	require.Equal(t, 0, r.code, r.stderr)
	requireSequence(t, s.calls(),
		[]string{"aws ecr describe-images --repository-name taskmanager-production --image-ids imageTag=v1.2.3"},
		[]string{"aws ecs run-task", "--started-by deploy-v1_2_3 "},
		[]string{"pulumi config set --path taskmanager:compute.imageTag v1.2.3 --stack production"},
		[]string{"aws deploy create-deployment", "--description deploy main-abc1234"},
	)
}

// "current" redeploys the image the stack runs: an infrastructure-only change.
func TestDeployCurrentTag(t *testing.T) {
	t.Parallel()
	s := newSandbox(t)
	s.on("aws ecs describe-services --cluster dev-taskmanager --services worker *", 0, serviceRows("dev", oldRev, "worker"))
	s.on("aws ecs describe-task-definition --task-definition "+tdArn("dev", "worker", oldRev)+" --output json", 0,
		taskDefinition(t, "dev", "worker", oldRev, newTag, "ACTIVE"))
	deployRules(t, s, "dev")
	r := s.run("", "deploy.sh", "dev", "current")
	require.Equal(t, 0, r.code, r.stderr)
	requireSequence(t, s.calls(),
		[]string{"aws ecs run-task"},
		[]string{"pulumi config set --path taskmanager:compute.imageTag " + newTag})
}

// --promote-from copies the same digest into the stack's repository before anything else.
func TestDeployPromotesTheSameDigest(t *testing.T) {
	t.Parallel()
	s := newSandbox(t)
	source := repoURL("dev") + ":" + newTag
	promoteRules(s)
	s.env["SKOPEO_SRC_AUTHFILE"] = "/run/source-registry.json"
	deployRules(t, s, "staging")
	r := s.run("", "deploy.sh", "--promote-from", source, "staging", newTag)
	require.Equal(t, 0, r.code, r.stderr)
	calls := s.calls()
	requireSequence(t, calls,
		[]string{"skopeo inspect --authfile /run/source-registry.json --format {{.Digest}} docker://" + source},
		[]string{"skopeo login --username AWS --password-stdin " + account + ".dkr.ecr.us-east-1.amazonaws.com"},
		[]string{"skopeo copy --all --preserve-digests --src-authfile /run/source-registry.json docker://" + source + " docker://" + repoURL("staging") + ":" + newTag},
		[]string{"aws ecs run-task"},
	)
	for _, c := range calls {
		assert.NotContains(t, c, ecrPassword, "the registry token must not be on a command line")
	}

	// The tag already names another digest: immutable tags, so refuse.
	s = newSandbox(t)
	s.on("skopeo inspect *", 0, "sha256:1111")
	s.on("aws ecr describe-images *.imageDigest *", 0, "sha256:2222")
	deployRules(t, s, "staging")
	r = s.run("", "deploy.sh", "--promote-from", source, "staging", newTag)
	assert.NotEqual(t, 0, r.code)
	assert.Contains(t, r.stderr, "tags are immutable")
	requireNoCall(t, s.calls(), "skopeo copy")
}

// Issue 18, item 11: staging is promoted only images built from main (main-<sha>), both the tag and
// the promoted image's; anything else is refused before any call.
func TestPromotionToStagingTakesOnlyMainBuilds(t *testing.T) {
	t.Parallel()
	cases := map[string][2]string{
		"a version tag":              {repoURL("dev") + ":main-abc1234", "v1.2.3"},
		"a branch build":             {repoURL("dev") + ":feature-x-abc1234", "feature-x-abc1234"},
		"a source that is no main":   {repoURL("dev") + ":pr-12", "main-abc1234"},
		"a sha too short":            {repoURL("dev") + ":main-abc12", "main-abc12"},
		"not hex":                    {repoURL("dev") + ":main-xyz1234", "main-xyz1234"},
		"current is no promoted tag": {repoURL("dev") + ":main-abc1234", "current"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			s := newSandbox(t)
			deployRules(t, s, "staging")
			r := s.run("", "deploy.sh", "--promote-from", c[0], "staging", c[1])
			assert.Equal(t, 1, r.code)
			assert.Contains(t, r.stderr, "is not an image built from main (main-<sha>")
			assert.Empty(t, s.calls(), "nothing may be called")
		})
	}
}

// A CodeDeploy deployment that fails (CodeDeploy rolled back) fails the deploy.
func TestDeployProductionFailsWhenCodeDeployFails(t *testing.T) {
	t.Parallel()
	s := newSandbox(t)
	s.inCI()
	s.on("aws deploy get-deployment *", 0, "Failed\tFalse\tThe deployment failed because an alarm fired")
	deployRules(t, s, "production")
	r := s.run("", "deploy.sh", "production", newTag)
	assert.NotEqual(t, 0, r.code)
	assert.Contains(t, r.stderr, "ended Failed (The deployment failed because an alarm fired)")
}

// The smoke test of a public stack gets the health path through the load balancer; staging's
// sign-in lets it through with the secret header, whose token reaches curl on stdin only and is
// never printed.
func TestSmokeTest(t *testing.T) {
	t.Parallel()
	const token = "Sm0keT0kenAbc123"
	stagingRules := func(s *sandbox) {
		s.on("pulumi stack output --json --stack staging", 0, outputs(t, "staging", newRev))
		s.on("aws ecs describe-services *", 0, serviceRows("staging", newRev, "api", "worker"))
		s.on("pulumi config get --path taskmanager:api.healthCheckPath *", 0, "/health")
		s.on("aws secretsmanager get-secret-value --secret-id arn:aws:secretsmanager:us-east-1:123456789012:secret:taskmanager/staging/smoke-test-header-AbCdEf *", 0, token)
	}
	t.Run("staging passes", func(t *testing.T) {
		s := newSandbox(t)
		s.once("curl *", 0, "503")
		s.on("curl *", 0, "200")
		stagingRules(s)
		r := s.run("", "deploy.sh", "--smoke-test", "staging")
		require.Equal(t, 0, r.code, r.stderr)
		curls := filter(s.calls(), "curl ")
		require.Len(t, curls, 2, "one retry after the 503")
		assert.Contains(t, curls[1], "-K - https://staging.taskmanager.com/health")
		for _, c := range s.calls() {
			assert.NotContains(t, c, token)
		}
		assert.NotContains(t, r.output(), token)
		assert.Contains(t, s.read("curl-config.log"), `header = "X-Smoke-Test-Token: `+token+`"`)
	})
	// Issue 18, item 6: in GitHub Actions the runner is told to mask the token (stdout, the
	// workflow command), before curl is called; the rest of the output still never holds it.
	t.Run("staging in GitHub Actions masks the token", func(t *testing.T) {
		s := newSandbox(t)
		s.env["GITHUB_ACTIONS"] = "true"
		s.on("curl *", 0, "200")
		stagingRules(s)
		r := s.run("", "deploy.sh", "--smoke-test", "staging")
		require.Equal(t, 0, r.code, r.stderr)
		assert.Equal(t, "::add-mask::"+token+"\n", r.stdout)
		assert.NotContains(t, r.stderr, token)
		for _, c := range s.calls() {
			assert.NotContains(t, c, token)
		}
	})
	t.Run("staging fails", func(t *testing.T) {
		s := newSandbox(t)
		s.env["SMOKE_ATTEMPTS"] = "3"
		s.on("curl *", 0, "503")
		stagingRules(s)
		r := s.run("", "deploy.sh", "--smoke-test", "staging")
		assert.NotEqual(t, 0, r.code)
		assert.Contains(t, r.stderr, "smoke test failed")
		assert.Len(t, filter(s.calls(), "curl "), 3)
	})
	t.Run("dev is internal: the ECS checks only", func(t *testing.T) {
		s := newSandbox(t)
		s.on("pulumi stack output --json --stack dev", 0, outputs(t, "dev", newRev))
		s.on("aws ecs describe-services *", 0, serviceRows("dev", newRev, "api", "worker"))
		r := s.run("", "deploy.sh", "--smoke-test", "dev")
		require.Equal(t, 0, r.code, r.stderr)
		assert.Empty(t, filter(s.calls(), "curl "))
		assert.Contains(t, r.stderr, "internal")
	})
	t.Run("dev with a service down", func(t *testing.T) {
		s := newSandbox(t)
		s.on("pulumi stack output --json --stack dev", 0, outputs(t, "dev", newRev))
		s.on("aws ecs describe-services *", 0, strings.Replace(serviceRows("dev", newRev, "api", "worker"), "\t2\t2\n", "\t0\t2\n", 1))
		r := s.run("", "deploy.sh", "--smoke-test", "dev")
		assert.NotEqual(t, 0, r.code)
		assert.Contains(t, r.stderr, "0 of 2 tasks running")
	})
}

// --rollback puts rolling services back on the task definitions recorded before the deploy,
// re-registering one Pulumi has deregistered, and in production stops the CodeDeploy deployment
// with rollback while the original tasks are still there.
func TestRollback(t *testing.T) {
	t.Parallel()
	record := func(s *sandbox, stack string, extra string) { writeRecord(t, s, stack, extra) }
	t.Run("staging", func(t *testing.T) {
		s := newSandbox(t)
		record(s, "staging", "image_tag="+newTag+"\n")
		c := cluster("staging")
		s.on("pulumi stack output --json --stack staging", 0, outputs(t, "staging", newRev))
		s.on("aws ecs describe-services --cluster "+c+" --services api --query*", 0, serviceRows("staging", newRev, "api"))
		s.on("aws ecs describe-services --cluster "+c+" --services worker --query*", 0, serviceRows("staging", newRev, "worker"))
		s.on("aws ecs describe-task-definition --task-definition "+tdArn("staging", "api", oldRev)+" --query taskDefinition.status *", 0, "INACTIVE")
		s.on("aws ecs describe-task-definition --task-definition "+tdArn("staging", "worker", oldRev)+" --query taskDefinition.status *", 0, "ACTIVE")
		s.on("aws ecs describe-task-definition --task-definition "+tdArn("staging", "api", oldRev)+" --include TAGS *", 0,
			taskDefinition(t, "staging", "api", oldRev, oldTag, "INACTIVE"))
		s.on("aws ecs register-task-definition *", 0, tdArn("staging", "api", 6))
		s.on("aws ecs describe-services --cluster "+c+" --services api worker *", 0,
			serviceRows("staging", 6, "api")+serviceRows("staging", oldRev, "worker"))
		r := s.run("", "deploy.sh", "--rollback", "staging")
		require.Equal(t, 0, r.code, r.stderr)
		calls := s.calls()
		at := requireSequence(t, calls,
			[]string{"aws ecs register-task-definition", `"image":"` + repoURL("staging") + ":" + oldTag + `"`},
			[]string{"aws ecs update-service --cluster " + c + " --service api --task-definition " + tdArn("staging", "api", 6)},
			[]string{"aws ecs update-service --cluster " + c + " --service worker --task-definition " + tdArn("staging", "worker", oldRev)},
			[]string{"aws ecs wait services-stable --cluster " + c + " --services api worker"},
		)
		assert.Equal(t, 1, len(filter(calls, "register-task-definition")), "only the INACTIVE one is re-registered")
		_ = at
		requireNoCall(t, calls, "aws ecs run-task")
		requireNoCall(t, calls, "pulumi up")
	})
	t.Run("production", func(t *testing.T) {
		s := newSandbox(t)
		s.inCI()
		record(s, "production", "codedeploy_deployment="+deploymentID+"\n")
		c := cluster("production")
		s.on("pulumi stack output --json --stack production", 0, outputs(t, "production", newRev))
		s.once("aws ecs describe-services --cluster "+c+" --services worker --query*", 0, serviceRows("production", newRev, "worker"))
		s.on("aws ecs describe-task-definition --task-definition "+tdArn("production", "worker", oldRev)+" --query taskDefinition.status *", 0, "ACTIVE")
		s.on("aws ecs describe-services --cluster "+c+" --services worker *", 0, serviceRows("production", oldRev, "worker"))
		s.once("aws ecs describe-services --cluster "+c+" --services api --query*", 0, serviceRows("production", newRev, "api"))
		s.on("aws ecs describe-services --cluster "+c+" --services api --query*", 0, serviceRows("production", oldRev, "api"))
		s.once("aws deploy get-deployment *", 0, "InProgress")
		s.on("aws deploy get-deployment *", 0, "Stopped")
		r := s.run("", "deploy.sh", "--rollback", "production")
		require.Equal(t, 0, r.code, r.stderr)
		calls := s.calls()
		requireSequence(t, calls,
			[]string{"aws ecs update-service --cluster " + c + " --service worker --task-definition " + tdArn("production", "worker", oldRev)},
			[]string{"aws deploy stop-deployment --deployment-id " + deploymentID + " --auto-rollback-enabled"},
		)
		requireNoCall(t, calls, "--service api")
	})
	t.Run("nothing recorded", func(t *testing.T) {
		s := newSandbox(t)
		r := s.run("", "deploy.sh", "--rollback", "staging")
		assert.Equal(t, 1, r.code)
		assert.Contains(t, r.stderr, "no deploy of staging is recorded")
		assert.Empty(t, s.calls())
	})
}

// writeRecord is the record of a deploy from this checkout that --rollback reads: the task
// definitions at revision 4 before it, and extra lines.
func writeRecord(t *testing.T, s *sandbox, stack string, extra string) {
	t.Helper()
	dir := filepath.Join(s.dir, "state")
	require.NoError(t, os.MkdirAll(dir, 0o755))
	body := "previous_api=" + tdArn(stack, "api", oldRev) + "\nprevious_worker=" + tdArn(stack, "worker", oldRev) + "\n" + extra
	require.NoError(t, os.WriteFile(filepath.Join(dir, stack+".env"), []byte(body), 0o644))
}

func TestRunningImage(t *testing.T) {
	t.Parallel()
	s := newSandbox(t)
	s.on("aws ecs describe-services --cluster staging-taskmanager --services worker *", 0, serviceRows("staging", oldRev, "worker"))
	s.on("aws ecs describe-task-definition --task-definition "+tdArn("staging", "worker", oldRev)+" --output json", 0,
		taskDefinition(t, "staging", "worker", oldRev, newTag, "ACTIVE"))
	r := s.run("", "deploy.sh", "--running-image", "staging")
	require.Equal(t, 0, r.code, r.stderr)
	assert.Equal(t, repoURL("staging")+":"+newTag+"\n", r.stdout)
	requireNoCall(t, s.calls(), "pulumi")
}

// An empty answer is no image, whichever jq reads it (jq 1.6's -e passes on no input at all).
func TestRunningImageOfAnEmptyAnswer(t *testing.T) {
	t.Parallel()
	s := newSandbox(t)
	s.on("aws ecs describe-services --cluster staging-taskmanager --services worker *", 0, serviceRows("staging", oldRev, "worker"))
	s.on("aws ecs describe-task-definition --task-definition "+tdArn("staging", "worker", oldRev)+" --output json", 0, "")
	r := s.run("", "deploy.sh", "--running-image", "staging")
	assert.NotEqual(t, 0, r.code)
	assert.Empty(t, r.stdout)
}

func TestHelp(t *testing.T) {
	t.Parallel()
	for _, script := range []string{"deploy.sh", "create-environment.sh", "destroy-environment.sh"} {
		t.Run(script, func(t *testing.T) {
			s := newSandbox(t)
			r := s.run("", script, "--help")
			assert.Equal(t, 0, r.code)
			assert.Contains(t, r.stdout, "Usage")
			assert.Empty(t, s.calls())
		})
	}
}
