package scripts_test

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// scripts/refresh-staging-data.sh: production's latest automated snapshot, copied under staging's
// key, restored into staging's network, sanitized, dumped into staging's database; the temporary
// instance and the copy deleted whatever happens; an audit line; production never written.

const (
	workID          = "staging-taskmanager-refresh"
	latestSnapshot  = "arn:aws:rds:us-east-1:123456789012:snapshot:rds:production-taskmanager-db-2026-11-28-03-10"
	olderSnapshot   = "arn:aws:rds:us-east-1:123456789012:snapshot:rds:production-taskmanager-db-2026-11-27-03-10"
	creatingSnap    = "arn:aws:rds:us-east-1:123456789012:snapshot:rds:production-taskmanager-db-2026-11-29-03-10"
	tempSecretArn   = "arn:aws:secretsmanager:us-east-1:123456789012:secret:rds!db-temp-AbCdEf"
	stagingSecret   = "arn:aws:secretsmanager:us-east-1:123456789012:secret:rds!db-staging-AbCdEf"
	tempPassword    = "TempPassw0rd-refresh-xyz"
	stagingPassword = "StagingPassw0rd-refresh-xyz"
	callerArn       = "arn:aws:sts::123456789012:assumed-role/taskmanager-staging-data-refresh/refresh-staging-data-99"
	sanitizeSQL     = "UPDATE users SET email = 'user' || id || '@example.com', name = 'User ' || id;\n"
)

func host(id string) string { return id + ".c0abcdefghij.us-east-1.rds.amazonaws.com" }

// dbInstance is `aws rds describe-db-instances --output json` of one of the stacks' databases.
func dbInstance(t *testing.T, id, stack, status, secretArn, secretStatus string) string {
	t.Helper()
	db := map[string]any{
		"DBInstanceIdentifier": id,
		"DBInstanceStatus":     status,
		"DBInstanceClass":      "db.t4g.medium",
		"Endpoint":             map[string]any{"Address": host(id), "Port": 5432},
		"DBSubnetGroup":        map[string]any{"DBSubnetGroupName": stack + "-taskmanager-db-subnets"},
		"VpcSecurityGroups":    []map[string]any{{"VpcSecurityGroupId": "sg-0" + stack + "db", "Status": "active"}},
		"DBParameterGroups":    []map[string]any{{"DBParameterGroupName": stack + "-taskmanager-postgres16"}},
		"KmsKeyId":             keyArn(stack),
	}
	if secretArn != "" {
		db["MasterUserSecret"] = map[string]any{"SecretArn": secretArn, "SecretStatus": secretStatus, "KmsKeyId": keyArn(stack)}
	}
	if stack == "production" {
		db["DBInstanceClass"] = "db.r6g.xlarge"
	}
	b, err := json.Marshal(map[string]any{"DBInstances": []any{db}})
	require.NoError(t, err)
	return string(b)
}

func secretString(t *testing.T, password string) string {
	t.Helper()
	b, err := json.Marshal(map[string]string{"username": "taskmanager_admin", "password": password})
	require.NoError(t, err)
	return string(b)
}

// pgIsReadyPrelude makes pg_isready -p PORT answer as PostgreSQL behind a Session Manager tunnel
// does: once the tunnel to that local port has started. The script starts the tunnel in the
// background, so its call can reach calls.log after the script's next ones; waiting for it (up
// to 10 s, like pg_isready's own timeout) keeps calls.log in the order the script meant.
const pgIsReadyPrelude = `port=; prev=
for a in "$@"; do [[ $prev == -p ]] && port=$a; prev=$a; done
for _ in {1..100}; do
	grep -qF "localPortNumber=$port" "$STUB_DIR/calls.log" 2>/dev/null && break
	sleep 0.1
done`

