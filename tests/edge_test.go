package tests

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/taskmanager/taskmanager-infra/internal/mockengine"
)

func TestLoadBalancerAndListeners(t *testing.T) {
	for _, stack := range allStacks {
		t.Run(stack, func(t *testing.T) {
			rec := runStack(t, stack)
			alb := one(t, rec, "aws:lb/loadBalancer:LoadBalancer", stack)
			assert.Equal(t, true, alb.Inputs["dropInvalidHeaderFields"])
			assert.Equal(t, stack == "production", alb.Inputs["enableDeletionProtection"])
			assert.Equal(t, stack == "dev", alb.Inputs["internal"], "dev's load balancer is internal")
			assert.Equal(t, []any{stack + "-alb-id"}, alb.Inputs["securityGroups"])
			tier := "public"
			if stack == "dev" {
				tier = "private"
			}
			assert.Equal(t, []any{"subnet-" + stack + "-" + tier + "-0", "subnet-" + stack + "-" + tier + "-1"}, alb.Inputs["subnets"])

			tg := one(t, rec, "aws:lb/targetGroup:TargetGroup", stack+"-blue")
			assert.Equal(t, "ip", tg.Inputs["targetType"])
			assert.Equal(t, 8000.0, tg.Inputs["port"])
			hc := tg.Inputs["healthCheck"].(map[string]any)
			assert.Equal(t, "/health", hc["path"])
			assert.Equal(t, "200", hc["matcher"])

			http := one(t, rec, "aws:lb/listener:Listener", stack+"-http")
			assert.Equal(t, "HTTP", http.Inputs["protocol"])
			if stack == "dev" {
				// The named waiver: dev serves HTTP inside the VPC, behind the bastion.
				assert.Equal(t, "forward", http.Inputs["defaultActions"].([]any)[0].(map[string]any)["type"])
				_, hasHTTPS := rec.Find("aws:lb/listener:Listener", stack+"-https")
				assert.False(t, hasHTTPS)
				_, hasCert := rec.Find("aws:acm/certificate:Certificate", stack)
				assert.False(t, hasCert, "no public certificate can be issued for dev.taskmanager.internal")
				zone := one(t, rec, "aws:route53/zone:Zone", stack+"-private")
				assert.Equal(t, "dev.taskmanager.internal", zone.Inputs["name"])
				assert.Equal(t, []any{map[string]any{"vpcId": "vpc-dev"}}, zone.Inputs["vpcs"])
				assert.Equal(t, "http://dev.taskmanager.internal", rec.Outputs()["url"].Value)
				return
			}
			assert.Equal(t, []any{map[string]any{"type": "redirect", "redirect": map[string]any{
				"protocol": "HTTPS", "port": "443", "statusCode": "HTTP_301"}}}, http.Inputs["defaultActions"],
				"HTTP only redirects to HTTPS")
			https := one(t, rec, "aws:lb/listener:Listener", stack+"-https")
			assert.Equal(t, 443.0, https.Inputs["port"])
			assert.Equal(t, "HTTPS", https.Inputs["protocol"])
			assert.Equal(t, "ELBSecurityPolicy-TLS13-1-2-2021-06", https.Inputs["sslPolicy"])
			assert.Equal(t, "arn:aws:acm:us-east-1:123456789012:"+stack, https.Inputs["certificateArn"], "the validated certificate")

			domain := specOf(t, stack).TFVars.DomainName
			cert := one(t, rec, "aws:acm/certificate:Certificate", stack)
			assert.Equal(t, domain, cert.Inputs["domainName"])
			assert.Equal(t, "DNS", cert.Inputs["validationMethod"])
			alias := one(t, rec, "aws:route53/record:Record", stack+"-alias-0")
			assert.Equal(t, domain, alias.Inputs["name"])
			assert.Equal(t, "Z-taskmanager.com", alias.Inputs["zoneId"])
			assert.Equal(t, "A", alias.Inputs["type"])
			assert.Equal(t, "https://"+domain, rec.Outputs()["url"].Value)
			if stack == "production" {
				assert.Equal(t, []any{"www.taskmanager.com"}, cert.Inputs["subjectAlternativeNames"])
				www := one(t, rec, "aws:route53/record:Record", stack+"-alias-1")
				assert.Equal(t, "www.taskmanager.com", www.Inputs["name"])
				test := one(t, rec, "aws:lb/listener:Listener", stack+"-test")
				assert.Equal(t, 8443.0, test.Inputs["port"])
				assert.Equal(t, "ELBSecurityPolicy-TLS13-1-2-2021-06", test.Inputs["sslPolicy"])
			}
		})
	}
}

