package tests

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/taskmanager/taskmanager-infra/internal/mockengine"
	"github.com/taskmanager/taskmanager-infra/stacks"
)

// mutate returns a copy of src with one structured key changed by edit, as if the stack file had
// been edited.
func mutate(t *testing.T, src stacks.Source, key string, edit func(m map[string]any)) stacks.Source {
	t.Helper()
	out := stacks.Source{Stack: src.Stack, Values: map[string]string{}, SecretKeys: src.SecretKeys}
	for k, v := range src.Values {
		out.Values[k] = v
	}
	var m map[string]any
	require.NoError(t, json.Unmarshal([]byte(out.Values[key]), &m), key)
	edit(m)
	b, err := json.Marshal(m)
	require.NoError(t, err)
	out.Values[key] = string(b)
	return out
}

// set returns a copy of src with one key's raw value replaced (or removed when value is nil).
func set(src stacks.Source, key string, value *string) stacks.Source {
	out := stacks.Source{Stack: src.Stack, Values: map[string]string{}, SecretKeys: src.SecretKeys}
	for k, v := range src.Values {
		out.Values[k] = v
	}
	if value == nil {
		delete(out.Values, key)
	} else {
		out.Values[key] = *value
	}
	return out
}

func str(s string) *string { return &s }

// runInvalid runs the program on a bad config and returns its problems, one a line; it asserts
// that the program failed and registered nothing.
func runInvalid(t *testing.T, src stacks.Source) []string {
	t.Helper()
	var rec *mockengine.Recorder
	var err error
	require.NotPanics(t, func() { rec, err = mockengine.RunSource(src) })
	require.Error(t, err)
	assert.Empty(t, rec.Resources(), "nothing may be registered when the config is invalid")
	assert.Contains(t, err.Error(), `stack "`+src.Stack+`" has invalid configuration (Pulumi.`+src.Stack+`.yaml); nothing was deployed:`)
	var problems []string
	for _, line := range strings.Split(err.Error(), "\n") {
		if p, ok := strings.CutPrefix(line, "  - "); ok {
			problems = append(problems, p)
		}
	}
	return problems
}

