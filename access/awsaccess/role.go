// Package awsaccess is the AWS side of the pipeline's access: GitHub's OIDC provider, the deploy
// roles' permissions boundaries, and one role per purpose and stack.
package awsaccess

import (
	"fmt"

	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/iam"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/taskmanager/taskmanager-infra/access/permissions"
	"github.com/taskmanager/taskmanager-infra/access/pipeline"
)

// Role is one pipeline role: trusted by one GitHub environment, with its purpose's policy.
type Role struct {
	pulumi.ResourceState
	ARN pulumi.StringOutput
}

const roleType = "taskmanager-access:aws:Role"

// RoleArgs configure a Role.
type RoleArgs struct {
	// Role is the table's row: purpose, stack, environment, maximum session.
	Role pipeline.Role
	// Name is the role's IAM name (pipeline.Role.Name of the stack file's prefix).
	Name string
	// Subject is the OIDC subject the role trusts (pipeline.Subject).
	Subject string
	// Policy is the role's inline policy.
	Policy string
	// ProviderARN is GitHub's OIDC provider in this account.
	ProviderARN pulumi.StringInput
	// Boundary, when set, is the role's permissions boundary (the deploy roles').
	Boundary pulumi.StringInput
}

// NewRole makes a pipeline role.
func NewRole(ctx *pulumi.Context, name string, args *RoleArgs, opts ...pulumi.ResourceOption) (*Role, error) {
	r := &Role{}
	if err := ctx.RegisterComponentResource(roleType, name, r, opts...); err != nil {
		return nil, err
	}
	parent := pulumi.Parent(r)
	trust := args.ProviderARN.ToStringOutput().ApplyT(func(arn string) string {
		return permissions.Trust(arn, args.Subject).JSON()
	}).(pulumi.StringOutput)
	// The name is fixed (not auto-named): the runbook and the repository variables name it, and
	// it must stay outside every stack's <stack>- prefix, which the deploy roles may write.
	role, err := iam.NewRole(ctx, name, &iam.RoleArgs{
		Name:                pulumi.String(args.Name),
		Description:         pulumi.String(fmt.Sprintf("%s of %s, assumed by GitHub environment %s", args.Role.Purpose, args.Role.Stack, args.Role.Environment)),
		AssumeRolePolicy:    trust,
		MaxSessionDuration:  pulumi.Int(args.Role.MaxSessionSeconds),
		PermissionsBoundary: args.Boundary,
	}, parent)
	if err != nil {
		return nil, err
	}
	if _, err := iam.NewRolePolicy(ctx, name, &iam.RolePolicyArgs{
		Role:   role.ID(),
		Policy: pulumi.String(args.Policy),
	}, parent); err != nil {
		return nil, err
	}
	r.ARN = role.Arn
	return r, ctx.RegisterResourceOutputs(r, pulumi.Map{"arn": r.ARN})
}