// refreshRules answers every call of a successful refresh. Tests add rules before these to
// change one answer.
func refreshRules(t *testing.T, s *sandbox) {
	t.Helper()
	s.addStub("psql", pgPrelude+"\n"+stderrPrelude)
	s.addStub("pg_dump", pgPrelude+"\n"+stderrPrelude)
	s.addStub("pg_restore", pgPrelude+"\n"+stderrPrelude)
	s.addStub("pg_isready", pgIsReadyPrelude)
	s.on("pulumi stack output --json --stack staging", 0, outputs(t, "staging", newRev))
	s.on("aws sts get-caller-identity *", 0, account+"\t"+callerArn)
	s.on("aws rds describe-db-instances --db-instance-identifier staging-taskmanager-db --output json", 0,
		dbInstance(t, "staging-taskmanager-db", "staging", "available", stagingSecret, "active"))
	s.on("aws rds describe-db-instances --db-instance-identifier production-taskmanager-db --output json", 0,
		dbInstance(t, "production-taskmanager-db", "production", "available", "arn:aws:secretsmanager:us-east-1:123456789012:secret:rds!db-production", "active"))
	snapshots, err := json.Marshal(map[string]any{"DBSnapshots": []map[string]any{
		{"DBSnapshotIdentifier": "rds:production-taskmanager-db-2026-11-27-03-10", "DBSnapshotArn": olderSnapshot,
			"SnapshotCreateTime": "2026-11-27T03:10:00Z", "Status": "available", "KmsKeyId": keyArn("production")},
		{"DBSnapshotIdentifier": "rds:production-taskmanager-db-2026-11-29-03-10", "DBSnapshotArn": creatingSnap,
			"SnapshotCreateTime": "2026-11-29T03:10:00Z", "Status": "creating", "KmsKeyId": keyArn("production")},
		{"DBSnapshotIdentifier": "rds:production-taskmanager-db-2026-11-28-03-10", "DBSnapshotArn": latestSnapshot,
			"SnapshotCreateTime": "2026-11-28T03:10:00Z", "Status": "available", "KmsKeyId": keyArn("production")},
	}})
	require.NoError(t, err)
	s.on("aws rds describe-db-snapshots --db-instance-identifier production-taskmanager-db --snapshot-type automated --output json", 0, string(snapshots))
	// No leftover of an earlier run.
	s.on("aws rds describe-db-instances --db-instance-identifier "+workID+" --query *", 254, "DBInstanceNotFound")
	s.on("aws rds describe-db-snapshots --db-snapshot-identifier "+workID+" *", 254, "DBSnapshotNotFound")
	s.on("aws rds copy-db-snapshot *", 0, workID)
	s.on("aws rds restore-db-instance-from-db-snapshot *", 0, workID)
	s.on("aws rds modify-db-instance *", 0, workID)
	// The new master secret is being created at first, then active.
	s.once("aws rds describe-db-instances --db-instance-identifier "+workID+" --output json", 0,
		dbInstance(t, workID, "staging", "modifying", tempSecretArn, "creating"))
	s.on("aws rds describe-db-instances --db-instance-identifier "+workID+" --output json", 0,
		dbInstance(t, workID, "staging", "available", tempSecretArn, "active"))
	s.on("aws secretsmanager get-secret-value --secret-id "+tempSecretArn+" *", 0, secretString(t, tempPassword))
	s.on("aws secretsmanager get-secret-value --secret-id "+stagingSecret+" *", 0, secretString(t, stagingPassword))
	s.on("aws rds delete-db-instance *", 0, workID)
	s.on("aws rds delete-db-snapshot *", 0, workID)
}

func refreshSandbox(t *testing.T) (*sandbox, string) {
	t.Helper()
	s := newSandbox(t)
	refreshRules(t, s)
	return s, s.writeFile(t, "sanitize.sql", sanitizeSQL)
}

// writes are the calls that change something: every AWS call but the reads, and the PostgreSQL
// tools that write (psql runs the sanitization, pg_restore restores).
func writes(calls []string) []string {
	var out []string
	read := regexp.MustCompile(`^aws \S+ (describe-|list-|get-|wait |start-session )`)
	for _, c := range calls {
		if strings.HasPrefix(c, "aws ") && !read.MatchString(c) || strings.HasPrefix(c, "psql ") || strings.HasPrefix(c, "pg_restore ") {
			out = append(out, c)
		}
	}
	return out
}