type wafRule struct {
	Name           string
	Priority       int
	Action         map[string]any
	OverrideAction map[string]any
	Statement      map[string]any
}

func TestWAF(t *testing.T) {
	for _, stack := range []string{"staging", "production"} {
		t.Run(stack, func(t *testing.T) {
			rec := runStack(t, stack)
			acl := one(t, rec, "aws:wafv2/webAcl:WebAcl", stack)
			assert.Equal(t, "REGIONAL", acl.Inputs["scope"])
			assert.Equal(t, map[string]any{"allow": map[string]any{}}, acl.Inputs["defaultAction"])
			var rules []wafRule
			require.NoError(t, json.Unmarshal([]byte(acl.Inputs["ruleJson"].(string)), &rules))
			var names []string
			for i, r := range rules {
				names = append(names, r.Name)
				assert.Equal(t, i, r.Priority, "%s: priorities follow the order", r.Name)
			}
			// The rate limit and the IP reputation list first: nothing after them answers a flood
			// or a known-bad address first.
			want := []string{"rate-limit-per-ip", "AWSManagedRulesAmazonIpReputationList"}
			if stack == "staging" {
				want = append(want, "admin-allowlist")
			}
			want = append(want, "AWSManagedRulesCommonRuleSet", "AWSManagedRulesKnownBadInputsRuleSet", "AWSManagedRulesSQLiRuleSet", "AWSManagedRulesAnonymousIpList")
			assert.Equal(t, want, names)
			for _, r := range rules {
				if _, isManaged := r.Statement["ManagedRuleGroupStatement"]; isManaged {
					assert.Equal(t, map[string]any{"None": map[string]any{}}, r.OverrideAction, r.Name)
					assert.Nil(t, r.Action, r.Name)
				} else {
					assert.Equal(t, map[string]any{"Block": map[string]any{}}, r.Action, "%s blocks, without a custom response", r.Name)
					assert.Nil(t, r.OverrideAction, r.Name)
				}
			}
			rate := rules[0].Statement["RateBasedStatement"].(map[string]any)
			assert.Equal(t, map[string]any{"Limit": 2000.0, "AggregateKeyType": "IP", "EvaluationWindowSec": 300.0}, rate)
			assert.False(t, acl.SecretInputs["ruleJson"], "the rules hold no credential")

			assoc := one(t, rec, "aws:wafv2/webAclAssociation:WebAclAssociation", stack)
			assert.Equal(t, "arn:aws:lb:us-east-1:123456789012:"+stack, assoc.Inputs["resourceArn"])
			// Nothing that authenticates reaches the logs: headers, cookies, the smoke tests'
			// token, and the query string (password-reset tokens, OAuth codes).
			logging := one(t, rec, "aws:wafv2/webAclLoggingConfiguration:WebAclLoggingConfiguration", stack)
			assert.ElementsMatch(t, []any{
				map[string]any{"singleHeader": map[string]any{"name": "authorization"}},
				map[string]any{"singleHeader": map[string]any{"name": "cookie"}},
				map[string]any{"singleHeader": map[string]any{"name": "x-smoke-test-token"}},
				map[string]any{"queryString": map[string]any{}},
			}, logging.Inputs["redactedFields"])
			group := one(t, rec, "aws:cloudwatch/logGroup:LogGroup", stack+"-waf")
			assert.Equal(t, "aws-waf-logs-taskmanager-"+stack, group.Inputs["name"])
		})
	}
	staging := runStack(t, "staging")
	var rules []wafRule
	require.NoError(t, json.Unmarshal([]byte(one(t, staging, "aws:wafv2/webAcl:WebAcl", "staging").Inputs["ruleJson"].(string)), &rules))
	admin := rules[2]
	require.Equal(t, "admin-allowlist", admin.Name)
	match := admin.Statement["AndStatement"].(map[string]any)["Statements"].([]any)[0].(map[string]any)["ByteMatchStatement"].(map[string]any)
	// /%61dmin, //admin and /x/../Admin are /admin: decode, then normalise, then lower-case.
	assert.Equal(t, []any{
		map[string]any{"Priority": 0.0, "Type": "URL_DECODE"},
		map[string]any{"Priority": 1.0, "Type": "NORMALIZE_PATH"},
		map[string]any{"Priority": 2.0, "Type": "LOWERCASE"},
	}, match["TextTransformations"])
	assert.Equal(t, "/admin", match["SearchString"])
	assert.Equal(t, "STARTS_WITH", match["PositionalConstraint"])
	set := one(t, staging, "aws:wafv2/ipSet:IpSet", "staging-admin")
	assert.Equal(t, []any{"203.0.113.0/24"}, set.Inputs["addresses"])
	_, devWAF := runStack(t, "dev").Find("aws:wafv2/webAcl:WebAcl", "dev")
	assert.False(t, devWAF, "dev's internal load balancer has no WAF")
}

