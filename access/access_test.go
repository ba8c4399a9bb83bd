package main

import (
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/taskmanager/taskmanager-infra/access/pipeline"
	"github.com/taskmanager/taskmanager-infra/internal/iampolicy"
	"github.com/taskmanager/taskmanager-infra/internal/mockengine"
)

const (
	roleType     = "aws:iam/role:Role"
	policyType   = "aws:iam/rolePolicy:RolePolicy"
	variableType = "github:index/actionsVariable:ActionsVariable"
	envType      = "github:index/repositoryEnvironment:RepositoryEnvironment"
	envPolicy    = "github:index/repositoryEnvironmentDeploymentPolicy:RepositoryEnvironmentDeploymentPolicy"
	// The mocks' ARN of a resource: arn:aws:<module>:<region>:<account>:<logical name>.
	mockARN = "arn:aws:iam:" + mockengine.Region + ":" + mockengine.Account + ":"
)

// Every role of the table exists in the example account, named by purpose and stack, trusting
// exactly its one GitHub environment's subject (StringEquals) and the STS audience, with the
// table's maximum session; its ARN is in the table's repository variable.
func TestEachRoleTrustsExactlyOneEnvironment(t *testing.T) {
	rec := runExample(t)
	provider := one(t, rec, "aws:iam/openIdConnectProvider:OpenIdConnectProvider", "github-actions")
	assert.Equal(t, "https://token.actions.githubusercontent.com", provider.Inputs["url"])
	assert.Equal(t, []any{"sts.amazonaws.com"}, provider.Inputs["clientIdLists"])

	require.Len(t, rec.All(roleType), len(pipeline.Roles))
	for _, row := range pipeline.Roles {
		name := fmt.Sprintf("%s-%s", row.Purpose, row.Stack)
		role := one(t, rec, roleType, name)
		assert.Equal(t, "taskmanager-ci-"+name, role.Inputs["name"])
		assert.EqualValues(t, row.MaxSessionSeconds, role.Inputs["maxSessionDuration"], name)
		trust := document(t, role.Inputs["assumeRolePolicy"])
		require.Len(t, trust.Statement, 1, name)
		st := trust.Statement[0]
		assert.Equal(t, "Allow", st.Effect)
		assert.Equal(t, map[string]any{"Federated": mockARN + "github-actions"}, st.Principal)
		assert.Equal(t, []string{"sts:AssumeRoleWithWebIdentity"}, st.Action)
		assert.Equal(t, map[string]any{"StringEquals": map[string]any{
			"token.actions.githubusercontent.com:aud": "sts.amazonaws.com",
			"token.actions.githubusercontent.com:sub": "repo:example-org/taskmanager-infra:environment:" + row.Environment,
		}}, st.Condition, name)

		v := one(t, rec, variableType, row.Variable)
		assert.Equal(t, row.Variable, v.Inputs["variableName"])
		assert.Equal(t, "taskmanager-infra", v.Inputs["repository"])
		assert.Equal(t, mockARN+name, v.Inputs["value"], "%s holds %s's ARN", row.Variable, name)

		if row.Purpose == pipeline.Deploy {
			assert.Equal(t, mockARN+"boundary-"+row.Stack, role.Inputs["permissionsBoundary"], name)
		} else {
			assert.Nil(t, role.Inputs["permissionsBoundary"], name)
		}
		assert.NotNil(t, one(t, rec, policyType, name).Inputs["policy"])
	}
}