// requireProductionNotWritten: no write names production, but for the copy's source (a read).
func requireProductionNotWritten(t *testing.T, calls []string) {
	t.Helper()
	source := regexp.MustCompile(`--source-db-snapshot-identifier \S+`)
	for _, c := range writes(calls) {
		assert.NotContains(t, strings.ToLower(source.ReplaceAllString(c, "")), "production", "a write names production: %s", c)
	}
}

func sha(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:])
}

// The whole refresh, in order: the latest available snapshot copied under staging's key, restored
// into staging's subnet group, security group and parameter group, a new master secret, the SQL,
// the dump into staging's database, then the temporary instance and the copy deleted.
func TestRefreshStagingData(t *testing.T) {
	t.Parallel()
	s, sql := refreshSandbox(t)
	s.env["REFRESH_AUDIT_FILE"] = s.dir + "/audit.log"
	s.env["GITHUB_ACTOR"] = "alice"
	s.env["GITHUB_RUN_ID"] = "99"
	s.env["GITHUB_REPOSITORY"] = "taskmanager/taskmanager-infra"
	r := s.run("", "refresh-staging-data.sh", "--sanitize-sql", sql)
	require.Equal(t, 0, r.code, r.stderr)
	calls := s.calls()
	tempConn := "host=" + host(workID) + " port=5432 dbname=taskmanager user=taskmanager_admin"
	stagingConn := "host=" + host("staging-taskmanager-db") + " port=5432 dbname=taskmanager user=taskmanager_admin"
	at := requireSequence(t, calls,
		[]string{"pulumi stack output --json --stack staging"},
		[]string{"aws sts get-caller-identity"},
		[]string{"aws rds describe-db-snapshots --db-instance-identifier production-taskmanager-db --snapshot-type automated"},
		[]string{"aws rds copy-db-snapshot --source-db-snapshot-identifier " + latestSnapshot + " --target-db-snapshot-identifier " + workID + " --kms-key-id " + keyArn("staging") + " "},
		[]string{"aws rds wait db-snapshot-available --db-snapshot-identifier " + workID},
		[]string{"aws rds restore-db-instance-from-db-snapshot --db-instance-identifier " + workID + " --db-snapshot-identifier " + workID +
			" --db-subnet-group-name staging-taskmanager-db-subnets --vpc-security-group-ids sg-0datarefresh --db-parameter-group-name staging-taskmanager-postgres16" +
			" --db-instance-class db.t4g.medium --no-multi-az --no-publicly-accessible --no-deletion-protection"},
		[]string{"aws rds wait db-instance-available --db-instance-identifier " + workID},
		[]string{"aws rds modify-db-instance --db-instance-identifier " + workID + " --manage-master-user-password --master-user-secret-kms-key-id " + keyArn("staging")},
		[]string{"aws secretsmanager get-secret-value --secret-id " + tempSecretArn},
		[]string{"psql " + tempConn, "-v ON_ERROR_STOP=1 -v VERBOSITY=sqlstate -v SHOW_CONTEXT=never --single-transaction", "-f " + sql},
		[]string{"psql " + tempConn, "-v ON_ERROR_STOP=1 -v VERBOSITY=sqlstate -v SHOW_CONTEXT=never", "--tuples-only", "-f " + verifySQL},
		[]string{"pg_dump " + tempConn, "--format=custom"},
		[]string{"aws secretsmanager get-secret-value --secret-id " + stagingSecret},
		[]string{"pg_restore --dbname " + stagingConn, "--clean --if-exists --no-owner --no-privileges --role=taskmanager_app_owner --single-transaction"},
		[]string{"aws rds delete-db-instance --db-instance-identifier " + workID + " --skip-final-snapshot --delete-automated-backups"},
		[]string{"aws rds wait db-instance-deleted --db-instance-identifier " + workID},
		[]string{"aws rds delete-db-snapshot --db-snapshot-identifier " + workID},
	)
	// The temporary instance was read for its secret only once the secret was active.
	assert.Len(t, filter(calls[at[7]:at[9]], "describe-db-instances --db-instance-identifier "+workID+" --output json"), 2)
	// Neither the creating (newer) nor the older snapshot.
	requireNoCall(t, calls, creatingSnap)
	requireNoCall(t, calls, "--source-db-snapshot-identifier "+olderSnapshot)
	requireProductionNotWritten(t, calls)

	// The passwords reached the tools in their environment only: never a command line, never
	// printed.
	pg := s.read("pgpassword.log")
	assert.Contains(t, pg, "psql PGPASSWORD="+tempPassword+"\n")
	assert.Contains(t, pg, "pg_dump PGPASSWORD="+tempPassword+"\n")
	assert.Contains(t, pg, "pg_restore PGPASSWORD="+stagingPassword+"\n")
	for _, p := range []string{tempPassword, stagingPassword} {
		for _, c := range calls {
			assert.NotContains(t, c, p)
		}
		assert.NotContains(t, r.output(), p)
	}

	// The audit line: who, when, which snapshot, the SQL's hash, the result; on stdout and in
	// the audit file.
	audit := regexp.MustCompile(`(?m)^audit: refresh-staging-data result=success at=\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ by=` + regexp.QuoteMeta(callerArn) +
		` actor=alice run=https://github.com/taskmanager/taskmanager-infra/actions/runs/99 snapshot=` + regexp.QuoteMeta(latestSnapshot) +
		` snapshot_time=2026-11-28T03:10:00Z sanitize_sql=\S+/sanitize\.sql sha256=` + sha(sanitizeSQL) +
		` verify_sql=\S+/sanitize/staging-verify\.sql verify_sha256=` + sha(readRepoFile(t, "sanitize/staging-verify.sql")) + ` target=staging-taskmanager-db$`)
	assert.Regexp(t, audit, r.stdout)
	assert.Regexp(t, audit, s.read("audit.log"))
	assert.Contains(t, r.stderr, "scripts/deploy.sh staging current")
}

