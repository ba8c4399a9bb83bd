package cache

import (
	"fmt"

	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/cloudwatch"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/elasticache"
	"github.com/pulumi/pulumi-random/sdk/v4/go/random"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/taskmanager/taskmanager-infra/internal/naming"
)

const cacheType = "taskmanager:cache:Cache"

// Port is Redis's port.
const Port = 6379

// Args configures the cache.
type Args struct {
	Config          Config
	SubnetIDs       pulumi.StringArrayInput // the isolated subnets
	SecurityGroupID pulumi.StringInput
	KeyArn          pulumi.StringInput
	// LogRetentionDays keeps the slow and engine logs in CloudWatch.
	LogRetentionDays int
	// Protect keeps Pulumi from deleting the replication group (production).
	Protect bool
	// Stack names the users and their group, which ElastiCache names account-wide.
	Stack string
	// Reader, when set, is a Redis user of its own for a reader (the queue-depth function): its
	// name and access string. Redis then authenticates users (RBAC): the app's AUTH token becomes
	// the password of the user "default", so the app's URLs stay as they are.
	Reader *User
}

// User is a Redis user: its name and its ACL access string.
type User struct {
	Name, Access string
}

// Cache is Redis: cache, Celery broker (db 0) and result backend (db 1).
type Cache struct {
	pulumi.ResourceState
	PrimaryAddress pulumi.StringOutput `pulumi:"primaryAddress"`
	// GroupID is the replication group's id; its nodes are <id>-001, -002, ...
	GroupID pulumi.StringOutput `pulumi:"groupId"`
	// AuthToken is generated at deploy time; it is a secret output, kept only in Pulumi's
	// encrypted state and in the Secrets Manager URLs.
	AuthToken pulumi.StringOutput `pulumi:"authToken"` // a secret output
	// ReaderPassword is Args.Reader's password (a secret output); empty without a reader.
	ReaderPassword pulumi.StringOutput
}

// NewCache creates the replication group.
func NewCache(ctx *pulumi.Context, name string, args *Args, opts ...pulumi.ResourceOption) (*Cache, error) {
	cfg := args.Config
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	c := &Cache{}
	if err := ctx.RegisterComponentResource(cacheType, name, c, opts...); err != nil {
		return nil, err
	}
	parent := pulumi.Parent(c)

	// ElastiCache takes only these special characters in an AUTH token.
	token, err := random.NewRandomPassword(ctx, name+"-auth", &random.RandomPasswordArgs{
		Length: pulumi.Int(64), Special: pulumi.Bool(true), OverrideSpecial: pulumi.String("!&#$^<>-"),
	}, parent)
	if err != nil {
		return nil, err
	}
	subnets, err := elasticache.NewSubnetGroup(ctx, name, &elasticache.SubnetGroupArgs{
		Description: pulumi.String("Isolated subnets: no route out of the VPC"),
		SubnetIds:   args.SubnetIDs,
	}, parent)
	if err != nil {
		return nil, err
	}
	params, err := elasticache.NewParameterGroup(ctx, name, &elasticache.ParameterGroupArgs{
		Family:      pulumi.String(fmt.Sprintf("redis%s", majorOf(cfg.EngineVersion))),
		Description: pulumi.String("Celery broker: queued tasks must never be evicted"),
		Parameters: elasticache.ParameterGroupParameterArray{
			elasticache.ParameterGroupParameterArgs{Name: pulumi.String("maxmemory-policy"), Value: pulumi.String("noeviction")},
		},
	}, parent)
	if err != nil {
		return nil, err
	}
	var logs elasticache.ReplicationGroupLogDeliveryConfigurationArray
	for _, kind := range []string{"slow-log", "engine-log"} {
		g, err := cloudwatch.NewLogGroup(ctx, fmt.Sprintf("%s-%s", name, kind), &cloudwatch.LogGroupArgs{
			RetentionInDays: pulumi.Int(args.LogRetentionDays),
			KmsKeyId:        args.KeyArn,
		}, parent)
		if err != nil {
			return nil, err
		}
		logs = append(logs, elasticache.ReplicationGroupLogDeliveryConfigurationArgs{
			Destination: g.Name, DestinationType: pulumi.String("cloudwatch-logs"),
			LogFormat: pulumi.String("json"), LogType: pulumi.String(kind),
		})
	}

	group := &elasticache.ReplicationGroupArgs{
		Description:              pulumi.Sprintf("Redis for %s: cache, Celery broker and results", name),
		Engine:                   pulumi.String("redis"),
		EngineVersion:            pulumi.String(cfg.EngineVersion),
		NodeType:                 pulumi.String(cfg.NodeType),
		NumCacheClusters:         pulumi.Int(cfg.NumNodes),
		AutomaticFailoverEnabled: pulumi.Bool(cfg.AutomaticFailover),
		MultiAzEnabled:           pulumi.Bool(cfg.MultiAZ),
		Port:                     pulumi.Int(Port),
		SubnetGroupName:          subnets.Name,
		SecurityGroupIds:         pulumi.StringArray{args.SecurityGroupID},
		ParameterGroupName:       params.Name,
		AtRestEncryptionEnabled:  pulumi.Bool(true),
		KmsKeyId:                 args.KeyArn,
		TransitEncryptionEnabled: pulumi.Bool(true),
		TransitEncryptionMode:    pulumi.String("required"),
		AutoMinorVersionUpgrade:  pulumi.Bool(true),
		SnapshotRetentionLimit:   pulumi.Int(cfg.SnapshotRetentionDays),
		// Snapshots, then maintenance, both at night in us-east-1 and an hour long at least.
		SnapshotWindow:            pulumi.String("02:00-03:00"),
		MaintenanceWindow:         pulumi.String("sun:06:00-sun:07:00"),
		LogDeliveryConfigurations: logs,
	}
	if cfg.SnapshotRetentionDays > 0 {
		// A fixed name would collide with the final snapshot of an earlier incarnation.
		suffix, err := random.NewRandomId(ctx, name+"-final-snapshot", &random.RandomIdArgs{ByteLength: pulumi.Int(4)}, parent)
		if err != nil {
			return nil, err
		}
		group.FinalSnapshotIdentifier = pulumi.Sprintf("%s-redis-final-%s", name, suffix.Hex)
	}
	if args.Reader == nil {
		group.AuthToken = token.Result
	} else {
		users, password, err := newUsers(ctx, name, args, token.Result, parent)
		if err != nil {
			return nil, err
		}
		group.UserGroupIds = pulumi.StringArray{users.UserGroupId}
		// An existing cache moves from its AUTH token to the users in one update: ElastiCache
		// takes the user group only with the token's deletion (AuthTokenUpdateStrategy DELETE);
		// the token lives on as the default user's password.
		group.AuthTokenUpdateStrategy = pulumi.String("DELETE")
		c.ReaderPassword = pulumi.ToSecret(password).(pulumi.StringOutput)
	}
	rg, err := elasticache.NewReplicationGroup(ctx, name, group, parent, pulumi.Protect(args.Protect))
	if err != nil {
		return nil, err
	}
	c.PrimaryAddress = rg.PrimaryEndpointAddress
	c.GroupID = rg.ID().ToStringOutput()
	c.AuthToken = pulumi.ToSecret(token.Result).(pulumi.StringOutput)
	return c, ctx.RegisterResourceOutputs(c, pulumi.Map{
		"primaryAddress": c.PrimaryAddress, "groupId": c.GroupID, "authToken": c.AuthToken,
	})
}

