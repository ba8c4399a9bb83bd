// Package stacks is one environment: it loads and validates the stack's config, builds the
// environment from the infra components, and exports what operators and pipelines need.
package stacks

import (
	"fmt"
	"strings"

	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/taskmanager/taskmanager-infra/infra/bastion"
	"github.com/taskmanager/taskmanager-infra/infra/cache"
	"github.com/taskmanager/taskmanager-infra/infra/compute"
	"github.com/taskmanager/taskmanager-infra/infra/database"
	"github.com/taskmanager/taskmanager-infra/infra/edge"
	"github.com/taskmanager/taskmanager-infra/infra/network"
	"github.com/taskmanager/taskmanager-infra/infra/observability"
	"github.com/taskmanager/taskmanager-infra/infra/secrets"
	"github.com/taskmanager/taskmanager-infra/infra/storage"
	"github.com/taskmanager/taskmanager-infra/internal/configcheck"
)

// Deploy is the program: pulumi.Run(stacks.Deploy).
func Deploy(ctx *pulumi.Context) error {
	src, err := sourceOf(ctx)
	if err != nil {
		return err
	}
	cfg, err := Load(src)
	if err != nil {
		return fmt.Errorf("stack %q has invalid configuration (Pulumi.%s.yaml); nothing was deployed:\n%s",
			src.Stack, src.Stack, bulleted(err))
	}
	return build(ctx, cfg)
}

// bulleted renders each problem of err on a line of its own.
func bulleted(err error) string {
	var b strings.Builder
	for _, p := range configcheck.List(err) {
		fmt.Fprintf(&b, "  - %s\n", p.Error())
	}
	return strings.TrimSuffix(b.String(), "\n")
}

