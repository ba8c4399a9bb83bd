package tests

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
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

			domain := map[string]string{"staging": "staging.taskmanager.com", "production": "taskmanager.com"}[stack]
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
	managed := []string{"AWSManagedRulesCommonRuleSet", "AWSManagedRulesKnownBadInputsRuleSet", "AWSManagedRulesSQLiRuleSet",
		"AWSManagedRulesAmazonIpReputationList", "AWSManagedRulesAnonymousIpList"}
	for _, stack := range []string{"staging", "production"} {
		t.Run(stack, func(t *testing.T) {
			rec := runStack(t, stack)
			acl := one(t, rec, "aws:wafv2/webAcl:WebAcl", stack)
			assert.Equal(t, "REGIONAL", acl.Inputs["scope"])
			assert.Equal(t, map[string]any{"allow": map[string]any{}}, acl.Inputs["defaultAction"])
			var rules []wafRule
			require.NoError(t, json.Unmarshal([]byte(acl.Inputs["ruleJson"].(string)), &rules))
			var names []string
			for _, r := range rules {
				names = append(names, r.Name)
			}
			want := append([]string{"rate-limit-per-ip"}, managed...)
			if stack == "staging" {
				want = append([]string{"admin-allowlist", "basic-auth"}, want...)
			}
			assert.True(t, acl.SecretInputs["ruleJson"], "the rules may hold the basic-auth credential")
			assert.Equal(t, want, names)
			for _, r := range rules {
				if _, isManaged := r.Statement["ManagedRuleGroupStatement"]; isManaged {
					assert.Equal(t, map[string]any{"None": map[string]any{}}, r.OverrideAction, r.Name)
					assert.Nil(t, r.Action, r.Name)
				} else {
					assert.Contains(t, r.Action, "Block", r.Name)
					assert.Nil(t, r.OverrideAction, r.Name)
				}
			}
			rate := rules[len(want)-len(managed)-1].Statement["RateBasedStatement"].(map[string]any)
			assert.Equal(t, map[string]any{"Limit": 2000.0, "AggregateKeyType": "IP", "EvaluationWindowSec": 300.0}, rate)

			assoc := one(t, rec, "aws:wafv2/webAclAssociation:WebAclAssociation", stack)
			assert.Equal(t, "arn:aws:lb:us-east-1:123456789012:"+stack, assoc.Inputs["resourceArn"])
			logging := one(t, rec, "aws:wafv2/webAclLoggingConfiguration:WebAclLoggingConfiguration", stack)
			assert.Len(t, logging.Inputs["redactedFields"], 2)
			group := one(t, rec, "aws:cloudwatch/logGroup:LogGroup", stack+"-waf")
			assert.Equal(t, "aws-waf-logs-taskmanager-"+stack, group.Inputs["name"])
		})
	}
	staging := runStack(t, "staging")
	var rules []wafRule
	require.NoError(t, json.Unmarshal([]byte(one(t, staging, "aws:wafv2/webAcl:WebAcl", "staging").Inputs["ruleJson"].(string)), &rules))
	basic := rules[1]
	assert.Equal(t, map[string]any{"Block": map[string]any{"CustomResponse": map[string]any{
		"ResponseCode":    401.0,
		"ResponseHeaders": []any{map[string]any{"Name": "www-authenticate", "Value": `Basic realm="taskmanager staging"`}},
	}}}, basic.Action, "a 401 makes browsers ask for the credential")
	text, _ := json.Marshal(basic.Statement)
	// base64("mock-user:mock-basicAuth"): the credential the operator set, and Bearer tokens pass.
	assert.Contains(t, string(text), `"SearchString":"Basic bW9jay11c2VyOm1vY2stYmFzaWNBdXRo"`)
	assert.Contains(t, string(text), `"SearchString":"Bearer "`)
	set := one(t, staging, "aws:wafv2/ipSet:IpSet", "staging-admin")
	assert.Equal(t, []any{"203.0.113.0/24"}, set.Inputs["addresses"])
	_, devWAF := runStack(t, "dev").Find("aws:wafv2/webAcl:WebAcl", "dev")
	assert.False(t, devWAF, "dev's internal load balancer has no WAF")
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
