package tests

import (
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/taskmanager/taskmanager-infra/access/pipeline"
	"github.com/taskmanager/taskmanager-infra/internal/mockengine"
)

func TestDatabaseMatchesSpec(t *testing.T) {
	for _, stack := range allStacks {
		t.Run(stack, func(t *testing.T) {
			want := specOf(t, stack).TFVars // the spec's db_* tfvars
			rec := runStack(t, stack)
			db := one(t, rec, "aws:rds/instance:Instance", stack)
			in := db.Inputs
			assert.Equal(t, stack+"-taskmanager-db", in["identifier"])
			assert.Equal(t, want.DBInstanceClass, in["instanceClass"])
			assert.Equal(t, float64(want.DBAllocatedStorage), in["allocatedStorage"])
			assert.Equal(t, float64(want.DBMaxAllocatedStorage), in["maxAllocatedStorage"])
			assert.Equal(t, want.DBMultiAZ, in["multiAz"])
			assert.Equal(t, float64(want.DBBackupRetentionDays), in["backupRetentionPeriod"])
			assert.Equal(t, want.DBDeletionProtection, in["deletionProtection"])
			assert.Equal(t, want.DBSkipFinalSnapshot, in["skipFinalSnapshot"])
			if want.DBSkipFinalSnapshot {
				assert.Nil(t, in["finalSnapshotIdentifier"])
			} else {
				assert.Equal(t, stack+"-taskmanager-db-final-a1b2c3d4", in["finalSnapshotIdentifier"])
			}

			// Hardening the spec implies and AWS's rules demand.
			assert.Equal(t, "postgres", in["engine"])
			assert.Equal(t, "16", in["engineVersion"])
			assert.Equal(t, "taskmanager", in["dbName"])
			assert.Equal(t, "taskmanager_admin", in["username"])
			assert.Equal(t, true, in["manageMasterUserPassword"], "RDS keeps the master password: none in Pulumi's state")
			assert.NotContains(t, in, "password")
			assert.Equal(t, "gp3", in["storageType"])
			assert.Equal(t, true, in["storageEncrypted"])
			assert.Equal(t, keyArn(stack), in["kmsKeyId"])
			assert.Equal(t, false, in["publiclyAccessible"])
			assert.Equal(t, []any{stack + "-database-id"}, in["vpcSecurityGroupIds"])
			assert.Equal(t, []any{"postgresql", "upgrade"}, in["enabledCloudwatchLogsExports"])
			assert.Equal(t, true, in["copyTagsToSnapshot"])
			// Performance Insights and Enhanced Monitoring where the stack enables them (not on dev's micro).
			if stack == "dev" {
				assert.Nil(t, in["performanceInsightsEnabled"])
				assert.Equal(t, 0.0, in["monitoringInterval"])
			} else {
				assert.Equal(t, true, in["performanceInsightsEnabled"])
				assert.Equal(t, keyArn(stack), in["performanceInsightsKmsKeyId"])
				assert.Equal(t, 60.0, in["monitoringInterval"])
				assert.NotNil(t, in["monitoringRoleArn"])
			}
			assert.Equal(t, stack == "production", db.Protect, "only production's database is protected")

			subnets := one(t, rec, "aws:rds/subnetGroup:SubnetGroup", stack)
			assert.Equal(t, []any{"subnet-" + stack + "-isolated-0", "subnet-" + stack + "-isolated-1"}, subnets.Inputs["subnetIds"])
			params := one(t, rec, "aws:rds/parameterGroup:ParameterGroup", stack)
			assert.Equal(t, "postgres16", params.Inputs["family"])
			assert.Contains(t, params.Inputs["parameters"], map[string]any{"name": "rds.force_ssl", "value": "1", "applyMethod": "pending-reboot"})

			replica, hasReplica := rec.Find("aws:rds/instance:Instance", stack+"-replica")
			assert.Equal(t, want.DBCreateReplica, hasReplica, "a replica exactly where the spec has one")
			if hasReplica {
				assert.Equal(t, want.DBReplicaInstanceClass, replica.Inputs["instanceClass"])
				assert.Equal(t, stack+"-taskmanager-db", replica.Inputs["replicateSourceDb"])
				assert.Equal(t, false, replica.Inputs["publiclyAccessible"])
				assert.NotContains(t, replica.Inputs, "username", "a replica takes no master user")
				assert.Equal(t, stack == "production", replica.Protect)
			}
		})
	}
}