// Staging is reached only by invited people, through the load balancer's own sign-in; the app's
// Bearer tokens pass through untouched; the pipeline's smoke tests pass with a secret header.
func TestStagingSignIn(t *testing.T) {
	rec := runStack(t, "staging")
	pool := one(t, rec, "aws:cognito/userPool:UserPool", "staging-sign-in")
	assert.Equal(t, map[string]any{"allowAdminCreateUserOnly": true}, pool.Inputs["adminCreateUserConfig"], "no self sign-up")
	// Production-derived data: a second factor at every sign-in (TOTP), threat protection enforced.
	assert.Equal(t, "ON", pool.Inputs["mfaConfiguration"])
	assert.Equal(t, map[string]any{"enabled": true}, pool.Inputs["softwareTokenMfaConfiguration"])
	assert.Equal(t, map[string]any{"advancedSecurityMode": "ENFORCED"}, pool.Inputs["userPoolAddOns"])
	assert.Equal(t, "PLUS", pool.Inputs["userPoolTier"], "threat protection is a feature of the Plus tier")
	policy := pool.Inputs["passwordPolicy"].(map[string]any)
	assert.GreaterOrEqual(t, policy["minimumLength"], 14.0)
	for _, k := range []string{"requireLowercase", "requireUppercase", "requireNumbers", "requireSymbols"} {
		assert.Equal(t, true, policy[k], k)
	}
	client := one(t, rec, "aws:cognito/userPoolClient:UserPoolClient", "staging-sign-in")
	assert.Equal(t, true, client.Inputs["generateSecret"])
	assert.Equal(t, []any{"code"}, client.Inputs["allowedOauthFlows"])
	assert.Equal(t, []any{"https://staging.taskmanager.com/oauth2/idpresponse"}, client.Inputs["callbackUrls"])
	assert.Equal(t, []any{"https://staging.taskmanager.com/signed-out"}, client.Inputs["logoutUrls"])
	assert.LessOrEqual(t, client.Inputs["refreshTokenValidity"], 12.0)
	assert.Equal(t, "hours", client.Inputs["tokenValidityUnits"].(map[string]any)["refreshToken"], "refresh tokens last at most 12 hours")
	assert.Equal(t, true, client.Inputs["enableTokenRevocation"])
	domain := one(t, rec, "aws:cognito/userPoolDomain:UserPoolDomain", "staging-sign-in")
	assert.Equal(t, "taskmanager-staging-k3x9m2q7", domain.Inputs["domain"], "a random suffix, not the account id, in the public prefix")
	assert.NotContains(t, domain.Inputs["domain"], mockengine.Account)

	cognito := func(onUnauthenticated string) map[string]any {
		return map[string]any{
			"userPoolArn": "arn:aws:cognito:us-east-1:123456789012:staging-sign-in", "userPoolClientId": "staging-sign-in-id",
			"userPoolDomain": "taskmanager-staging-k3x9m2q7", "onUnauthenticatedRequest": onUnauthenticated,
			"scope": "openid", "sessionTimeout": 28800.0,
		}
	}
	blue := "arn:aws:lb:us-east-1:123456789012:staging-blue"
	https := one(t, rec, "aws:lb/listener:Listener", "staging-https")
	// Every path: pages redirect to the sign-in page...
	assert.Equal(t, []any{
		map[string]any{"type": "authenticate-cognito", "order": 1.0, "authenticateCognito": cognito("authenticate")},
		map[string]any{"type": "forward", "order": 2.0, "targetGroupArn": blue},
	}, https.Inputs["defaultActions"])
	// ...the API answers 401...
	api := one(t, rec, "aws:lb/listenerRule:ListenerRule", "staging-api")
	assert.Equal(t, []any{map[string]any{"pathPattern": map[string]any{"values": []any{"/api/*"}}}}, api.Inputs["conditions"])
	assert.Equal(t, []any{
		map[string]any{"type": "authenticate-cognito", "order": 1.0, "authenticateCognito": cognito("deny")},
		map[string]any{"type": "forward", "order": 2.0, "targetGroupArn": blue},
	}, api.Inputs["actions"])
	// ...and the smoke tests, first, pass with the secret header.
	smoke := one(t, rec, "aws:lb/listenerRule:ListenerRule", "staging-smoke-tests")
	assert.Less(t, smoke.Inputs["priority"], api.Inputs["priority"])
	token := one(t, rec, "aws:secretsmanager/secretVersion:SecretVersion", "staging-smoke-test-header").Inputs["secretString"]
	// The header opens the health check's GET only: anything else signs in like everyone.
	assert.Equal(t, []any{
		map[string]any{"httpHeader": map[string]any{"httpHeaderName": "X-Smoke-Test-Token", "values": []any{token}}},
		map[string]any{"httpRequestMethod": map[string]any{"values": []any{"GET"}}},
		map[string]any{"pathPattern": map[string]any{"values": []any{"/health"}}},
	}, smoke.Inputs["conditions"])
	assert.True(t, smoke.SecretInputs["conditions"], "the token is a secret in Pulumi's state")
	assert.Equal(t, []any{map[string]any{"type": "forward", "targetGroupArn": blue}}, smoke.Inputs["actions"])
	assert.Equal(t, secretArn("staging", "smoke-test-header"), rec.Outputs()["smokeTestHeaderSecretArn"].Value,
		"the pipeline reads the token from the secret the output names")
	// Signing out ends both sessions: the app's /logout expires the load balancer's cookie and
	// sends people to Cognito's logout (SIGN_OUT_REDIRECT), which returns to a page outside the sign-in.
	signedOut := one(t, rec, "aws:lb/listenerRule:ListenerRule", "staging-signed-out")
	assert.Equal(t, []any{map[string]any{"pathPattern": map[string]any{"values": []any{"/signed-out"}}}}, signedOut.Inputs["conditions"])
	assert.Equal(t, "fixed-response", signedOut.Inputs["actions"].([]any)[0].(map[string]any)["type"])
	_, apiContainer := containerOf(t, rec, "staging", "api")
	signOut := ""
	for _, e := range apiContainer.Environment {
		if e.Name == "SIGN_OUT_REDIRECT" {
			signOut = e.Value
		}
	}
	assert.Equal(t, "https://taskmanager-staging-k3x9m2q7.auth.us-east-1.amazoncognito.com/logout?client_id=staging-sign-in-id&logout_uri=https%3A%2F%2Fstaging.taskmanager.com%2Fsigned-out", signOut)
	// The load balancer calls Cognito's token endpoint itself.
	assert.Contains(t, flows(t, rec, "staging"), "alb out 443 0.0.0.0/0")

	for _, stack := range []string{"dev", "production"} {
		other := runStack(t, stack)
		assert.Empty(t, other.All("aws:cognito/userPool:UserPool"), "%s has no sign-in", stack)
		assert.Empty(t, other.All("aws:lb/listenerRule:ListenerRule"), stack)
		assert.NotContains(t, other.Outputs(), "smokeTestHeaderSecretArn", stack)
	}
	assert.Contains(t, runInvalid(t, mutate(t, loadStack(t, "dev"), "taskmanager:edge", func(m map[string]any) { m["signIn"] = true })),
		"taskmanager:edge.signIn: true needs the HTTPS listener of an internet-facing load balancer, and internal is true; want false")
}

