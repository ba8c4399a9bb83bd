package tests

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/taskmanager/taskmanager-infra/internal/mockengine"
)

// physicalNameKeys are the inputs that give a resource its name in AWS: what another resource
// names it by.
var physicalNameKeys = []string{"name", "identifier", "replicationGroupId", "bucket", "deploymentGroupName", "family", "dashboardName"}

// unvalidatedInputs are the inputs AWS stores without checking that what they name exists: a
// literal name there creates nothing out of order. Every other input of every resource is
// taken to be checked at create time (a subscription's log group, an event subscription's
// source ids, a scaling target's service, a rotation's secret, a policy's role, a record's
// zone...), so a new resource type is checked unless it is listed here with its reason.
var unvalidatedInputs = map[string][]string{
	// Alarms and dashboards may watch metrics before (or after) what emits them exists.
	"aws:cloudwatch/metricAlarm:MetricAlarm": {"dimensions", "metricQueries", "alarmDescription"},
	"aws:cloudwatch/dashboard:Dashboard":     {"dashboardBody"},
	// Environment variables and descriptions are plain text to AWS.
	"aws:lambda/function:Function": {"environment", "description"},
	// IAM checks a policy's grammar, not that the resources it names exist.
	"aws:iam/role:Role":                {"assumeRolePolicy", "inlinePolicies", "description"},
	"aws:iam/rolePolicy:RolePolicy":    {"policy"},
	"aws:s3/bucketPolicy:BucketPolicy": {"policy"},
	"aws:kms/key:Key":                  {"policy", "description"},
	"aws:sns/topic:Topic":              {"displayName"},
	// A task definition's container JSON names its log group, read when a task starts.
	"aws:ecs/taskDefinition:TaskDefinition": {"containerDefinitions"},
	// A certificate's names are DNS names, validated later through the records; so are a sign-in
	// client's callback URLs. A listener rule's conditions are paths and headers.
	"aws:acm/certificate:Certificate":           {"domainName", "subjectAlternativeNames"},
	"aws:cognito/userPoolClient:UserPoolClient": {"callbackUrls", "logoutUrls"},
	"aws:lb/listenerRule:ListenerRule":          {"conditions"},
}

// createOrderProblems lists every input that names another resource of the stack by its physical
// name (whole, or as a segment of a path or ARN such as service/<cluster>/<service>) without
// depending on it, directly or through what it depends on. Pulumi orders creation by
// dependencies only: such a resource may be created first, and AWS refuses it (SourceNotFound,
// ResourceNotFoundException, ServiceNotFoundException).
func createOrderProblems(rec *mockengine.Recorder) []string {
	resources := rec.Resources()
	byURN := map[string]*mockengine.Resource{}
	owners := map[string][]string{} // physical name -> URNs of the resources so named
	for _, r := range resources {
		byURN[r.URN] = r
		if !r.Custom {
			continue
		}
		named := false
		for _, k := range physicalNameKeys {
			if v, ok := r.Inputs[k].(string); ok && v != "" {
				owners[v] = append(owners[v], r.URN)
				named = true
			}
		}
		if !named {
			// AWS names it; under the mocks that name is its logical name.
			owners[r.Name] = append(owners[r.Name], r.URN)
		}
	}
	dependsOn := func(from, to string) bool {
		seen := map[string]bool{}
		stack := []string{from}
		for len(stack) > 0 {
			u := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			if u == to {
				return true
			}
			if seen[u] || byURN[u] == nil {
				continue
			}
			seen[u] = true
			stack = append(stack, byURN[u].DependsOn...)
		}
		return false
	}
	var problems []string
	for _, r := range resources {
		if !r.Custom {
			continue
		}
		for key, value := range r.Inputs {
			if slices.Contains(physicalNameKeys, key) || slices.Contains(unvalidatedInputs[r.Type], key) {
				continue
			}
			for _, s := range stringsIn(value) {
				for _, token := range nameCandidates(s, owners) {
					named := owners[token]
					if len(named) == 0 || slices.Contains(named, r.URN) {
						continue
					}
					if !slices.ContainsFunc(named, func(u string) bool { return dependsOn(r.URN, u) }) {
						problems = append(problems, fmt.Sprintf("%s %s: input %s names %q (%s) without depending on it",
							r.Type, r.Name, key, token, byURN[named[0]].Type))
					}
				}
			}
		}
	}
	slices.Sort(problems)
	return slices.Compact(problems)
}

// stringsIn is every string in a plain input value.
func stringsIn(v any) []string {
	switch v := v.(type) {
	case string:
		return []string{v}
	case []any:
		var out []string
		for _, e := range v {
			out = append(out, stringsIn(e)...)
		}
		return out
	case map[string]any:
		var out []string
		for _, e := range v {
			out = append(out, stringsIn(e)...)
		}
		return out
	}
	return nil
}

// nameCandidates are what a string may name: itself, when it is a physical name, or else its
// segments between '/' and ':' (service/<cluster>/<service>, an ARN's resource part).
func nameCandidates(s string, owners map[string][]string) []string {
	if len(owners[s]) > 0 {
		return []string{s}
	}
	return strings.FieldsFunc(s, func(r rune) bool { return r == '/' || r == ':' })
}

func TestNothingNamesAResourceItDoesNotWaitFor(t *testing.T) {
	for _, stack := range allStacks {
		t.Run(stack, func(t *testing.T) {
			assert.Empty(t, createOrderProblems(runStack(t, stack)))
		})
	}
}