func TestCacheMatchesSpec(t *testing.T) {
	for _, stack := range allStacks {
		t.Run(stack, func(t *testing.T) {
			// The spec's cache_* tfvars, and Multi-AZ from its cost table's specification.
			want := specOf(t, stack)
			row, ok := want.Costs.Row("ElastiCache")
			require.True(t, ok)
			rec := runStack(t, stack)
			rg := one(t, rec, "aws:elasticache/replicationGroup:ReplicationGroup", stack)
			in := rg.Inputs
			assert.Equal(t, want.TFVars.CacheNodeType, in["nodeType"])
			assert.Equal(t, float64(want.TFVars.CacheNumNodes), in["numCacheClusters"])
			assert.Equal(t, want.TFVars.CacheAutomaticFailover, in["automaticFailoverEnabled"])
			assert.Equal(t, strings.Contains(row.Specification, "Multi-AZ"), in["multiAzEnabled"])
			assert.Equal(t, true, in["atRestEncryptionEnabled"])
			assert.Equal(t, keyArn(stack), in["kmsKeyId"])
			assert.Equal(t, true, in["transitEncryptionEnabled"])
			assert.Equal(t, "required", in["transitEncryptionMode"])
			if stack == "dev" {
				assert.Equal(t, "mock-password-"+stack+"-auth", in["authToken"], "AUTH with the generated token")
				assert.True(t, rg.SecretInputs["authToken"], "the token is a secret in the state")
			} else {
				// Where the queue-depth function runs, Redis authenticates users: the app's token is
				// the password of "default" (its URLs unchanged), and the function has a user of its
				// own that may run read commands only (internal/queuedepth's ReaderACL, tested on a
				// real redis-server).
				assert.Nil(t, in["authToken"], "a group of users replaces the AUTH token")
				assert.Equal(t, []any{stack + "-taskmanager-redis"}, in["userGroupIds"])
				assert.Equal(t, "DELETE", in["authTokenUpdateStrategy"], "an existing cache moves from its token to the users")
				group := one(t, rec, "aws:elasticache/userGroup:UserGroup", stack+"-users")
				assert.Equal(t, []any{stack + "-taskmanager-redis-default", stack + "-taskmanager-redis-reader"}, group.Inputs["userIds"])
				def := one(t, rec, "aws:elasticache/user:User", stack+"-default")
				assert.Equal(t, "default", def.Inputs["userName"])
				assert.Equal(t, []any{"mock-password-" + stack + "-auth"}, def.Inputs["authenticationMode"].(map[string]any)["passwords"])
				reader := one(t, rec, "aws:elasticache/user:User", stack+"-reader")
				assert.Equal(t, "queue-depth", reader.Inputs["userName"])
				assert.Equal(t, "on ~* -@all +ping +select +eval +type +llen +lindex", reader.Inputs["accessString"])
				assert.Equal(t, []any{"mock-password-" + stack + "-reader"}, reader.Inputs["authenticationMode"].(map[string]any)["passwords"])
			}
			assert.Equal(t, []any{stack + "-cache-id"}, in["securityGroupIds"])
			assert.Equal(t, stack == "production", rg.Protect)

			params := one(t, rec, "aws:elasticache/parameterGroup:ParameterGroup", stack)
			assert.Equal(t, "redis7", params.Inputs["family"])
			assert.Equal(t, []any{map[string]any{"name": "maxmemory-policy", "value": "noeviction"}}, params.Inputs["parameters"],
				"Celery's queued tasks must never be evicted")

			token := one(t, rec, "random:index/randomPassword:RandomPassword", stack+"-auth")
			assert.Equal(t, "!&#$^<>-", token.Inputs["overrideSpecial"], "ElastiCache accepts only these specials")
		})
	}
	// Production keeps a week of snapshots.
	rg := one(t, runStack(t, "production"), "aws:elasticache/replicationGroup:ReplicationGroup", "production")
	assert.Equal(t, 7.0, rg.Inputs["snapshotRetentionLimit"])
	assert.Equal(t, "production-redis-final-a1b2c3d4", rg.Inputs["finalSnapshotIdentifier"])
}

func keyArn(stack string) string {
	return fmt.Sprintf("arn:aws:kms:us-east-1:%s:%s", mockengine.Account, stack)
}

// secretNames are the secrets of every environment (one set everywhere, for parity).
var secretNames = []string{
	"celery-broker-url", "celery-result-backend", "database-reader-url", "database-url", "datadog-api-key",
	"jwt-secret", "migrations-database-url", "oauth-github", "oauth-google", "redis-url", "sentry-dsn", "smtp",
}

