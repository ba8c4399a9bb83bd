package scripts_test

import (
	"encoding/json"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var externalSecrets = []string{"smtpUsername", "smtpPassword", "googleClientId", "googleClientSecret", "githubClientId", "githubClientSecret", "sentryDsn", "datadogApiKey"}

// secretValue is a recognisable value per key, to trace where each one goes.
func secretValue(key string) string { return "S3cr3t-" + key + "-" + strings.Repeat("x", 4) }

// createRules: a new stack whose person-supplied secrets are not set, then a successful deploy.
func createRules(t *testing.T, s *sandbox, stack string) {
	t.Helper()
	s.on("pulumi config get --path taskmanager:externalSecrets.* --stack "+stack, 255, "")
	deployRules(t, s, stack)
}

// Production asks for all eight secrets, sets each with --secret (the value on stdin, never on a
// command line), never prints one, then builds, runs `pulumi up` and deploys (migrations first).
func TestCreateProductionAsksForEverySecret(t *testing.T) {
	t.Parallel()
	s := newSandbox(t)
	s.inCI()
	createRules(t, s, "production")
	var stdin strings.Builder
	for _, k := range externalSecrets {
		stdin.WriteString(secretValue(k) + "\n")
	}
	r := s.run(stdin.String(), "create-environment.sh", "production", newTag)
	require.Equal(t, 0, r.code, r.stderr)
	calls := s.calls()

	var steps [][]string
	steps = append(steps, []string{"pulumi stack select --create production"})
	for _, k := range externalSecrets {
		steps = append(steps, []string{"pulumi config set --secret --path taskmanager:externalSecrets." + k + " --stack production"})
	}
	steps = append(steps,
		[]string{"build-lambdas"},
		[]string{"pulumi up --yes --stack production"},
		[]string{"aws ecs run-task"},
		[]string{"pulumi config set --path taskmanager:compute.imageTag " + newTag},
		[]string{"pulumi up --yes --stack production"},
		[]string{"aws deploy create-deployment"},
	)
	requireSequence(t, calls, steps...)

	// Each value reached Pulumi on stdin, with its own key.
	stdinLog := s.read("stdin.log")
	for _, k := range externalSecrets {
		assert.Contains(t, stdinLog, "config set --secret --path taskmanager:externalSecrets."+k+" --stack production\t"+secretValue(k)+"\n")
	}
	// ... and nowhere else: not in any command line, not in anything the script printed.
	for _, k := range externalSecrets {
		for _, c := range calls {
			assert.NotContains(t, c, secretValue(k))
		}
		assert.NotContains(t, r.output(), secretValue(k))
	}
	// The prompts name the keys.
	assert.Contains(t, r.stderr, "smtpPassword (required)")
}

// A required secret cannot be skipped: an empty answer asks again, and running out of input
// stops before anything is deployed.
func TestCreateProductionRequiresTheSecrets(t *testing.T) {
	t.Parallel()
	s := newSandbox(t)
	s.inCI()
	createRules(t, s, "production")
	r := s.run("\n"+secretValue("smtpUsername")+"\n"+secretValue("smtpPassword")+"\n", "create-environment.sh", "production", newTag)
	assert.NotEqual(t, 0, r.code)
	assert.Contains(t, r.stderr, "smtpUsername is required for production")
	assert.Contains(t, r.stderr, "no value for googleClientId, which production requires")
	calls := s.calls()
	assert.Len(t, filter(calls, "pulumi config set --secret"), 2)
	requireNoCall(t, calls, "pulumi up")
	requireNoCall(t, calls, "build-lambdas")
}

// Staging asks for no credential of its own (its people sign in through its Cognito user pool):
// every secret may be skipped, and one that is already set is not asked for again.
func TestCreateStaging(t *testing.T) {
	t.Parallel()
	t.Run("skips empty optional ones", func(t *testing.T) {
		s := newSandbox(t)
		createRules(t, s, "staging")
		stdin := secretValue("smtpUsername") + "\n" + strings.Repeat("\n", 7)
		r := s.run(stdin, "create-environment.sh", "staging", newTag)
		require.Equal(t, 0, r.code, r.stderr)
		assert.NotContains(t, r.stderr, "basicAuth")
		calls := s.calls()
		sets := filter(calls, "pulumi config set --secret")
		require.Len(t, sets, 1)
		assert.Contains(t, sets[0], "taskmanager:externalSecrets.smtpUsername --stack staging")
		// The tag given on the command line, never the stack file's placeholder.
		requireNoCall(t, calls, "pulumi config get --path taskmanager:compute.imageTag")
		requireNoCall(t, calls, "bootstrap")
		requireSequence(t, calls, []string{"pulumi up --yes --stack staging"}, []string{"aws ecs run-task"}, []string{"pulumi up --yes --stack staging"})
	})
	t.Run("keeps what is set", func(t *testing.T) {
		s := newSandbox(t)
		s.on("pulumi config get --path taskmanager:externalSecrets.smtpUsername --stack staging", 0, "already-set")
		createRules(t, s, "staging")
		r := s.run(strings.Repeat("\n", 7), "create-environment.sh", "staging", newTag)
		require.Equal(t, 0, r.code, r.stderr)
		assert.Empty(t, filter(s.calls(), "pulumi config set --secret"))
		assert.Contains(t, r.stderr, "smtpUsername: already set, kept")
		assert.NotContains(t, r.output(), "already-set")
	})
}

// Dev requires nothing: empty answers (or no input at all) skip every secret.
func TestCreateDevNeedsNoSecrets(t *testing.T) {
	t.Parallel()
	s := newSandbox(t)
	createRules(t, s, "dev")
	r := s.run("", "create-environment.sh", "dev", newTag)
	require.Equal(t, 0, r.code, r.stderr)
	assert.Empty(t, filter(s.calls(), "pulumi config set --secret"))
	requireSequence(t, s.calls(), []string{"pulumi stack select --create dev"}, []string{"build-lambdas"}, []string{"pulumi up --yes --stack dev"}, []string{"aws ecs run-task"})
}

// The image to deploy is required: the stack files' imageTag is the placeholder "bootstrap",
// which no repository holds, so defaulting to it failed every creation at the image check. Without
// a tag, or with the placeholder, nothing runs.
func TestCreateRequiresTheImageTag(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{{"staging"}, {"staging", "bootstrap"}, {"staging", "latest"}} {
		s := newSandbox(t)
		createRules(t, s, "staging")
		r := s.run("", "create-environment.sh", args...)
		assert.NotEqual(t, 0, r.code, "%v", args)
		assert.Empty(t, s.calls(), "%v: nothing runs", args)
	}
	s := newSandbox(t)
	r := s.run("", "create-environment.sh", "staging")
	assert.Contains(t, r.stderr, "want <stack> <image-tag>")
	r = s.run("", "create-environment.sh", "staging", "bootstrap")
	assert.Contains(t, r.stderr, "placeholder")
}

// --promote-from copies the image from another stack's repository into the new, empty one (the
// same digest) after `pulumi up` has created it, then deploys it: one command creates a working
// environment.
func TestCreatePromotesTheImage(t *testing.T) {
	t.Parallel()
	s := newSandbox(t)
	source := repoURL("dev") + ":" + newTag
	promoteRules(s)
	createRules(t, s, "staging")
	r := s.run(strings.Repeat("\n", 8), "create-environment.sh", "staging", newTag, "--promote-from", source)
	require.Equal(t, 0, r.code, r.stderr)
	requireSequence(t, s.calls(),
		[]string{"pulumi stack select --create staging"},
		[]string{"pulumi up --yes --stack staging"},
		[]string{"skopeo copy --all --preserve-digests", "docker://" + source + " docker://" + repoURL("staging") + ":" + newTag},
		[]string{"aws ecs run-task"},
		[]string{"pulumi config set --path taskmanager:compute.imageTag " + newTag + " --stack staging"},
		[]string{"pulumi up --yes --stack staging"},
	)
}

func TestCreateRefusesUnknownStack(t *testing.T) {
	t.Parallel()
	s := newSandbox(t)
	r := s.run("", "create-environment.sh", "qa", newTag)
	assert.Equal(t, 1, r.code)
	assert.Contains(t, r.stderr, `unknown stack "qa"`)
	assert.Empty(t, s.calls())
}

// Production is refused before anything runs.
func TestDestroyRefusesProduction(t *testing.T) {
	t.Parallel()
	s := newSandbox(t)
	r := s.run("yes\nproduction\n", "destroy-environment.sh", "production")
	assert.Equal(t, 1, r.code)
	assert.Contains(t, r.stderr, "refusing to destroy production")
	assert.Empty(t, s.calls(), "neither pulumi nor aws may be called")
}

func TestDestroyAbortsWithoutYes(t *testing.T) {
	t.Parallel()
	for _, answer := range []string{"", "no\n", "y\n", "YES\n", "yes please\n", " yes\n"} {
		t.Run(strings.TrimSpace(answer), func(t *testing.T) {
			s := newSandbox(t)
			r := s.run(answer, "destroy-environment.sh", "dev")
			assert.Equal(t, 1, r.code)
			assert.Contains(t, r.stderr, "aborted: nothing was changed")
			assert.Empty(t, s.calls())
		})
	}
}

func TestDestroyRefusesUnknownStack(t *testing.T) {
	t.Parallel()
	s := newSandbox(t)
	r := s.run("yes\n", "destroy-environment.sh", "qa")
	assert.Equal(t, 1, r.code)
	assert.Contains(t, r.stderr, `unknown stack "qa"`)
	assert.Empty(t, s.calls())
}

var snapshotName = regexp.MustCompile(`--db-snapshot-identifier ((dev|staging)-final-\d{8}-\d{6})\b`)

// The program's own final snapshots (staging: the database's and the cache's, encrypted with the
// environment's key) and an earlier environment's snapshot, under that environment's own key.
func programDBSnapshot(stack string) string    { return stack + "-taskmanager-db-final-1a2b3c4d" }
func programCacheSnapshot(stack string) string { return stack + "-taskmanager-redis-final-5e6f7a8b" }
func earlierSnapshot(stack string) string      { return stack + "-final-20240101-000000" }

const earlierKey = "arn:aws:kms:us-east-1:123456789012:key/00000000-dead-beef-0000-000000000000"

// destroyRules: a stack deployed to account 123456789012, credentials for that account, and after
// `pulumi destroy` the environment's key retained (Enabled) and the snapshots left behind.
func destroyRules(t *testing.T, s *sandbox, stack string) {
	t.Helper()
	s.on("pulumi stack output --json --stack "+stack, 0, outputs(t, stack, newRev))
	s.on("aws sts get-caller-identity --query Account --output text", 0, account)
	s.on("aws kms describe-key --key-id "+keyArn(stack)+" *", 0, "Enabled")
	db := []map[string]string{{"DBSnapshotIdentifier": earlierSnapshot(stack), "KmsKeyId": earlierKey}}
	cache := []map[string]string{{"SnapshotName": "other-redis-final-00000000", "KmsKeyId": earlierKey}}
	if stack == "staging" {
		db = append(db, map[string]string{"DBSnapshotIdentifier": programDBSnapshot(stack), "KmsKeyId": keyArn(stack)})
		cache = append(cache, map[string]string{"SnapshotName": programCacheSnapshot(stack), "KmsKeyId": keyArn(stack)})
	}
	b, err := json.Marshal(map[string]any{"DBSnapshots": db})
	require.NoError(t, err)
	s.on("aws rds describe-db-snapshots --db-instance-identifier "+stack+"-taskmanager-db --snapshot-type manual *", 0, string(b))
	b, err = json.Marshal(map[string]any{"Snapshots": cache})
	require.NoError(t, err)
	s.on("aws elasticache describe-snapshots *", 0, string(b))
}

// requireKeyKept: nothing the script ran deletes or disables a KMS key.
func requireKeyKept(t *testing.T, calls []string) {
	t.Helper()
	for _, c := range calls {
		assert.NotRegexp(t, `^aws kms (schedule-key-deletion|disable-key|delete)`, c)
	}
}

// Dev: scale api, scale worker, wait for their tasks to stop, snapshot, wait for the snapshot,
// destroy, in that order; no deletion protection to lift.
func TestDestroyDev(t *testing.T) {
	t.Parallel()
	s := newSandbox(t)
	destroyRules(t, s, "dev")
	s.on("aws rds describe-db-instances *", 0, "False")
	r := s.run("yes\n", "destroy-environment.sh", "dev")
	require.Equal(t, 0, r.code, r.stderr)
	calls := s.calls()
	at := requireSequence(t, calls,
		[]string{"aws sts get-caller-identity"},
		[]string{"aws ecs update-service --cluster dev-taskmanager --service api --desired-count 0"},
		[]string{"aws ecs update-service --cluster dev-taskmanager --service worker --desired-count 0"},
		[]string{"aws ecs wait services-stable --cluster dev-taskmanager --services api worker"},
		[]string{"aws rds create-db-snapshot --db-instance-identifier dev-taskmanager-db --db-snapshot-identifier dev-final-"},
		[]string{"aws rds wait db-snapshot-available --db-snapshot-identifier dev-final-"},
		[]string{"pulumi destroy --yes --stack dev"},
		[]string{"aws kms describe-key --key-id " + keyArn("dev")},
	)
	created := snapshotName.FindStringSubmatch(calls[at[4]])
	require.NotNil(t, created, calls[at[4]])
	assert.Contains(t, calls[at[5]], "--db-snapshot-identifier "+created[1], "waits for the snapshot it took")
	// At the end: the final snapshot and the key that encrypts it, which is kept.
	assert.Contains(t, r.stderr, "  database "+created[1]+"\n")
	assert.Contains(t, r.stderr, "The key, retained: "+keyArn("dev")+" (Enabled)")
	assert.NotContains(t, r.stderr, earlierSnapshot("dev"), "an earlier environment's snapshot (another key) is not this one's")
	assert.Contains(t, r.stderr, "scripts/create-environment.sh dev")
	requireKeyKept(t, calls)
	requireNoCall(t, calls, "modify-db-instance")
	requireNoCall(t, calls, "register-scalable-target")
	// The mutating calls are exactly these, once each.
	var mutating []string
	for _, c := range calls {
		if regexp.MustCompile(`update-service|create-db-snapshot|modify-db|pulumi destroy|register-scalable|aws kms (?:schedule|disable|cancel|enable|delete)`).MatchString(c) {
			mutating = append(mutating, c)
		}
	}
	assert.Len(t, mutating, 4, strings.Join(mutating, "\n"))
}

// Staging: auto scaling pinned to 0 first, and deletion protection of the database and its
// replica lifted explicitly, after the snapshot and a second prompt, before `pulumi destroy`.
func TestDestroyStaging(t *testing.T) {
	t.Parallel()
	rules := func(s *sandbox) {
		destroyRules(t, s, "staging")
		s.on("aws rds describe-db-instances *", 0, "True")
		s.on("aws application-autoscaling describe-scalable-targets *", 0, "service/staging-taskmanager/api\tservice/staging-taskmanager/worker")
	}
	t.Run("lifts deletion protection", func(t *testing.T) {
		s := newSandbox(t)
		rules(s)
		r := s.run("yes\nstaging\n", "destroy-environment.sh", "staging")
		require.Equal(t, 0, r.code, r.stderr)
		requireSequence(t, s.calls(),
			[]string{"aws application-autoscaling register-scalable-target", "--resource-id service/staging-taskmanager/api", "--min-capacity 0 --max-capacity 0"},
			[]string{"aws application-autoscaling register-scalable-target", "--resource-id service/staging-taskmanager/worker", "--min-capacity 0 --max-capacity 0"},
			[]string{"aws ecs update-service --cluster staging-taskmanager --service api --desired-count 0"},
			[]string{"aws ecs update-service --cluster staging-taskmanager --service worker --desired-count 0"},
			[]string{"aws rds create-db-snapshot --db-instance-identifier staging-taskmanager-db --db-snapshot-identifier staging-final-"},
			[]string{"aws rds wait db-snapshot-available --db-snapshot-identifier staging-final-"},
			[]string{"aws rds modify-db-instance --db-instance-identifier staging-taskmanager-db --no-deletion-protection --apply-immediately"},
			[]string{"aws rds modify-db-instance --db-instance-identifier staging-taskmanager-db-replica --no-deletion-protection --apply-immediately"},
			[]string{"pulumi destroy --yes --stack staging"},
		)
		assert.Contains(t, r.stderr, "7-day recovery window")
		// Within the window only a forced deletion frees the names: restore-secret leaves secrets
		// the recreated stack then fails to create ("already exists").
		assert.Contains(t, r.stderr, "aws secretsmanager list-secrets --include-planned-deletion --filters Key=name,Values=taskmanager/staging/ \\\n")
		assert.Contains(t, r.stderr, "--force-delete-without-recovery --secret-id\n")
		assert.NotContains(t, r.stderr, "aws secretsmanager restore-secret")
		// Recreating takes the image to deploy, copied in: the stack file's tag is a placeholder.
		assert.Contains(t, r.stderr, "scripts/create-environment.sh staging <image-tag> --promote-from <registry>/taskmanager-<other stack>:<image-tag>")
		// The snapshots this environment leaves, all encrypted with its key: the script's and the
		// program's own final ones (database and cache); and that key, retained.
		created := snapshotName.FindStringSubmatch(s.calls()[find(s.calls(), 0, "create-db-snapshot")])
		require.NotNil(t, created)
		for _, snapshot := range []string{"database " + created[1], "database " + programDBSnapshot("staging"), "cache    " + programCacheSnapshot("staging")} {
			assert.Contains(t, r.stderr, "\n  "+snapshot+"\n")
		}
		assert.NotContains(t, r.stderr, earlierSnapshot("staging"))
		assert.NotContains(t, r.stderr, "other-redis-final")
		assert.Contains(t, r.stderr, "The key, retained: "+keyArn("staging")+" (Enabled)")
		requireKeyKept(t, s.calls())
	})
	for _, second := range []string{"", "yes\n", "no\n"} {
		t.Run("second prompt "+strings.TrimSpace(second), func(t *testing.T) {
			s := newSandbox(t)
			rules(s)
			r := s.run("yes\n"+second, "destroy-environment.sh", "staging")
			assert.Equal(t, 1, r.code)
			assert.Contains(t, r.stderr, "Deletion protection is on for staging-taskmanager-db staging-taskmanager-db-replica")
			assert.Contains(t, r.stderr, "aborted: nothing was changed")
			for _, c := range s.calls() {
				assert.NotRegexp(t, `update-service|create-db-snapshot|modify-db|destroy|register-scalable`, c)
			}
		})
	}
	t.Run("snapshot fails: nothing deleted", func(t *testing.T) {
		s := newSandbox(t)
		s.on("aws rds create-db-snapshot *", 254, "")
		rules(s)
		r := s.run("yes\nstaging\n", "destroy-environment.sh", "staging")
		assert.Equal(t, 1, r.code)
		assert.Contains(t, r.stderr, "nothing was deleted")
		requireNoCall(t, s.calls(), "modify-db-instance")
		requireNoCall(t, s.calls(), "pulumi destroy")
	})
}

// The credentials must be for the account the stack was deployed to (the account of its
// kmsKeyArn output): otherwise, or when that cannot be told, nothing is read or changed beyond
// the stack's outputs and the caller's identity.
func TestDestroyChecksTheAccount(t *testing.T) {
	t.Parallel()
	onlyReads := func(t *testing.T, calls []string) {
		t.Helper()
		for _, c := range calls {
			assert.Regexp(t, `^(pulumi stack output --json --stack dev|aws sts get-caller-identity)`, c)
		}
	}
	t.Run("another account", func(t *testing.T) {
		t.Parallel()
		s := newSandbox(t)
		s.on("aws sts get-caller-identity *", 0, "210987654321")
		destroyRules(t, s, "dev")
		r := s.run("yes\n", "destroy-environment.sh", "dev")
		assert.Equal(t, 1, r.code)
		assert.Contains(t, r.stderr, "these AWS credentials are for account 210987654321, but stack dev was deployed to account "+account)
		assert.Contains(t, r.stderr, "nothing was changed")
		requireSequence(t, s.calls(), []string{"pulumi stack output --json --stack dev"}, []string{"aws sts get-caller-identity"})
		onlyReads(t, s.calls())
	})
	t.Run("no kmsKeyArn output", func(t *testing.T) {
		t.Parallel()
		s := newSandbox(t)
		s.on("pulumi stack output --json --stack dev", 0, `{"clusterName": "dev-taskmanager"}`)
		destroyRules(t, s, "dev")
		r := s.run("yes\n", "destroy-environment.sh", "dev")
		assert.Equal(t, 1, r.code)
		assert.Contains(t, r.stderr, "cannot tell which AWS account stack dev was deployed to")
		onlyReads(t, s.calls())
	})
	t.Run("no outputs", func(t *testing.T) {
		t.Parallel()
		s := newSandbox(t)
		s.on("pulumi stack output --json --stack dev", 255, "")
		destroyRules(t, s, "dev")
		r := s.run("yes\n", "destroy-environment.sh", "dev")
		assert.Equal(t, 1, r.code)
		assert.Contains(t, r.stderr, "cannot read the outputs of stack dev")
		onlyReads(t, s.calls())
	})
	t.Run("identity unknown", func(t *testing.T) {
		t.Parallel()
		s := newSandbox(t)
		s.on("aws sts get-caller-identity *", 255, "")
		destroyRules(t, s, "dev")
		r := s.run("yes\n", "destroy-environment.sh", "dev")
		assert.Equal(t, 1, r.code)
		assert.Contains(t, r.stderr, "cannot tell which AWS account these credentials are for")
		onlyReads(t, s.calls())
	})
}

// The key that encrypts the final snapshots outlives the environment: the script never deletes
// or disables it, and should `pulumi destroy` have scheduled its deletion (a program that does
// not retain it), the script cancels that and enables the key again, and says so.
func TestDestroyKeepsTheKey(t *testing.T) {
	t.Parallel()
	s := newSandbox(t)
	s.once("aws kms describe-key --key-id "+keyArn("dev")+" *", 0, "PendingDeletion")
	destroyRules(t, s, "dev")
	s.on("aws rds describe-db-instances *", 0, "False")
	r := s.run("yes\n", "destroy-environment.sh", "dev")
	require.Equal(t, 0, r.code, r.stderr)
	calls := s.calls()
	requireSequence(t, calls,
		[]string{"pulumi destroy --yes --stack dev"},
		[]string{"aws kms describe-key --key-id " + keyArn("dev")},
		[]string{"aws kms cancel-key-deletion --key-id " + keyArn("dev")},
		[]string{"aws kms enable-key --key-id " + keyArn("dev")},
		[]string{"aws kms describe-key --key-id " + keyArn("dev")},
	)
	requireKeyKept(t, calls)
	assert.Contains(t, r.stderr, "was scheduled for deletion by pulumi destroy; cancelling that")
	assert.Contains(t, r.stderr, "The key, retained: "+keyArn("dev")+" (Enabled)")
}