// With a missing or empty sanitization or verification file, nothing starts: no call at all.
func TestRefreshRefusesWithoutSanitizeSQL(t *testing.T) {
	t.Parallel()
	cases := map[string]struct {
		args []string
		want string
	}{
		"no file name":        {[]string{"--sanitize-sql"}, "--sanitize-sql needs a file"},
		"no verify file name": {[]string{"--verify-sql"}, "--verify-sql needs a file"},
		"missing verify file": {[]string{"--verify-sql", "/nonexistent/verify.sql"}, `verification query "/nonexistent/verify.sql" does not exist`},
		"empty verify file":   {[]string{"--verify-sql", "EMPTY"}, "is empty"},
		"missing file":        {[]string{"--sanitize-sql", "/nonexistent/sanitize.sql"}, "does not exist"},
		"empty file":          {[]string{"--sanitize-sql", "EMPTY"}, "is empty"},
		"blank file":          {[]string{"--sanitize-sql", "BLANK"}, "is empty"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			s, _ := refreshSandbox(t)
			args := append([]string(nil), c.args...)
			for i, a := range args {
				switch a {
				case "EMPTY":
					args[i] = s.writeFile(t, "empty.sql", "")
				case "BLANK":
					args[i] = s.writeFile(t, "blank.sql", " \n\t\n")
				}
			}
			r := s.run("", "refresh-staging-data.sh", args...)
			assert.Equal(t, 1, r.code)
			assert.Contains(t, r.stderr, c.want)
			assert.Empty(t, s.calls(), "nothing may be called")
			assert.NotContains(t, r.stdout, "audit:")
		})
	}
}

