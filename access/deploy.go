package main

import (
	"fmt"

	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/iam"
	"github.com/pulumi/pulumi-github/sdk/v6/go/github"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/taskmanager/taskmanager-infra/access/awsaccess"
	"github.com/taskmanager/taskmanager-infra/access/githubaccess"
	"github.com/taskmanager/taskmanager-infra/access/permissions"
	"github.com/taskmanager/taskmanager-infra/access/pipeline"
	"github.com/taskmanager/taskmanager-infra/internal/iampolicy"
)

// deploy loads and validates the account's config, then makes its part of the pipeline's access.
func deploy(ctx *pulumi.Context) error {
	src, err := sourceOf(ctx)
	if err != nil {
		return err
	}
	cfg, err := load(src)
	if err != nil {
		return err
	}
	caller, err := aws.GetCallerIdentity(ctx, nil)
	if err != nil {
		return err
	}
	partition, err := aws.GetPartition(ctx, nil)
	if err != nil {
		return err
	}
	account := permissions.Account{Partition: partition.Partition, Region: cfg.Region, ID: caller.AccountId}

	var provider pulumi.StringOutput
	if cfg.OIDCProvider == CreateProvider {
		provider, err = awsaccess.NewGitHubProvider(ctx, "github-actions")
	} else {
		provider, err = awsaccess.AdoptGitHubProvider(ctx)
	}
	if err != nil {
		return err
	}

	// Each deploy role carries its stack's boundary, the one it must put on the roles it creates.
	boundaries := map[string]pulumi.StringOutput{}
	for _, stack := range cfg.Environments {
		p, err := iam.NewPolicy(ctx, "boundary-"+stack, &iam.PolicyArgs{
			// The main program derives this name (naming.PipelineBoundary): it must not change.
			Name:        pulumi.String(permissions.BoundaryName(stack)),
			Description: pulumi.String(fmt.Sprintf("The most %s's deploy role, and every role it creates, may do", stack)),
			Policy:      pulumi.String(permissions.Boundary(account, stack).JSON()),
		})
		if err != nil {
			return err
		}
		boundaries[stack] = p.Arn
	}

	gh, err := github.NewProvider(ctx, "github", &github.ProviderArgs{Owner: pulumi.String(cfg.GitHub.Owner)})
	if err != nil {
		return err
	}
	onGitHub := pulumi.Provider(gh)

	arns := pulumi.Map{}
	for _, row := range cfg.roles() {
		name := row.Name(cfg.RoleNamePrefix)
		doc, err := policy(account, row)
		if err != nil {
			return err
		}
		args := &awsaccess.RoleArgs{
			Role:        row,
			Name:        name,
			Subject:     pipeline.Subject(cfg.GitHub.Owner, cfg.GitHub.Repository, row.Environment),
			Policy:      doc.JSON(),
			ProviderARN: provider,
		}
		if row.Purpose == pipeline.Deploy {
			args.Boundary = boundaries[row.Stack]
		}
		role, err := awsaccess.NewRole(ctx, fmt.Sprintf("%s-%s", row.Purpose, row.Stack), args)
		if err != nil {
			return err
		}
		// A repository variable, not an environment's: a reusable workflow's caller passes the
		// deploy and image-read roles (deploy.yml, release.yml), and a caller sees no
		// environment's variables. A role's ARN is no secret; its trust is what guards it.
		if _, err := githubaccess.NewVariable(ctx, row.Variable, cfg.GitHub.Repository, role.ARN, onGitHub); err != nil {
			return err
		}
		arns[name] = role.ARN
	}

	for _, env := range cfg.hosted() {
		r := cfg.Reviewers[env.Name]
		if _, err := githubaccess.NewEnvironment(ctx, env.Name, &githubaccess.EnvironmentArgs{
			Repository:    cfg.GitHub.Repository,
			Environment:   env,
			ReviewerTeams: r.Teams,
			ReviewerUsers: r.Users,
		}, onGitHub); err != nil {
			return err
		}
	}

	if cfg.Repository != nil {
		vars := map[string]string{"AWS_REGION": cfg.Region}
		if cfg.Repository.PulumiOrg != "" {
			vars["PULUMI_ORG"] = cfg.Repository.PulumiOrg
		}
		if _, err := githubaccess.NewRepository(ctx, "repository", &githubaccess.RepositoryArgs{
			Repository:          cfg.GitHub.Repository,
			ReleaseManagerTeams: cfg.Repository.ReleaseManagerTeams,
			Variables:           vars,
		}, onGitHub); err != nil {
			return err
		}
	}

	ctx.Export("roleArns", arns)
	ctx.Export("oidcProviderArn", provider)
	return nil
}

// policy is a role's inline policy, by purpose.
func policy(a permissions.Account, row pipeline.Role) (iampolicy.Document, error) {
	switch row.Purpose {
	case pipeline.Deploy:
		return permissions.Deploy(a, row.Stack), nil
	case pipeline.ImageRead:
		return permissions.ImageRead(a, row.Stack), nil
	case pipeline.ReleaseCheck:
		return permissions.ReleaseCheck(a, row.Stack), nil
	case pipeline.DataRefresh:
		// Production's data is the only source a refresh has (scripts/refresh-staging-data.sh).
		return permissions.DataRefresh(a, "production", row.Stack), nil
	case pipeline.DataReap:
		return permissions.DataReap(a, "production", row.Stack), nil
	case pipeline.Drift, pipeline.DriftManual, pipeline.Preview:
		return permissions.Describe(), nil
	}
	return iampolicy.Document{}, fmt.Errorf("the role %s has the purpose %q, for which this program writes no policy", row.Name(""), row.Purpose)
}
