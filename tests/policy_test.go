package tests

import (
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/taskmanager/taskmanager-infra/internal/mockengine"
)

// A policy rule checks one control over everything a stack registers and returns its
// violations. Each names the control it comes from (Security Hub FSBP, checkov, trivy, the
// Pulumi AWS policy pack); a resource that must break a rule is waived by name below, with the
// reason, never by weakening the rule.
type policy struct {
	name    string
	control string
	check   func(env string, rec *mockengine.Recorder) []string
}

// waivers are the named exceptions: rule → resource name → reason.
var waivers = map[string]map[string]string{
	"http-only-redirects": {"dev-http": "dev's load balancer is internal: no public certificate exists for dev.taskmanager.internal; only the bastion reaches it"},
	"ecs-container-insights": {"dev": "the spec's matrix gives dev Basic monitoring: AWS's free default metrics, which every alarm reads; " +
		"Container Insights' custom metrics would cost $18.85 of dev's $82 budget (taskmanager:monitoring.level basic turns them off)"},
	"buckets-encrypted-with-cmk": {
		"staging-logs":    "ALB access logs refuse a KMS-encrypted bucket: SSE-S3",
		"production-logs": "ALB access logs refuse a KMS-encrypted bucket: SSE-S3",
	},
}

func waived(rule, resource string) bool { _, ok := waivers[rule][resource]; return ok }

func inputs(r *mockengine.Resource, path ...string) any {
	var v any = r.Inputs
	for _, p := range path {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[p]
	}
	return v
}

