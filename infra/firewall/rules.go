package firewall

import (
	"fmt"

	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/vpc"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// block is a range of addresses on the other side of a rule.
type block int

const (
	theVPC         block = iota + 1 // the VPC's own block (Args.VpcCidr)
	anyIPv4                         // 0.0.0.0/0
	anyIPv6                         // ::/0
	privateSubnets                  // each private subnet's block (Args.PrivateSubnetCidrs)
)

// internet is every address, IPv4 and IPv6.
var internet = []block{anyIPv4, anyIPv6}

// rule is one allowed flow: into a group (ingress) or out of it (egress), on one TCP port, from or
// to another group, address blocks, or both.
type rule struct {
	group       Role // the group the rule belongs to
	egress      bool
	port        int
	peer        Role    // the group on the other side (0: none), and/or
	blocks      []block // the blocks on the other side
	description string
}

// matrix is every allowed flow. Everything not listed is denied: the groups are created without
// inline rules, and pulumi-aws removes AWS's default allow-all egress.
func matrix(args *Args) []rule {
	p := args.Ports
	lbSources, lbSourceName := []block{theVPC}, "the VPC"
	if args.PublicLoadBalancer {
		lbSources, lbSourceName = internet, "the internet"
	}
	var rs []rule
	for _, port := range args.LoadBalancerPorts {
		rs = append(rs, rule{group: Alb, port: port, blocks: lbSources,
			description: fmt.Sprintf("Clients from %s to the listener on %d", lbSourceName, port)})
	}
	if args.TestListenerPort != 0 {
		rs = append(rs, rule{group: Alb, port: args.TestListenerPort, blocks: []block{theVPC},
			description: "Blue/green test listener, from inside the VPC only"})
	}
	if args.LoadBalancerSignIn {
		rs = append(rs, rule{group: Alb, egress: true, port: 443, blocks: []block{anyIPv4}, description: "Load balancer to the sign-in provider (Cognito)"})
	}
	rs = append(rs,
		rule{group: Alb, egress: true, port: p.Container, peer: API, description: "Load balancer to the API tasks"},
		rule{group: API, port: p.Container, peer: Alb, description: "API tasks from the load balancer"},
	)
	// The app's tasks reach AWS APIs (ECR, Secrets Manager, CloudWatch Logs), the identity providers,
	// Sentry and Datadog over HTTPS through the NAT, and mail through the SMTP relay.
	for _, app := range []Role{API, Worker} {
		rs = append(rs,
			rule{group: app, egress: true, port: 443, blocks: []block{anyIPv4}, description: "HTTPS to AWS APIs and external services"},
			rule{group: app, egress: true, port: p.SMTP, blocks: []block{anyIPv4}, description: "Mail to the SMTP relay"},
			rule{group: app, egress: true, port: p.Database, peer: Database, description: "To PostgreSQL"},
			rule{group: app, egress: true, port: p.Cache, peer: Cache, description: "To Redis"},
			rule{group: Database, port: p.Database, peer: app, description: "PostgreSQL from the " + app.String()},
			rule{group: Cache, port: p.Cache, peer: app, description: "Redis from the " + app.String()},
		)
	}
	rs = append(rs,
		rule{group: Migrations, egress: true, port: 443, blocks: []block{anyIPv4}, description: "HTTPS to AWS APIs (image, secrets, logs)"},
		rule{group: Migrations, egress: true, port: p.Database, peer: Database, description: "To PostgreSQL"},
		rule{group: Database, port: p.Database, peer: Migrations, description: "PostgreSQL from the migration task"},
		// The secret rotation function changes the app's database password and calls Secrets
		// Manager and ECS through the NAT.
		rule{group: Rotation, egress: true, port: 443, blocks: []block{anyIPv4}, description: "HTTPS to Secrets Manager and ECS"},
		rule{group: Rotation, egress: true, port: p.Database, peer: Database, description: "To PostgreSQL"},
		rule{group: Database, port: p.Database, peer: Rotation, description: "PostgreSQL from the secret rotation function"},
	)
	if args.Proxy {
		// The API and the worker reach the primary through RDS Proxy (the replica directly).
		for _, app := range []Role{API, Worker} {
			rs = append(rs,
				rule{group: app, egress: true, port: p.Database, peer: Proxy, description: "To RDS Proxy"},
				rule{group: Proxy, port: p.Database, peer: app, description: "RDS Proxy from the " + app.String()},
			)
		}
		rs = append(rs,
			rule{group: Proxy, egress: true, port: p.Database, peer: Database, description: "RDS Proxy to PostgreSQL"},
			rule{group: Database, port: p.Database, peer: Proxy, description: "PostgreSQL from RDS Proxy"},
		)
	}
	if args.NatInstance {
		// The NAT instance forwards what the private subnets send to the internet, on the ports
		// their groups open to it: HTTPS and the SMTP relay's. Its own agent and package
		// installs use HTTPS. NTP needs no rule: the Amazon Time Sync Service is link-local.
		ports := []int{443}
		if p.SMTP != 443 {
			ports = append(ports, p.SMTP)
		}
		for _, port := range ports {
			what, to := "HTTPS", "the internet"
			if port != 443 {
				what, to = "Mail", "the SMTP relay"
			}
			rs = append(rs,
				rule{group: Nat, port: port, blocks: []block{privateSubnets}, description: what + " from the private subnets, forwarded to " + to},
				rule{group: Nat, egress: true, port: port, blocks: []block{anyIPv4}, description: what + " forwarded from the private subnets to " + to},
			)
		}
	}
	if args.QueueDepth {
		// The queue-depth function reads the Celery queues in Redis, and calls Secrets Manager, ECS
		// and CloudWatch through the NAT.
		rs = append(rs,
			rule{group: QueueDepth, egress: true, port: 443, blocks: []block{anyIPv4}, description: "HTTPS to Secrets Manager, ECS and CloudWatch"},
			rule{group: QueueDepth, egress: true, port: p.Cache, peer: Cache, description: "To Redis"},
			rule{group: Cache, port: p.Cache, peer: QueueDepth, description: "Redis from the queue-depth function"},
		)
	}
	if args.Bastion {
		// People reach the database through Session Manager port forwarding on the bastion.
		rs = append(rs,
			rule{group: Bastion, egress: true, port: 443, blocks: []block{anyIPv4}, description: "HTTPS to Systems Manager"},
			rule{group: Bastion, egress: true, port: p.Database, peer: Database, description: "To PostgreSQL"},
			rule{group: Database, port: p.Database, peer: Bastion, description: "PostgreSQL from the bastion"},
		)
		if args.DataRefresh {
			// The data refresh reaches its temporary copy through the bastion (Session Manager
			// port forwarding), and nothing else reaches it.
			rs = append(rs,
				rule{group: Bastion, egress: true, port: p.Database, peer: DataRefresh, description: "To the temporary copy of the data refresh"},
				rule{group: DataRefresh, port: p.Database, peer: Bastion, description: "PostgreSQL from the bastion (the data refresh)"},
			)
		}
		if !args.PublicLoadBalancer {
			// An internal load balancer is reached through the bastion too.
			for _, port := range args.LoadBalancerPorts {
				rs = append(rs, rule{group: Bastion, egress: true, port: port, peer: Alb, description: "To the internal load balancer"})
			}
		}
	}
	return rs
}

// newRule registers a rule as one resource per peer, as AWS stores them. A rule's logical name
// is <name>-<group>-<in|out>-<port>-<peer>, the peer being a role or vpc, any4, any6, private-<n>
// (the nth AZ's private subnet): it must never change, or the rule is replaced (and briefly
// missing).
func newRule(ctx *pulumi.Context, name string, r rule, ids map[Role]pulumi.StringOutput, vpcCidr pulumi.StringInput, privateCidrs []string, opts []pulumi.ResourceOption) ([]pulumi.Resource, error) {
	direction := "in"
	if r.egress {
		direction = "out"
	}
	type peer struct {
		suffix          string
		cidr4, cidr6    pulumi.StringPtrInput
		referencedGroup pulumi.StringPtrInput
	}
	var peers []peer
	if r.peer != 0 {
		peers = append(peers, peer{suffix: r.peer.String(), referencedGroup: ids[r.peer]})
	}
	for _, b := range r.blocks {
		switch b {
		case anyIPv4:
			peers = append(peers, peer{suffix: "any4", cidr4: pulumi.String("0.0.0.0/0")})
		case anyIPv6:
			peers = append(peers, peer{suffix: "any6", cidr6: pulumi.String("::/0")})
		case theVPC:
			peers = append(peers, peer{suffix: "vpc", cidr4: vpcCidr.ToStringOutput()})
		case privateSubnets:
			for i, cidr := range privateCidrs {
				peers = append(peers, peer{suffix: fmt.Sprintf("private-%d", i+1), cidr4: pulumi.String(cidr)})
			}
		}
	}
	var created []pulumi.Resource
	for _, p := range peers {
		ruleName := fmt.Sprintf("%s-%s-%s-%d-%s", name, r.group, direction, r.port, p.suffix)
		var res pulumi.Resource
		var err error
		if r.egress {
			res, err = vpc.NewSecurityGroupEgressRule(ctx, ruleName, &vpc.SecurityGroupEgressRuleArgs{
				SecurityGroupId:           ids[r.group],
				IpProtocol:                pulumi.String("tcp"),
				FromPort:                  pulumi.Int(r.port),
				ToPort:                    pulumi.Int(r.port),
				CidrIpv4:                  p.cidr4,
				CidrIpv6:                  p.cidr6,
				ReferencedSecurityGroupId: p.referencedGroup,
				Description:               pulumi.String(r.description),
			}, opts...)
		} else {
			res, err = vpc.NewSecurityGroupIngressRule(ctx, ruleName, &vpc.SecurityGroupIngressRuleArgs{
				SecurityGroupId:           ids[r.group],
				IpProtocol:                pulumi.String("tcp"),
				FromPort:                  pulumi.Int(r.port),
				ToPort:                    pulumi.Int(r.port),
				CidrIpv4:                  p.cidr4,
				CidrIpv6:                  p.cidr6,
				ReferencedSecurityGroupId: p.referencedGroup,
				Description:               pulumi.String(r.description),
			}, opts...)
		}
		if err != nil {
			return nil, err
		}
		created = append(created, res)
	}
	return created, nil
}