// A failing step stops the refresh; the temporary instance and the snapshot copy are deleted all
// the same, and the audit line says it failed. Staging's database is written only by the last step.
func TestRefreshCleansUpWhenAStepFails(t *testing.T) {
	t.Parallel()
	cases := map[string]struct {
		fail                   string // a rule's pattern that fails
		instance, snapshot     bool   // deleted
		want                   string
		restoreIntoStagingRuns bool
	}{
		"copy refused":               {"aws rds copy-db-snapshot *", false, false, "production's key must let these credentials use it", false},
		"snapshot never available":   {"aws rds wait db-snapshot-available *", false, true, "did not become available", false},
		"restore fails":              {"aws rds restore-db-instance-from-db-snapshot *", false, true, "could not restore", false},
		"instance never available":   {"aws rds wait db-instance-available *", true, true, "did not become available", false},
		"no new master password":     {"aws rds modify-db-instance *", true, true, "managed master password", false},
		"sanitization fails":         {"psql *", true, true, "the sanitization SQL failed", false},
		"dump fails":                 {"pg_dump *", true, true, "pg_dump", false},
		"restore into staging fails": {"pg_restore *", true, true, "its transaction was rolled back", true},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			s := newSandbox(t)
			s.on(c.fail, 3, "")
			refreshRules(t, s)
			sql := s.writeFile(t, "sanitize.sql", sanitizeSQL)
			r := s.run("", "refresh-staging-data.sh", "--sanitize-sql", sql)
			assert.NotEqual(t, 0, r.code)
			assert.Contains(t, r.stderr, c.want)
			calls := s.calls()
			failed := find(calls, 0, strings.TrimSuffix(c.fail, " *"))
			require.NotEqual(t, -1, failed)
			if c.instance {
				requireSequence(t, calls[failed:], []string{"aws rds delete-db-instance --db-instance-identifier " + workID + " --skip-final-snapshot"})
			} else {
				requireNoCall(t, calls, "aws rds delete-db-instance")
			}
			if c.snapshot {
				requireSequence(t, calls[failed:], []string{"aws rds delete-db-snapshot --db-snapshot-identifier " + workID})
			} else {
				requireNoCall(t, calls, "aws rds delete-db-snapshot")
			}
			if !c.restoreIntoStagingRuns {
				requireNoCall(t, calls, "pg_restore")
			}
			requireProductionNotWritten(t, calls)
			assert.Regexp(t, `(?m)^audit: refresh-staging-data result=failed .* snapshot=`+regexp.QuoteMeta(latestSnapshot)+` .* sha256=`+sha(sanitizeSQL), r.stdout)
		})
	}
}

// A leftover of an earlier run is named, not reused and not deleted.
func TestRefreshStopsAtALeftover(t *testing.T) {
	t.Parallel()
	for name, rule := range map[string]string{
		"instance": "aws rds describe-db-instances --db-instance-identifier " + workID + " --query *",
		"snapshot": "aws rds describe-db-snapshots --db-snapshot-identifier " + workID + " *",
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			s := newSandbox(t)
			s.on(rule, 0, "available")
			refreshRules(t, s)
			sql := s.writeFile(t, "sanitize.sql", sanitizeSQL)
			r := s.run("", "refresh-staging-data.sh", "--sanitize-sql", sql)
			assert.Equal(t, 1, r.code)
			assert.Contains(t, r.stderr, "exists already (available), from an earlier refresh")
			assert.Empty(t, writes(s.calls()))
		})
	}
}

