// Package pipeline is the one table of the delivery pipeline's identities: which GitHub
// environment each workflow job binds, which AWS role that environment's OIDC subject may assume,
// the repository variable that holds the role's ARN, and how long a session may last. The access
// program (access/) builds the roles and environments from it; the workflow tests
// (tests/scripts) hold .github/workflows against it. Change a name here and both follow, or fail.
package pipeline

import (
	"fmt"
	"slices"
)

// Stacks are the environments' stacks, in promotion order.
var Stacks = []string{"dev", "staging", "production"}

// Purpose is what a role is for; a role is one purpose for one stack.
type Purpose string

const (
	// Deploy runs `pulumi up` and scripts/deploy.sh on its stack.
	Deploy Purpose = "deploy"
	// Preview runs a pull request's `pulumi preview` of dev: the pull request's code runs in it.
	Preview Purpose = "preview"
	// ImageRead pulls the stack's images, for the next stack's deploy to copy them (promotion).
	ImageRead Purpose = "image-read"
	// ReleaseCheck reads which image staging runs, before production's approval (release.yml).
	ReleaseCheck Purpose = "release-check"
	// Drift runs the nightly `pulumi preview --refresh --expect-no-changes`.
	Drift Purpose = "drift"
	// DriftManual is the same check of production started by a person (workflow_dispatch): a role
	// and environment of its own, with reviewers, so that the nightly one needs none.
	DriftManual Purpose = "drift-manual"
	// DataRefresh copies production's latest snapshot, sanitized, into staging's database.
	DataRefresh Purpose = "data-refresh"
	// DataReap deletes a refresh's temporary copy of production's data left behind (its runner
	// died before its cleanup), on a schedule: no reviewer, and it may delete that copy only.
	DataReap Purpose = "data-reap"
)

// Refs are the git refs a GitHub environment accepts deployments from.
type Refs string

const (
	// AnyBranch: no deployment branch policy. Only the pull request preview's environment, whose
	// role reads dev and nothing else: a pull request's branch can be any branch.
	AnyBranch Refs = "any branch"
	// MainBranch: the branch main only.
	MainBranch Refs = "main"
	// VersionTags: the tags v*.*.* only (production's releases).
	VersionTags Refs = "v*.*.*"
)

// Environment is a GitHub environment of the repository.
type Environment struct {
	// Name is the environment's name, which is also the OIDC subject's
	// (repo:<owner>/<repo>:environment:<name>).
	Name string
	// Stack is the stack whose account's access stack creates the environment.
	Stack string
	// Refs are the refs it accepts.
	Refs Refs
	// Reviewed environments wait for one of their required reviewers (taskmanager-access:reviewers)
	// before a job runs: production's deploys, a person's drift check of production, and the copy
	// of production's data into staging.
	Reviewed bool
}

// Environments are every GitHub environment the workflows bind: one per purpose and stack, except
// that a promotion's image read happens inside the next stack's deploy job (its environment).
var Environments = []Environment{
	{Name: "dev", Stack: "dev", Refs: MainBranch},
	{Name: "staging", Stack: "staging", Refs: MainBranch},
	{Name: "production", Stack: "production", Refs: VersionTags, Reviewed: true},
	{Name: "dev-preview", Stack: "dev", Refs: AnyBranch},
	{Name: "production-release-check", Stack: "staging", Refs: VersionTags},
	{Name: "dev-drift", Stack: "dev", Refs: MainBranch},
	{Name: "staging-drift", Stack: "staging", Refs: MainBranch},
	{Name: "production-drift", Stack: "production", Refs: MainBranch},
	{Name: "production-drift-manual", Stack: "production", Refs: MainBranch, Reviewed: true},
	{Name: "staging-data-refresh", Stack: "staging", Refs: MainBranch, Reviewed: true},
	{Name: "staging-data-reap", Stack: "staging", Refs: MainBranch},
}

// Role is one IAM role of the pipeline.
type Role struct {
	Purpose Purpose
	// Stack is the stack the role acts on; the account hosting that stack hosts the role.
	Stack string
	// Environment is the one GitHub environment whose OIDC subject the role trusts.
	Environment string
	// Variable is the repository variable (vars.<Variable>) holding the role's ARN.
	Variable string
	// MaxSessionSeconds is the role's maximum session duration: at least what the jobs that
	// assume it ask for (role-duration-seconds: the job's whole timeout). IAM allows 3600-43200.
	MaxSessionSeconds int
}

