package edge

import (
	"slices"
	"strings"

	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/cloudwatch"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/wafv2"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/taskmanager/taskmanager-infra/internal/naming"
)

// wafRules are the web ACL's rules in WAF's own JSON (ruleJson), in the order WAF evaluates them:
// the per-IP rate limit and the IP reputation list first, so that nothing later (a block with a
// custom response included) answers a flood or a known-bad address; then the admin allowlist;
// then the other managed rule groups.
func wafRules(stack string, cfg Config, ipSetArn string) []map[string]any {
	visibility := func(metric string) map[string]any {
		return map[string]any{"SampledRequestsEnabled": true, "CloudWatchMetricsEnabled": true, "MetricName": metric}
	}
	var rules []map[string]any
	add := func(rule map[string]any) {
		rule["Priority"] = len(rules)
		rules = append(rules, rule)
	}
	managed := func(group string) map[string]any {
		statement := map[string]any{"VendorName": "AWS", "Name": group}
		var overrides []any
		for _, rule := range PipelineCountedRules[group] {
			overrides = append(overrides, map[string]any{"Name": rule, "ActionToUse": map[string]any{"Count": map[string]any{}}})
		}
		if overrides != nil {
			statement["RuleActionOverrides"] = overrides
		}
		return map[string]any{
			"Name":             group,
			"OverrideAction":   map[string]any{"None": map[string]any{}},
			"Statement":        map[string]any{"ManagedRuleGroupStatement": statement},
			"VisibilityConfig": visibility(stack + "-" + group),
		}
	}
	add(map[string]any{
		"Name":   "rate-limit-per-ip",
		"Action": map[string]any{"Block": map[string]any{}},
		"Statement": map[string]any{"RateBasedStatement": map[string]any{
			"Limit": cfg.WAF.RateLimit, "AggregateKeyType": "IP", "EvaluationWindowSec": 300,
		}},
		"VisibilityConfig": visibility(stack + "-rate-limit-per-ip"),
	})
	if slices.Contains(cfg.WAF.ManagedRuleGroups, ipReputation) {
		add(managed(ipReputation))
	}
	if ipSetArn != "" {
		// Spec, staging: "IP whitelist for admin endpoints". The path is decoded, then normalised
		// (., .. and repeated slashes resolved), then lower-cased before it is compared, so that
		// /%61dmin, //admin and /x/../Admin are /admin too.
		add(map[string]any{
			"Name":   "admin-allowlist",
			"Action": map[string]any{"Block": map[string]any{}},
			"Statement": map[string]any{"AndStatement": map[string]any{"Statements": []any{
				map[string]any{"ByteMatchStatement": map[string]any{
					"SearchString": "/admin", "PositionalConstraint": "STARTS_WITH",
					"FieldToMatch": map[string]any{"UriPath": map[string]any{}},
					"TextTransformations": []any{
						map[string]any{"Priority": 0, "Type": "URL_DECODE"},
						map[string]any{"Priority": 1, "Type": "NORMALIZE_PATH"},
						map[string]any{"Priority": 2, "Type": "LOWERCASE"},
					},
				}},
				map[string]any{"NotStatement": map[string]any{"Statement": map[string]any{
					"IPSetReferenceStatement": map[string]any{"ARN": ipSetArn},
				}}},
			}}},
			"VisibilityConfig": visibility(stack + "-admin-allowlist"),
		})
	}
	for _, group := range cfg.WAF.ManagedRuleGroups {
		if group != ipReputation {
			add(managed(group))
		}
	}
	return rules
}

// PipelineCountedRules are the rules of AWS managed groups that count instead of block, because
// the pipeline's own requests meet them: its smoke tests are curl from GitHub-hosted runners,
// which run in a cloud provider's address ranges, and WAF decides before the listener rules that
// let the smoke test's header through. A block there fails every smoke test and rolls the
// release back. They still count, so the metrics and logs show what they would have blocked.
var PipelineCountedRules = map[string][]string{
	// Addresses of hosting and cloud providers (GitHub's runners; also people on a cloud VPN).
	"AWSManagedRulesAnonymousIpList": {"HostingProviderIPList"},
	// Bot Control's common level: HTTP libraries such as curl, and user agents no browser sends.
	"AWSManagedRulesBotControlRuleSet": {"CategoryHttpLibrary", "SignalNonBrowserUserAgent"},
}

// ProtectedHeaders are the request headers that carry credentials: WAF never shows their values.
var ProtectedHeaders = []string{"authorization", "cookie", strings.ToLower(SmokeTestHeader)}