// The boundary each deploy role carries, and must put on every role it creates: a role is created
// (or re-bounded) only with it; no boundary is removed; no IAM write outside <stack>-*.
func TestDeployRolesAreBounded(t *testing.T) {
	rec := runExample(t)
	for _, stack := range pipeline.Stacks {
		p := one(t, rec, "aws:iam/policy:Policy", "boundary-"+stack)
		assert.Equal(t, "taskmanager-"+stack+"-pipeline-boundary", p.Inputs["name"])
		b := document(t, p.Inputs["policy"])
		boundary := "arn:aws:iam::" + mockengine.Account + ":policy/taskmanager-" + stack + "-pipeline-boundary"
		prefix := []string{"arn:aws:iam::" + mockengine.Account + ":role/" + stack + "-*", "arn:aws:iam::" + mockengine.Account + ":instance-profile/" + stack + "-*", "arn:aws:iam::" + mockengine.Account + ":policy/" + stack + "-*"}

		create := statement(t, b, "CreateRolesOnlyWithThisBoundary")
		assert.Equal(t, "Deny", create.Effect)
		assert.ElementsMatch(t, []string{"iam:CreateRole", "iam:PutRolePermissionsBoundary"}, create.Action)
		assert.Equal(t, map[string]any{"StringNotEquals": map[string]any{"iam:PermissionsBoundary": boundary}}, create.Condition)
		keep := statement(t, b, "KeepBoundaries")
		assert.Equal(t, "Deny", keep.Effect)
		assert.Contains(t, keep.Action, "iam:DeleteRolePermissionsBoundary")
		outside := statement(t, b, "NoIAMWritesOutsideTheStack")
		assert.Equal(t, "Deny", outside.Effect)
		assert.Equal(t, prefix, outside.NotResource)
		assert.Subset(t, outside.Action, []string{"iam:CreateRole", "iam:PutRolePolicy", "iam:AttachRolePolicy", "iam:PassRole", "iam:UpdateAssumeRolePolicy"})
		assert.Equal(t, []string{boundary}, statement(t, b, "KeepThisBoundary").Resource)

		// The deploy role's own policy: IAM writes only under the prefix, and no IAM wildcard.
		d := document(t, one(t, rec, policyType, "deploy-"+stack).Inputs["policy"])
		writes := statement(t, d, "WriteTheStacksRoles")
		assert.Equal(t, prefix, writes.Resource)
		for _, st := range d.Statement {
			for _, a := range st.Action {
				assert.NotEqual(t, "iam:*", a)
				assert.NotEqual(t, "*", a)
			}
		}
		// The pipeline's own roles are outside every stack's prefix.
		assert.False(t, strings.HasPrefix("taskmanager-ci-deploy-"+stack, stack+"-"))
	}
}

// Drift and preview describe and never read data: the denies the third review asked for, and no
// allowance wider than Describe*/List*/Get* of a service.
func TestDriftAndPreviewReadNoData(t *testing.T) {
	rec := runExample(t)
	for _, name := range []string{"drift-dev", "drift-staging", "drift-production", "drift-manual-production", "preview-dev"} {
		d := document(t, one(t, rec, policyType, name).Inputs["policy"])
		deny := statement(t, d, "NeverReadData")
		assert.Equal(t, "Deny", deny.Effect)
		assert.Equal(t, []string{"*"}, deny.Resource)
		assert.Subset(t, deny.Action, []string{"s3:GetObject", "logs:GetLogEvents", "logs:FilterLogEvents", "secretsmanager:GetSecretValue", "kms:Decrypt"}, name)
		for _, st := range d.Statement {
			if st.Effect != "Allow" {
				continue
			}
			for _, a := range st.Action {
				_, verb, _ := strings.Cut(a, ":")
				assert.Contains(t, []string{"Describe*", "List*", "Get*"}, verb, "%s allows %s", name, a)
			}
		}
	}
}

// The refresh writes only its temporary instance and snapshot copy, reads only the master secrets
// of staging's database and of that instance, and uses the keys only through RDS and Secrets
// Manager.
func TestDataRefreshIsNarrow(t *testing.T) {
	rec := runExample(t)
	d := document(t, one(t, rec, policyType, "data-refresh-staging").Inputs["policy"])
	arn := func(s string) string { return "arn:aws:rds:us-east-1:" + mockengine.Account + ":" + s }
	deny := statement(t, d, "NeverWriteTheSource")
	assert.Equal(t, "Deny", deny.Effect)
	assert.Equal(t, []string{"arn:aws:rds:*:*:*:production-*"}, deny.Resource)
	assert.Subset(t, deny.Action, []string{"rds:Modify*", "rds:Delete*", "rds:Restore*"})
	for _, st := range d.Statement {
		if st.Sid == deny.Sid {
			continue
		}
		require.Equal(t, "Allow", st.Effect)
		for _, a := range st.Action {
			switch {
			case a == "rds:DeleteDBInstance", a == "rds:ModifyDBInstance":
				assert.Equal(t, []string{arn("db:staging-taskmanager-refresh")}, st.Resource, a)
			case a == "rds:DeleteDBSnapshot":
				assert.Equal(t, []string{arn("snapshot:staging-taskmanager-refresh")}, st.Resource, a)
			case a == "secretsmanager:GetSecretValue":
				assert.Equal(t, map[string]any{"StringEquals": map[string]any{
					"secretsmanager:ResourceTag/aws:rds:primaryDBInstanceArn": []any{arn("db:staging-taskmanager-db"), arn("db:staging-taskmanager-refresh")},
				}}, st.Condition)
			case a == "ssm:StartSession":
				// Port forwarding only: no unlogged shell on staging's bastion, where the copy is.
				assert.Equal(t, "true", st.Condition["BoolIfExists"].(map[string]any)["ssm:SessionDocumentAccessCheck"], "%v", st.Resource)
			case strings.HasPrefix(a, "kms:"):
				assert.Equal(t, []any{"rds.us-east-1.amazonaws.com", "secretsmanager.us-east-1.amazonaws.com"},
					st.Condition["StringEquals"].(map[string]any)["kms:ViaService"], a)
			}
			assert.False(t, strings.HasSuffix(a, "*"), "the refresh allows %s", a)
		}
	}
}

