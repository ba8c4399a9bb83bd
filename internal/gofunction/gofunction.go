// Package gofunction is what the program's Lambda functions (cmd/*-lambda, built by
// scripts/build-lambdas.sh) have in common: a Go binary named bootstrap on provided.al2023 and
// Graviton, a log group of the function's own name with the stack's retention and key, and a role
// that only Lambda assumes, whose one inline policy may write that log group and whatever else
// the function needs. The rotation, queue-depth and archive-lock functions use it, and a rule
// changed here changes for all three.
package gofunction

import (
	"slices"

	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/cloudwatch"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/iam"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/lambda"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/taskmanager/taskmanager-infra/internal/iampolicy"
	"github.com/taskmanager/taskmanager-infra/internal/naming"
)

// Args describe one function.
type Args struct {
	Stack string
	// Name is the function's name within the stack (naming's parts, e.g. "rotate", "database"),
	// which its log group's name follows.
	Name []string
	// Description is the function's; RoleDescription its role's.
	Description, RoleDescription pulumi.StringInput
	// Code is the directory of the function's build (its bootstrap).
	Code             string
	LogRetentionDays int
	// KeyArn encrypts the log group.
	KeyArn pulumi.StringInput
	// Policy gives the role's statements besides writing its logs; it gets the values of Inputs.
	Inputs []pulumi.StringInput
	Policy func(values []string) []iampolicy.Statement
	// MemorySize in MB (0: Lambda's default, 128) and Timeout in seconds.
	MemorySize, Timeout int
	Environment         pulumi.StringMap
	// VPC places the function in the stack's network (nil: outside it).
	VPC *lambda.FunctionVpcConfigArgs
}

// Function is a function with its role (which others grant things to) and the role's policy (which
// whatever AWS checks the role's permissions for must wait on).
type Function struct {
	*lambda.Function
	Role       *iam.Role
	RolePolicy *iam.RolePolicy
}

// New creates the log group, role, role policy and function, each named base.
func New(ctx *pulumi.Context, base string, a Args, opts ...pulumi.ResourceOption) (*Function, error) {
	names := naming.For(a.Stack)
	with := func(more ...pulumi.ResourceOption) []pulumi.ResourceOption { return append(slices.Clip(opts), more...) }
	logs, err := cloudwatch.NewLogGroup(ctx, base, &cloudwatch.LogGroupArgs{
		Name:            pulumi.String(names.LogGroup("/aws/lambda", a.Name...)),
		RetentionInDays: pulumi.Int(a.LogRetentionDays),
		KmsKeyId:        a.KeyArn,
	}, with(pulumi.DeleteBeforeReplace(true))...) // Lambda writes to exactly this name
	if err != nil {
		return nil, err
	}
	role, err := iam.NewRole(ctx, base, &iam.RoleArgs{
		Description:      a.RoleDescription,
		AssumeRolePolicy: iampolicy.AssumeRole("lambda.amazonaws.com"),
	}, opts...)
	if err != nil {
		return nil, err
	}
	policy := iampolicy.Render(func(values []string) iampolicy.Document {
		own, logGroup := values[:len(values)-1], values[len(values)-1]
		return iampolicy.New(append(a.Policy(own),
			iampolicy.Allow([]string{"logs:CreateLogStream", "logs:PutLogEvents"}, logGroup+":*"))...)
	}, append(append([]pulumi.StringInput{}, a.Inputs...), logs.Arn)...)
	rolePolicy, err := iam.NewRolePolicy(ctx, base, &iam.RolePolicyArgs{Role: role.Name, Policy: policy}, opts...)
	if err != nil {
		return nil, err
	}
	args := &lambda.FunctionArgs{
		Name:          pulumi.String(names.Resource(a.Name...)),
		Description:   a.Description,
		Runtime:       pulumi.String("provided.al2023"),
		Architectures: pulumi.StringArray{pulumi.String("arm64")},
		Handler:       pulumi.String("bootstrap"),
		Code:          pulumi.NewFileArchive(a.Code),
		Role:          role.Arn,
		Timeout:       pulumi.Int(a.Timeout),
		Environment:   lambda.FunctionEnvironmentArgs{Variables: a.Environment},
	}
	if a.MemorySize > 0 {
		args.MemorySize = pulumi.Int(a.MemorySize)
	}
	if a.VPC != nil {
		args.VpcConfig = *a.VPC
	}
	// The function's name is the runbook's (aws lambda invoke) and its log group's: a replacement
	// deletes the old function first. It starts once it may write its logs.
	fn, err := lambda.NewFunction(ctx, base, args,
		with(pulumi.DependsOn([]pulumi.Resource{logs, rolePolicy}), pulumi.DeleteBeforeReplace(true))...)
	if err != nil {
		return nil, err
	}
	return &Function{Function: fn, Role: role, RolePolicy: rolePolicy}, nil
}