func TestSecretsAreNamedEncryptedAndHoldTheirValues(t *testing.T) {
	for _, stack := range allStacks {
		t.Run(stack, func(t *testing.T) {
			rec := runStack(t, stack)
			var names []string
			for _, s := range rec.All("aws:secretsmanager/secret:Secret") {
				names = append(names, strings.TrimPrefix(s.Inputs["name"].(string), "taskmanager/"+stack+"/"))
				assert.Equal(t, keyArn(stack), s.Inputs["kmsKeyId"], s.Name)
				assert.Equal(t, stack == "production", s.Protect, s.Name)
			}
			sort.Strings(names)
			want := slices.Clone(secretNames)
			if stack == "staging" {
				// The smoke tests' token for the load balancer's sign-in.
				want = append(want, "smoke-test-header")
			}
			if stack != "dev" {
				// RDS Proxy's login secrets, one per alternating user; the queue-depth function's
				// read-only Redis login.
				want = append(want, "database-login-taskmanager_app", "database-login-taskmanager_app_clone", "queue-depth-redis-url")
			}
			sort.Strings(want)
			assert.Equal(t, want, names)

			value := func(name string) string {
				v := one(t, rec, "aws:secretsmanager/secretVersion:SecretVersion", stack+"-"+name)
				assert.True(t, v.SecretInputs["secretString"], "%s is stored as a Pulumi secret", name)
				return v.Inputs["secretString"].(string)
			}
			var db map[string]any
			require.NoError(t, json.Unmarshal([]byte(value("database-url")), &db))
			host := stack + ".abc123.us-east-1.rds.amazonaws.com"
			appHost := host // the app reaches the primary directly in dev...
			if stack != "dev" {
				appHost = stack + "-taskmanager-proxy.proxy-abc123.us-east-1.rds.amazonaws.com" // ...and through RDS Proxy elsewhere
			}
			assert.Equal(t, appHost, db["host"])
			assert.Equal(t, "taskmanager_app", db["username"])
			u, err := url.Parse(db["url"].(string))
			require.NoError(t, err)
			assert.Equal(t, "postgresql", u.Scheme)
			assert.Equal(t, appHost+":5432", u.Host)
			assert.Equal(t, "/taskmanager", u.Path)
			// The app verifies the server: the chain leads to the image's bundle (RDS's CAs and,
			// for RDS Proxy's ACM certificate, Amazon's roots), and the certificate names the host.
			assert.Equal(t, "verify-full", u.Query().Get("sslmode"))
			assert.Equal(t, "/etc/ssl/certs/rds-ca-bundle.pem", u.Query().Get("sslrootcert"))

			var migrations map[string]any
			require.NoError(t, json.Unmarshal([]byte(value("migrations-database-url")), &migrations))
			assert.Equal(t, "taskmanager_migrations", migrations["username"], "the schema owner's login, not the app's")
			assert.Equal(t, host, migrations["host"])
			assert.NotEqual(t, db["password"], migrations["password"])

			var reader map[string]any
			require.NoError(t, json.Unmarshal([]byte(value("database-reader-url")), &reader))
			wantReader := host
			if specOf(t, stack).TFVars.DBCreateReplica {
				wantReader = stack + "-replica.abc123.us-east-1.rds.amazonaws.com"
			}
			assert.Equal(t, wantReader, reader["host"], "DATABASE_READER_URL: the replica, else the primary")

			cacheHost := "master." + stack + ".abc123.use1.cache.amazonaws.com:6379"
			for name, db := range map[string]string{"redis-url": "/0", "celery-broker-url": "/0", "celery-result-backend": "/1"} {
				u, err := url.Parse(value(name))
				require.NoError(t, err, name)
				assert.Equal(t, "rediss", u.Scheme, "%s uses TLS", name)
				assert.Equal(t, cacheHost, u.Host, name)
				assert.Equal(t, db, u.Path, name)
				pw, _ := u.User.Password()
				assert.Equal(t, "mock-password-"+stack+"-auth", pw, "%s carries the AUTH token", name)
				assert.Equal(t, "required", u.Query().Get("ssl_cert_reqs"), "Celery refuses rediss:// without it")
			}
			if stack != "dev" {
				// The queue-depth function's own login: the read-only user, never the app's token.
				u, err := url.Parse(value("queue-depth-redis-url"))
				require.NoError(t, err)
				assert.Equal(t, "rediss", u.Scheme)
				assert.Equal(t, cacheHost, u.Host)
				assert.Equal(t, "queue-depth", u.User.Username())
				pw, _ := u.User.Password()
				assert.Equal(t, "mock-password-"+stack+"-reader", pw)
			}

			var jwt map[string]string
			require.NoError(t, json.Unmarshal([]byte(value("jwt-secret")), &jwt))
			assert.Equal(t, "mock-password-"+stack+"-jwt", jwt["current"])
			assert.Equal(t, jwt["current"], jwt["previous"])
		})
	}
}

