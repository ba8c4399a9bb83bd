// Package hardening is what the program's EC2 instances (the NAT instance and the bastion) have in
// common: reached through Session Manager only, IMDSv2 only, an encrypted root volume, Amazon
// Linux 2023 on Graviton. The components use it rather than each other, and a rule changed here
// changes for both.
package hardening

import (
	"fmt"

	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/ec2"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/iam"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/taskmanager/taskmanager-infra/internal/iampolicy"
)

// ssmManagedPolicy is AWS's managed policy for the SSM agent: Session Manager and nothing else.
const ssmManagedPolicy = "arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore"

// SSMInstanceProfile creates the instance's role and instance profile, both named name: EC2 may
// assume the role, which has the SSM agent's managed policy (no SSH, no key pair: Session Manager
// is the only way in) and the inline policies given, if any.
func SSMInstanceProfile(ctx *pulumi.Context, name string, description pulumi.StringInput, inline iam.RoleInlinePolicyArray, opts ...pulumi.ResourceOption) (*iam.InstanceProfile, error) {
	args := &iam.RoleArgs{
		Description:       description,
		AssumeRolePolicy:  iampolicy.AssumeRole("ec2.amazonaws.com"),
		ManagedPolicyArns: pulumi.StringArray{pulumi.String(ssmManagedPolicy)},
	}
	if len(inline) > 0 {
		args.InlinePolicies = inline
	}
	role, err := iam.NewRole(ctx, name, args, opts...)
	if err != nil {
		return nil, err
	}
	return iam.NewInstanceProfile(ctx, name, &iam.InstanceProfileArgs{Role: role.Name}, opts...)
}

// AmazonLinuxImage is the newest Amazon Linux 2023 image for arm64 (Graviton). The instances
// ignore later changes of it (pulumi.IgnoreChanges("ami")): a newer image must not replace them.
func AmazonLinuxImage(ctx *pulumi.Context, what string) (string, error) {
	ami, err := ec2.LookupAmi(ctx, &ec2.LookupAmiArgs{
		Owners:     []string{"amazon"},
		MostRecent: pulumi.BoolRef(true),
		Filters: []ec2.GetAmiFilter{
			{Name: "name", Values: []string{"al2023-ami-2023.*-arm64"}},
			{Name: "architecture", Values: []string{"arm64"}},
		},
	})
	if err != nil {
		return "", fmt.Errorf("looking up the Amazon Linux 2023 image for %s: %w", what, err)
	}
	return ami.Id, nil
}

// Metadata is IMDSv2 only, one hop: no credential theft through a forged metadata request, and
// nothing behind the instance (what a NAT instance forwards) reaches its metadata.
func Metadata() ec2.InstanceMetadataOptionsArgs {
	return ec2.InstanceMetadataOptionsArgs{
		HttpEndpoint: pulumi.String("enabled"), HttpTokens: pulumi.String("required"), HttpPutResponseHopLimit: pulumi.Int(1),
	}
}

// RootVolume is an 8 GiB gp3 root volume encrypted with the environment's key.
func RootVolume(keyArn pulumi.StringInput) ec2.InstanceRootBlockDeviceArgs {
	return ec2.InstanceRootBlockDeviceArgs{
		Encrypted: pulumi.Bool(true), KmsKeyId: keyArn, VolumeType: pulumi.String("gp3"), VolumeSize: pulumi.Int(8),
	}
}