func TestEachConfigRuleHasItsMessage(t *testing.T) {
	dev := loadStack(t, "dev")
	staging := loadStack(t, "staging")
	cases := []struct {
		name string
		src  stacks.Source
		want string
	}{
		{"misspelt nested key", mutate(t, dev, "taskmanager:database", func(m map[string]any) {
			m["instanceClas"] = m["instanceClass"]
			delete(m, "instanceClass")
		}), `taskmanager:database.instanceClas: unknown key; did you mean "instanceClass"?`},
		{"misspelt key reports the missing one too", mutate(t, dev, "taskmanager:database", func(m map[string]any) {
			m["instanceClas"] = m["instanceClass"]
			delete(m, "instanceClass")
		}), `taskmanager:database.instanceClass: missing; this key is required`},
		{"misspelt top-level key", set(dev, "taskmanager:databse", str(`{}`)),
			`taskmanager:databse: unknown key; did you mean "taskmanager:database"?`},
		{"unknown key with nothing close", mutate(t, dev, "taskmanager:cache", func(m map[string]any) { m["colour"] = "blue" }),
			`taskmanager:cache.colour: unknown key; allowed keys: automaticFailover, engineVersion, multiAz, nodeType, numNodes, snapshotRetentionDays`},
		{"wrong type", mutate(t, dev, "taskmanager:api", func(m map[string]any) { m["cpu"] = "a quarter" }),
			`taskmanager:api.cpu: "a quarter" is not a whole number`},
		{"wrong type of boolean", mutate(t, dev, "taskmanager:database", func(m map[string]any) { m["multiAz"] = "yes" }),
			`taskmanager:database.multiAz: "yes" is not a boolean; want true or false`},
		{"missing required key", mutate(t, dev, "taskmanager:cache", func(m map[string]any) { delete(m, "nodeType") }),
			`taskmanager:cache.nodeType: missing; this key is required`},
		{"missing group", set(dev, "taskmanager:worker", nil), `taskmanager:worker: missing; this key is required`},
		{"object where a list belongs", mutate(t, dev, "taskmanager:network", func(m map[string]any) { m["availabilityZones"] = map[string]any{"a": 1} }),
			`taskmanager:network.availabilityZones: an object is not a list`},
		{"invalid Fargate cpu", mutate(t, dev, "taskmanager:api", func(m map[string]any) { m["cpu"] = 300 }),
			`taskmanager:api.cpu: 300 is not a Fargate CPU size; want one of 256, 512, 1024, 2048, 4096, 8192, 16384`},
		{"invalid Fargate pair", mutate(t, dev, "taskmanager:worker", func(m map[string]any) { m["memory"] = 4096 }),
			`taskmanager:worker.memory: 4096 MiB is not a Fargate memory size for cpu 256; want [512 1024 2048] MiB`},
		{"invalid Fargate pair in GiB steps", mutate(t, dev, "taskmanager:api", func(m map[string]any) { m["cpu"], m["memory"] = 1024, 1536 }),
			`taskmanager:api.memory: 1536 MiB is not a Fargate memory size for cpu 1024; want 2048 to 8192 in steps of 1024 MiB`},
		{"min above max", mutate(t, dev, "taskmanager:worker", func(m map[string]any) { m["minCapacity"] = 11 }),
			`taskmanager:worker.minCapacity: 11 is above maxCapacity (10); want minCapacity <= desiredCount <= maxCapacity`},
		{"desired above max", mutate(t, dev, "taskmanager:api", func(m map[string]any) { m["desiredCount"] = 6 }),
			`taskmanager:api.desiredCount: 6 is outside minCapacity..maxCapacity (2..5); want minCapacity <= desiredCount <= maxCapacity`},
		{"desired below min", mutate(t, staging, "taskmanager:worker", func(m map[string]any) { m["desiredCount"] = 2 }),
			`taskmanager:worker.desiredCount: 2 is outside minCapacity..maxCapacity (3..20); want minCapacity <= desiredCount <= maxCapacity`},
		{"negative count", mutate(t, dev, "taskmanager:worker", func(m map[string]any) { m["minCapacity"] = -1 }),
			`taskmanager:worker.minCapacity: -1 is negative; want 0 or more tasks`},
		{"malformed CIDR", mutate(t, dev, "taskmanager:network", func(m map[string]any) { m["vpcCidr"] = "10.1.0.0/33" }),
			`taskmanager:network.vpcCidr: "10.1.0.0/33" is not an IPv4 CIDR block; want e.g. 10.1.0.0/16`},
		{"CIDR with host bits", mutate(t, dev, "taskmanager:network", func(m map[string]any) { m["vpcCidr"] = "10.1.2.0/16" }),
			`taskmanager:network.vpcCidr: "10.1.2.0/16" has host bits set; the block starts at 10.1.0.0/16`},
		{"CIDR prefix AWS refuses", mutate(t, dev, "taskmanager:network", func(m map[string]any) { m["vpcCidr"] = "10.0.0.0/12" }),
			`taskmanager:network.vpcCidr: "10.0.0.0/12" has prefix /12; AWS allows a VPC prefix from /16 to /28`},
		{"CIDR too small for the subnets", mutate(t, dev, "taskmanager:network", func(m map[string]any) { m["vpcCidr"] = "10.1.0.0/26" }),
			`taskmanager:network.vpcCidr: "10.1.0.0/26" is too small for three subnet tiers over 2 availability zones (AWS's smallest subnet is /28); use a prefix from /16 to /24`},
		{"AZ outside the region", mutate(t, dev, "taskmanager:network", func(m map[string]any) { m["availabilityZones"] = []string{"us-east-1a", "us-west-2b"} }),
			`taskmanager:network.availabilityZones[1]: "us-west-2b" is not an availability zone of aws:region us-east-1; want us-east-1a, us-east-1b, ...`},
		{"one AZ", mutate(t, dev, "taskmanager:network", func(m map[string]any) { m["availabilityZones"] = []string{"us-east-1a"} }),
			`taskmanager:network.availabilityZones: 1 given; at least two availability zones are required (an ALB and Multi-AZ databases need two)`},
		{"unknown NAT strategy", mutate(t, dev, "taskmanager:network", func(m map[string]any) { m["natGateways"] = "Two" }),
			`taskmanager:network.natGateways: "Two" is not a NAT strategy; want one of Single, OnePerAz, Instance`},
		{"disallowed log retention", mutate(t, dev, "taskmanager:logging", func(m map[string]any) { m["retentionDays"] = 10 }),
			`taskmanager:logging.retentionDays: 10 is not a retention CloudWatch Logs allows; want one of 1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653`},
		{"archive shorter than retention", mutate(t, dev, "taskmanager:logging", func(m map[string]any) { m["archiveDays"] = 7 }),
			`taskmanager:logging.archiveDays: 7 must be above retentionDays (7): the archive keeps logs after CloudWatch drops them`},
		{"unknown log level", mutate(t, dev, "taskmanager:logging", func(m map[string]any) { m["level"] = "VERBOSE" }),
			`taskmanager:logging.level: "VERBOSE" is not a log level; want one of DEBUG, INFO, WARNING, ERROR, CRITICAL`},
		{"unknown environment", set(dev, "taskmanager:environment", str("qa")),
			`taskmanager:environment: "qa" is not an environment; want one of development, staging, production`},
		{"tag differs from environment", set(dev, "taskmanager:environment", str("staging")),
			`aws:defaultTags.tags.Environment: "development" differs from taskmanager:environment "staging"; want the same value`},
		{"bad region", set(dev, "aws:region", str("us-middle")), `aws:region: "us-middle" is not an AWS region; want e.g. us-east-1`},
		{"missing tag", set(dev, "aws:defaultTags", str(`{"tags":{"Environment":"development","Project":"taskmanager"}}`)),
			`aws:defaultTags.tags.ManagedBy: missing; every resource must carry the tags Environment, Project, ManagedBy`},
		{"empty domain", mutate(t, dev, "taskmanager:edge", func(m map[string]any) { m["domainName"] = "" }),
			`taskmanager:edge.domainName: "" is not a DNS name; want lower-case labels separated by dots, e.g. staging.taskmanager.com`},
		{"bad JWT algorithm", mutate(t, dev, "taskmanager:app", func(m map[string]any) { m["jwt"].(map[string]any)["algorithm"] = "none" }),
			`taskmanager:app.jwt.algorithm: "none" is not a shared-secret JWT algorithm; want one of HS256, HS384, HS512`},
		{"bad CORS origin", mutate(t, dev, "taskmanager:app", func(m map[string]any) { m["corsOrigins"] = []string{"taskmanager.com"} }),
			`taskmanager:app.corsOrigins[0]: "taskmanager.com" is not an origin; want scheme and host, e.g. https://taskmanager.com`},

		{"stack name too long for AWS names", stacks.Source{Stack: "feature-branch-preview-42", Values: dev.Values},
			`stack name: "feature-branch-preview-42" cannot name this environment's resources; want lower-case letters, digits and single hyphens, starting with a letter, at most 18 characters (AWS's name limits after Pulumi's 8-character suffix)`},
		{"stack name with a double hyphen", stacks.Source{Stack: "dev--x", Values: dev.Values},
			`stack name: "dev--x" cannot name this environment's resources; want lower-case letters, digits and single hyphens, starting with a letter, at most 18 characters (AWS's name limits after Pulumi's 8-character suffix)`},

		// The data tier's rules.
		{"replica without backups", mutate(t, staging, "taskmanager:database", func(m map[string]any) { m["backupRetentionDays"] = 0 }),
			`taskmanager:database.backupRetentionDays: 0 turns backups off, and a read replica needs them; want 1 to 35 days, or remove replica`},
		{"storage ceiling below 1.1x", mutate(t, dev, "taskmanager:database", func(m map[string]any) { m["maxAllocatedStorage"] = 21 }),
			`taskmanager:database.maxAllocatedStorage: 21 GiB must be 0 (autoscaling off) or at least 22 (1.1 × allocatedStorage 20)`},
		{"backup retention above 35", mutate(t, dev, "taskmanager:database", func(m map[string]any) { m["backupRetentionDays"] = 36 }),
			`taskmanager:database.backupRetentionDays: 36 is outside what RDS allows; want 0 to 35 days`},
		{"malformed instance class", mutate(t, dev, "taskmanager:database", func(m map[string]any) { m["instanceClass"] = "t3.micro" }),
			`taskmanager:database.instanceClass: "t3.micro" is not an RDS instance class; want db.<family>.<size>, e.g. db.t3.micro`},
		{"malformed replica class", mutate(t, staging, "taskmanager:database", func(m map[string]any) {
			m["replica"] = map[string]any{"instanceClass": "cache.t3.medium"}
		}), `taskmanager:database.replica.instanceClass: "cache.t3.medium" is not an RDS instance class; want db.<family>.<size>, e.g. db.r6g.large`},
		{"failover with one node", mutate(t, dev, "taskmanager:cache", func(m map[string]any) { m["automaticFailover"] = true }),
			`taskmanager:cache.automaticFailover: true needs a replica to fail over to, and numNodes is 1; want numNodes 2 or more, or automaticFailover false`},
		{"Multi-AZ without failover", mutate(t, staging, "taskmanager:cache", func(m map[string]any) { m["automaticFailover"] = false }),
			`taskmanager:cache.multiAz: true needs automaticFailover true (ElastiCache rule)`},
		{"Enhanced Monitoring interval", mutate(t, dev, "taskmanager:database", func(m map[string]any) { m["monitoringIntervalSeconds"] = 45 }),
			`taskmanager:database.monitoringIntervalSeconds: 45 is not an Enhanced Monitoring interval; want one of 0, 1, 5, 10, 15, 30, 60`},
		{"engine version not a major", mutate(t, dev, "taskmanager:database", func(m map[string]any) { m["engineVersion"] = "16.4" }),
			`taskmanager:database.engineVersion: "16.4" is not a PostgreSQL major version; want e.g. "16"`},
		{"Redis 6", mutate(t, dev, "taskmanager:cache", func(m map[string]any) { m["engineVersion"] = "6.x" }),
			`taskmanager:cache.engineVersion: "6.x" is not a Redis version ElastiCache takes for a new group; want major.minor from 7.0, e.g. "7.1"`},
		{"too many cache nodes", mutate(t, staging, "taskmanager:cache", func(m map[string]any) { m["numNodes"] = 7 }),
			`taskmanager:cache.numNodes: 7 is outside what a replication group allows; want 1 to 6 (a primary and up to 5 replicas)`},
		{"KMS deletion window", mutate(t, dev, "taskmanager:secrets", func(m map[string]any) { m["keyDeletionWindowDays"] = 3 }),
			`taskmanager:secrets.keyDeletionWindowDays: 3 is outside what KMS allows; want 7 to 30 days`},
		{"secret recovery window", mutate(t, dev, "taskmanager:secrets", func(m map[string]any) { m["recoveryWindowDays"] = 5 }),
			`taskmanager:secrets.recoveryWindowDays: 5 is outside what Secrets Manager allows; want 0 (delete at once) or 7 to 30 days`},
		{"database rotation off", mutate(t, dev, "taskmanager:secrets", func(m map[string]any) { m["databaseRotationDays"] = 0 }),
			`taskmanager:secrets.databaseRotationDays: 0 is not allowed; want 1 to 90 days (the rotation creates the app's database user, so it is always on)`},
		{"JWT rotation too rare", mutate(t, dev, "taskmanager:secrets", func(m map[string]any) { m["jwtRotationDays"] = 365 }),
			`taskmanager:secrets.jwtRotationDays: 365 is not allowed; want 0 (manual) or 1 to 90 days`},
		{"pool recycles after the proxy's ceiling", mutate(t, staging, "taskmanager:app", func(m map[string]any) { m["dbPoolRecycleSeconds"] = 28600 }),
			"taskmanager:app.dbPoolRecycleSeconds: 28600 is too long with RDS Proxy (taskmanager:database.proxy), whose idle client timeout must stay above it by 300 s and cannot exceed 28800 s; want at most 28500"},
		{"data refresh group without the bastion", mutate(t, staging, "taskmanager:bastion", func(m map[string]any) { m["enabled"] = false }),
			"taskmanager:network.dataRefreshGroup: true needs taskmanager:bastion.enabled, the data refresh's only way to its temporary copy; want the bastion enabled, or false"},
		{"malformed node type", mutate(t, dev, "taskmanager:cache", func(m map[string]any) { m["nodeType"] = "db.t3.micro" }),
			`taskmanager:cache.nodeType: "db.t3.micro" is not an ElastiCache node type; want cache.<family>.<size>, e.g. cache.t3.micro`},

		// The cost budget (read by cmd/plan only): missing, negative, zero or not a number.
		{"missing budget", set(dev, "taskmanager:budget", nil), `taskmanager:budget: missing; this key is required`},
		{"budget without its amount", set(dev, "taskmanager:budget", str(`{}`)), `taskmanager:budget.monthlyUSD: missing; this key is required`},
		{"negative budget", mutate(t, dev, "taskmanager:budget", func(m map[string]any) { m["monthlyUSD"] = -5 }),
			`taskmanager:budget.monthlyUSD: -5 is negative; want the most this stack may cost a month in US dollars, a number above 0 (e.g. 82)`},
		{"zero budget", mutate(t, dev, "taskmanager:budget", func(m map[string]any) { m["monthlyUSD"] = 0 }),
			`taskmanager:budget.monthlyUSD: 0 is zero; want the most this stack may cost a month in US dollars, a number above 0 (e.g. 82)`},
		{"budget not a number", mutate(t, dev, "taskmanager:budget", func(m map[string]any) { m["monthlyUSD"] = "$82" }),
			`taskmanager:budget.monthlyUSD: "$82" is not a number`},
		{"budget misspelt", mutate(t, dev, "taskmanager:budget", func(m map[string]any) { m["monthlyUsd"] = 82; delete(m, "monthlyUSD") }),
			`taskmanager:budget.monthlyUsd: unknown key; did you mean "monthlyUSD"?`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			assert.Contains(t, runInvalid(t, c.src), c.want, "the error names the key, the bad value and what is allowed")
		})
	}
}