func TestKMSKeyRotatesAndOutlivesTheStack(t *testing.T) {
	window := map[string]float64{"dev": 7, "staging": 7, "production": 30}
	for _, stack := range allStacks {
		rec := runStack(t, stack)
		key := one(t, rec, "aws:kms/key:Key", stack)
		assert.Equal(t, true, key.Inputs["enableKeyRotation"], stack)
		assert.Equal(t, window[stack], key.Inputs["deletionWindowInDays"], stack)
		assert.Equal(t, stack == "production", key.Protect, stack)
		// Every stack keeps its key when destroyed: its final snapshots are encrypted with it.
		assert.True(t, key.RetainOnDelete, "%s: destroying the stack leaves the key its snapshots need", stack)
		assert.Contains(t, key.Inputs["policy"], `"Service":"logs.us-east-1.amazonaws.com"`)
		assert.False(t, allowsAnyone(key.Inputs["policy"].(string)), "%s: the key policy allows no wildcard principal", stack)
		for _, g := range rec.All("aws:cloudwatch/logGroup:LogGroup") {
			assert.Equal(t, keyArn(stack), g.Inputs["kmsKeyId"], "%s: log group %s is encrypted with the key", stack, g.Name)
		}
	}
}

func TestNoStackOutputCarriesASecretValue(t *testing.T) {
	for _, stack := range allStacks {
		rec := runStack(t, stack)
		for name, out := range rec.Outputs() {
			text := fmt.Sprint(out.Value)
			assert.NotContains(t, text, "mock-password", "%s: output %s carries a generated secret", stack, name)
			assert.NotContains(t, text, "mock-", "%s: output %s carries a person-supplied secret", stack, name)
		}
		arns := rec.Outputs()["secretArns"].Value.(map[string]string)
		want := len(secretNames)
		if stack == "staging" {
			want++ // the smoke tests' token for the sign-in
		}
		if stack != "dev" {
			want++ // the queue-depth function's read-only Redis login
		}
		assert.Len(t, arns, want, stack)
		for name, arn := range arns {
			assert.True(t, strings.HasPrefix(arn, "arn:aws:secretsmanager:"), "%s: output secretArns.%s is an ARN", stack, name)
		}
	}
}

// RDS Proxy closes a client connection idle for idleClientTimeout; SQLAlchemy recycles a pooled
// connection older than DB_POOL_RECYCLE when it is next checked out. The pool must always recycle
// first, or the first query after a quiet spell fails on a connection the proxy closed: the
// timeout is above every container's DB_POOL_RECYCLE, and within what AWS allows.
func TestProxyOutlastsThePoolsRecycle(t *testing.T) {
	proxies := 0
	for _, stack := range allStacks {
		rec := runStack(t, stack)
		for _, proxy := range rec.All("aws:rds/proxy:Proxy") {
			proxies++
			timeout := int(proxy.Inputs["idleClientTimeout"].(float64))
			assert.LessOrEqual(t, timeout, 28800, "%s: RDS Proxy's idle client timeout is at most 8 hours", stack)
			recycles := 0
			for _, w := range []string{"api", "worker", "migrations"} {
				td, c := containerOf(t, rec, stack, w)
				for _, e := range c.Environment {
					if e.Name == "DB_POOL_RECYCLE" {
						recycles++
						recycle, err := strconv.Atoi(e.Value)
						require.NoError(t, err)
						assert.Greater(t, timeout, recycle, "%s: %s's DB_POOL_RECYCLE must be below the proxy's idle client timeout", stack, td.Name)
					}
				}
			}
			assert.NotZero(t, recycles, "%s: no container sets DB_POOL_RECYCLE", stack)
		}
	}
	assert.Equal(t, 2, proxies, "staging and production reach the database through RDS Proxy")
}

