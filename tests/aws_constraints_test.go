package tests

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"
)

// constraint is one entry of testdata/aws-constraints.yaml: what an AWS API accepts in one input.
type constraint struct {
	Resource   string   `yaml:"resource"`
	Property   string   `yaml:"property"`
	API        string   `yaml:"api"`    // "<service> <Operation>"
	Member     string   `yaml:"member"` // the request member, dotted through nested shapes
	Shape      string   `yaml:"shape"`
	Min        *int     `yaml:"min"`
	Max        *int     `yaml:"max"`
	Pattern    string   `yaml:"pattern"`
	Enum       []string `yaml:"enum"`
	Documented string   `yaml:"documented"`
	Source     string   `yaml:"source"`
	Autoname   bool     `yaml:"autoname"`
}

func loadConstraints(t *testing.T) []constraint {
	t.Helper()
	b, err := os.ReadFile("testdata/aws-constraints.yaml")
	require.NoError(t, err)
	var cs []constraint
	require.NoError(t, yaml.Unmarshal(b, &cs))
	require.NotEmpty(t, cs)
	return cs
}

// check reports what is wrong with value under c, "" when AWS accepts it.
func (c constraint) check(value string) string {
	n := utf8.RuneCountInString(value)
	var problems []string
	if c.Min != nil && n < *c.Min {
		problems = append(problems, fmt.Sprintf("shorter than %d characters", *c.Min))
	}
	if c.Max != nil && n > *c.Max {
		problems = append(problems, fmt.Sprintf("%d characters, over %d", n, *c.Max))
	}
	if c.Pattern != "" && !regexp.MustCompile(`^(?:`+goPattern(c.Pattern)+`)$`).MatchString(value) {
		problems = append(problems, fmt.Sprintf("does not match %s", c.Pattern))
	}
	if c.Enum != nil && !slices.Contains(c.Enum, value) {
		problems = append(problems, fmt.Sprintf("not one of %v", c.Enum))
	}
	return strings.Join(problems, "; ")
}

// goPattern translates the Java regular expressions of AWS's models into Go's: they agree but for
// Java's POSIX classes.
func goPattern(java string) string {
	return strings.NewReplacer(`\p{Print}`, `[[:print:]]`, `\p{Alnum}`, `[[:alnum:]]`).Replace(java)
}

// valuesAt are the string values at a property path of inputs (see the YAML file's header).
func valuesAt(v any, path string) []string {
	if path == "" {
		if s, ok := v.(string); ok {
			return []string{s}
		}
		return nil
	}
	var seg, rest string
	if i := strings.IndexAny(path, ".[("); i == 0 {
		switch {
		case strings.HasPrefix(path, "[]"):
			list, _ := v.([]any)
			var out []string
			for _, e := range list {
				out = append(out, valuesAt(e, strings.TrimPrefix(path[2:], "."))...)
			}
			return out
		case strings.HasPrefix(path, "(json)"):
			s, _ := v.(string)
			var decoded any
			if json.Unmarshal([]byte(s), &decoded) != nil {
				return nil
			}
			return valuesAt(decoded, strings.TrimPrefix(path[len("(json)"):], "."))
		}
		return nil
	} else if i > 0 {
		seg, rest = path[:i], strings.TrimPrefix(path[i:], ".")
	} else {
		seg = path
	}
	m, _ := v.(map[string]any)
	if m == nil {
		return nil
	}
	next, ok := m[seg]
	if !ok {
		return nil
	}
	return valuesAt(next, rest)
}

// autonameSuffix stands for the 7 random characters Pulumi appends to an auto-name.
const autonameSuffix = "-a1b2c3d"

// Every name and free-text input the program sends is one AWS accepts: a value AWS refuses
// (an apostrophe in a security group's description, a 33-character target group name) passes
// the mocks and fails the real `pulumi up`.
func TestAWSAcceptsEveryNameAndDescription(t *testing.T) {
	cs := loadConstraints(t)
	for _, stack := range allStacks {
		t.Run(stack, func(t *testing.T) {
			rec := runStack(t, stack)
			checked := 0
			for _, c := range cs {
				for _, r := range rec.All(c.Resource) {
					values := valuesAt(r.Inputs, c.Property)
					if len(values) == 0 && c.Autoname && !strings.Contains(c.Property, ".") && !strings.Contains(c.Property, "[") {
						values = []string{r.Name + autonameSuffix}
					}
					for _, v := range values {
						checked++
						if problem := c.check(v); problem != "" {
							t.Errorf("%s %s.%s = %q: %s refuses it (%s, shape %s): %s", stack, r.Name, c.Property, v, c.API, c.Member, c.Shape, problem)
						}
					}
				}
			}
			assert.Greater(t, checked, 100, "the table's entries found their inputs")
		})
	}
}