// Any target that is production's, or names it, is refused before anything is written: a staging
// stack whose outputs or database point at production, staging's key being production's, a host
// given in the environment, credentials for another account.
func TestRefreshNeverWritesProduction(t *testing.T) {
	t.Parallel()
	stagingWith := func(t *testing.T, change func(o map[string]any)) string {
		var o map[string]any
		require.NoError(t, json.Unmarshal([]byte(outputs(t, "staging", newRev)), &o))
		change(o)
		b, err := json.Marshal(o)
		require.NoError(t, err)
		return string(b)
	}
	cases := map[string]struct {
		rules func(t *testing.T, s *sandbox)
		want  string
	}{
		"the target database is production's": {func(t *testing.T, s *sandbox) {
			s.on("pulumi stack output --json --stack staging", 0, stagingWith(t, func(o map[string]any) { o["databaseIdentifier"] = "production-taskmanager-db" }))
			s.on("aws rds describe-db-instances --db-instance-identifier production-taskmanager-db --output json", 0,
				dbInstance(t, "production-taskmanager-db", "production", "available", "", ""))
		}, `target database "production-taskmanager-db" names production`},
		"staging's key is production's": {func(t *testing.T, s *sandbox) {
			s.on("pulumi stack output --json --stack staging", 0, stagingWith(t, func(o map[string]any) {
				o["kmsKeyArn"] = "arn:aws:kms:us-east-1:123456789012:key/0000-shared"
			}))
			s.on("aws rds describe-db-instances --db-instance-identifier production-taskmanager-db --output json", 0,
				strings.ReplaceAll(dbInstance(t, "production-taskmanager-db", "production", "available", "", ""), keyArn("production"), "arn:aws:kms:us-east-1:123456789012:key/0000-shared"))
		}, `KMS key "arn:aws:kms:us-east-1:123456789012:key/0000-shared" is production's`},
		"staging's database is in production's subnet group": {func(t *testing.T, s *sandbox) {
			s.on("aws rds describe-db-instances --db-instance-identifier staging-taskmanager-db --output json", 0,
				strings.ReplaceAll(dbInstance(t, "staging-taskmanager-db", "staging", "available", stagingSecret, "active"), "staging-taskmanager-db-subnets", "shared-db-subnets"))
			s.on("aws rds describe-db-instances --db-instance-identifier production-taskmanager-db --output json", 0,
				strings.ReplaceAll(dbInstance(t, "production-taskmanager-db", "production", "available", "", ""), "production-taskmanager-db-subnets", "shared-db-subnets"))
		}, `DB subnet group "shared-db-subnets" is production's`},
		"the copy's group is production's database's": {func(t *testing.T, s *sandbox) {
			s.on("pulumi stack output --json --stack staging", 0, stagingWith(t, func(o map[string]any) { o["dataRefreshSecurityGroupId"] = "sg-0shared" }))
			s.on("aws rds describe-db-instances --db-instance-identifier production-taskmanager-db --output json", 0,
				strings.ReplaceAll(dbInstance(t, "production-taskmanager-db", "production", "available", "", ""), "sg-0productiondb", "sg-0shared"))
		}, `security group "sg-0shared" is production's`},
		// Issue 18, item 4: the copy never goes into staging database's groups, which admit the
		// app's workloads; without a group of its own, nothing starts.
		"staging has no group for the copy": {func(t *testing.T, s *sandbox) {
			s.on("pulumi stack output --json --stack staging", 0, stagingWith(t, func(o map[string]any) { delete(o, "dataRefreshSecurityGroupId") }))
		}, "no dataRefreshSecurityGroupId output"},
		"the host given is production's": {func(t *testing.T, s *sandbox) {
			s.env["STAGING_DB_HOST"] = "10.0.3.17"
			s.on("aws rds describe-db-instances --db-instance-identifier production-taskmanager-db --output json", 0,
				strings.ReplaceAll(dbInstance(t, "production-taskmanager-db", "production", "available", "", ""), host("production-taskmanager-db"), "10.0.3.17"))
		}, `target database's host "10.0.3.17" is production's`},
		"the host given names production": {func(t *testing.T, s *sandbox) {
			s.env["STAGING_DB_HOST"] = host("production-taskmanager-db")
		}, "names production"},
		"credentials for another account": {func(t *testing.T, s *sandbox) {
			s.on("aws sts get-caller-identity *", 0, "210987654321\tarn:aws:sts::210987654321:assumed-role/admin/me")
		}, "but staging is in account 123456789012"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			s := newSandbox(t)
			c.rules(t, s)
			refreshRules(t, s)
			sql := s.writeFile(t, "sanitize.sql", sanitizeSQL)
			r := s.run("", "refresh-staging-data.sh", "--sanitize-sql", sql)
			assert.Equal(t, 1, r.code)
			assert.Contains(t, r.stderr, c.want)
			assert.Contains(t, strings.ToLower(r.stderr), "nothing was changed")
			assert.Empty(t, writes(s.calls()), "nothing may be written")
		})
	}
}