// Name is the role's IAM name: <prefix>-<purpose>-<stack>.
func (r Role) Name(prefix string) string { return fmt.Sprintf("%s-%s-%s", prefix, r.Purpose, r.Stack) }

// Session lengths. A deploy holds its credentials for its 180-minute timeout (deploy-stack.yml),
// the refresh for its 350 minutes; the others are short, and IAM's minimum is an hour.
const (
	hour           = 3600
	deploySeconds  = 3 * hour
	refreshSeconds = 6 * hour
)

// Roles are every role of the pipeline.
var Roles = []Role{
	{Deploy, "dev", "dev", "AWS_ROLE_ARN_DEV", deploySeconds},
	{Deploy, "staging", "staging", "AWS_ROLE_ARN_STAGING", deploySeconds},
	{Deploy, "production", "production", "AWS_ROLE_ARN_PRODUCTION", deploySeconds},
	// Pull requests preview dev only (DESIGN.md, second round).
	{Preview, "dev", "dev-preview", "AWS_PREVIEW_ROLE_ARN_DEV", hour},
	// Promotion: staging's deploy copies dev's image, production's deploy staging's.
	{ImageRead, "dev", "staging", "AWS_ECR_READ_ROLE_ARN_DEV", deploySeconds},
	{ImageRead, "staging", "production", "AWS_ECR_READ_ROLE_ARN_STAGING", deploySeconds},
	// Before production's approval, the image staging runs is resolved so that the reviewers
	// approve that exact image: a job of its own, without production's reviewers.
	{ReleaseCheck, "staging", "production-release-check", "AWS_RELEASE_CHECK_ROLE_ARN_STAGING", hour},
	{Drift, "dev", "dev-drift", "AWS_DRIFT_ROLE_ARN_DEV", hour},
	{Drift, "staging", "staging-drift", "AWS_DRIFT_ROLE_ARN_STAGING", hour},
	{Drift, "production", "production-drift", "AWS_DRIFT_ROLE_ARN_PRODUCTION", hour},
	// Production's nightly check needs no reviewer; a person's run of it waits for one.
	{DriftManual, "production", "production-drift-manual", "AWS_DRIFT_MANUAL_ROLE_ARN_PRODUCTION", hour},
	{DataRefresh, "staging", "staging-data-refresh", "AWS_DATA_REFRESH_ROLE_ARN_STAGING", refreshSeconds},
	{DataReap, "staging", "staging-data-reap", "AWS_DATA_REAP_ROLE_ARN_STAGING", hour},
}

// RequiredChecks are the status checks branch protection requires on main: the check names of the
// jobs the pull request workflows run (a called workflow's jobs as "<caller job> / <job name>").
// "Cost of the change" is the budget's gate (cost.yml): a stack over its budget fails it unless
// the pull request carries the budget-approved label.
var RequiredChecks = []string{
	"checks / Build, vet, test",
	"checks / Lint workflows and scripts",
	"checks / Security scan (govulncheck)",
	"Preview dev",
	"Cost of the change",
}

// OptionalChecks are the pull request jobs branch protection does not require, and why.
var OptionalChecks = map[string]string{
	"Comment the cost":    "it only posts the cost report as a comment; the budget's gate is Cost of the change",
	"Comment the preview": "it only posts Preview dev's diff as a comment; the gate is Preview dev",
}

// RequiredApprovals is the number of approving reviews a pull request into main needs (the spec's
// two approvers).
const RequiredApprovals = 2

// ProtectedTags is the ref pattern the tag ruleset protects: only release managers create,
// move or delete version tags.
const ProtectedTags = "refs/tags/v*"

// EnvironmentNamed returns the environment of a name.
func EnvironmentNamed(name string) (Environment, bool) {
	i := slices.IndexFunc(Environments, func(e Environment) bool { return e.Name == name })
	if i < 0 {
		return Environment{}, false
	}
	return Environments[i], true
}

// RoleForVariable returns the role whose ARN a repository variable holds.
func RoleForVariable(variable string) (Role, bool) {
	i := slices.IndexFunc(Roles, func(r Role) bool { return r.Variable == variable })
	if i < 0 {
		return Role{}, false
	}
	return Roles[i], true
}

// Subject is the OIDC subject of a job bound to a GitHub environment.
func Subject(owner, repository, environment string) string {
	return fmt.Sprintf("repo:%s/%s:environment:%s", owner, repository, environment)
}