func majorOf(version string) string {
	for i, r := range version {
		if r == '.' {
			return version[:i]
		}
	}
	return version
}

// newUsers is Redis's users (RBAC) and their group: "default", whose password is the AUTH token
// the app's URLs carry (AUTH <token> logs in as "default"), and the reader with its own password
// and access string. A user group must hold a user named default.
func newUsers(ctx *pulumi.Context, name string, args *Args, token pulumi.StringOutput, parent pulumi.ResourceOption) (*elasticache.UserGroup, pulumi.StringOutput, error) {
	names := naming.For(args.Stack)
	password, err := random.NewRandomPassword(ctx, name+"-reader", &random.RandomPasswordArgs{
		Length: pulumi.Int(32), Special: pulumi.Bool(false),
	}, parent)
	if err != nil {
		return nil, pulumi.StringOutput{}, err
	}
	user := func(suffix, userName, access string, secret pulumi.StringOutput) (*elasticache.User, error) {
		return elasticache.NewUser(ctx, name+"-"+suffix, &elasticache.UserArgs{
			UserId: pulumi.String(names.Resource("redis", suffix)), UserName: pulumi.String(userName),
			Engine: pulumi.String("REDIS"), AccessString: pulumi.String(access),
			AuthenticationMode: elasticache.UserAuthenticationModeArgs{
				Type: pulumi.String("password"), Passwords: pulumi.StringArray{secret},
			},
		}, parent)
	}
	// The app's user as the token gave it: every key and command.
	def, err := user("default", "default", "on ~* &* +@all", token)
	if err != nil {
		return nil, pulumi.StringOutput{}, err
	}
	reader, err := user("reader", args.Reader.Name, args.Reader.Access, password.Result)
	if err != nil {
		return nil, pulumi.StringOutput{}, err
	}
	group, err := elasticache.NewUserGroup(ctx, name+"-users", &elasticache.UserGroupArgs{
		UserGroupId: pulumi.String(names.Resource("redis")), Engine: pulumi.String("REDIS"),
		UserIds: pulumi.StringArray{def.UserId, reader.UserId},
	}, parent)
	return group, password.Result, err
}