func TestComputeAndEdgeConfigRules(t *testing.T) {
	dev := loadStack(t, "dev")
	prod := loadStack(t, "production")
	cases := []struct {
		name string
		got  []string
		want string
	}{
		{"latest image tag", runInvalid(t, mutate(t, dev, "taskmanager:compute", func(m map[string]any) { m["imageTag"] = "latest" })),
			`taskmanager:compute.imageTag: "latest" is not an image tag this program deploys; want 1 to 128 letters, digits, '.', '_' or '-', not starting with '.' or '-', and not "latest" (tags are immutable), e.g. main-abc1234`},
		{"malformed image tag", runInvalid(t, mutate(t, dev, "taskmanager:compute", func(m map[string]any) { m["imageTag"] = "main:abc" })),
			`taskmanager:compute.imageTag: "main:abc" is not an image tag this program deploys; want 1 to 128 letters, digits, '.', '_' or '-', not starting with '.' or '-', and not "latest" (tags are immutable), e.g. main-abc1234`},
		{"unknown capacity provider", runInvalid(t, mutate(t, dev, "taskmanager:compute", func(m map[string]any) { m["capacityProvider"] = "EC2" })),
			`taskmanager:compute.capacityProvider: "EC2" is not a Fargate capacity provider; want one of FARGATE, FARGATE_SPOT`},
		{"blue/green on an internal load balancer", runInvalid(t, mutate(t, dev, "taskmanager:compute", func(m map[string]any) { m["apiDeployment"] = "blueGreen" })),
			`taskmanager:compute.apiDeployment: blueGreen needs an HTTPS load balancer with a test listener, and taskmanager:edge.internal is true; want rolling`},
		{"unknown WAF rule group", runInvalid(t, mutate(t, prod, "taskmanager:edge", func(m map[string]any) {
			m["waf"].(map[string]any)["managedRuleGroups"] = []string{"AWSManagedRulesCommonRuleSet", "AWSManagedRulesSQLInjection"}
		})), `taskmanager:edge.waf.managedRuleGroups[1]: "AWSManagedRulesSQLInjection" is not an AWS managed rule group this program knows; want one of AWSManagedRulesCommonRuleSet, AWSManagedRulesKnownBadInputsRuleSet, AWSManagedRulesSQLiRuleSet, AWSManagedRulesAmazonIpReputationList, AWSManagedRulesAnonymousIpList, AWSManagedRulesLinuxRuleSet, AWSManagedRulesUnixRuleSet, AWSManagedRulesAdminProtectionRuleSet, AWSManagedRulesBotControlRuleSet`},
		{"WAF rate limit below AWS's minimum", runInvalid(t, mutate(t, prod, "taskmanager:edge", func(m map[string]any) { m["waf"].(map[string]any)["rateLimit"] = 5 })),
			`taskmanager:edge.waf.rateLimit: 5 is outside what WAF allows; want 10 to 2000000000 requests per 5 minutes`},
		{"name outside the zone", runInvalid(t, mutate(t, prod, "taskmanager:edge", func(m map[string]any) { m["alternativeNames"] = []string{"www.example.org"} })),
			`taskmanager:edge.hostedZone: "taskmanager.com" does not contain "www.example.org"; want the zone the names live in`},
		{"admin allowlist without WAF", runInvalid(t, mutate(t, dev, "taskmanager:edge", func(m map[string]any) { m["adminAllowCidrs"] = []string{"10.0.0.0/8"} })),
			`taskmanager:edge.adminAllowCidrs: needs the WAF, which enforces it; add waf`},
		{"malformed admin CIDR", runInvalid(t, mutate(t, prod, "taskmanager:edge", func(m map[string]any) { m["adminAllowCidrs"] = []string{"office"} })),
			`taskmanager:edge.adminAllowCidrs[0]: "office" is not a CIDR block; want e.g. 203.0.113.0/24`},
		{"empty command", runInvalid(t, mutate(t, dev, "taskmanager:worker", func(m map[string]any) { m["command"] = []string{} })),
			`taskmanager:worker.command: is empty; want the container's command as a list, e.g. [celery, -A, app.worker, worker]`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			assert.Contains(t, c.got, c.want)
		})
	}
}
