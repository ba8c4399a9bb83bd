// Package network is the environment's VPC: subnets in three tiers, NAT and flow logs. Who may
// talk to whom inside it is the firewall's (infra/firewall).
package network

import (
	"fmt"

	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/cloudwatch"
	awsec2 "github.com/pulumi/pulumi-aws/sdk/v6/go/aws/ec2"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/iam"
	"github.com/pulumi/pulumi-awsx/sdk/v2/go/awsx/ec2"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/taskmanager/taskmanager-infra/internal/iampolicy"
)

const networkType = "taskmanager:network:Network"

// Args configures a Network.
type Args struct {
	Config Config
	// FlowLogRetentionDays is the flow log group's retention, an allowed CloudWatch value.
	FlowLogRetentionDays int
	// LogKmsKeyArn, when set, encrypts the flow log group with that key.
	LogKmsKeyArn pulumi.StringInput
	// Region and AccountID scope the flow logs' role to this account's flow logs.
	Region, AccountID string
}

// Network is the VPC of one environment. Its security groups are the firewall's (infra/firewall).
type Network struct {
	pulumi.ResourceState
	VpcID pulumi.StringOutput `pulumi:"vpcId"`
	// VpcCidr is the VPC's IPv4 block (taskmanager:network.vpcCidr).
	VpcCidr           pulumi.StringOutput      `pulumi:"vpcCidr"`
	PublicSubnetIDs   pulumi.StringArrayOutput `pulumi:"publicSubnetIds"`   // the load balancer's and the NAT's
	PrivateSubnetIDs  pulumi.StringArrayOutput `pulumi:"privateSubnetIds"`  // the app's tasks: egress through NAT, no public IPs
	IsolatedSubnetIDs pulumi.StringArrayOutput `pulumi:"isolatedSubnetIds"` // the data stores: no route out of the VPC
	// PrivateSubnetCidrs are the private subnets' blocks, one per AZ in the AZs' order: what a NAT
	// instance admits.
	PrivateSubnetCidrs []string

	name   string
	config Config
	vpc    *ec2.Vpc // what routes added to its route tables wait for
}

