package tests

import (
	"encoding/json"
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/taskmanager/taskmanager-infra/infra/edge"
)

// What the pipeline's own requests look like to WAF: the smoke test (scripts/deploy.sh
// --smoke-test) is curl on a GitHub-hosted runner, that is from a cloud provider's addresses, a
// handful of GETs of the health path. pipelineMeets names, for every managed rule group the
// program knows, the rules such a request meets, from AWS's descriptions of the groups (AWS WAF
// Developer Guide, "AWS Managed Rules rule groups list"). A group added to edge.ManagedRuleGroups
// needs its entry here, so that someone decides.
var pipelineMeets = map[string][]string{
	"AWSManagedRulesCommonRuleSet":          nil, // curl sends a User-Agent (NoUserAgent_HEADER) and no body
	"AWSManagedRulesKnownBadInputsRuleSet":  nil,
	"AWSManagedRulesSQLiRuleSet":            nil,
	"AWSManagedRulesAmazonIpReputationList": nil, // bots and known attackers, not cloud ranges
	// "IP addresses from web hosting and cloud providers": the runners' addresses.
	"AWSManagedRulesAnonymousIpList":        {"HostingProviderIPList"},
	"AWSManagedRulesLinuxRuleSet":           nil,
	"AWSManagedRulesUnixRuleSet":            nil,
	"AWSManagedRulesAdminProtectionRuleSet": nil, // /admin only; the health path is not
	// Common level: "HTTP libraries" (curl) and user agents no browser sends.
	"AWSManagedRulesBotControlRuleSet": {"CategoryHttpLibrary", "SignalNonBrowserUserAgent"},
}

// smokeTestRequests bounds the requests one smoke test makes from one address in five minutes.
const smokeTestRequests = 20

// No rule that the pipeline's own requests meet blocks them: WAF decides before the listener
// rules, so a block there fails every smoke test and the workflow rolls the release back.
func TestWAFNeverBlocksThePipeline(t *testing.T) {
	assert.ElementsMatch(t, edge.ManagedRuleGroups, slices.Collect(maps.Keys(pipelineMeets)),
		"every managed rule group the program knows has its entry in pipelineMeets")
	for _, stack := range allStacks {
		t.Run(stack, func(t *testing.T) {
			rec := runStack(t, stack)
			acls := rec.All("aws:wafv2/webAcl:WebAcl")
			if stack == "dev" {
				assert.Empty(t, acls, "dev's load balancer is internal, without WAF")
				return
			}
			require.Len(t, acls, 1)
			var rules []struct {
				Name      string
				Action    map[string]any
				Statement struct {
					ManagedRuleGroupStatement *struct {
						Name                string
						RuleActionOverrides []struct {
							Name        string
							ActionToUse map[string]any
						}
					}
					RateBasedStatement *struct{ Limit int }
					AndStatement       map[string]any
				}
			}
			require.NoError(t, json.Unmarshal([]byte(acls[0].Inputs["ruleJson"].(string)), &rules))
			health := one(t, rec, "aws:lb/targetGroup:TargetGroup", stack+"-blue").Inputs["healthCheck"].(map[string]any)["path"].(string)
			for _, r := range rules {
				switch {
				case r.Statement.ManagedRuleGroupStatement != nil:
					g := r.Statement.ManagedRuleGroupStatement
					meets, known := pipelineMeets[g.Name]
					require.True(t, known, "%s: no entry in pipelineMeets", g.Name)
					counted := map[string]bool{}
					for _, o := range g.RuleActionOverrides {
						if _, ok := o.ActionToUse["Count"]; ok {
							counted[o.Name] = true
						}
					}
					for _, rule := range meets {
						assert.True(t, counted[rule], "%s: %s's rule %s blocks the smoke test's requests; it must count", stack, g.Name, rule)
					}
				case r.Statement.RateBasedStatement != nil:
					assert.Greater(t, r.Statement.RateBasedStatement.Limit, smokeTestRequests, "%s: the rate limit must let a smoke test through", r.Name)
				case r.Name == "admin-allowlist":
					assert.False(t, strings.HasPrefix(strings.ToLower(health), "/admin"), "the smoke test's path %s is behind the admin allowlist", health)
				default:
					t.Errorf("%s: rule %s is not known to this test: say whether the pipeline's requests meet it", stack, r.Name)
				}
			}
		})
	}
}

// Sampled requests (GetSampledRequests) are not redacted by the logging configuration: WAF's data
// protection substitutes the credential headers, every cookie and the query string wherever WAF
// shows a request, sampled or logged.
func TestWAFShowsNoCredentials(t *testing.T) {
	for _, stack := range []string{"staging", "production"} {
		acl := one(t, runStack(t, stack), "aws:wafv2/webAcl:WebAcl", stack)
		protections := acl.Inputs["dataProtectionConfig"].(map[string]any)["dataProtections"].([]any)
		byType := map[string]map[string]any{}
		for _, p := range protections {
			p := p.(map[string]any)
			assert.Equal(t, "SUBSTITUTION", p["action"], "%s: WAF shows no value of a protected field", stack)
			assert.Equal(t, false, p["excludeRuleMatchDetails"], "%s: rule match details are protected too", stack)
			byType[p["field"].(map[string]any)["fieldType"].(string)] = p["field"].(map[string]any)
		}
		assert.ElementsMatch(t, []any{"authorization", "cookie", "x-smoke-test-token"}, byType["SINGLE_HEADER"]["fieldKeys"], stack)
		assert.Contains(t, byType, "SINGLE_COOKIE", stack)
		assert.Nil(t, byType["SINGLE_COOKIE"]["fieldKeys"], "%s: every cookie", stack)
		assert.Contains(t, byType, "QUERY_STRING", stack)
	}
}
