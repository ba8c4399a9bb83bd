package network

import (
	"fmt"
	"strings"

	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/cloudwatch"
	awsec2 "github.com/pulumi/pulumi-aws/sdk/v6/go/aws/ec2"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/taskmanager/taskmanager-infra/internal/hardening"
	"github.com/taskmanager/taskmanager-infra/internal/naming"
)

const natType = "taskmanager:network:Nat"

// NatInstanceSize is the NAT instance's type: the smallest Graviton instance (2 vCPUs, 0.5 GiB,
// up to 5 Gbit/s). Forwarding happens in the kernel, so a dev environment's egress (image pulls,
// AWS APIs, mail) never needs more; a bigger size is a code change, not a stack setting, because
// no stack needs one.
const NatInstanceSize = "t4g.nano"

// NatArgs configures a Nat.
type NatArgs struct {
	Stack  string
	Region string
	// Network is the VPC the instance serves, built with natGateways: Instance. The instance sits
	// in its first public subnet and is the default route of each of its private subnets.
	Network *Network
	// SecurityGroupID is the instance's own group (the firewall's nat role): the private subnets
	// in, the forwarded ports out, nothing else.
	SecurityGroupID pulumi.StringInput
	// KeyArn encrypts the instance's root volume.
	KeyArn pulumi.StringInput
}

// Nat is the NAT instance: the private subnets' way out in an environment without NAT gateways: one
// instance that forwards and masquerades their traffic, managed through Session Manager only
// (no SSH, no key pair), recovered by EC2 when its host fails and rebooted when its system does.
type Nat struct {
	pulumi.ResourceState
	InstanceID pulumi.StringOutput `pulumi:"instanceId"`
	// PrivateSubnetIDs are the network's private subnets, resolved only once their default routes
	// through the instance exist: whatever is placed in them (tasks pulling their images, the
	// rotation function calling Secrets Manager while the stack deploys) takes them from here and
	// so finds its way out, as it does behind awsx's gateways, whose routes exist by the time the
	// VPC's outputs resolve.
	PrivateSubnetIDs pulumi.StringArrayOutput `pulumi:"privateSubnetIds"`
}

// NewNat creates the NAT instance of a network built with natGateways: Instance, and points the
// private route tables' default route at it.
func NewNat(ctx *pulumi.Context, name string, args *NatArgs, opts ...pulumi.ResourceOption) (*Nat, error) {
	n := args.Network
	if n == nil || n.config.NatGateways != NatInstance {
		return nil, fmt.Errorf("network: a NAT instance serves a network whose natGateways is %s", NatInstance)
	}
	nat := &Nat{}
	if err := ctx.RegisterComponentResource(natType, name, nat, opts...); err != nil {
		return nil, err
	}
	parent := pulumi.Parent(nat)
	base := name + "-nat"

	// Session Manager is the only way in: the role has AWS's managed SSM policy and nothing else.
	profile, err := hardening.SSMInstanceProfile(ctx, base, pulumi.Sprintf("The %s NAT instance: Session Manager only", args.Stack), nil, parent)
	if err != nil {
		return nil, err
	}
	ami, err := hardening.AmazonLinuxImage(ctx, "the NAT instance")
	if err != nil {
		return nil, err
	}
	instance, err := awsec2.NewInstance(ctx, base, &awsec2.InstanceArgs{
		Ami:                 pulumi.String(ami),
		InstanceType:        pulumi.String(NatInstanceSize),
		SubnetId:            n.PublicSubnetIDs.Index(pulumi.Int(0)),
		VpcSecurityGroupIds: pulumi.StringArray{args.SecurityGroupID},
		// It reaches the internet through the internet gateway, so it needs a public address;
		// its group admits nothing from outside the private subnets. EC2 recovery keeps the
		// address; a stop and start would change it, which nothing here depends on.
		AssociatePublicIpAddress: pulumi.Bool(true),
		// It forwards packets that are neither from nor to itself.
		SourceDestCheck:    pulumi.Bool(false),
		IamInstanceProfile: profile.Name,
		MetadataOptions:    hardening.Metadata(),
		RootBlockDevice:    hardening.RootVolume(args.KeyArn),
		// User data runs on the first boot only: a change of it must replace the instance (the
		// routes then move to the new one's interface) rather than leave the old setup running.
		UserData:                pulumi.String(natUserData(args.Stack, n.PrivateSubnetCidrs)),
		UserDataReplaceOnChange: pulumi.Bool(true),
		// EC2's simplified automatic recovery, besides the alarm below.
		MaintenanceOptions: awsec2.InstanceMaintenanceOptionsArgs{AutoRecovery: pulumi.String("default")},
		Tags:               pulumi.StringMap{"Name": pulumi.String(naming.For(args.Stack).Resource("nat"))},
	}, parent, pulumi.IgnoreChanges([]string{"ami"})) // a newer image must not replace the way out
	if err != nil {
		return nil, err
	}
	nat.InstanceID = instance.ID().ToStringOutput()

	// EC2's own actions, not notifications: recover (the same instance, id, addresses and volume
	// on new hardware) when the host fails its status check, reboot when the instance's system
	// does. Status checks are published every minute at no charge.
	for _, a := range []struct{ action, metric, description string }{
		{"recover", "StatusCheckFailed_System", "the host failed its system status check: EC2 moves it to healthy hardware"},
		{"reboot", "StatusCheckFailed_Instance", "the instance failed its status check: EC2 reboots it"},
	} {
		if _, err := cloudwatch.NewMetricAlarm(ctx, base+"-"+a.action, &cloudwatch.MetricAlarmArgs{
			AlarmDescription:   pulumi.Sprintf("The %s NAT instance (the private subnets' way out): %s", args.Stack, a.description),
			Namespace:          pulumi.String("AWS/EC2"),
			MetricName:         pulumi.String(a.metric),
			Dimensions:         pulumi.StringMap{"InstanceId": instance.ID().ToStringOutput()},
			Statistic:          pulumi.String("Maximum"),
			Period:             pulumi.Int(60),
			EvaluationPeriods:  pulumi.Int(2),
			Threshold:          pulumi.Float64(1),
			ComparisonOperator: pulumi.String("GreaterThanOrEqualToThreshold"),
			AlarmActions:       pulumi.Array{pulumi.Sprintf("arn:aws:automate:%s:ec2:%s", args.Region, a.action)},
		}, parent); err != nil {
			return nil, err
		}
	}

	routes, err := newNatRoutes(ctx, base, n, instance, parent)
	if err != nil {
		return nil, err
	}
	waits := make([]any, 0, len(routes)+1)
	waits = append(waits, n.PrivateSubnetIDs)
	for _, r := range routes {
		waits = append(waits, r.ID())
	}
	nat.PrivateSubnetIDs = pulumi.All(waits...).ApplyT(func(vs []any) []string {
		return vs[0].([]string)
	}).(pulumi.StringArrayOutput)
	return nat, ctx.RegisterResourceOutputs(nat, pulumi.Map{"instanceId": nat.InstanceID, "privateSubnetIds": nat.PrivateSubnetIDs})
}