// NewNetwork builds the VPC, its flow logs and its default security group, which allows nothing.
func NewNetwork(ctx *pulumi.Context, name string, args *Args, opts ...pulumi.ResourceOption) (*Network, error) {
	if err := args.Config.Validate(); err != nil {
		return nil, err
	}
	layout, err := SubnetLayout(args.Config.VpcCidr, len(args.Config.AvailabilityZones))
	if err != nil {
		return nil, err
	}
	n := &Network{name: name, config: args.Config, PrivateSubnetCidrs: layout.Private}
	if err := ctx.RegisterComponentResource(networkType, name, n, opts...); err != nil {
		return nil, err
	}
	parent := pulumi.Parent(n)

	// The subnets' blocks are computed here, not by awsx, so that they are visible to the tests
	// and never move when awsx changes its allocation. With explicit cidrBlocks, awsx (v2.22.0,
	// Vpc.pickSubnetAllocator) uses them as given under Auto; Exact would also require the
	// subnets, in awsx's order, to tile the whole VPC with no gap, which this layout does not do:
	// it leaves a quarter free for growth. tests/network_test.go states awsx's rules.
	strategy := ec2.SubnetAllocationStrategyAuto
	vpc, err := ec2.NewVpc(ctx, name, &ec2.VpcArgs{
		CidrBlock:             pulumi.StringRef(args.Config.VpcCidr),
		AvailabilityZoneNames: args.Config.AvailabilityZones,
		EnableDnsHostnames:    pulumi.Bool(true),
		EnableDnsSupport:      pulumi.Bool(true),
		SubnetStrategy:        &strategy,
		SubnetSpecs: []ec2.SubnetSpecArgs{
			{Type: ec2.SubnetTypePrivate, Name: pulumi.StringRef("private"), CidrBlocks: layout.Private},
			{Type: ec2.SubnetTypePublic, Name: pulumi.StringRef("public"), CidrBlocks: layout.Public},
			{Type: ec2.SubnetTypeIsolated, Name: pulumi.StringRef("isolated"), CidrBlocks: layout.Isolated},
		},
		NatGateways: &ec2.NatGatewayConfigurationArgs{Strategy: ec2.NatGatewayStrategy(args.Config.awsxNatStrategy())},
	}, parent)
	if err != nil {
		return nil, err
	}
	n.vpc = vpc
	n.VpcID = vpc.VpcId
	// The block as configured: awsx creates the VPC with it, and its own outputs are not
	// visible to the tests (a remote component under mocks).
	n.VpcCidr = pulumi.String(args.Config.VpcCidr).ToStringOutput()
	n.PublicSubnetIDs = vpc.PublicSubnetIds
	n.PrivateSubnetIDs = vpc.PrivateSubnetIds
	n.IsolatedSubnetIDs = vpc.IsolatedSubnetIds

	// Anything that falls back to the VPC's default group (a resource created without groups)
	// gets no access at all.
	if _, err := awsec2.NewDefaultSecurityGroup(ctx, name+"-default", &awsec2.DefaultSecurityGroupArgs{
		VpcId:   vpc.VpcId,
		Ingress: awsec2.DefaultSecurityGroupIngressArray{},
		Egress:  awsec2.DefaultSecurityGroupEgressArray{},
	}, parent); err != nil {
		return nil, err
	}

	if err := newFlowLogs(ctx, name, args, vpc.VpcId, parent); err != nil {
		return nil, err
	}
	return n, ctx.RegisterResourceOutputs(n, pulumi.Map{
		"vpcId":             n.VpcID,
		"vpcCidr":           n.VpcCidr,
		"publicSubnetIds":   n.PublicSubnetIDs,
		"privateSubnetIds":  n.PrivateSubnetIDs,
		"isolatedSubnetIds": n.IsolatedSubnetIDs,
	})
}

// newFlowLogs sends the VPC's flow logs to a CloudWatch log group through a role that may write
// to that group only.
func newFlowLogs(ctx *pulumi.Context, name string, args *Args, vpcID pulumi.StringInput, parent pulumi.ResourceOption) error {
	group, err := cloudwatch.NewLogGroup(ctx, name+"-flow-logs", &cloudwatch.LogGroupArgs{
		RetentionInDays: pulumi.Int(args.FlowLogRetentionDays),
		KmsKeyId:        args.LogKmsKeyArn,
	}, parent)
	if err != nil {
		return err
	}
	role, err := iam.NewRole(ctx, name+"-flow-logs", &iam.RoleArgs{
		Description: pulumi.String("Lets VPC flow logs write to their log group."),
		AssumeRolePolicy: iampolicy.AssumeRoleFor("vpc-flow-logs.amazonaws.com", args.AccountID,
			fmt.Sprintf("arn:aws:ec2:%s:%s:vpc-flow-log/*", args.Region, args.AccountID)),
	}, parent)
	if err != nil {
		return err
	}
	if _, err := iam.NewRolePolicy(ctx, name+"-flow-logs", &iam.RolePolicyArgs{
		Role: role.Name,
		Policy: iampolicy.Render(func(arns []string) iampolicy.Document {
			return iampolicy.New(iampolicy.Allow(
				[]string{"logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"},
				arns[0], arns[0]+":*"))
		}, group.Arn),
	}, parent); err != nil {
		return err
	}
	_, err = awsec2.NewFlowLog(ctx, name, &awsec2.FlowLogArgs{
		VpcId:                  vpcID,
		TrafficType:            pulumi.String(args.Config.FlowLogTrafficType),
		LogDestinationType:     pulumi.String("cloud-watch-logs"),
		LogDestination:         group.Arn,
		IamRoleArn:             role.Arn,
		MaxAggregationInterval: pulumi.Int(60),
	}, parent)
	return err
}
