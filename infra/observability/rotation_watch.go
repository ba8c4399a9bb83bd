package observability

import (
	"fmt"
	"maps"
	"slices"

	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/cloudwatch"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/taskmanager/taskmanager-infra/internal/iampolicy"
	"github.com/taskmanager/taskmanager-infra/internal/naming"
)

// rotationFailedPattern matches Secrets Manager's RotationFailed events: a rotation that could
// not run its function at all (permission, network), or whose function failed a step. It matches
// every secret of the account and region: where environments share an account, each one's alarm
// also fires for the others' (the log group names the secret), which is better than filtering
// on an event field AWS does not document for this event and missing a failure.
const rotationFailedPattern = `{"source":["aws.secretsmanager"],"detail-type":["AWS Service Event via CloudTrail"],"detail":{"eventName":["RotationFailed"]}}`

// rotationWatch is what notices a failed rotation: each rotation function's errors, and
// Secrets Manager's RotationFailed events, which EventBridge keeps in a log group of their own
// (the record an operator reads) and counts per rule (the metric the alarm watches). A failed
// database rotation left alone costs the app its login one rotation later.
func rotationWatch(ctx *pulumi.Context, name string, args *Args, parent pulumi.ResourceOption) ([]alarm, error) {
	if len(args.RotationFunctions) == 0 {
		return nil, nil
	}
	var out []alarm
	for _, kind := range slices.Sorted(maps.Keys(args.RotationFunctions)) {
		fn := args.RotationFunctions[kind]
		out = append(out, alarm{name: fmt.Sprintf("rotation-%s-errors", kind), once: true,
			description: "A secret rotation function failed a step: see docs/runbook.md, Failed rotation",
			namespace:   "AWS/Lambda", metric: "Errors", stat: "Sum", dimensions: pulumi.StringMap{"FunctionName": fn},
			comparison: "GreaterThanOrEqualToThreshold", threshold: 1})
	}
	group, err := cloudwatch.NewLogGroup(ctx, name+"-rotation-failed", &cloudwatch.LogGroupArgs{
		Name:            pulumi.String(naming.For(args.Stack).LogGroup("/aws/events", "rotation-failed")),
		RetentionInDays: pulumi.Int(args.EventRetentionDays),
		KmsKeyId:        args.KeyArn,
	}, parent, pulumi.DeleteBeforeReplace(true)) // EventBridge requires the /aws/events/ name
	if err != nil {
		return nil, err
	}
	rule, err := cloudwatch.NewEventRule(ctx, name+"-rotation-failed", &cloudwatch.EventRuleArgs{
		Description:  pulumi.Sprintf("taskmanager/%s secret rotations that failed", args.Stack),
		EventPattern: pulumi.String(rotationFailedPattern),
	}, parent)
	if err != nil {
		return nil, err
	}
	// EventBridge writes to a log group through the group's resource policy, from this rule only.
	policy, err := cloudwatch.NewLogResourcePolicy(ctx, name+"-rotation-failed", &cloudwatch.LogResourcePolicyArgs{
		PolicyName: pulumi.String(naming.For(args.Stack).Resource("rotation-failed")),
		// CreateLogStream is not made on the rule's behalf (no aws:SourceArn): only PutLogEvents
		// can carry the condition.
		PolicyDocument: iampolicy.Render(func(v []string) iampolicy.Document {
			principal := map[string]any{"Service": []string{"events.amazonaws.com", "delivery.logs.amazonaws.com"}}
			return iampolicy.New(
				iampolicy.Statement{Effect: "Allow", Principal: principal, Action: []string{"logs:CreateLogStream"}, Resource: []string{v[0] + ":*"}},
				iampolicy.Statement{Effect: "Allow", Principal: principal, Action: []string{"logs:PutLogEvents"}, Resource: []string{v[0] + ":*"},
					Condition: map[string]any{"ArnEquals": map[string]any{"aws:SourceArn": v[1]}}},
			)
		}, group.Arn, rule.Arn),
	}, parent)
	if err != nil {
		return nil, err
	}
	if _, err := cloudwatch.NewEventTarget(ctx, name+"-rotation-failed", &cloudwatch.EventTargetArgs{
		Rule: rule.Name,
		Arn:  group.Arn,
	}, parent, pulumi.DependsOn([]pulumi.Resource{policy})); err != nil {
		return nil, err
	}
	out = append(out, alarm{name: "rotation-failed", once: true,
		description: "Secrets Manager reported a failed rotation: see docs/runbook.md, Failed rotation",
		namespace:   "AWS/Events", metric: "TriggeredRules", stat: "Sum", dimensions: pulumi.StringMap{"RuleName": rule.Name},
		comparison: "GreaterThanOrEqualToThreshold", threshold: 1})
	return out, nil
}
