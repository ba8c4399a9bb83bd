package edge

import (
	"encoding/base64"
	"fmt"

	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/cloudwatch"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/wafv2"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// wafRules are the web ACL's rules in WAF's own JSON (ruleJson): admin allowlist first, then the
// rate limit, then the managed rule groups, each with its metrics.
func wafRules(stack string, cfg Config, ipSetArn, basicAuth string) []map[string]any {
	visibility := func(metric string) map[string]any {
		return map[string]any{"SampledRequestsEnabled": true, "CloudWatchMetricsEnabled": true, "MetricName": metric}
	}
	var rules []map[string]any
	priority := 0
	if ipSetArn != "" {
		// Spec, staging: "IP whitelist for admin endpoints".
		rules = append(rules, map[string]any{
			"Name": "admin-allowlist", "Priority": priority,
			"Action": map[string]any{"Block": map[string]any{}},
			"Statement": map[string]any{"AndStatement": map[string]any{"Statements": []any{
				map[string]any{"ByteMatchStatement": map[string]any{
					"SearchString": "/admin", "PositionalConstraint": "STARTS_WITH",
					"FieldToMatch":        map[string]any{"UriPath": map[string]any{}},
					"TextTransformations": []any{map[string]any{"Priority": 0, "Type": "LOWERCASE"}},
				}},
				map[string]any{"NotStatement": map[string]any{"Statement": map[string]any{
					"IPSetReferenceStatement": map[string]any{"ARN": ipSetArn},
				}}},
			}}},
			"VisibilityConfig": visibility(stack + "-admin-allowlist"),
		})
		priority++
	}
	if cfg.BasicAuth {
		authorization := func(constraint, value string) map[string]any {
			return map[string]any{"ByteMatchStatement": map[string]any{
				"SearchString": value, "PositionalConstraint": constraint,
				"FieldToMatch":        map[string]any{"SingleHeader": map[string]any{"Name": "authorization"}},
				"TextTransformations": []any{map[string]any{"Priority": 0, "Type": "NONE"}},
			}}
		}
		// A 401 with WWW-Authenticate makes browsers ask for the credential.
		rules = append(rules, map[string]any{
			"Name": "basic-auth", "Priority": priority,
			"Action": map[string]any{"Block": map[string]any{"CustomResponse": map[string]any{
				"ResponseCode":    401,
				"ResponseHeaders": []any{map[string]any{"Name": "www-authenticate", "Value": fmt.Sprintf("Basic realm=\"taskmanager %s\"", stack)}},
			}}},
			"Statement": map[string]any{"NotStatement": map[string]any{"Statement": map[string]any{
				"OrStatement": map[string]any{"Statements": []any{
					authorization("EXACTLY", "Basic "+base64.StdEncoding.EncodeToString([]byte(basicAuth))),
					authorization("STARTS_WITH", "Bearer "),
				}},
			}}},
			"VisibilityConfig": visibility(stack + "-basic-auth"),
		})
		priority++
	}
	rules = append(rules, map[string]any{
		"Name": "rate-limit-per-ip", "Priority": priority,
		"Action": map[string]any{"Block": map[string]any{}},
		"Statement": map[string]any{"RateBasedStatement": map[string]any{
			"Limit": cfg.WAF.RateLimit, "AggregateKeyType": "IP", "EvaluationWindowSec": 300,
		}},
		"VisibilityConfig": visibility(stack + "-rate-limit-per-ip"),
	})
	priority++
	for _, group := range cfg.WAF.ManagedRuleGroups {
		rules = append(rules, map[string]any{
			"Name": group, "Priority": priority,
			"OverrideAction": map[string]any{"None": map[string]any{}},
			"Statement": map[string]any{"ManagedRuleGroupStatement": map[string]any{
				"VendorName": "AWS", "Name": group,
			}},
			"VisibilityConfig": visibility(stack + "-" + group),
		})
		priority++
	}
	return rules
}

// newWAF protects the load balancer with a REGIONAL web ACL and logs what it sees.
func newWAF(ctx *pulumi.Context, name string, args *Args, albArn pulumi.StringInput, parent pulumi.ResourceOption) error {
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
			return err
		}
		ipSetArn = set.Arn
	}
	basicAuth := pulumi.String("").ToStringOutput()
	if cfg.BasicAuth {
		basicAuth = args.BasicAuthCredentials.ToStringOutput()
	}
	acl, err := wafv2.NewWebAcl(ctx, name, &wafv2.WebAclArgs{
		Scope:         pulumi.String("REGIONAL"),
		Description:   pulumi.Sprintf("taskmanager %s: managed rules, per-IP rate limit", args.Stack),
		DefaultAction: wafv2.WebAclDefaultActionArgs{Allow: wafv2.WebAclDefaultActionAllowArgs{}},
		// Secret: with basic auth the rules hold the credential.
		RuleJson: pulumi.ToSecret(pulumi.All(ipSetArn, basicAuth).ApplyT(func(v []any) string {
			return mustJSON(wafRules(args.Stack, cfg, v[0].(string), v[1].(string)))
		})).(pulumi.StringOutput),
		VisibilityConfig: wafv2.WebAclVisibilityConfigArgs{
			CloudwatchMetricsEnabled: pulumi.Bool(true), SampledRequestsEnabled: pulumi.Bool(true),
			MetricName: pulumi.String(args.Stack + "-web-acl"),
		},
	}, parent)
	if err != nil {
		return err
	}
	if _, err := wafv2.NewWebAclAssociation(ctx, name, &wafv2.WebAclAssociationArgs{
		ResourceArn: albArn, WebAclArn: acl.Arn,
	}, parent); err != nil {
		return err
	}
	// WAF only logs to a destination whose name starts with aws-waf-logs-.
	logs, err := cloudwatch.NewLogGroup(ctx, name+"-waf", &cloudwatch.LogGroupArgs{
		Name:            pulumi.String(fmt.Sprintf("aws-waf-logs-taskmanager-%s", args.Stack)),
		RetentionInDays: pulumi.Int(args.WAFLogRetentionDays),
		KmsKeyId:        args.KeyArn,
	}, parent)
	if err != nil {
		return err
	}
	_, err = wafv2.NewWebAclLoggingConfiguration(ctx, name, &wafv2.WebAclLoggingConfigurationArgs{
		ResourceArn:           acl.Arn,
		LogDestinationConfigs: pulumi.StringArray{logs.Arn},
		// Tokens and sessions never reach the logs.
		RedactedFields: wafv2.WebAclLoggingConfigurationRedactedFieldArray{
			wafv2.WebAclLoggingConfigurationRedactedFieldArgs{SingleHeader: wafv2.WebAclLoggingConfigurationRedactedFieldSingleHeaderArgs{Name: pulumi.String("authorization")}},
			wafv2.WebAclLoggingConfigurationRedactedFieldArgs{SingleHeader: wafv2.WebAclLoggingConfigurationRedactedFieldSingleHeaderArgs{Name: pulumi.String("cookie")}},
		},
	}, parent)
	return err
}
