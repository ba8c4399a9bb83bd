package stacks

import (
	"fmt"

	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/iam"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/taskmanager/taskmanager-infra/internal/naming"
)

// PermissionsBoundaryARN is the boundary every role of the stack carries: the policy the access
// program (access/) makes for the stack's deploy role, whose permissions let it create a role only
// with this boundary. Derived, not configured: the name is the stack's (naming.PipelineBoundary),
// so the access stack of the account must be up before the environment's first `pulumi up`.
func PermissionsBoundaryARN(stack, account string) string {
	return fmt.Sprintf("arn:aws:iam::%s:policy/%s", account, naming.For(stack).PipelineBoundary())
}

// boundRoles puts the boundary on every IAM role the program registers, in one place, so that a
// role added to any component later carries it too (and a test over every stack says so).
func boundRoles(ctx *pulumi.Context, stack, account string) error {
	boundary := PermissionsBoundaryARN(stack, account)
	return ctx.RegisterStackTransformation(func(args *pulumi.ResourceTransformationArgs) *pulumi.ResourceTransformationResult {
		role, ok := args.Props.(*iam.RoleArgs)
		if args.Type != "aws:iam/role:Role" || !ok {
			return nil
		}
		role.PermissionsBoundary = pulumi.String(boundary)
		return &pulumi.ResourceTransformationResult{Props: role, Opts: args.Opts}
	})
}