// The reaper lists and deletes the refresh's copy of production's data, and nothing else: not
// staging's database, never production's.
func TestDataReapDeletesOnlyTheCopy(t *testing.T) {
	rec := runExample(t)
	d := document(t, one(t, rec, policyType, "data-reap-staging").Inputs["policy"])
	arn := func(s string) string { return "arn:aws:rds:us-east-1:" + mockengine.Account + ":" + s }
	assert.Equal(t, []string{"arn:aws:rds:*:*:*:production-*"}, statement(t, d, "NeverWriteTheSource").Resource)
	actions := map[string][]string{}
	for _, st := range d.Statement {
		if st.Effect == "Allow" {
			for _, a := range st.Action {
				actions[a] = st.Resource
			}
		}
	}
	assert.Equal(t, map[string][]string{
		"rds:DescribeDBInstances": {"*"}, "rds:DescribeDBSnapshots": {"*"},
		"rds:DeleteDBInstance": {arn("db:staging-taskmanager-refresh")},
		"rds:DeleteDBSnapshot": {arn("snapshot:staging-taskmanager-refresh")},
	}, actions)
}

// Image reads pull one repository; the release check reads one cluster's services.
func TestImageReadAndReleaseCheck(t *testing.T) {
	rec := runExample(t)
	for _, stack := range []string{"dev", "staging"} {
		d := document(t, one(t, rec, policyType, "image-read-"+stack).Inputs["policy"])
		require.Len(t, d.Statement, 2)
		assert.Equal(t, []string{"arn:aws:ecr:us-east-1:" + mockengine.Account + ":repository/taskmanager-" + stack}, d.Statement[1].Resource)
		assert.NotContains(t, d.Statement[1].Action, "ecr:PutImage")
	}
	d := document(t, one(t, rec, policyType, "release-check-staging").Inputs["policy"])
	assert.Equal(t, []string{"arn:aws:ecs:us-east-1:" + mockengine.Account + ":service/staging-taskmanager/*"}, d.Statement[0].Resource)
}

// The GitHub environments: one per row, accepting only the row's refs, reviewers where the row
// says (who cannot approve their own run), admins never bypassing.
func TestGitHubEnvironments(t *testing.T) {
	rec := runExample(t)
	require.Len(t, rec.All(envType), len(pipeline.Environments))
	for _, row := range pipeline.Environments {
		env := one(t, rec, envType, row.Name)
		assert.Equal(t, row.Name, env.Inputs["environment"])
		assert.Equal(t, false, env.Inputs["canAdminsBypass"], row.Name)
		policy, hasPolicy := rec.Find(envPolicy, row.Name)
		switch row.Refs {
		case pipeline.MainBranch:
			require.True(t, hasPolicy, row.Name)
			assert.Equal(t, "main", policy.Inputs["branchPattern"], row.Name)
			assert.Nil(t, policy.Inputs["tagPattern"], row.Name)
		case pipeline.VersionTags:
			require.True(t, hasPolicy, row.Name)
			assert.Equal(t, "v*.*.*", policy.Inputs["tagPattern"], row.Name)
			assert.Nil(t, policy.Inputs["branchPattern"], row.Name)
		case pipeline.AnyBranch:
			assert.False(t, hasPolicy, row.Name)
			assert.Nil(t, env.Inputs["deploymentBranchPolicy"], row.Name)
		}
		if row.Refs != pipeline.AnyBranch {
			assert.Equal(t, map[string]any{"customBranchPolicies": true, "protectedBranches": false}, env.Inputs["deploymentBranchPolicy"], row.Name)
		}
		if row.Reviewed {
			assert.Equal(t, true, env.Inputs["preventSelfReview"], row.Name)
			assert.NotEmpty(t, env.Inputs["reviewers"], row.Name)
		} else {
			assert.Nil(t, env.Inputs["reviewers"], row.Name)
		}
	}
	assert.Equal(t, []any{map[string]any{"teams": []any{1000001.0}, "users": []any{}}}, one(t, rec, envType, "production").Inputs["reviewers"])
	assert.Equal(t, []any{map[string]any{"teams": []any{1000002.0}, "users": []any{}}}, one(t, rec, envType, "staging-data-refresh").Inputs["reviewers"])
	// Production's drift check: nightly without a reviewer, by hand only behind one (issue 18).
	assert.Nil(t, one(t, rec, envType, "production-drift").Inputs["reviewers"])
	assert.Equal(t, []any{map[string]any{"teams": []any{1000001.0}, "users": []any{}}}, one(t, rec, envType, "production-drift-manual").Inputs["reviewers"])
}