// notConstrained are the name-like inputs the table leaves out, and why.
var notConstrained = map[string]string{
	// Names that refer to another resource, checked at that resource's own entry.
	"aws:ecs/clusterCapacityProviders:ClusterCapacityProviders clusterName":       "the cluster's name",
	"aws:lambda/invocation:Invocation functionName":                               "the function's name",
	"aws:lambda/functionEventInvokeConfig:FunctionEventInvokeConfig functionName": "the function's name",
	"aws:rds/instance:Instance dbSubnetGroupName":                                 "the subnet group's name",
	"aws:rds/instance:Instance parameterGroupName":                                "the parameter group's name",
	"aws:rds/instance:Instance replicateSourceDb":                                 "the primary's identifier",
	"aws:rds/proxyDefaultTargetGroup:ProxyDefaultTargetGroup dbProxyName":         "the proxy's name",
	"aws:rds/proxyTarget:ProxyTarget dbProxyName":                                 "the proxy's name",
	"aws:rds/proxyTarget:ProxyTarget targetGroupName":                             "the proxy's target group, named by RDS",
	"aws:rds/proxyTarget:ProxyTarget dbInstanceIdentifier":                        "the primary's identifier",
	"aws:elasticache/replicationGroup:ReplicationGroup parameterGroupName":        "the parameter group's name",
	"aws:elasticache/replicationGroup:ReplicationGroup subnetGroupName":           "the subnet group's name",
	"aws:codedeploy/deploymentGroup:DeploymentGroup appName":                      "the application's name",
	"aws:codedeploy/deploymentGroup:DeploymentGroup deploymentConfigName":         "one of CodeDeploy's predefined configurations",
	"aws:acm/certificate:Certificate domainName":                                  "the stack file's domain, validated as a DNS name (taskmanager:edge.domainName)",
	"aws:route53/zone:Zone name":                                                  "the stack file's domain, validated as a DNS name",
	"aws:route53/record:Record name":                                              "DNS names from the certificate's validation and the stack file's domain",
	"aws:cloudwatch/logResourcePolicy:LogResourcePolicy policyName":               "free-form String in the model, with no documented constraint",
	"aws:sns/topic:Topic displayName":                                             "SNS accepts up to 100 printable characters; checked by TestAlarmTopic",
	// Free text the model leaves a bare String with no documented constraint.
	"aws:rds/parameterGroup:ParameterGroup description":             "bare String, no documented constraint",
	"aws:rds/subnetGroup:SubnetGroup description":                   "bare String, no documented constraint",
	"aws:elasticache/parameterGroup:ParameterGroup name":            "bare String, no documented constraint",
	"aws:elasticache/parameterGroup:ParameterGroup description":     "bare String, no documented constraint",
	"aws:elasticache/subnetGroup:SubnetGroup description":           "bare String, no documented constraint",
	"aws:elasticache/replicationGroup:ReplicationGroup description": "bare String, no documented constraint",
	// Values fixed in code, from the lists AWS publishes.
	"aws:rds/parameterGroup:ParameterGroup family":         "the engine's parameter family (postgres16), fixed in code",
	"aws:elasticache/parameterGroup:ParameterGroup family": "the engine's parameter family (redis7), fixed in code",
	"aws:rds/instance:Instance caCertIdentifier":           "one of RDS's certificate authorities, fixed in code",
}

func init() {
	// A bucket's settings are resources of their own that name the bucket.
	for _, typ := range []string{"bucketPublicAccessBlock:BucketPublicAccessBlock", "bucketOwnershipControls:BucketOwnershipControls",
		"bucketServerSideEncryptionConfigurationV2:BucketServerSideEncryptionConfigurationV2", "bucketLifecycleConfigurationV2:BucketLifecycleConfigurationV2",
		"bucketPolicy:BucketPolicy", "bucketVersioningV2:BucketVersioningV2", "bucketObjectLockConfigurationV2:BucketObjectLockConfigurationV2",
		"bucketNotification:BucketNotification"} {
		notConstrained["aws:s3/"+typ+" bucket"] = "the bucket's name"
	}
}

// isNameLike says whether an input is a name, identifier or free text that AWS validates.
func isNameLike(key string) bool {
	switch key {
	case "name", "namePrefix", "description", "identifier", "family", "bucket", "domain", "comment",
		"statementId", "replicationGroupId", "finalSnapshotIdentifier", "dbName", "handler", "replicateSourceDb":
		return true
	}
	return strings.HasSuffix(key, "Name") || strings.HasSuffix(key, "Description") || strings.HasSuffix(key, "Identifier")
}

