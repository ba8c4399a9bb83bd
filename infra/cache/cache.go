package cache

import (
	"fmt"

	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/cloudwatch"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/elasticache"
	"github.com/pulumi/pulumi-random/sdk/v4/go/random"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
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
		AuthToken:                token.Result,
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