// Main: pull requests with two approvals, stale ones dismissed, the required checks; v* tags
// only by release managers.
func TestBranchProtectionAndTagRuleset(t *testing.T) {
	rec := runExample(t)
	bp := one(t, rec, "github:index/branchProtection:BranchProtection", "repository-main")
	assert.Equal(t, "main", bp.Inputs["pattern"])
	assert.Equal(t, true, bp.Inputs["enforceAdmins"])
	assert.Equal(t, false, bp.Inputs["allowsForcePushes"])
	reviews := bp.Inputs["requiredPullRequestReviews"].([]any)[0].(map[string]any)
	assert.EqualValues(t, 2, reviews["requiredApprovingReviewCount"])
	assert.Equal(t, true, reviews["dismissStaleReviews"])
	assert.Equal(t, true, reviews["requireCodeOwnerReviews"], ".github/CODEOWNERS is enforced (the sanitization SQL's owners)")
	checks := bp.Inputs["requiredStatusChecks"].([]any)[0].(map[string]any)
	assert.Equal(t, []any{"checks / Build, vet, test", "checks / Lint workflows and scripts", "checks / Security scan (govulncheck)", "Preview dev", "Cost of the change"}, checks["contexts"], "the budget gate is required too")

	rs := one(t, rec, "github:index/repositoryRuleset:RepositoryRuleset", "repository-version-tags")
	assert.Equal(t, "tag", rs.Inputs["target"])
	assert.Equal(t, "active", rs.Inputs["enforcement"])
	assert.Equal(t, []any{"refs/tags/v*"}, rs.Inputs["conditions"].(map[string]any)["refName"].(map[string]any)["includes"])
	rules := rs.Inputs["rules"].(map[string]any)
	for _, r := range []string{"creation", "update", "deletion"} {
		assert.Equal(t, true, rules[r], r)
	}
	assert.Equal(t, []any{map[string]any{"actorId": 1000001.0, "actorType": "Team", "bypassMode": "always"}}, rs.Inputs["bypassActors"])
	assert.Equal(t, "example-org", one(t, rec, variableType, "PULUMI_ORG").Inputs["value"])
	assert.Equal(t, "us-east-1", one(t, rec, variableType, "AWS_REGION").Inputs["value"])
}

// An account that hosts dev alone makes dev's roles and environments only, and, adopting the
// account's provider, trusts that one; without taskmanager-access:repository it leaves the
// repository-wide settings to the stack that has it.
func TestAnAccountMakesOnlyItsOwnPart(t *testing.T) {
	values := exampleValues(t)
	values["taskmanager-access:environments"] = `["dev"]`
	values["taskmanager-access:oidcProvider"] = "adopt"
	values["taskmanager-access:reviewers"] = `{}`
	delete(values, "taskmanager-access:repository")
	rec, err := run(t, values)
	require.NoError(t, err)
	var roles, envs []string
	for _, r := range rec.All(roleType) {
		roles = append(roles, r.Name)
		trust := document(t, r.Inputs["assumeRolePolicy"])
		assert.Equal(t, "arn:aws:iam::"+mockengine.Account+":oidc-provider/token.actions.githubusercontent.com", trust.Statement[0].Principal["Federated"])
	}
	for _, e := range rec.All(envType) {
		envs = append(envs, e.Name)
	}
	assert.ElementsMatch(t, []string{"deploy-dev", "preview-dev", "image-read-dev", "drift-dev"}, roles)
	assert.ElementsMatch(t, []string{"dev", "dev-preview", "dev-drift"}, envs)
	assert.Empty(t, rec.All("aws:iam/openIdConnectProvider:OpenIdConnectProvider"))
	assert.Empty(t, rec.All("github:index/branchProtection:BranchProtection"))
	_, found := rec.Find(variableType, "PULUMI_ORG")
	assert.False(t, found)
}

func statement(t *testing.T, d iampolicy.Document, sid string) iampolicy.Statement {
	t.Helper()
	for _, st := range d.Statement {
		if st.Sid == sid {
			return st
		}
	}
	t.Fatalf("no statement %s", sid)
	return iampolicy.Statement{}
}