// The table covers the class: every name-like input of every AWS resource the three stacks
// register has an entry, or is listed in notConstrained with its reason. A new resource type or
// input is decided before it reaches AWS.
func TestEveryNameLikeInputHasItsConstraint(t *testing.T) {
	covered := map[string]bool{}
	for _, c := range loadConstraints(t) {
		top := strings.FieldsFunc(c.Property, func(r rune) bool { return r == '.' || r == '[' || r == '(' })[0]
		covered[c.Resource+" "+top] = true
	}
	for _, stack := range allStacks {
		for _, r := range runStack(t, stack).Resources() {
			if !r.Custom || !strings.HasPrefix(r.Type, "aws:") {
				continue
			}
			for key, v := range r.Inputs {
				if _, isString := v.(string); !isString || !isNameLike(key) {
					continue
				}
				k := r.Type + " " + key
				if !covered[k] && notConstrained[k] == "" {
					t.Errorf("%s %s: %s has no entry in testdata/aws-constraints.yaml (or in notConstrained, with the reason)", stack, r.Name, k)
					covered[k] = true // once
				}
			}
		}
	}
}

// botocoreData is where Debian's python3-botocore keeps AWS's API models.
const botocoreData = "/usr/lib/python3/dist-packages/botocore/data"

// The table restates AWS's API models faithfully: each entry's min, max, pattern and enum are
// the model's for that shape, and a `documented` quote is in the member's documentation. CI
// installs the models (.ci/run); elsewhere the test says how.
func TestConstraintsTableMatchesAWSModels(t *testing.T) {
	if _, err := os.Stat(botocoreData); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("AWS's API models are missing (%s): .ci/run installs python3-botocore", botocoreData)
		}
		t.Skip("AWS's API models are not installed: apt-get install python3-botocore")
	}
	models := map[string]map[string]any{}
	model := func(service string) map[string]any {
		if m, ok := models[service]; ok {
			return m
		}
		versions, _ := filepath.Glob(filepath.Join(botocoreData, service, "*", "service-2.json"))
		require.NotEmpty(t, versions, "no model for %s", service)
		slices.Sort(versions)
		b, err := os.ReadFile(versions[len(versions)-1])
		require.NoError(t, err)
		var m map[string]any
		require.NoError(t, json.Unmarshal(b, &m))
		models[service] = m
		return m
	}
	for _, c := range loadConstraints(t) {
		service, operation, ok := strings.Cut(c.API, " ")
		require.True(t, ok, "%s %s: api %q is not '<service> <Operation>'", c.Resource, c.Property, c.API)
		m := model(service)
		shapes := m["shapes"].(map[string]any)
		op, ok := m["operations"].(map[string]any)[operation].(map[string]any)
		if !assert.True(t, ok, "%s: no operation %s", service, operation) {
			continue
		}
		shapeName := op["input"].(map[string]any)["shape"].(string)
		var doc string
		for _, member := range strings.Split(c.Member, ".") {
			shape := shapes[shapeName].(map[string]any)
			mem, ok := shape["members"].(map[string]any)[member].(map[string]any)
			if !assert.True(t, ok, "%s %s: %s has no member %s", service, operation, shapeName, member) {
				shapeName = ""
				break
			}
			doc, _ = mem["documentation"].(string)
			shapeName = mem["shape"].(string)
			for shapes[shapeName].(map[string]any)["type"] == "list" {
				shapeName = shapes[shapeName].(map[string]any)["member"].(map[string]any)["shape"].(string)
			}
		}
		if shapeName == "" {
			continue
		}
		where := fmt.Sprintf("%s %s (%s %s.%s)", c.Resource, c.Property, service, operation, c.Member)
		assert.Equal(t, c.Shape, shapeName, "%s: shape", where)
		shape := shapes[shapeName].(map[string]any)
		asInt := func(v any) *int {
			if f, ok := v.(float64); ok {
				i := int(f)
				return &i
			}
			return nil
		}
		pattern, _ := shape["pattern"].(string)
		var enum []string
		for _, e := range asSlice(shape["enum"]) {
			enum = append(enum, e.(string))
		}
		modelled := shape["min"] != nil || shape["max"] != nil || pattern != "" || enum != nil
		if modelled {
			assert.Equal(t, asInt(shape["min"]), c.Min, "%s: min", where)
			assert.Equal(t, asInt(shape["max"]), c.Max, "%s: max", where)
			assert.Equal(t, pattern, c.Pattern, "%s: pattern", where)
			assert.ElementsMatch(t, enum, c.Enum, "%s: enum", where)
			continue
		}
		switch {
		case c.Documented != "":
			flat := strings.Join(strings.Fields(regexp.MustCompile(`<[^>]+>`).ReplaceAllString(doc, "")), " ")
			assert.Contains(t, flat, strings.Join(strings.Fields(c.Documented), " "), "%s: the documentation no longer says this", where)
		case c.Source != "":
		default:
			t.Errorf("%s: the model gives no constraint; quote the member's documentation (documented) or name the AWS document (source)", where)
		}
	}
}

func asSlice(v any) []any { s, _ := v.([]any); return s }
