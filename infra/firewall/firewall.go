// Package firewall is who may talk to whom inside an environment: one security group per role
// (the load balancer, the API, the worker, ...) and the rules between them, each on one TCP port.
package firewall

import (
	"fmt"
	"slices"

	awsec2 "github.com/pulumi/pulumi-aws/sdk/v6/go/aws/ec2"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

const firewallType = "taskmanager:firewall:Firewall"

// Role is a part of the system that has a security group of its own.
type Role int

// The roles. Their names (String) are in the groups' and the rules' logical names: renaming one
// replaces its group and every rule that names it.
const (
	Alb         Role = iota + 1 // the application load balancer
	API                         // the API's tasks
	Worker                      // the Celery worker's tasks
	Migrations                  // the database migration task
	Database                    // PostgreSQL
	Cache                       // Redis
	Rotation                    // the secret rotation functions
	Bastion                     // the bastion, with Args.Bastion
	Proxy                       // RDS Proxy, with Args.Proxy
	Nat                         // the NAT instance, with Args.NatInstance
	QueueDepth                  // the queue-depth function, with Args.QueueDepth
	DataRefresh                 // the data refresh's temporary database copy, with Args.DataRefresh
)

// roles are every role, in the order their groups are created.
var roles = []Role{Alb, API, Worker, Migrations, Database, Cache, Rotation, Bastion, Proxy, Nat, QueueDepth, DataRefresh}

var roleNames = map[Role]string{
	Alb: "alb", API: "api", Worker: "worker", Migrations: "migrations",
	Database: "database", Cache: "cache", Rotation: "rotation", Bastion: "bastion", Proxy: "proxy", QueueDepth: "queue-depth",
	Nat: "nat", DataRefresh: "data-refresh",
}

// String is the role's name in logical names and outputs: alb, api, worker, ...
func (r Role) String() string {
	if n, ok := roleNames[r]; ok {
		return n
	}
	return fmt.Sprintf("Role(%d)", int(r))
}

// descriptions name the groups; a description cannot change without replacing its group.
var descriptions = map[Role]string{
	Alb:         "Application load balancer",
	API:         "API tasks",
	Worker:      "Celery worker tasks",
	Migrations:  "Database migration task",
	Database:    "PostgreSQL",
	Cache:       "Redis",
	Rotation:    "Secret rotation function",
	Bastion:     "Bastion (Session Manager only)",
	Proxy:       "RDS Proxy",
	Nat:         "NAT instance (the way out of the private subnets)",
	QueueDepth:  "Celery queue-depth metrics function",
	DataRefresh: "Data refresh: the temporary copy of the production database (from the bastion only)",
}

// Ports are the TCP ports the groups open between roles.
type Ports struct {
	Container int // the API container's port, reached from the load balancer
	Database  int // PostgreSQL
	Cache     int // Redis
	SMTP      int // the mail relay the app sends through
}

// Args configures a Firewall.
type Args struct {
	// VpcID is the VPC the groups belong to; VpcCidr its block, the peer of what is open to
	// "the VPC" only (an internal load balancer, the blue/green test listener).
	VpcID, VpcCidr pulumi.StringInput
	Ports          Ports
	// PublicLoadBalancer says the load balancer faces the internet: its group then takes
	// LoadBalancerPorts from anywhere. Otherwise from inside the VPC only.
	PublicLoadBalancer bool
	// LoadBalancerPorts are the listener ports of the load balancer.
	LoadBalancerPorts []int
	// LoadBalancerSignIn: the load balancer signs people in itself, and so calls the identity
	// provider's token and user info endpoints over HTTPS.
	LoadBalancerSignIn bool
	// Bastion adds the bastion's group: PostgreSQL and HTTPS (SSM) out, nothing in.
	Bastion bool
	// Proxy adds RDS Proxy's group: PostgreSQL from the API and the worker, to the database.
	Proxy bool
	// QueueDepth adds the queue-depth function's group: Redis and HTTPS (Secrets Manager, ECS,
	// CloudWatch) out, nothing in.
	QueueDepth bool
	// DataRefresh adds the group of the data refresh's temporary copy of production's database:
	// PostgreSQL from the bastion only (needs Bastion), nothing out. Staging's database group admits
	// the app's workloads; this one none of them.
	DataRefresh bool
	// NatInstance adds the NAT instance's group: the ports the private subnets reach the internet
	// on (HTTPS and SMTP), in from PrivateSubnetCidrs only, out to the internet.
	NatInstance bool
	// PrivateSubnetCidrs are the private subnets' blocks, the NAT instance's only sources.
	PrivateSubnetCidrs []string
	// TestListenerPort, when not 0, is the blue/green test listener: reachable from the VPC only.
	TestListenerPort int
	// PreviousParent, when set, is the component the groups and rules were registered under
	// before the firewall had a component of its own (the network). Each of those carries an
	// alias with it as parent, so that `pulumi up` moves them instead of replacing every group
	// and rule: keep it while a stack may still hold them there. The roles that came later
	// (sinceFirewall) never lived there, and their groups and rules carry no alias.
	PreviousParent pulumi.Resource
}

// sinceFirewall are the roles added after the groups moved from the network to the firewall.
var sinceFirewall = map[Role]bool{Proxy: true, Nat: true, QueueDepth: true, DataRefresh: true}

// Firewall is the security groups of one environment and the rules between them.
type Firewall struct {
	pulumi.ResourceState
	// GroupIDs are the groups' ids by role (alb, api, ...); the bastion's only with Args.Bastion.
	GroupIDs pulumi.StringMapOutput `pulumi:"groupIds"`
	// Rules are the groups' rules: what first connects across the network at deploy time waits
	// for them (a group without its rules drops the packets).
	Rules []pulumi.Resource

	ids map[Role]pulumi.StringOutput
}

// GroupID is the id of a role's group. Asking for a group the firewall was not given (the
// bastion's without Args.Bastion) is a mistake in the program, and panics.
func (f *Firewall) GroupID(r Role) pulumi.StringOutput {
	id, ok := f.ids[r]
	if !ok {
		panic(fmt.Sprintf("firewall: no %s group in this environment", r))
	}
	return id
}

// NewFirewall creates the groups, without inline rules, and one rule resource per allowed flow.
func NewFirewall(ctx *pulumi.Context, name string, args *Args, opts ...pulumi.ResourceOption) (*Firewall, error) {
	f := &Firewall{ids: map[Role]pulumi.StringOutput{}}
	if err := ctx.RegisterComponentResource(firewallType, name, f, opts...); err != nil {
		return nil, err
	}
	childOpts := []pulumi.ResourceOption{pulumi.Parent(f)}
	// optsFor are the options of a group, or of a rule between roles: an alias under the
	// previous parent for what lived there, none for what came with the later roles.
	optsFor := func(roles ...Role) []pulumi.ResourceOption {
		if args.PreviousParent == nil || slices.ContainsFunc(roles, func(r Role) bool { return sinceFirewall[r] }) {
			return childOpts
		}
		return append(slices.Clip(childOpts), pulumi.Aliases([]pulumi.Alias{{Parent: args.PreviousParent}}))
	}

	groupIDs := pulumi.StringMap{}
	for _, role := range roles {
		if role == Bastion && !args.Bastion || role == Proxy && !args.Proxy || role == Nat && !args.NatInstance || role == QueueDepth && !args.QueueDepth ||
			role == DataRefresh && !(args.DataRefresh && args.Bastion) {
			continue
		}
		sg, err := awsec2.NewSecurityGroup(ctx, fmt.Sprintf("%s-%s", name, role), &awsec2.SecurityGroupArgs{
			VpcId:       args.VpcID,
			Description: pulumi.String(descriptions[role]),
		}, optsFor(role)...)
		if err != nil {
			return nil, err
		}
		f.ids[role] = sg.ID().ToStringOutput()
		groupIDs[role.String()] = f.ids[role]
	}
	f.GroupIDs = groupIDs.ToStringMapOutput()

	for _, r := range matrix(args) {
		created, err := newRule(ctx, name, r, f.ids, args.VpcCidr, args.PrivateSubnetCidrs, optsFor(r.group, r.peer))
		if err != nil {
			return nil, err
		}
		f.Rules = append(f.Rules, created...)
	}
	return f, ctx.RegisterResourceOutputs(f, pulumi.Map{"groupIds": f.GroupIDs})
}
