package database

import (
	"fmt"

	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/cloudwatch"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/iam"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/rds"
	"github.com/pulumi/pulumi-random/sdk/v4/go/random"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/taskmanager/taskmanager-infra/internal/iampolicy"
)

const databaseType = "taskmanager:database:Database"

// Fixed names of the database, which the app's URLs and the rotation function use.
const (
	// Name is the initial database (spec: .../taskmanager).
	Name = "taskmanager"
	// MasterUser is the administrator; RDS for PostgreSQL refuses "admin", and RDS manages its
	// password in its own secret (no password in Pulumi's state).
	MasterUser = "taskmanager_admin"
	Port       = 5432
)

// Args configures the database.
type Args struct {
	Config            Config
	Stack             string
	Region, AccountID string
	// SubnetIDs are the isolated subnets; SecurityGroupID the database's group.
	SubnetIDs       pulumi.StringArrayInput
	SecurityGroupID pulumi.StringInput
	KeyArn          pulumi.StringInput
	// LogRetentionDays keeps the PostgreSQL logs in CloudWatch.
	LogRetentionDays int
	// Protect keeps Pulumi from deleting the instances (production).
	Protect bool
	// Proxy is what RDS Proxy needs, with Config.Proxy.
	Proxy ProxyArgs
}

// Database is the PostgreSQL primary and, when configured, its read replica.
type Database struct {
	pulumi.ResourceState
	Address       pulumi.StringOutput `pulumi:"address"`
	ReaderAddress pulumi.StringOutput `pulumi:"readerAddress"` // the replica's, or the primary's when there is none
	Identifier    pulumi.StringOutput `pulumi:"identifier"`
	// ReplicaIdentifier is the replica's identifier; nil without a replica.
	ReplicaIdentifier pulumi.StringInput
	// AuditLogGroups are the instances' postgresql log groups (connections, DDL, slow statements):
	// what production's locked log archive keeps.
	AuditLogGroups []pulumi.StringOutput
	// ResourceID is the primary's immutable id (db-...): it changes only when the instance is
	// replaced.
	ResourceID pulumi.StringOutput `pulumi:"resourceId"`
	// MasterSecretArn is RDS's secret of the master user's credentials.
	MasterSecretArn pulumi.StringOutput `pulumi:"masterSecretArn"`
	// ProxyEndpoint is RDS Proxy's address, where the app connects (with Config.Proxy); else
	// the app connects to Address.
	ProxyEndpoint pulumi.StringOutput `pulumi:"proxyEndpoint"`
	// LoginSecretArns are the proxy's login secrets by user, which the rotation keeps current.
	LoginSecretArns map[string]pulumi.StringOutput
	// LoginSecretVersions are the login secrets' placeholder values: whatever writes the real
	// passwords (the bootstrap) must come after them, or a placeholder could land on top.
	LoginSecretVersions []pulumi.Resource
}