// --through-bastion: each database is reached through staging's bastion (Session Manager port
// forwarding), each tunnel opened just before it is used; without a bastion, nothing starts.
func TestRefreshThroughTheBastion(t *testing.T) {
	t.Parallel()
	t.Run("with staging's bastion", func(t *testing.T) {
		t.Parallel()
		s := newSandbox(t)
		s.on("pulumi stack output --json --stack staging", 0, strings.Replace(outputs(t, "staging", newRev), "{", `{"bastionInstanceId":"i-0bastion",`, 1))
		refreshRules(t, s)
		sql := s.writeFile(t, "sanitize.sql", sanitizeSQL)
		r := s.run("", "refresh-staging-data.sh", "--through-bastion", "--sanitize-sql", sql)
		require.Equal(t, 0, r.code, r.stderr)
		calls := s.calls()
		tunnel := "aws ssm start-session --target i-0bastion --document-name AWS-StartPortForwardingSessionToRemoteHost --parameters "
		requireSequence(t, calls,
			[]string{"aws rds modify-db-instance"},
			[]string{tunnel + "host=" + host(workID) + ",portNumber=5432,localPortNumber=15433"},
			[]string{"psql host=127.0.0.1 port=15433 "},
			[]string{"pg_dump host=127.0.0.1 port=15433 "},
			[]string{tunnel + "host=" + host("staging-taskmanager-db") + ",portNumber=5432,localPortNumber=15432"},
			[]string{"pg_restore --dbname host=127.0.0.1 port=15432 "},
			[]string{"aws rds delete-db-instance"},
		)
		// Each tunnel is waited for (the session starts in the background: its call may be
		// logged after the first wait's).
		dump := find(calls, 0, "pg_dump")
		assert.Less(t, find(calls, 0, "pg_isready -q -h 127.0.0.1 -p 15433"), find(calls, 0, "psql"))
		assert.Greater(t, find(calls, 0, "pg_isready -q -h 127.0.0.1 -p 15432"), dump)
		assert.Greater(t, find(calls, 0, tunnel+"host="+host("staging-taskmanager-db")), dump, "the second tunnel opens after the dump")
		requireProductionNotWritten(t, calls)
	})
	t.Run("staging has no bastion", func(t *testing.T) {
		t.Parallel()
		s, sql := refreshSandbox(t)
		r := s.run("", "refresh-staging-data.sh", "--through-bastion", "--sanitize-sql", sql)
		assert.Equal(t, 1, r.code)
		assert.Contains(t, r.stderr, "staging has no bastion")
		assert.Empty(t, writes(s.calls()))
	})
}

// --help answers without calling anything (also before the sanitization SQL is checked).
func TestDriftAndRefreshHelp(t *testing.T) {
	t.Parallel()
	for _, script := range []string{"report-drift.sh", "refresh-staging-data.sh"} {
		t.Run(script, func(t *testing.T) {
			t.Parallel()
			s := newSandbox(t)
			r := s.run("", script, "--help")
			assert.Equal(t, 0, r.code)
			assert.Contains(t, r.stdout, "Usage")
			assert.Empty(t, s.calls())
		})
	}
}

// stderrPrelude makes a PostgreSQL tool's stub print STUB_STDERR on its stderr, as the real tools
// print an error (with its DETAIL, which may quote a row).
const stderrPrelude = `[[ -z ${STUB_STDERR:-} ]] || printf '%s\n' "$STUB_STDERR" >&2`

// verifySQL is the fixed verification query, by the path the script resolves.
var verifySQL = func() string {
	p, err := filepath.Abs("../../sanitize/staging-verify.sql")
	if err != nil {
		panic(err)
	}
	return p
}()

