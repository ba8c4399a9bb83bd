// Package githubaccess is the GitHub side of the pipeline's access: the environments the
// workflows bind (reviewers, the refs they accept), the variables holding the roles' ARNs, and
// main's branch protection and the version tags' ruleset.
package githubaccess

import (
	"fmt"

	"github.com/pulumi/pulumi-github/sdk/v6/go/github"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/taskmanager/taskmanager-infra/access/pipeline"
)

// Environment is one GitHub environment with its deployment policy.
type Environment struct {
	pulumi.ResourceState
	Name pulumi.StringOutput
}

const environmentType = "taskmanager-access:github:Environment"

// EnvironmentArgs configure an Environment.
type EnvironmentArgs struct {
	Repository  string
	Environment pipeline.Environment
	// ReviewerTeams and ReviewerUsers are GitHub IDs; at least one when Environment.Reviewed.
	ReviewerTeams, ReviewerUsers []int
}

// NewEnvironment makes a GitHub environment that accepts the refs of its row and, where the row
// says so, waits for a reviewer who did not start the run. Admins cannot bypass either.
func NewEnvironment(ctx *pulumi.Context, name string, args *EnvironmentArgs, opts ...pulumi.ResourceOption) (*Environment, error) {
	e := &Environment{}
	if err := ctx.RegisterComponentResource(environmentType, name, e, opts...); err != nil {
		return nil, err
	}
	parent := pulumi.Parent(e)
	row := args.Environment
	envArgs := &github.RepositoryEnvironmentArgs{
		Repository:      pulumi.String(args.Repository),
		Environment:     pulumi.String(row.Name),
		CanAdminsBypass: pulumi.Bool(false),
	}
	if row.Reviewed {
		if len(args.ReviewerTeams)+len(args.ReviewerUsers) == 0 {
			return nil, fmt.Errorf("the GitHub environment %s is reviewed and has no reviewer", row.Name)
		}
		envArgs.PreventSelfReview = pulumi.Bool(true)
		envArgs.Reviewers = github.RepositoryEnvironmentReviewerArray{github.RepositoryEnvironmentReviewerArgs{
			Teams: pulumi.ToIntArray(args.ReviewerTeams),
			Users: pulumi.ToIntArray(args.ReviewerUsers),
		}}
	}
	if row.Refs != pipeline.AnyBranch {
		envArgs.DeploymentBranchPolicy = github.RepositoryEnvironmentDeploymentBranchPolicyArgs{
			CustomBranchPolicies: pulumi.Bool(true),
			ProtectedBranches:    pulumi.Bool(false),
		}
	}
	env, err := github.NewRepositoryEnvironment(ctx, name, envArgs, parent)
	if err != nil {
		return nil, err
	}
	policy := &github.RepositoryEnvironmentDeploymentPolicyArgs{
		Repository:  pulumi.String(args.Repository),
		Environment: env.Environment,
	}
	switch row.Refs {
	case pipeline.MainBranch:
		policy.BranchPattern = pulumi.String("main")
	case pipeline.VersionTags:
		policy.TagPattern = pulumi.String("v*.*.*")
	case pipeline.AnyBranch:
		policy = nil
	default:
		return nil, fmt.Errorf("the GitHub environment %s accepts %q, which this program cannot express", row.Name, row.Refs)
	}
	if policy != nil {
		if _, err := github.NewRepositoryEnvironmentDeploymentPolicy(ctx, name, policy, parent); err != nil {
			return nil, err
		}
	}
	e.Name = env.Environment
	return e, ctx.RegisterResourceOutputs(e, pulumi.Map{"name": e.Name})
}
