package githubaccess

import (
	"slices"

	"github.com/pulumi/pulumi-github/sdk/v6/go/github"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/taskmanager/taskmanager-infra/access/pipeline"
)

// Repository is the repository-wide protection: main's branch protection and the version tags'
// ruleset. One access stack owns it (taskmanager-access:repository).
type Repository struct {
	pulumi.ResourceState
}

const repositoryType = "taskmanager-access:github:Repository"

// RepositoryArgs configure a Repository.
type RepositoryArgs struct {
	Repository string
	// ReleaseManagerTeams may create, move and delete v* tags; no one else can.
	ReleaseManagerTeams []int
	// Variables are repository variables by name (e.g. PULUMI_ORG, AWS_REGION).
	Variables map[string]string
}

// NewRepository protects main and the version tags.
func NewRepository(ctx *pulumi.Context, name string, args *RepositoryArgs, opts ...pulumi.ResourceOption) (*Repository, error) {
	r := &Repository{}
	if err := ctx.RegisterComponentResource(repositoryType, name, r, opts...); err != nil {
		return nil, err
	}
	parent := pulumi.Parent(r)
	// Two approvals (the spec's approvers), stale ones dismissed by a new push, the checks of
	// ci.yml passing on the branch as merged; admins included; no force push or deletion.
	if _, err := github.NewBranchProtection(ctx, name+"-main", &github.BranchProtectionArgs{
		RepositoryId:      pulumi.String(args.Repository),
		Pattern:           pulumi.String("main"),
		EnforceAdmins:     pulumi.Bool(true),
		AllowsDeletions:   pulumi.Bool(false),
		AllowsForcePushes: pulumi.Bool(false),
		RequiredPullRequestReviews: github.BranchProtectionRequiredPullRequestReviewArray{github.BranchProtectionRequiredPullRequestReviewArgs{
			RequiredApprovingReviewCount: pulumi.Int(pipeline.RequiredApprovals),
			DismissStaleReviews:          pulumi.Bool(true),
			RequireLastPushApproval:      pulumi.Bool(true),
			// .github/CODEOWNERS: e.g. the staging data refresh's sanitization SQL needs its data
			// owners' approval, not only any two reviewers'.
			RequireCodeOwnerReviews: pulumi.Bool(true),
		}},
		RequiredStatusChecks: github.BranchProtectionRequiredStatusCheckArray{github.BranchProtectionRequiredStatusCheckArgs{
			Strict:   pulumi.Bool(true),
			Contexts: pulumi.ToStringArray(pipeline.RequiredChecks),
		}},
	}, parent); err != nil {
		return nil, err
	}
	var bypass github.RepositoryRulesetBypassActorArray
	for _, id := range args.ReleaseManagerTeams {
		bypass = append(bypass, github.RepositoryRulesetBypassActorArgs{
			ActorId: pulumi.Int(id), ActorType: pulumi.String("Team"), BypassMode: pulumi.String("always"),
		})
	}
	// A release is a tag push (release.yml): only release managers create, move or delete v* tags.
	if _, err := github.NewRepositoryRuleset(ctx, name+"-version-tags", &github.RepositoryRulesetArgs{
		Repository:  pulumi.String(args.Repository),
		Name:        pulumi.String("version tags"),
		Target:      pulumi.String("tag"),
		Enforcement: pulumi.String("active"),
		Conditions: github.RepositoryRulesetConditionsArgs{RefName: github.RepositoryRulesetConditionsRefNameArgs{
			Includes: pulumi.ToStringArray([]string{pipeline.ProtectedTags}),
			Excludes: pulumi.StringArray{},
		}},
		Rules: github.RepositoryRulesetRulesArgs{
			Creation:       pulumi.Bool(true),
			Update:         pulumi.Bool(true),
			Deletion:       pulumi.Bool(true),
			NonFastForward: pulumi.Bool(true),
		},
		BypassActors: bypass,
	}, parent); err != nil {
		return nil, err
	}
	for _, v := range sortedKeys(args.Variables) {
		if _, err := NewVariable(ctx, v, args.Repository, pulumi.String(args.Variables[v]), parent); err != nil {
			return nil, err
		}
	}
	return r, ctx.RegisterResourceOutputs(r, pulumi.Map{})
}

// NewVariable makes a repository variable, named by the variable (its logical name too: a
// variable is one per repository).
func NewVariable(ctx *pulumi.Context, variable, repository string, value pulumi.StringInput, opts ...pulumi.ResourceOption) (*github.ActionsVariable, error) {
	return github.NewActionsVariable(ctx, variable, &github.ActionsVariableArgs{
		Repository:   pulumi.String(repository),
		VariableName: pulumi.String(variable),
		Value:        value,
	}, opts...)
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