// Production's key separates production: a principal that is not production's is denied every
// use of it, directly or through a service (a service acts with the caller's identity), whatever
// IAM grants; only AWS service principals acting on their own are not. Every role the production
// stack creates stays allowed, and so do the pipeline's roles that need production's data (the
// access program's table: production's deploy and drift roles, staging's data refresh) and the
// root, the way back in; staging's and dev's deploy roles are denied.
func TestProductionKeyDeniesOtherEnvironments(t *testing.T) {
	rec := runStack(t, "production")
	var policy struct {
		Statement []struct {
			Sid, Effect string
			Principal   any
			Action      []string
			Condition   map[string]map[string]any
		}
	}
	require.NoError(t, json.Unmarshal([]byte(one(t, rec, "aws:kms/key:Key", "production").Inputs["policy"].(string)), &policy))
	var deny map[string]map[string]any
	for _, st := range policy.Statement {
		if st.Effect == "Deny" {
			deny = st.Condition
			assert.Equal(t, []string{"kms:*"}, st.Action)
			assert.Equal(t, map[string]any{"AWS": "*"}, st.Principal)
		}
	}
	require.NotNil(t, deny, "production's key policy denies other principals")
	assert.Equal(t, map[string]any{"aws:PrincipalIsAWSService": "false"}, deny["BoolIfExists"], "only service principals acting on their own pass")
	assert.NotContains(t, deny, "Null", "no kms:ViaService exemption: another environment's role would read production's data through a service")
	var allowed []string
	for _, p := range deny["StringNotLike"]["aws:PrincipalArn"].([]any) {
		allowed = append(allowed, p.(string))
	}
	admits := func(arn string) bool {
		return slices.ContainsFunc(allowed, func(p string) bool { return iamMatch(p, arn) })
	}
	for _, role := range rec.All("aws:iam/role:Role") {
		arn := fmt.Sprintf("arn:aws:iam::%s:role/%s-a1b2c3d", mockengine.Account, role.Name) // auto-named
		assert.True(t, admits(arn), "production's own role %s must keep its key", role.Name)
	}
	assert.True(t, admits("arn:aws:iam::"+mockengine.Account+":root"))
	assert.True(t, admits("arn:aws:iam::"+mockengine.Account+":role/aws-service-role/rds.amazonaws.com/AWSServiceRoleForRDS"))
	assert.False(t, admits("arn:aws:iam::"+mockengine.Account+":role/staging-api-task-a1b2c3d"), "staging's roles are denied")
	// The pipeline's roles, with the example account's prefix (access/Pulumi.example.yaml).
	example, err := os.ReadFile("../access/Pulumi.example.yaml")
	require.NoError(t, err)
	prefix := regexp.MustCompile(`(?m)^\s*taskmanager-access:roleNamePrefix:\s*(\S+)`).FindStringSubmatch(string(example))
	require.Len(t, prefix, 2, "access/Pulumi.example.yaml names its roleNamePrefix")
	for _, r := range pipeline.Roles {
		arn := fmt.Sprintf("arn:aws:iam::%s:role/%s", mockengine.Account, r.Name(prefix[1]))
		needs := r.Stack == "production" || r.Purpose == pipeline.DataRefresh
		assert.Equal(t, needs, admits(arn), "%s: production's key admits exactly the pipeline's roles that read or copy production", arn)
	}
	for _, stack := range []string{"dev", "staging"} {
		assert.NotContains(t, one(t, runStack(t, stack), "aws:kms/key:Key", stack).Inputs["policy"], `"Deny"`, stack)
	}
	assert.Contains(t, runInvalid(t, mutate(t, loadStack(t, "dev"), "taskmanager:secrets", func(m map[string]any) {
		m["keyPrincipals"] = []string{"arn:aws:iam::*:role/dev-*", "dev-admin"}
	})), `taskmanager:secrets.keyPrincipals[1]: "dev-admin" is not an IAM principal ARN pattern; want e.g. arn:aws:iam::*:role/production-* or arn:aws:iam::123456789012:root`)
}

// allowsAnyone says whether a policy allows a wildcard principal ("*", or {"AWS": "*"}); a Deny
// to everyone is a restriction, not an opening. A policy that does not parse allows anyone, for
// all a test can tell.
func allowsAnyone(policy string) bool {
	var doc struct {
		Statement []struct {
			Effect    string
			Principal any
		}
	}
	if json.Unmarshal([]byte(policy), &doc) != nil {
		return true
	}
	for _, st := range doc.Statement {
		if st.Effect != "Allow" {
			continue
		}
		switch p := st.Principal.(type) {
		case string:
			if p == "*" {
				return true
			}
		case map[string]any:
			for _, v := range p {
				if v == "*" || slices.Contains(asSlice(v), any("*")) {
					return true
				}
			}
		}
	}
	return false
}
