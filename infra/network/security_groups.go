package network

import (
	"fmt"

	awsec2 "github.com/pulumi/pulumi-aws/sdk/v6/go/aws/ec2"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/vpc"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// Anywhere is the internet, as IPv4 and IPv6 blocks.
var Anywhere = []string{"0.0.0.0/0", "::/0"}

// rule is one allowed flow: into a group (ingress) or out of it (egress), on one TCP port, from or
// to either another group or CIDR blocks.
type rule struct {
	group       string // the group the rule belongs to
	egress      bool
	port        int
	peerGroup   string   // the other group, or
	cidrs       []string // the blocks on the other side
	description string
}

// rules is the whole matrix of allowed flows. Everything not listed is denied: the groups are
// created without inline rules, and pulumi-aws removes AWS's default allow-all egress.
func rules(args *Args) []rule {
	p := args.Ports
	lbSources, lbSourceName := []string{args.Config.VpcCidr}, "the VPC"
	if args.PublicLoadBalancer {
		lbSources, lbSourceName = Anywhere, "the internet"
	}
	var rs []rule
	for _, port := range args.LoadBalancerPorts {
		rs = append(rs, rule{group: "alb", port: port, cidrs: lbSources,
			description: fmt.Sprintf("Clients from %s to the listener on %d", lbSourceName, port)})
	}
	if args.TestListenerPort != 0 {
		rs = append(rs, rule{group: "alb", port: args.TestListenerPort, cidrs: []string{args.Config.VpcCidr},
			description: "Blue/green test listener, from inside the VPC only"})
	}
	if args.LoadBalancerSignIn {
		rs = append(rs, rule{group: "alb", egress: true, port: 443, cidrs: Anywhere[:1], description: "Load balancer to the sign-in provider (Cognito)"})
	}
	rs = append(rs,
		rule{group: "alb", egress: true, port: p.Container, peerGroup: "api", description: "Load balancer to the API tasks"},
		rule{group: "api", port: p.Container, peerGroup: "alb", description: "API tasks from the load balancer"},
	)
	// The app's tasks reach AWS APIs (ECR, Secrets Manager, CloudWatch Logs), the identity providers,
	// Sentry and Datadog over HTTPS through the NAT, and mail through the SMTP relay.
	for _, app := range []string{"api", "worker"} {
		rs = append(rs,
			rule{group: app, egress: true, port: 443, cidrs: Anywhere[:1], description: "HTTPS to AWS APIs and external services"},
			rule{group: app, egress: true, port: p.SMTP, cidrs: Anywhere[:1], description: "Mail to the SMTP relay"},
			rule{group: app, egress: true, port: p.Database, peerGroup: "database", description: "To PostgreSQL"},
			rule{group: app, egress: true, port: p.Cache, peerGroup: "cache", description: "To Redis"},
			rule{group: "database", port: p.Database, peerGroup: app, description: "PostgreSQL from the " + app},
			rule{group: "cache", port: p.Cache, peerGroup: app, description: "Redis from the " + app},
		)
	}
	rs = append(rs,
		rule{group: "migrations", egress: true, port: 443, cidrs: Anywhere[:1], description: "HTTPS to AWS APIs (image, secrets, logs)"},
		rule{group: "migrations", egress: true, port: p.Database, peerGroup: "database", description: "To PostgreSQL"},
		rule{group: "database", port: p.Database, peerGroup: "migrations", description: "PostgreSQL from the migration task"},
		// The secret rotation function changes the app's database password and calls Secrets
		// Manager and ECS through the NAT.
		rule{group: "rotation", egress: true, port: 443, cidrs: Anywhere[:1], description: "HTTPS to Secrets Manager and ECS"},
		rule{group: "rotation", egress: true, port: p.Database, peerGroup: "database", description: "To PostgreSQL"},
		rule{group: "database", port: p.Database, peerGroup: "rotation", description: "PostgreSQL from the secret rotation function"},
	)
	if args.Bastion {
		// People reach the database through Session Manager port forwarding on the bastion.
		rs = append(rs,
			rule{group: "bastion", egress: true, port: 443, cidrs: Anywhere[:1], description: "HTTPS to Systems Manager"},
			rule{group: "bastion", egress: true, port: p.Database, peerGroup: "database", description: "To PostgreSQL"},
			rule{group: "database", port: p.Database, peerGroup: "bastion", description: "PostgreSQL from the bastion"},
		)
		if !args.PublicLoadBalancer {
			// An internal load balancer is reached through the bastion too.
			for _, port := range args.LoadBalancerPorts {
				rs = append(rs, rule{group: "bastion", egress: true, port: port, peerGroup: "alb", description: "To the internal load balancer"})
			}
		}
	}
	return rs
}

// groupDescriptions name the groups; a description cannot change without replacing its group.
var groupDescriptions = []struct{ key, description string }{
	{"alb", "Application load balancer"},
	{"api", "API tasks"},
	{"worker", "Celery worker tasks"},
	{"migrations", "Database migration task"},
	{"database", "PostgreSQL"},
	{"cache", "Redis"},
	{"rotation", "Secret rotation function"},
}

func newSecurityGroups(ctx *pulumi.Context, name string, args *Args, vpcID pulumi.StringInput, parent pulumi.ResourceOption) (SecurityGroups, []pulumi.Resource, error) {
	ids := map[string]pulumi.IDOutput{}
	groups := groupDescriptions
	if args.Bastion {
		groups = append(groups, struct{ key, description string }{"bastion", "Bastion (Session Manager only)"})
	}
	for _, g := range groups {
		sg, err := awsec2.NewSecurityGroup(ctx, fmt.Sprintf("%s-%s", name, g.key), &awsec2.SecurityGroupArgs{
			VpcId:       vpcID,
			Description: pulumi.String(g.description),
		}, parent)
		if err != nil {
			return SecurityGroups{}, nil, err
		}
		ids[g.key] = sg.ID()
	}
	var created []pulumi.Resource
	for _, r := range rules(args) {
		rs, err := newRule(ctx, name, r, ids, parent)
		if err != nil {
			return SecurityGroups{}, nil, err
		}
		created = append(created, rs...)
	}
	return SecurityGroups{
		LoadBalancer: ids["alb"],
		API:          ids["api"],
		Worker:       ids["worker"],
		Migrations:   ids["migrations"],
		Database:     ids["database"],
		Cache:        ids["cache"],
		Rotation:     ids["rotation"],
		Bastion:      ids["bastion"],
	}, created, nil
}

// newRule registers a rule as one resource per peer, as AWS stores them.
func newRule(ctx *pulumi.Context, name string, r rule, ids map[string]pulumi.IDOutput, parent pulumi.ResourceOption) ([]pulumi.Resource, error) {
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
	if r.peerGroup != "" {
		peers = append(peers, peer{suffix: r.peerGroup, referencedGroup: ids[r.peerGroup].ToStringOutput()})
	}
	for _, c := range r.cidrs {
		switch c {
		case "0.0.0.0/0":
			peers = append(peers, peer{suffix: "any4", cidr4: pulumi.String(c)})
		case "::/0":
			peers = append(peers, peer{suffix: "any6", cidr6: pulumi.String(c)})
		default:
			peers = append(peers, peer{suffix: "vpc", cidr4: pulumi.String(c)})
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
			}, parent)
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
			}, parent)
		}
		if err != nil {
			return nil, err
		}
		created = append(created, res)
	}
	return created, nil
}
