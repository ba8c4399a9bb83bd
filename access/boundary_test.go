package main

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/taskmanager/taskmanager-infra/access/permissions"
	"github.com/taskmanager/taskmanager-infra/access/pipeline"
	"github.com/taskmanager/taskmanager-infra/internal/mockengine"
)

// The services of the AWS managed policies the main program attaches to its roles.
var managedPolicyServices = map[string][]string{
	"arn:aws:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy": {"ecr", "logs"},
	"arn:aws:iam::aws:policy/service-role/AmazonRDSEnhancedMonitoringRole":  {"logs"},
	"arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore":                  {"ssm", "ssmmessages", "ec2messages", "ec2"},
	"arn:aws:iam::aws:policy/AWSCodeDeployRoleForECS":                       {"ecs", "elasticloadbalancing", "cloudwatch", "lambda", "sns", "s3", "iam"},
}

// moduleServices maps a Pulumi AWS module (aws:<module>/...) to the IAM service prefixes its
// resources are managed through.
var moduleServices = map[string][]string{
	"acm": {"acm"}, "appautoscaling": {"application-autoscaling"}, "cloudwatch": {"cloudwatch", "events", "logs"},
	"codedeploy": {"codedeploy"}, "cognito": {"cognito-idp"}, "ec2": {"ec2"}, "vpc": {"ec2"}, "ecr": {"ecr"},
	"ecs": {"ecs"}, "elasticache": {"elasticache"}, "iam": {"iam"}, "kinesis": {"firehose"}, "kms": {"kms"},
	"lambda": {"lambda"}, "lb": {"elasticloadbalancing"}, "rds": {"rds"}, "route53": {"route53"}, "s3": {"s3"},
	"secretsmanager": {"secretsmanager"}, "sns": {"sns"}, "ssm": {"ssm"}, "wafv2": {"wafv2"},
}

// The deploy roles and their boundary cover what the main program makes and what its roles do:
// every resource type of every stack is of a service the deploy manages, and every action of
// every role's policies (inline and AWS managed) is of a service the boundary allows (IAM's only
// PassRole of the stack's own roles). A new service in the main program fails here, not in a
// deploy.
func TestBoundaryCoversTheMainProgram(t *testing.T) {
	allowed := append([]string{"iam"}, permissions.Services...)
	for _, stack := range pipeline.Stacks {
		src, err := mockengine.LoadStack("..", stack)
		require.NoError(t, err)
		rec, err := mockengine.RunSource(mockengine.WithExternalSecrets(src))
		require.NoError(t, err, stack)
		require.NotEmpty(t, rec.All("aws:iam/rolePolicy:RolePolicy"), stack)
		for _, r := range rec.Resources() {
			module, ok := strings.CutPrefix(r.Type, "aws:")
			if !ok || !r.Custom {
				continue
			}
			module, _, _ = strings.Cut(module, "/")
			services, known := moduleServices[module]
			if assert.True(t, known, "%s: %s is of a module this test does not map to IAM services", stack, r.Type) {
				for _, s := range services {
					assert.Contains(t, allowed, s, "%s: %s", stack, r.Type)
				}
			}
			var actions []string
			switch r.Type {
			case "aws:iam/rolePolicy:RolePolicy":
				for _, st := range document(t, r.Inputs["policy"]).Statement {
					if st.Effect == "Allow" {
						actions = append(actions, st.Action...)
					}
				}
			case "aws:iam/role:Role":
				arns, _ := r.Inputs["managedPolicyArns"].([]any)
				for _, a := range arns {
					services, known := managedPolicyServices[a.(string)]
					if assert.True(t, known, "%s: role %s attaches %s, whose services this test does not know", stack, r.Name, a) {
						for _, s := range services {
							actions = append(actions, s+":*")
						}
					}
				}
			}
			for _, a := range actions {
				service, _, _ := strings.Cut(a, ":")
				if service == "iam" && a != "iam:*" {
					assert.Equal(t, "iam:PassRole", a, "%s: role policy %s", stack, r.Name)
					continue
				}
				assert.True(t, slices.Contains(allowed, service), "%s: %s's %s is outside the boundary's services", stack, r.Name, a)
			}
		}
	}
}

// iamCreates is, per IAM resource type the main program registers, the action that creates it and
// the resource the deploy role must be allowed it on (the stack's own name prefix).
var iamCreates = map[string]struct{ action, resource string }{
	"aws:iam/role:Role":                       {"iam:CreateRole", "role/%s-"},
	"aws:iam/rolePolicy:RolePolicy":           {"iam:PutRolePolicy", "role/%s-"},
	"aws:iam/instanceProfile:InstanceProfile": {"iam:CreateInstanceProfile", "instance-profile/%s-"},
	"aws:iam/policy:Policy":                   {"iam:CreatePolicy", "policy/%s-"},
}

// The deploy role may create every IAM resource its stack registers, under the stack's prefix, and
// the boundary does not deny it: IAM is the one service the deploy role is not given whole, so a
// new IAM resource type must be added to its writes (the bastion's users policy was not).
func TestDeployMayWriteEveryIAMResourceOfItsStack(t *testing.T) {
	a := permissions.Account{Partition: "aws", Region: "us-east-1", ID: mockengine.Account}
	for _, stack := range pipeline.Stacks {
		src, err := mockengine.LoadStack("..", stack)
		require.NoError(t, err)
		rec, err := mockengine.RunSource(mockengine.WithExternalSecrets(src))
		require.NoError(t, err, stack)
		deploy := permissions.Deploy(a, stack)
		boundary := permissions.Boundary(a, stack)
		for _, r := range rec.Resources() {
			if !strings.HasPrefix(r.Type, "aws:iam/") || !r.Custom {
				continue
			}
			want, known := iamCreates[r.Type]
			if !assert.True(t, known, "%s: %s: say which IAM action creates it", stack, r.Type) {
				continue
			}
			arn := "arn:aws:iam::" + mockengine.Account + ":" + fmt.Sprintf(want.resource, stack) + "a1b2c3d"
			allowed := false
			for _, st := range deploy.Statement {
				if st.Effect == "Allow" && slices.Contains(st.Action, want.action) &&
					slices.ContainsFunc(st.Resource, func(p string) bool { return iamGlob(p, arn) }) {
					allowed = true
				}
			}
			assert.True(t, allowed, "%s: the deploy role may not %s %s (%s)", stack, want.action, arn, r.Name)
			for _, st := range boundary.Statement {
				if st.Effect == "Deny" && slices.Contains(st.Action, want.action) && st.Condition == nil {
					denied := slices.ContainsFunc(st.Resource, func(p string) bool { return iamGlob(p, arn) }) ||
						(st.NotResource != nil && !slices.ContainsFunc(st.NotResource, func(p string) bool { return iamGlob(p, arn) }))
					assert.False(t, denied, "%s: the boundary's %s denies %s on %s", stack, st.Sid, want.action, arn)
				}
			}
		}
	}
}

// iamGlob matches an IAM resource pattern (* only) against an ARN.
func iamGlob(pattern, arn string) bool {
	return regexp.MustCompile("^" + strings.ReplaceAll(regexp.QuoteMeta(pattern), `\*`, ".*") + "$").MatchString(arn)
}