func readRepoFile(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", name))
	require.NoError(t, err)
	return string(b)
}

// Issue 18, item 3: by default the script runs the repository's fixed sanitization and
// verification files (the workflow passes none); the verification must return no rows, and any
// row stops the refresh before the dump, so staging is never replaced with what it found; the
// temporary copy still goes.
func TestRefreshVerifiesBeforeStagingIsReplaced(t *testing.T) {
	t.Parallel()
	t.Run("the fixed files by default", func(t *testing.T) {
		t.Parallel()
		s := newSandbox(t)
		refreshRules(t, s)
		r := s.run("", "refresh-staging-data.sh")
		require.Equal(t, 0, r.code, r.stderr)
		fixed, err := filepath.Abs("../../sanitize/staging.sql")
		require.NoError(t, err)
		requireSequence(t, s.calls(), []string{"psql ", "-f " + fixed}, []string{"psql ", "-f " + verifySQL}, []string{"pg_dump "}, []string{"pg_restore "})
		assert.Contains(t, r.stdout, "sha256="+sha(readRepoFile(t, "sanitize/staging.sql")))
	})
	t.Run("rows stop the refresh", func(t *testing.T) {
		t.Parallel()
		s := newSandbox(t)
		s.on("psql * -f "+verifySQL, 0, "app.users email 3\n")
		refreshRules(t, s)
		r := s.run("", "refresh-staging-data.sh")
		assert.Equal(t, 1, r.code)
		assert.Contains(t, r.stderr, "app.users email 3")
		assert.Contains(t, r.stderr, "the verification query returned rows")
		calls := s.calls()
		requireNoCall(t, calls, "pg_dump")
		requireNoCall(t, calls, "pg_restore")
		requireSequence(t, calls, []string{"psql ", "-f " + verifySQL}, []string{"aws rds delete-db-instance --db-instance-identifier " + workID}, []string{"aws rds delete-db-snapshot"})
		assert.Regexp(t, `(?m)^audit: refresh-staging-data result=failed `, r.stdout)
	})
}

// Issue 18, item 5: an error of the sanitization (or of the verification, the dump or the restore)
// prints no row of production's data: psql runs with VERBOSITY=sqlstate and SHOW_CONTEXT=never, the
// tools' stderr goes to a private file, and only the SQLSTATEs reach the log.
func TestRefreshPrintsNoRowOnAnError(t *testing.T) {
	t.Parallel()
	const leak = "alice@real-customer.com"
	detail := "psql:/x/staging.sql:3: ERROR:  23505\nDETAIL:  Key (email)=(" + leak + ") already exists.\nCONTEXT:  SQL statement \"UPDATE users SET email = '" + leak + "'\""
	cases := map[string]struct {
		fail, want string
	}{
		"sanitization": {"psql * -f */sanitize.sql", "the sanitization SQL failed (SQLSTATE 23505)"},
		"verification": {"psql * -f " + verifySQL, "the verification query failed (SQLSTATE 23505)"},
		"dump":         {"pg_dump *", "pg_dump of " + workID + " failed (its messages are not printed"},
		"restore":      {"pg_restore *", "pg_restore into staging-taskmanager-db failed (its messages are not printed"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			s := newSandbox(t)
			s.env["STUB_STDERR"] = strings.ReplaceAll(detail, "\\n", "\n")
			s.on(c.fail, 1, "")
			refreshRules(t, s)
			sql := s.writeFile(t, "sanitize.sql", sanitizeSQL)
			r := s.run("", "refresh-staging-data.sh", "--sanitize-sql", sql)
			assert.Equal(t, 1, r.code)
			assert.Contains(t, r.stderr, c.want)
			assert.NotContains(t, r.output(), leak)
			assert.NotContains(t, r.output(), "DETAIL")
			for _, call := range filter(s.calls(), "psql ") {
				assert.Contains(t, call, "-v VERBOSITY=sqlstate -v SHOW_CONTEXT=never")
			}
		})
	}
}