var policies = []policy{
	// RDS
	{"rds-encrypted-with-cmk", "FSBP RDS.3; CKV_AWS_16; awsguard rds-storage-encrypted", func(env string, rec *mockengine.Recorder) (v []string) {
		for _, db := range rec.All("aws:rds/instance:Instance") {
			if inputs(db, "storageEncrypted") != true || !strings.HasPrefix(fmt.Sprint(inputs(db, "kmsKeyId")), "arn:aws:kms:") {
				v = append(v, db.Name)
			}
		}
		return
	}},
	{"rds-not-public", "FSBP RDS.2; CKV_AWS_17; awsguard rds-instance-public-access", func(env string, rec *mockengine.Recorder) (v []string) {
		for _, db := range rec.All("aws:rds/instance:Instance") {
			if inputs(db, "publiclyAccessible") != false {
				v = append(v, db.Name)
			}
		}
		return
	}},
	{"rds-backups-retained", "FSBP RDS.11 (>= 7 in production); awsguard rds-instance-backup-enabled, set explicitly", func(env string, rec *mockengine.Recorder) (v []string) {
		for _, db := range rec.All("aws:rds/instance:Instance") {
			if inputs(db, "replicateSourceDb") != nil {
				continue // a replica keeps no backups of its own
			}
			days, _ := inputs(db, "backupRetentionPeriod").(float64)
			if days < 1 || (env == "production" && days < 7) {
				v = append(v, fmt.Sprintf("%s: %v days", db.Name, days))
			}
		}
		return
	}},
	{"rds-tls-forced", "CKV2_AWS_69", func(env string, rec *mockengine.Recorder) (v []string) {
		for _, pg := range rec.All("aws:rds/parameterGroup:ParameterGroup") {
			forced := false
			for _, p := range inputs(pg, "parameters").([]any) {
				if p.(map[string]any)["name"] == "rds.force_ssl" && p.(map[string]any)["value"] == "1" {
					forced = true
				}
			}
			if !forced {
				v = append(v, pg.Name)
			}
		}
		for _, db := range rec.All("aws:rds/instance:Instance") {
			if inputs(db, "parameterGroupName") == nil {
				v = append(v, db.Name+": default parameter group")
			}
		}
		return
	}},
	{"rds-logs-exported", "FSBP RDS.9, RDS.36; CKV_AWS_129", func(env string, rec *mockengine.Recorder) (v []string) {
		for _, db := range rec.All("aws:rds/instance:Instance") {
			if !slices.Contains(toStrings(inputs(db, "enabledCloudwatchLogsExports")), "postgresql") {
				v = append(v, db.Name)
			}
		}
		return
	}},
	{"rds-no-plaintext-password", "FSBP RDS.25; pulumi-aws: a password is stored in the state", func(env string, rec *mockengine.Recorder) (v []string) {
		for _, db := range rec.All("aws:rds/instance:Instance") {
			if inputs(db, "password") != nil || (inputs(db, "replicateSourceDb") == nil && inputs(db, "manageMasterUserPassword") != true) {
				v = append(v, db.Name)
			}
		}
		return
	}},
	{"rds-production-resilience", "FSBP RDS.5, RDS.8; reliability (final snapshot)", func(env string, rec *mockengine.Recorder) (v []string) {
		if env != "production" {
			return
		}
		for _, db := range rec.All("aws:rds/instance:Instance") {
			if inputs(db, "replicateSourceDb") != nil {
				continue
			}
			if inputs(db, "multiAz") != true || inputs(db, "deletionProtection") != true ||
				inputs(db, "skipFinalSnapshot") != false || inputs(db, "finalSnapshotIdentifier") == nil {
				v = append(v, db.Name)
			}
		}
		return
	}},
	// ElastiCache
	{"redis-encrypted-and-authenticated", "FSBP ElastiCache.4, .5, .6; CKV_AWS_29, CKV_AWS_30, CKV_AWS_31", func(env string, rec *mockengine.Recorder) (v []string) {
		for _, rg := range rec.All("aws:elasticache/replicationGroup:ReplicationGroup") {
			if inputs(rg, "atRestEncryptionEnabled") != true || inputs(rg, "kmsKeyId") == nil ||
				inputs(rg, "transitEncryptionEnabled") != true || inputs(rg, "transitEncryptionMode") != "required" ||
				!((inputs(rg, "authToken") != nil && rg.SecretInputs["authToken"]) || inputs(rg, "userGroupIds") != nil) {
				v = append(v, rg.Name)
			}
		}
		return
	}},
	{"redis-production-resilience", "FSBP ElastiCache.1, .3; CKV2_AWS_50", func(env string, rec *mockengine.Recorder) (v []string) {
		if env != "production" {
			return
		}
		for _, rg := range rec.All("aws:elasticache/replicationGroup:ReplicationGroup") {
			days, _ := inputs(rg, "snapshotRetentionLimit").(float64)
			if inputs(rg, "automaticFailoverEnabled") != true || inputs(rg, "multiAzEnabled") != true || days < 1 {
				v = append(v, rg.Name)
			}
		}
		return
	}},
	// ALB
	{"http-only-redirects", "FSBP ELB.1; awsguard alb-http-to-https-redirection; CKV_AWS_2", func(env string, rec *mockengine.Recorder) (v []string) {
		for _, l := range rec.All("aws:lb/listener:Listener") {
			if inputs(l, "protocol") != "HTTP" || waived("http-only-redirects", l.Name) {
				continue
			}
			actions := inputs(l, "defaultActions").([]any)
			a := actions[0].(map[string]any)
			if len(actions) != 1 || a["type"] != "redirect" || a["redirect"].(map[string]any)["protocol"] != "HTTPS" {
				v = append(v, l.Name)
			}
		}
		return
	}},
	{"https-tls12-or-better", "FSBP ELB.17; CKV_AWS_103", func(env string, rec *mockengine.Recorder) (v []string) {
		allowed := []string{"ELBSecurityPolicy-TLS13-1-2-2021-06", "ELBSecurityPolicy-TLS13-1-2-Res-2021-06", "ELBSecurityPolicy-TLS13-1-3-2021-06"}
		for _, l := range rec.All("aws:lb/listener:Listener") {
			if inputs(l, "protocol") == "HTTPS" && !slices.Contains(allowed, fmt.Sprint(inputs(l, "sslPolicy"))) {
				v = append(v, l.Name)
			}
		}
		return
	}},
	{"alb-drops-invalid-headers", "FSBP ELB.4; CKV_AWS_131", func(env string, rec *mockengine.Recorder) (v []string) {
		for _, lb := range rec.All("aws:lb/loadBalancer:LoadBalancer") {
			if inputs(lb, "dropInvalidHeaderFields") != true || inputs(lb, "desyncMitigationMode") == "monitor" {
				v = append(v, lb.Name)
			}
		}
		return
	}},
	{"alb-production-logs-protection-waf", "FSBP ELB.5, ELB.6; CKV2_AWS_28; WAF-02 managed rules", func(env string, rec *mockengine.Recorder) (v []string) {
		if env != "production" {
			return
		}
		for _, lb := range rec.All("aws:lb/loadBalancer:LoadBalancer") {
			if inputs(lb, "accessLogs", "enabled") != true || inputs(lb, "enableDeletionProtection") != true {
				v = append(v, lb.Name)
			}
		}
		if len(rec.All("aws:wafv2/webAclAssociation:WebAclAssociation")) == 0 {
			v = append(v, "no WAF association")
		}
		for _, acl := range rec.All("aws:wafv2/webAcl:WebAcl") {
			for _, g := range []string{"AWSManagedRulesCommonRuleSet", "AWSManagedRulesKnownBadInputsRuleSet"} {
				if !strings.Contains(fmt.Sprint(inputs(acl, "ruleJson")), `"Name":"`+g+`"`) {
					v = append(v, acl.Name+": no "+g)
				}
			}
		}
		return
	}},
	// Security groups
	{"only-the-alb-faces-the-internet", "FSBP EC2.18, EC2.19; CKV_AWS_24/25/260", func(env string, rec *mockengine.Recorder) (v []string) {
		for _, r := range rec.All("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule") {
			world := inputs(r, "cidrIpv4") == "0.0.0.0/0" || inputs(r, "cidrIpv6") == "::/0"
			port, _ := inputs(r, "fromPort").(float64)
			if world && (inputs(r, "securityGroupId") != env2stack(env)+"-alb-id" || (port != 80 && port != 443)) {
				v = append(v, r.Name)
			}
		}
		return
	}},
	{"no-all-protocol-rule-to-the-world", "CKV_AWS_277, CKV_AWS_382; AVD-AWS-0104", func(env string, rec *mockengine.Recorder) (v []string) {
		for _, typ := range []string{"aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule", "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule"} {
			for _, r := range rec.All(typ) {
				if inputs(r, "ipProtocol") == "-1" {
					v = append(v, r.Name)
				}
			}
		}
		for _, sg := range rec.All("aws:ec2/securityGroup:SecurityGroup") {
			if inputs(sg, "ingress") != nil || inputs(sg, "egress") != nil {
				v = append(v, sg.Name+": inline rules")
			}
		}
		return
	}},
	{"data-stores-only-from-the-app", "FSBP RDS.2 intent; SG-04", func(env string, rec *mockengine.Recorder) (v []string) {
		stack := env2stack(env)
		allowed := map[string][]string{
			stack + "-database-id": {"api", "worker", "migrations", "rotation", "bastion", "proxy"},
			stack + "-cache-id":    {"api", "worker", "queue-depth"},
		}
		for _, r := range rec.All("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule") {
			peers, isData := allowed[fmt.Sprint(inputs(r, "securityGroupId"))]
			if !isData {
				continue
			}
			peer := strings.TrimSuffix(strings.TrimPrefix(fmt.Sprint(inputs(r, "referencedSecurityGroupId")), stack+"-"), "-id")
			if inputs(r, "cidrIpv4") != nil || inputs(r, "cidrIpv6") != nil || !slices.Contains(peers, peer) {
				v = append(v, r.Name)
			}
		}
		return
	}},
	// ECS
	{"ecs-container-insights", "FSBP ECS.12; CKV_AWS_65; AVD-AWS-0034", func(env string, rec *mockengine.Recorder) (v []string) {
		for _, c := range rec.All("aws:ecs/cluster:Cluster") {
			on := slices.ContainsFunc(asSlice(inputs(c, "settings")), func(s any) bool {
				m, _ := s.(map[string]any)
				return m["name"] == "containerInsights" && (m["value"] == "enabled" || m["value"] == "enhanced")
			})
			if !on && !waived("ecs-container-insights", c.Name) {
				v = append(v, c.Name)
			}
		}
		return
	}},
	{"ecs-no-public-ips", "FSBP ECS.2; CKV_AWS_333", func(env string, rec *mockengine.Recorder) (v []string) {
		for _, s := range rec.All("aws:ecs/service:Service") {
			if inputs(s, "networkConfiguration", "assignPublicIp") != false {
				v = append(v, s.Name)
			}
		}
		return
	}},
	{"ecs-containers-hardened", "FSBP ECS.4, ECS.5, ECS.8, ECS.9; CKV_AWS_249, CKV_AWS_336", func(env string, rec *mockengine.Recorder) (v []string) {
		secretish := regexp.MustCompile(`(PASSWORD|SECRET|SECRET_KEY|_TOKEN|DSN|API_KEY|_URL|_BACKEND|_PREVIOUS)$`)
		for _, td := range rec.All("aws:ecs/taskDefinition:TaskDefinition") {
			if inputs(td, "executionRoleArn") == inputs(td, "taskRoleArn") {
				v = append(v, td.Name+": execution role is the task role")
			}
			var defs []map[string]any
			_ = json.Unmarshal([]byte(inputs(td, "containerDefinitions").(string)), &defs)
			for _, c := range defs {
				if c["privileged"] == true || c["readonlyRootFilesystem"] != true || c["logConfiguration"].(map[string]any)["logDriver"] != "awslogs" {
					v = append(v, td.Name+": container not hardened")
				}
				for _, e := range c["environment"].([]any) {
					if name := e.(map[string]any)["name"].(string); secretish.MatchString(name) {
						v = append(v, td.Name+": "+name+" in the plain environment")
					}
				}
				for _, s := range c["secrets"].([]any) {
					if !strings.HasPrefix(s.(map[string]any)["valueFrom"].(string), "arn:aws:secretsmanager:") {
						v = append(v, td.Name+": secret not from Secrets Manager")
					}
				}
			}
		}
		return
	}},
	{"iam-least-privilege", "FSBP IAM.1, IAM.21; CKV_AWS_62/63/286-290/355; CKV2_AWS_56; AVD-AWS-0342", func(env string, rec *mockengine.Recorder) (v []string) {
		// Actions that take no resource: "*" is the only way to grant them.
		// (The functions' network-interface actions take resources: they are scoped to the VPC.)
		resourceless := []string{"secretsmanager:GetRandomPassword", "ec2:DescribeNetworkInterfaces", "logs:DescribeLogGroups",
			"cloudwatch:PutMetricData"} // scoped by its namespace instead
		check := func(owner, doc string) {
			var d struct {
				Statement []struct {
					Effect   string
					Action   []string
					Resource []string
				}
			}
			if err := json.Unmarshal([]byte(doc), &d); err != nil {
				v = append(v, owner+": unreadable policy")
				return
			}
			for _, s := range d.Statement {
				for _, a := range s.Action {
					if a == "*" || strings.HasSuffix(a, ":*") {
						v = append(v, owner+": action "+a)
					}
					if a == "iam:PassRole" && slices.Contains(s.Resource, "*") {
						v = append(v, owner+": iam:PassRole on *")
					}
					if s.Effect == "Allow" && slices.Contains(s.Resource, "*") && !slices.Contains(resourceless, a) {
						v = append(v, owner+": "+a+" on *")
					}
				}
			}
		}
		for _, p := range rec.All("aws:iam/rolePolicy:RolePolicy") {
			check(p.Name, inputs(p, "policy").(string))
		}
		for _, r := range rec.All("aws:iam/role:Role") {
			if inline, ok := inputs(r, "inlinePolicies").([]any); ok {
				for _, p := range inline {
					check(r.Name, p.(map[string]any)["policy"].(string))
				}
			}
			for _, arn := range toStringsOrNil(inputs(r, "managedPolicyArns")) {
				if strings.HasSuffix(arn, "FullAccess") || strings.HasSuffix(arn, "/AdministratorAccess") {
					v = append(v, r.Name+": "+arn)
				}
			}
		}
		return
	}},
	// Everything else
	{"vpc-flow-logs", "FSBP EC2.6; CKV2_AWS_11", func(env string, rec *mockengine.Recorder) (v []string) {
		if len(rec.All("aws:ec2/flowLog:FlowLog")) != len(rec.All("awsx:ec2:Vpc")) {
			v = append(v, "a VPC without flow logs")
		}
		return
	}},
	{"kms-keys-rotate", "SH KMS.4; CKV_AWS_7; awsguard cmk-backing-key-rotation-enabled", func(env string, rec *mockengine.Recorder) (v []string) {
		for _, k := range rec.All("aws:kms/key:Key") {
			if inputs(k, "enableKeyRotation") != true || allowsAnyone(fmt.Sprint(inputs(k, "policy"))) {
				v = append(v, k.Name)
			}
		}
		return
	}},
	{"secrets-use-the-cmk", "CKV_AWS_149; AVD-AWS-0098", func(env string, rec *mockengine.Recorder) (v []string) {
		for _, s := range rec.All("aws:secretsmanager/secret:Secret") {
			if !strings.HasPrefix(fmt.Sprint(inputs(s, "kmsKeyId")), "arn:aws:kms:") {
				v = append(v, s.Name)
			}
		}
		return
	}},
	{"log-groups-retained-and-encrypted", "CKV_AWS_66, CKV_AWS_158; AVD-AWS-0017", func(env string, rec *mockengine.Recorder) (v []string) {
		for _, g := range rec.All("aws:cloudwatch/logGroup:LogGroup") {
			if inputs(g, "retentionInDays") == nil || inputs(g, "kmsKeyId") == nil {
				v = append(v, g.Name)
			}
		}
		return
	}},
	{"buckets-private-and-tls-only", "FSBP S3.8, S3.5, S3.12; CKV2_AWS_6", func(env string, rec *mockengine.Recorder) (v []string) {
		for _, b := range rec.All("aws:s3/bucketV2:BucketV2") {
			block, ok1 := rec.Find("aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock", b.Name)
			policy, ok2 := rec.Find("aws:s3/bucketPolicy:BucketPolicy", b.Name)
			_, ok3 := rec.Find("aws:s3/bucketOwnershipControls:BucketOwnershipControls", b.Name)
			if !ok1 || !ok2 || !ok3 || inputs(block, "restrictPublicBuckets") != true || inputs(block, "blockPublicPolicy") != true ||
				!strings.Contains(fmt.Sprint(inputs(policy, "policy")), `"aws:SecureTransport":"false"`) {
				v = append(v, b.Name)
			}
		}
		return
	}},
	{"buckets-encrypted-with-cmk", "CKV_AWS_145; AVD-AWS-0132", func(env string, rec *mockengine.Recorder) (v []string) {
		for _, b := range rec.All("aws:s3/bucketV2:BucketV2") {
			sse, ok := rec.Find("aws:s3/bucketServerSideEncryptionConfigurationV2:BucketServerSideEncryptionConfigurationV2", b.Name)
			if !ok {
				v = append(v, b.Name+": not encrypted")
				continue
			}
			algorithm := sse.Inputs["rules"].([]any)[0].(map[string]any)["applyServerSideEncryptionByDefault"].(map[string]any)["sseAlgorithm"]
			if algorithm != "aws:kms" && !waived("buckets-encrypted-with-cmk", b.Name) {
				v = append(v, b.Name)
			}
		}
		return
	}},
	{"production-stateful-resources-protected", "the project's rule: nothing lost on delete in production", func(env string, rec *mockengine.Recorder) (v []string) {
		if env != "production" {
			return
		}
		protected := []string{"aws:rds/instance:Instance", "aws:elasticache/replicationGroup:ReplicationGroup", "aws:kms/key:Key",
			"aws:secretsmanager/secret:Secret", "aws:s3/bucketV2:BucketV2", "aws:ecr/repository:Repository"}
		retained := []string{"aws:kms/key:Key", "aws:s3/bucketV2:BucketV2"}
		for _, typ := range protected {
			for _, r := range rec.All(typ) {
				if !r.Protect || (slices.Contains(retained, typ) && !r.RetainOnDelete) {
					v = append(v, r.Name)
				}
			}
		}
		return
	}},
	{"no-secret-in-stack-outputs", "the project's rule: secrets never in plain text", func(env string, rec *mockengine.Recorder) (v []string) {
		for name, out := range rec.Outputs() {
			if strings.Contains(fmt.Sprint(out.Value), "mock-") && !out.Secret {
				v = append(v, name)
			}
		}
		return
	}},
}