// newNatRoutes adds the default route through the instance to each private subnet's route table.
func newNatRoutes(ctx *pulumi.Context, base string, n *Network, instance *awsec2.Instance, parent pulumi.ResourceOption) ([]*awsec2.Route, error) {
	// The route tables are awsx's children, which its Go SDK exposes but a preview under mocks
	// does not: each is looked up by the private subnet it is associated with, once the VPC
	// component, and with it every route table and association, exists.
	afterVpc := pulumi.DependsOn([]pulumi.Resource{n.vpc})
	var routes []*awsec2.Route
	for i := range n.config.AvailabilityZones {
		table := awsec2.LookupRouteTableOutput(ctx, awsec2.LookupRouteTableOutputArgs{
			VpcId:    n.VpcID,
			SubnetId: n.PrivateSubnetIDs.Index(pulumi.Int(i)),
		}, afterVpc)
		// awsx names a private subnet, its route table and, with NAT gateways, its default route
		// <vpc>-private-<az number>. The alias makes this route that one when a stack moves from
		// gateways to the instance: `pulumi up` points the existing route at the instance
		// (ReplaceRoute) instead of creating a second default route, which AWS refuses
		// (RouteAlreadyExists) while awsx's is still there. Never rename these routes.
		awsxRoute := awsxChildURN(n.URN(), fmt.Sprintf("%s-private-%d", n.name, i+1),
			"awsx:ec2:Vpc", "aws:ec2/vpc:Vpc", "aws:ec2/subnet:Subnet", "aws:ec2/routeTable:RouteTable", "aws:ec2/route:Route")
		route, err := awsec2.NewRoute(ctx, fmt.Sprintf("%s-private-%d", base, i+1), &awsec2.RouteArgs{
			RouteTableId:         table.Id(),
			DestinationCidrBlock: pulumi.String("0.0.0.0/0"),
			NetworkInterfaceId:   instance.PrimaryNetworkInterfaceId,
		}, parent, afterVpc, pulumi.Aliases([]pulumi.Alias{{URN: awsxRoute}}))
		if err != nil {
			return nil, err
		}
		routes = append(routes, route)
	}
	return routes, nil
}

// awsxChildURN is the URN of a resource awsx creates under the network: the network's URN with
// the types of the chain from awsx's component down to the resource, and the resource's name.
func awsxChildURN(network pulumi.URNOutput, name string, types ...string) pulumi.URNOutput {
	return network.ApplyT(func(u pulumi.URN) pulumi.URN {
		s := string(u)
		i := strings.LastIndex(s, "::")
		return pulumi.URN(s[:i] + "$" + strings.Join(types, "$") + "::" + name)
	}).(pulumi.URNOutput)
}

// natUserData configures the instance on its first boot, as AWS documents for a NAT instance on
// Amazon Linux 2023: IPv4 forwarding on, the private subnets' traffic masqueraded behind the
// instance's address, the forward chain closed to anything else; both persist across reboots and
// recoveries (sysctl.d, the iptables service's saved rules).
func natUserData(stack string, privateCidrs []string) string {
	var b strings.Builder
	fmt.Fprintf(&b, `#!/bin/bash
# taskmanager %s: NAT for the private subnets. Runs once, on the first boot.
set -euo pipefail
echo 'net.ipv4.ip_forward = 1' > /etc/sysctl.d/90-nat.conf
sysctl --system
for attempt in 1 2 3 4 5; do
  dnf install -y iptables-services && break
  [ "$attempt" = 5 ] && exit 1
  sleep 10
done
iface=$(ip -o -4 route show to default | awk '{print $5; exit}')
iptables -F
iptables -t nat -F
iptables -P FORWARD DROP
iptables -A FORWARD -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
`, stack)
	for _, cidr := range privateCidrs {
		fmt.Fprintf(&b, "iptables -A FORWARD -s %s -j ACCEPT\n", cidr)
		fmt.Fprintf(&b, "iptables -t nat -A POSTROUTING -o \"$iface\" -s %s -j MASQUERADE\n", cidr)
	}
	b.WriteString(`iptables-save > /etc/sysconfig/iptables
systemctl enable --now iptables
`)
	return b.String()
}
