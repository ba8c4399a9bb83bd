package awsaccess

import (
	"fmt"
	"slices"

	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/iam"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/taskmanager/taskmanager-infra/access/permissions"
)

// NewGitHubProvider makes GitHub's OIDC provider in the account, for the audience
// configure-aws-credentials asks for. AWS trusts GitHub's certificate through its own root CAs;
// the thumbprint is required by the API but no longer checked for this issuer.
func NewGitHubProvider(ctx *pulumi.Context, name string, opts ...pulumi.ResourceOption) (pulumi.StringOutput, error) {
	p, err := iam.NewOpenIdConnectProvider(ctx, name, &iam.OpenIdConnectProviderArgs{
		Url:             pulumi.String(permissions.OIDCURL),
		ClientIdLists:   pulumi.StringArray{pulumi.String(permissions.Audience)},
		ThumbprintLists: pulumi.StringArray{pulumi.String("6938fd4d98bab03faadb97b34396831e3780aea1")},
	}, opts...)
	if err != nil {
		return pulumi.StringOutput{}, err
	}
	return p.Arn, nil
}

// AdoptGitHubProvider finds the account's existing GitHub OIDC provider (one per issuer URL in an
// account, so another program may own it) and checks that it accepts the audience the roles trust.
func AdoptGitHubProvider(ctx *pulumi.Context) (pulumi.StringOutput, error) {
	found, err := iam.LookupOpenIdConnectProvider(ctx, &iam.LookupOpenIdConnectProviderArgs{Url: pulumi.StringRef(permissions.OIDCURL)})
	if err != nil {
		return pulumi.StringOutput{}, fmt.Errorf("taskmanager-access:oidcProvider is adopt, and the account has no OIDC provider for %s (%w); want create", permissions.OIDCURL, err)
	}
	if !slices.Contains(found.ClientIdLists, permissions.Audience) {
		return pulumi.StringOutput{}, fmt.Errorf("the account's OIDC provider %s does not accept the audience %s (its client IDs: %v); add it: aws iam add-client-id-to-open-id-connect-provider --open-id-connect-provider-arn %s --client-id %s",
			found.Arn, permissions.Audience, found.ClientIdLists, found.Arn, permissions.Audience)
	}
	return pulumi.String(found.Arn).ToStringOutput(), nil
}