// NewDatabase creates the database.
func NewDatabase(ctx *pulumi.Context, name string, args *Args, opts ...pulumi.ResourceOption) (*Database, error) {
	cfg := args.Config
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	d := &Database{}
	if err := ctx.RegisterComponentResource(databaseType, name, d, opts...); err != nil {
		return nil, err
	}
	parent := pulumi.Parent(d)
	identifier := Identifier(args.Stack)

	subnets, err := rds.NewSubnetGroup(ctx, name, &rds.SubnetGroupArgs{
		Description: pulumi.String("Isolated subnets: no route out of the VPC"),
		SubnetIds:   args.SubnetIDs,
	}, parent)
	if err != nil {
		return nil, err
	}
	params, err := rds.NewParameterGroup(ctx, name, &rds.ParameterGroupArgs{
		Family:      pulumi.String("postgres" + cfg.EngineVersion),
		Description: pulumi.String("TLS only; DDL, slow statements and connections logged"),
		Parameters: rds.ParameterGroupParameterArray{
			param("rds.force_ssl", "1"),
			param("log_statement", "ddl"),
			param("log_min_duration_statement", "1000"),
			param("log_connections", "1"),
			param("log_disconnections", "1"),
		},
	}, parent)
	if err != nil {
		return nil, err
	}
	// RDS would create these groups itself, never expiring and unencrypted.
	var logGroups []pulumi.Resource
	for _, id := range []string{identifier, identifier + "-replica"} {
		if id != identifier && cfg.Replica == nil {
			continue
		}
		for _, kind := range logExports {
			g, err := cloudwatch.NewLogGroup(ctx, fmt.Sprintf("%s-%s-%s", name, id, kind), &cloudwatch.LogGroupArgs{
				Name:            pulumi.Sprintf("/aws/rds/instance/%s/%s", id, kind),
				RetentionInDays: pulumi.Int(args.LogRetentionDays),
				KmsKeyId:        args.KeyArn,
			}, parent, pulumi.DeleteBeforeReplace(true)) // RDS writes to exactly this name
			if err != nil {
				return nil, err
			}
			logGroups = append(logGroups, g)
			if kind == "postgresql" {
				d.AuditLogGroups = append(d.AuditLogGroups, g.Name)
			}
		}
	}
	var monitoringRole pulumi.StringInput
	if cfg.MonitoringIntervalSeconds > 0 {
		role, err := iam.NewRole(ctx, name+"-monitoring", &iam.RoleArgs{
			Description: pulumi.String("Lets RDS publish Enhanced Monitoring metrics"),
			AssumeRolePolicy: iampolicy.AssumeRoleFor("monitoring.rds.amazonaws.com", args.AccountID,
				fmt.Sprintf("arn:aws:rds:%s:%s:db:%s*", args.Region, args.AccountID, identifier)),
			ManagedPolicyArns: pulumi.StringArray{pulumi.String("arn:aws:iam::aws:policy/service-role/AmazonRDSEnhancedMonitoringRole")},
		}, parent)
		if err != nil {
			return nil, err
		}
		monitoringRole = role.Arn
	}

	hardening := func(a *rds.InstanceArgs) *rds.InstanceArgs {
		a.Engine = pulumi.String("postgres")
		a.EngineVersion = pulumi.String(cfg.EngineVersion)
		a.StorageType = pulumi.String("gp3")
		a.StorageEncrypted = pulumi.Bool(true)
		a.KmsKeyId = args.KeyArn
		a.PubliclyAccessible = pulumi.Bool(false)
		a.VpcSecurityGroupIds = pulumi.StringArray{args.SecurityGroupID}
		a.ParameterGroupName = params.Name
		a.EnabledCloudwatchLogsExports = pulumi.ToStringArray(logExports)
		a.AutoMinorVersionUpgrade = pulumi.Bool(true)
		a.AllowMajorVersionUpgrade = pulumi.Bool(false)
		a.CaCertIdentifier = pulumi.String("rds-ca-rsa2048-g1")
		a.IamDatabaseAuthenticationEnabled = pulumi.Bool(true)
		a.CopyTagsToSnapshot = pulumi.Bool(true)
		a.DeletionProtection = pulumi.Bool(cfg.DeletionProtection)
		a.MaxAllocatedStorage = pulumi.Int(cfg.MaxAllocatedStorage)
		a.MonitoringInterval = pulumi.Int(cfg.MonitoringIntervalSeconds)
		a.MonitoringRoleArn = monitoringRole
		if cfg.PerformanceInsights {
			a.PerformanceInsightsEnabled = pulumi.Bool(true)
			a.PerformanceInsightsKmsKeyId = args.KeyArn
			a.PerformanceInsightsRetentionPeriod = pulumi.Int(7)
		}
		return a
	}
	stateful := []pulumi.ResourceOption{parent, pulumi.Protect(args.Protect), pulumi.DependsOn(logGroups)}

	primaryArgs := hardening(&rds.InstanceArgs{
		// The identifier is fixed: the runbook and the lifecycle scripts name it.
		Identifier:               pulumi.String(identifier),
		InstanceClass:            pulumi.String(cfg.InstanceClass),
		AllocatedStorage:         pulumi.Int(cfg.AllocatedStorage),
		DbName:                   pulumi.String(Name),
		Port:                     pulumi.Int(Port),
		Username:                 pulumi.String(MasterUser),
		ManageMasterUserPassword: pulumi.Bool(true),
		MasterUserSecretKmsKeyId: args.KeyArn,
		DbSubnetGroupName:        subnets.Name,
		MultiAz:                  pulumi.Bool(cfg.MultiAZ),
		BackupRetentionPeriod:    pulumi.Int(cfg.BackupRetentionDays),
		// Backups before maintenance, both at night in us-east-1, never overlapping.
		BackupWindow:      pulumi.String("03:00-04:00"),
		MaintenanceWindow: pulumi.String("sun:05:00-sun:06:00"),
		SkipFinalSnapshot: pulumi.Bool(cfg.SkipFinalSnapshot),
	})
	if !cfg.SkipFinalSnapshot {
		// A fixed name would collide with the snapshot of an earlier incarnation of the stack.
		suffix, err := randomSuffix(ctx, name, parent)
		if err != nil {
			return nil, err
		}
		primaryArgs.FinalSnapshotIdentifier = pulumi.Sprintf("%s-final-%s", identifier, suffix)
	}
	primary, err := rds.NewInstance(ctx, name, primaryArgs, stateful...)
	if err != nil {
		return nil, err
	}
	d.Address = primary.Address
	d.ReaderAddress = primary.Address
	d.Identifier = primary.Identifier
	d.ResourceID = primary.ResourceId
	// RDS reports its secret once the instance exists; never index an empty list.
	d.MasterSecretArn = primary.MasterUserSecrets.ApplyT(func(s []rds.InstanceMasterUserSecret) string {
		if len(s) == 0 || s[0].SecretArn == nil {
			return ""
		}
		return *s[0].SecretArn
	}).(pulumi.StringOutput)

	if cfg.Proxy != nil {
		if err := newProxy(ctx, name, args, d, primary, parent); err != nil {
			return nil, err
		}
	}
	if cfg.Replica != nil {
		// Same region: the replica follows the primary by identifier and inherits its subnet
		// group, encryption and master user; it keeps no backups and no final snapshot.
		replica, err := rds.NewInstance(ctx, name+"-replica", hardening(&rds.InstanceArgs{
			Identifier:            pulumi.String(identifier + "-replica"),
			ReplicateSourceDb:     primary.Identifier,
			InstanceClass:         pulumi.String(cfg.Replica.InstanceClass),
			SkipFinalSnapshot:     pulumi.Bool(true),
			BackupRetentionPeriod: pulumi.Int(0),
		}), stateful...)
		if err != nil {
			return nil, err
		}
		d.ReaderAddress = replica.Address
		d.ReplicaIdentifier = replica.Identifier
	}

	outs := pulumi.Map{
		"address": d.Address, "readerAddress": d.ReaderAddress, "identifier": d.Identifier,
		"resourceId": d.ResourceID, "masterSecretArn": d.MasterSecretArn,
	}
	if d.ReplicaIdentifier != nil {
		outs["replicaIdentifier"] = d.ReplicaIdentifier
	}
	if cfg.Proxy != nil {
		outs["proxyEndpoint"] = d.ProxyEndpoint
	}
	return d, ctx.RegisterResourceOutputs(d, outs)
}

// logExports are the PostgreSQL logs RDS sends to CloudWatch.
var logExports = []string{"postgresql", "upgrade"}

// randomSuffix is a short random hex string, stable across runs (kept in the state).
func randomSuffix(ctx *pulumi.Context, name string, parent pulumi.ResourceOption) (pulumi.StringOutput, error) {
	id, err := random.NewRandomId(ctx, name+"-final-snapshot", &random.RandomIdArgs{ByteLength: pulumi.Int(4)}, parent)
	if err != nil {
		return pulumi.StringOutput{}, err
	}
	return id.Hex, nil
}

func param(name, value string) rds.ParameterGroupParameterInput {
	// Static parameters apply at the next reboot; "pending-reboot" is accepted for dynamic ones too.
	return rds.ParameterGroupParameterArgs{Name: pulumi.String(name), Value: pulumi.String(value), ApplyMethod: pulumi.String("pending-reboot")}
}