func env2stack(env string) string { return env }

func toStringsOrNil(v any) []string {
	if v == nil {
		return nil
	}
	return toStrings(v)
}

func TestPoliciesHoldOnEveryStack(t *testing.T) {
	for _, stack := range allStacks {
		rec := runStack(t, stack)
		for _, p := range policies {
			t.Run(stack+"/"+p.name, func(t *testing.T) {
				assert.Empty(t, p.check(stack, rec), "%s (%s)", p.name, p.control)
			})
		}
	}
}

// The rules are not vacuous: each resource kind they inspect exists in production.
func TestPoliciesInspectSomething(t *testing.T) {
	rec := runStack(t, "production")
	for _, typ := range []string{"aws:rds/instance:Instance", "aws:elasticache/replicationGroup:ReplicationGroup", "aws:lb/listener:Listener",
		"aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule", "aws:ecs/taskDefinition:TaskDefinition", "aws:iam/role:Role",
		"aws:kms/key:Key", "aws:secretsmanager/secret:Secret", "aws:cloudwatch/logGroup:LogGroup", "aws:s3/bucketV2:BucketV2", "aws:ec2/flowLog:FlowLog"} {
		assert.NotEmpty(t, rec.All(typ), typ)
	}
}

// And they catch what they are meant to: a broken resource fails its rule.
func TestPoliciesCatchViolations(t *testing.T) {
	rec := runFresh(t, "production") // it breaks resources: not the shared run
	find := func(name string) policy {
		for _, p := range policies {
			if p.name == name {
				return p
			}
		}
		t.Fatalf("no policy %s", name)
		return policy{}
	}
	db := one(t, rec, "aws:rds/instance:Instance", "production")
	db.Inputs["publiclyAccessible"] = true
	assert.Equal(t, []string{"production"}, find("rds-not-public").check("production", rec))
	db.Inputs["publiclyAccessible"] = false

	rule := one(t, rec, "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule", "production-database-in-5432-api")
	rule.Inputs["cidrIpv4"] = "0.0.0.0/0"
	assert.Contains(t, find("only-the-alb-faces-the-internet").check("production", rec), "production-database-in-5432-api")
	assert.Contains(t, find("data-stores-only-from-the-app").check("production", rec), "production-database-in-5432-api")
	delete(rule.Inputs, "cidrIpv4")

	key := one(t, rec, "aws:kms/key:Key", "production")
	key.Protect = false
	assert.Equal(t, []string{"production"}, find("production-stateful-resources-protected").check("production", rec))
	key.Protect = true

	cluster := one(t, rec, "aws:ecs/cluster:Cluster", "production")
	settings := cluster.Inputs["settings"]
	cluster.Inputs["settings"] = []any{map[string]any{"name": "containerInsights", "value": "disabled"}}
	assert.Equal(t, []string{"production"}, find("ecs-container-insights").check("production", rec))
	cluster.Inputs["settings"] = settings

	role := one(t, rec, "aws:iam/role:Role", "production-api-task")
	role.Inputs["managedPolicyArns"] = []any{"arn:aws:iam::aws:policy/AmazonS3FullAccess"}
	assert.Equal(t, []string{"production-api-task: arn:aws:iam::aws:policy/AmazonS3FullAccess"}, find("iam-least-privilege").check("production", rec))
	delete(role.Inputs, "managedPolicyArns")
}