// build registers the environment's resources from a valid config.
func build(ctx *pulumi.Context, cfg *Config) error {
	caller, err := aws.GetCallerIdentity(ctx, nil)
	if err != nil {
		return err
	}
	if w := Budget(cfg).Warning(cfg.Database.InstanceClass); w != "" {
		if err := ctx.Log.Warn(w, nil); err != nil {
			return err
		}
	}
	// Production holds real customer data: its stateful resources cannot be deleted by a
	// `pulumi destroy` or a replacing change without first lifting protection on purpose.
	protect := cfg.IsProduction()

	key, err := secrets.NewKey(ctx, cfg.Stack, &secrets.KeyArgs{
		Stack:              cfg.Stack,
		Region:             cfg.Region,
		AccountID:          caller.AccountId,
		DeletionWindowDays: cfg.Secrets.KeyDeletionWindowDays,
		Protect:            protect,
	})
	if err != nil {
		return err
	}

	lbPorts := []int{80, 443}
	if cfg.Edge.Internal {
		// Inside the VPC there is no public certificate: the internal load balancer serves HTTP.
		lbPorts = []int{80}
	}
	blueGreen := cfg.Compute.APIDeployment == compute.BlueGreen
	testPort := 0
	if blueGreen {
		testPort = edge.TestListenerPort
	}
	net, err := network.NewNetwork(ctx, cfg.Stack, &network.Args{
		Config: cfg.Network,
		Ports: network.Ports{
			Container: cfg.API.ContainerPort,
			Database:  database.Port,
			Cache:     cache.Port,
			SMTP:      cfg.App.SMTP.Port,
		},
		PublicLoadBalancer:   !cfg.Edge.Internal,
		LoadBalancerPorts:    lbPorts,
		TestListenerPort:     testPort,
		Bastion:              cfg.Bastion.Enabled,
		FlowLogRetentionDays: cfg.Logging.RetentionDays,
		LogKmsKeyArn:         key.Arn,
	})
	if err != nil {
		return err
	}

	db, err := database.NewDatabase(ctx, cfg.Stack, &database.Args{
		Config:           cfg.Database,
		Stack:            cfg.Stack,
		SubnetIDs:        net.IsolatedSubnetIDs,
		SecurityGroupID:  net.SecurityGroups.Database.ToStringOutput(),
		KeyArn:           key.Arn,
		LogRetentionDays: cfg.Logging.RetentionDays,
		Protect:          protect,
	})
	if err != nil {
		return err
	}
	redis, err := cache.NewCache(ctx, cfg.Stack, &cache.Args{
		Config:           cfg.Cache,
		SubnetIDs:        net.IsolatedSubnetIDs,
		SecurityGroupID:  net.SecurityGroups.Cache.ToStringOutput(),
		KeyArn:           key.Arn,
		LogRetentionDays: cfg.Logging.RetentionDays,
		Protect:          protect,
	})
	if err != nil {
		return err
	}
	store, err := secrets.NewStore(ctx, cfg.Stack, &secrets.StoreArgs{
		Stack:              cfg.Stack,
		KeyArn:             key.Arn,
		RecoveryWindowDays: cfg.Secrets.RecoveryWindowDays,
		Protect:            protect,
		Database: secrets.DatabaseEndpoint{
			Host: db.Address, ReaderHost: db.ReaderAddress, Port: database.Port, Name: database.Name,
		},
		Cache:    secrets.CacheEndpoint{Host: redis.PrimaryAddress, Port: cache.Port, AuthToken: redis.AuthToken},
		External: cfg.External,
	})
	if err != nil {
		return err
	}

	if _, err := secrets.NewRotation(ctx, cfg.Stack, &secrets.RotationArgs{
		Stack: cfg.Stack, Region: cfg.Region, AccountID: caller.AccountId,
		KeyArn:            key.Arn,
		SubnetIDs:         net.PrivateSubnetIDs,
		SecurityGroupID:   net.SecurityGroups.Rotation.ToStringOutput(),
		LogRetentionDays:  cfg.Logging.RetentionDays,
		DatabaseSecretArn: store.Arns[secrets.DatabaseURL],
		ReaderSecretArn:   store.Arns[secrets.DatabaseReaderURL],
		MasterSecretArn:   db.MasterSecretArn,
		ReaderHost:        db.ReaderAddress,
		DatabaseDays:      cfg.Secrets.DatabaseRotationDays,
		JWTSecretArn:      store.Arns[secrets.JWTSecret],
		JWTDays:           cfg.Secrets.JWTRotationDays,
		Cluster:           compute.ClusterName(cfg.Stack),
		Services:          []string{compute.API, compute.Worker},
	}); err != nil {
		return err
	}

	logDays := cfg.Logging.RetentionDays
	if cfg.Logging.ArchiveDays != nil {
		logDays = *cfg.Logging.ArchiveDays
	}
	buckets, err := storage.NewStorage(ctx, cfg.Stack, &storage.Args{
		Config: cfg.Storage, Stack: cfg.Stack, Region: cfg.Region, AccountID: caller.AccountId,
		KeyArn:              key.Arn,
		BackupRetentionDays: cfg.Database.BackupRetentionDays,
		LogRetentionDays:    logDays,
		Protect:             protect,
	})
	if err != nil {
		return err
	}

	lbSubnets := net.PublicSubnetIDs
	if cfg.Edge.Internal {
		lbSubnets = net.PrivateSubnetIDs
	}
	edgeArgs := &edge.Args{
		Config:              cfg.Edge,
		Stack:               cfg.Stack,
		VpcID:               net.VpcID,
		SubnetIDs:           lbSubnets,
		SecurityGroupID:     net.SecurityGroups.LoadBalancer.ToStringOutput(),
		ContainerPort:       cfg.API.ContainerPort,
		HealthCheckPath:     cfg.API.HealthCheckPath,
		BlueGreen:           blueGreen,
		WAFLogRetentionDays: cfg.Logging.RetentionDays,
		KeyArn:              key.Arn,
	}
	if cfg.Edge.BasicAuth {
		edgeArgs.BasicAuthCredentials = pulumi.ToSecret(pulumi.String(*cfg.External.BasicAuth)).(pulumi.StringOutput)
	}
	if cfg.Storage.Logs {
		edgeArgs.AccessLogsBucket = buckets.LogsBucket
		edgeArgs.AccessLogDependency = buckets.LogsReady
	}
	front, err := edge.NewEdge(ctx, cfg.Stack, edgeArgs)
	if err != nil {
		return err
	}
	lb := compute.LoadBalancer{
		TargetGroupArn: front.TargetGroupArn,
		RequestLabel:   front.RequestLabel,
		Listeners:      front.Listeners,
	}
	if blueGreen {
		lb.BlueGreen = &compute.BlueGreenTargets{
			BlueName: front.BlueName, GreenName: front.GreenName,
			ProdListener: front.ProdListener, TestListener: front.TestListener,
			LoadBalancerSuffix: front.ArnSuffix, BlueSuffix: front.BlueArnSuffix, GreenSuffix: front.GreenArnSuffix,
		}
	}
	app, err := compute.NewCompute(ctx, cfg.Stack, &compute.Args{
		Stack: cfg.Stack, Region: cfg.Region, AccountID: caller.AccountId,
		Settings: compute.Settings{
			Environment: cfg.Environment, LogLevel: cfg.Logging.Level, App: cfg.App, Worker: cfg.Worker, Port: cfg.API.ContainerPort,
		},
		API:       cfg.API,
		Worker:    cfg.Worker,
		Compute:   cfg.Compute,
		SubnetIDs: net.PrivateSubnetIDs,
		SecurityGroups: map[string]pulumi.StringInput{
			compute.API:        net.SecurityGroups.API.ToStringOutput(),
			compute.Worker:     net.SecurityGroups.Worker.ToStringOutput(),
			compute.Migrations: net.SecurityGroups.Migrations.ToStringOutput(),
		},
		KeyArn:           key.Arn,
		SecretArns:       store.Arns,
		LogRetentionDays: cfg.Logging.RetentionDays,
		LoadBalancer:     lb,
		Protect:          protect,
	})
	if err != nil {
		return err
	}

	tgSuffixes := []pulumi.StringInput{front.BlueArnSuffix}
	if blueGreen {
		tgSuffixes = append(tgSuffixes, front.GreenArnSuffix)
	}
	replica := ""
	if cfg.Database.Replica != nil {
		replica = database.Identifier(cfg.Stack) + "-replica"
	}
	monitoring, err := observability.NewObservability(ctx, cfg.Stack, &observability.Args{
		Config: cfg.Monitoring, Stack: cfg.Stack, Region: cfg.Region, KeyArn: key.Arn,
		LoadBalancerSuffix:  front.ArnSuffix,
		TargetGroupSuffixes: tgSuffixes,
		Cluster:             compute.ClusterName(cfg.Stack),
		Services:            []string{compute.API, compute.Worker},
		DatabaseIdentifier:  database.Identifier(cfg.Stack),
		ReplicaIdentifier:   replica,
		CacheGroupID:        redis.GroupID,
		CacheNodes:          cfg.Cache.NumNodes,
	})
	if err != nil {
		return err
	}
	ctx.Export("alarmNames", monitoring.AlarmNames)
	if cfg.Monitoring.Level == observability.Alerting {
		ctx.Export("alertTopicArn", monitoring.TopicArn)
	}

	if cfg.Logging.ArchiveDays != nil {
		var groups []string
		for _, w := range []string{compute.API, compute.Worker, compute.Migrations} {
			groups = append(groups, compute.LogGroupName(cfg.Stack, w))
		}
		if _, err := observability.NewLogArchive(ctx, cfg.Stack, &observability.ArchiveArgs{
			Stack: cfg.Stack, Region: cfg.Region, AccountID: caller.AccountId,
			LogGroups: groups, BucketArn: buckets.LogsBucketArn, KeyArn: key.Arn,
		}, pulumi.DependsOn([]pulumi.Resource{app})); err != nil {
			return err
		}
	}
	if cfg.Bastion.Enabled {
		host, err := bastion.NewBastion(ctx, cfg.Stack, &bastion.Args{
			Config: cfg.Bastion, Stack: cfg.Stack,
			SubnetID:         net.PrivateSubnetIDs.Index(pulumi.Int(0)),
			SecurityGroupID:  net.SecurityGroups.Bastion.ToStringOutput(),
			KeyArn:           key.Arn,
			LogRetentionDays: cfg.Logging.RetentionDays,
		})
		if err != nil {
			return err
		}
		ctx.Export("bastionInstanceId", host.InstanceID)
		ctx.Export("bastionSessionDocument", host.SessionDocument)
	}

	ctx.Export("url", front.URL)
	ctx.Export("loadBalancerDnsName", front.DNSName)
	ctx.Export("clusterName", app.ClusterName)
	ctx.Export("serviceNames", pulumi.ToStringArray([]string{compute.API, compute.Worker}))
	ctx.Export("repositoryUrl", app.RepositoryURL)
	ctx.Export("imageTag", pulumi.String(cfg.Compute.ImageTag))
	for name, arn := range app.TaskDefinition {
		ctx.Export(name+"TaskDefinitionArn", arn)
	}
	// What the pipeline's `aws ecs run-task` of the migrations needs.
	ctx.Export("migrationsTaskFamily", pulumi.String(cfg.Stack+"-taskmanager-"+compute.Migrations))
	ctx.Export("migrationsSubnetIds", net.PrivateSubnetIDs)
	ctx.Export("migrationsSecurityGroupId", net.SecurityGroups.Migrations.ToStringOutput())
	if blueGreen {
		ctx.Export("codeDeployApplication", app.CodeDeployApplication)
		ctx.Export("codeDeployDeploymentGroup", app.CodeDeployGroup)
	}
	for purpose, name := range buckets.Buckets {
		ctx.Export(purpose+"Bucket", name)
	}
	ctx.Export("vpcId", net.VpcID)
	ctx.Export("publicSubnetIds", net.PublicSubnetIDs)
	ctx.Export("privateSubnetIds", net.PrivateSubnetIDs)
	ctx.Export("isolatedSubnetIds", net.IsolatedSubnetIDs)
	ctx.Export("kmsKeyArn", key.Arn)
	ctx.Export("databaseAddress", db.Address)
	ctx.Export("databaseReaderAddress", db.ReaderAddress)
	ctx.Export("databaseIdentifier", db.Identifier)
	ctx.Export("cacheAddress", redis.PrimaryAddress)
	secretArns := pulumi.StringMap{}
	for name, arn := range store.Arns {
		secretArns[name] = arn
	}
	ctx.Export("secretArns", secretArns)
	return nil
}