// dataProtections substitutes, in sampled requests and logs, the credential headers, every
// cookie and the query string (password-reset tokens, OAuth codes).
func dataProtections() wafv2.WebAclDataProtectionConfigDataProtectionArray {
	protect := func(fieldType string, keys ...string) wafv2.WebAclDataProtectionConfigDataProtectionArgs {
		field := wafv2.WebAclDataProtectionConfigDataProtectionFieldArgs{FieldType: pulumi.String(fieldType)}
		if keys != nil {
			field.FieldKeys = pulumi.ToStringArray(keys)
		}
		return wafv2.WebAclDataProtectionConfigDataProtectionArgs{
			Action: pulumi.String("SUBSTITUTION"), Field: field,
			ExcludeRateBasedDetails: pulumi.Bool(false), ExcludeRuleMatchDetails: pulumi.Bool(false),
		}
	}
	return wafv2.WebAclDataProtectionConfigDataProtectionArray{
		protect("SINGLE_HEADER", ProtectedHeaders...),
		protect("SINGLE_COOKIE"), // no keys: every cookie
		protect("QUERY_STRING"),
	}
}

// ipReputation is AWS's list of addresses known for bots and attacks.
const ipReputation = "AWSManagedRulesAmazonIpReputationList"

// newWAF protects the load balancer with a REGIONAL web ACL and logs what it sees; it returns the
// log group's name.
func newWAF(ctx *pulumi.Context, name string, args *Args, albArn pulumi.StringInput, parent pulumi.ResourceOption) (pulumi.StringOutput, error) {
	none := pulumi.StringOutput{}
	cfg := args.Config
	ipSetArn := pulumi.String("").ToStringOutput()
	if len(cfg.AdminAllowCidrs) > 0 {
		set, err := wafv2.NewIpSet(ctx, name+"-admin", &wafv2.IpSetArgs{
			Scope:            pulumi.String("REGIONAL"),
			IpAddressVersion: pulumi.String("IPV4"),
			Addresses:        pulumi.ToStringArray(cfg.AdminAllowCidrs),
			Description:      pulumi.String("Who may reach /admin"),
		}, parent)
		if err != nil {
			return none, err
		}
		ipSetArn = set.Arn
	}
	acl, err := wafv2.NewWebAcl(ctx, name, &wafv2.WebAclArgs{
		Scope:         pulumi.String("REGIONAL"),
		Description:   pulumi.Sprintf("taskmanager %s: managed rules, per-IP rate limit", args.Stack),
		DefaultAction: wafv2.WebAclDefaultActionArgs{Allow: wafv2.WebAclDefaultActionAllowArgs{}},
		RuleJson: ipSetArn.ApplyT(func(arn string) string {
			return mustJSON(wafRules(args.Stack, cfg, arn))
		}).(pulumi.StringOutput),
		VisibilityConfig: wafv2.WebAclVisibilityConfigArgs{
			CloudwatchMetricsEnabled: pulumi.Bool(true), SampledRequestsEnabled: pulumi.Bool(true),
			MetricName: pulumi.String(args.Stack + "-web-acl"),
		},
		// The logging configuration's redactions do not reach sampled requests
		// (GetSampledRequests): data protection does, and the logs too. Sessions and tokens are
		// substituted wherever WAF shows a request.
		DataProtectionConfig: wafv2.WebAclDataProtectionConfigArgs{DataProtections: dataProtections()},
	}, parent)
	if err != nil {
		return none, err
	}
	if _, err := wafv2.NewWebAclAssociation(ctx, name, &wafv2.WebAclAssociationArgs{
		ResourceArn: albArn, WebAclArn: acl.Arn,
	}, parent); err != nil {
		return none, err
	}
	// WAF only logs to a destination whose name starts with aws-waf-logs-.
	logs, err := cloudwatch.NewLogGroup(ctx, name+"-waf", &cloudwatch.LogGroupArgs{
		Name:            pulumi.String("aws-waf-logs-" + naming.For(args.Stack).Project()),
		RetentionInDays: pulumi.Int(args.WAFLogRetentionDays),
		KmsKeyId:        args.KeyArn,
	}, parent, pulumi.DeleteBeforeReplace(true))
	if err != nil {
		return none, err
	}
	_, err = wafv2.NewWebAclLoggingConfiguration(ctx, name, &wafv2.WebAclLoggingConfigurationArgs{
		ResourceArn:           acl.Arn,
		LogDestinationConfigs: pulumi.StringArray{logs.Arn},
		// Tokens and sessions never reach the logs: headers, cookies, and the query string, where
		// password-reset tokens and OAuth codes travel.
		RedactedFields: redactedFields(),
	}, parent)
	return logs.Name, err
}

// redactedFields are the logs' redactions: the credential headers and the query string.
func redactedFields() wafv2.WebAclLoggingConfigurationRedactedFieldArray {
	var fields wafv2.WebAclLoggingConfigurationRedactedFieldArray
	for _, h := range ProtectedHeaders {
		fields = append(fields, wafv2.WebAclLoggingConfigurationRedactedFieldArgs{
			SingleHeader: wafv2.WebAclLoggingConfigurationRedactedFieldSingleHeaderArgs{Name: pulumi.String(h)},
		})
	}
	return append(fields, wafv2.WebAclLoggingConfigurationRedactedFieldArgs{QueryString: wafv2.WebAclLoggingConfigurationRedactedFieldQueryStringArgs{}})
}