func TestEveryProblemIsReportedAtOnce(t *testing.T) {
	src := mockengine.WithExternalSecrets(loadStack(t, "production"))
	src = mutate(t, src, "taskmanager:api", func(m map[string]any) { m["cpu"] = 100 })
	src = mutate(t, src, "taskmanager:cache", func(m map[string]any) { m["numNodes"] = 1 })
	src = mutate(t, src, "taskmanager:logging", func(m map[string]any) { m["retentionDays"] = 31 })
	src = set(src, "taskmanager:typo", str("1"))
	assert.Equal(t, []string{
		`taskmanager:typo: unknown key; the project's keys are taskmanager:environment, taskmanager:network, taskmanager:database, taskmanager:cache, taskmanager:api, taskmanager:worker, taskmanager:app, taskmanager:logging, taskmanager:edge, taskmanager:secrets, taskmanager:compute, taskmanager:storage, taskmanager:monitoring, taskmanager:bastion, taskmanager:budget, taskmanager:externalSecrets`,
		`taskmanager:cache.automaticFailover: true needs a replica to fail over to, and numNodes is 1; want numNodes 2 or more, or automaticFailover false`,
		`taskmanager:api.cpu: 100 is not a Fargate CPU size; want one of 256, 512, 1024, 2048, 4096, 8192, 16384`,
		`taskmanager:logging.retentionDays: 31 is not a retention CloudWatch Logs allows; want one of 1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653`,
	}, runInvalid(t, src))
}

func TestNonsenseNeverPanics(t *testing.T) {
	dev := loadStack(t, "dev")
	for _, raw := range []string{`null`, `[]`, `"text"`, `42`, `{"cpu": null}`, `{"cpu": 1e99}`, `{"cpu": 1.5}`, `{`} {
		t.Run(raw, func(t *testing.T) {
			problems := runInvalid(t, set(dev, "taskmanager:api", str(raw)))
			require.NotEmpty(t, problems)
			assert.True(t, strings.HasPrefix(problems[0], "taskmanager:api"), problems[0])
		})
	}
}

func TestTheStackFilesAreValid(t *testing.T) {
	for _, stack := range allStacks {
		_, err := stacks.Load(mockengine.WithExternalSecrets(loadStack(t, stack)))
		assert.NoError(t, err, stack)
	}
}

func TestProductionRequiresThePersonSuppliedSecrets(t *testing.T) {
	problems := runInvalid(t, loadStack(t, "production"))
	var keys []string
	for _, p := range problems {
		key, msg, _ := strings.Cut(p, ": ")
		assert.Equal(t, "missing; taskmanager:secrets.requireExternal is true, so set it with `pulumi config set --secret --path "+key+" <value>`", msg)
		keys = append(keys, key)
	}
	assert.Equal(t, []string{
		"taskmanager:externalSecrets.smtpUsername", "taskmanager:externalSecrets.smtpPassword",
		"taskmanager:externalSecrets.googleClientId", "taskmanager:externalSecrets.googleClientSecret",
		"taskmanager:externalSecrets.githubClientId", "taskmanager:externalSecrets.githubClientSecret",
		"taskmanager:externalSecrets.sentryDsn", "taskmanager:externalSecrets.datadogApiKey",
	}, keys)
	// dev runs without them: its secrets hold empty values and the integrations are off.
	_, err := mockengine.Run(projectDir, "dev")
	assert.NoError(t, err)
	// staging needs none either: its sign-in is the load balancer's, with invited users.
	_, err = mockengine.Run(projectDir, "staging")
	assert.NoError(t, err)
}

func TestPersonSuppliedSecretsMustBePulumiSecrets(t *testing.T) {
	src := set(loadStack(t, "dev"), "taskmanager:externalSecrets", str(`{"smtpPassword":"hunter2"}`))
	problems := runInvalid(t, src)
	assert.Equal(t, []string{"taskmanager:externalSecrets: holds plain text; set each value with `pulumi config set --secret --path taskmanager:externalSecrets.<key> <value>`"}, problems)
	for _, p := range problems {
		assert.NotContains(t, p, "hunter2", "an error never repeats a secret")
	}
}

func TestUnknownStackNamesTheStacks(t *testing.T) {
	_, err := mockengine.Run(projectDir, "prod")
	require.Error(t, err)
	assert.Contains(t, err.Error(), `no stack "prod"`)
	assert.Contains(t, err.Error(), "the stacks are dev, production, staging")
}
