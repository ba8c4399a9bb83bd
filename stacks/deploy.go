// Package stacks is one environment: it loads and validates the stack's config, builds the
// environment from the infra components, and exports what operators and pipelines need.
package stacks

import (
	"fmt"
	"slices"
	"strings"

	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/ecr"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/taskmanager/taskmanager-infra/infra/bastion"
	"github.com/taskmanager/taskmanager-infra/infra/cache"
	"github.com/taskmanager/taskmanager-infra/infra/compute"
	"github.com/taskmanager/taskmanager-infra/infra/database"
	"github.com/taskmanager/taskmanager-infra/infra/edge"
	"github.com/taskmanager/taskmanager-infra/infra/firewall"
	"github.com/taskmanager/taskmanager-infra/infra/network"
	"github.com/taskmanager/taskmanager-infra/infra/observability"
	"github.com/taskmanager/taskmanager-infra/infra/release"
	"github.com/taskmanager/taskmanager-infra/infra/secrets"
	"github.com/taskmanager/taskmanager-infra/infra/storage"
	"github.com/taskmanager/taskmanager-infra/internal/configcheck"
	"github.com/taskmanager/taskmanager-infra/internal/naming"
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

// environment is one stack's components, built in dependency order: each step wires the
// outputs of the earlier ones into the next, and no component imports another.
type environment struct {
	ctx     *pulumi.Context
	cfg     *Config
	account string
	// protect: production holds real customer data, so its stateful resources cannot be deleted
	// by a `pulumi destroy` or a replacing change without first lifting protection on purpose.
	protect bool

	key        *secrets.Key
	net        *networkView
	firewall   *firewall.Firewall
	db         *database.Database
	redis      *cache.Cache
	store      *secrets.Store
	buckets    *storage.Storage
	front      *edge.Edge
	app        *computeView
	release    *release.BlueGreen // nil unless the API deploys blue/green
	monitoring *observability.Observability
	bastion    *bastion.Bastion
	rotator    *secrets.Rotation
}

// Transitional: data(), rotation(), operations() and export() read the security groups and the
// CodeDeploy names where they were before the firewall and the release had components of their
// own (e.net.SecurityGroups.Database, e.net.Rules, e.app.CodeDeployApplication). These views
// give them the same names until they read e.firewall and e.release themselves.

// networkView is the network with the firewall's group ids and rules.
type networkView struct {
	*network.Network
	SecurityGroups struct {
		LoadBalancer, API, Worker, Migrations, Database, Cache, Rotation pulumi.StringOutput
		Bastion                                                          pulumi.StringOutput // with a bastion
	}
	Rules []pulumi.Resource
}

func newNetworkView(net *network.Network, fw *firewall.Firewall, bastion bool) *networkView {
	v := &networkView{Network: net, Rules: fw.Rules}
	g := &v.SecurityGroups
	g.LoadBalancer, g.API, g.Worker = fw.GroupID(firewall.Alb), fw.GroupID(firewall.API), fw.GroupID(firewall.Worker)
	g.Migrations, g.Database, g.Cache = fw.GroupID(firewall.Migrations), fw.GroupID(firewall.Database), fw.GroupID(firewall.Cache)
	g.Rotation = fw.GroupID(firewall.Rotation)
	if bastion {
		g.Bastion = fw.GroupID(firewall.Bastion)
	}
	return v
}

// computeView is the compute with, under blue/green, the release's application and group.
type computeView struct {
	*compute.Compute
	CodeDeployApplication, CodeDeployGroup pulumi.StringOutput
}

// build registers the environment's resources from a valid config.
func build(ctx *pulumi.Context, cfg *Config) error {
	caller, err := aws.GetCallerIdentity(ctx, nil)
	if err != nil {
		return err
	}
	if err := checkImage(ctx, cfg); err != nil {
		return err
	}
	if w := Budget(cfg).Warning(cfg.Database.InstanceClass); w != "" {
		if err := ctx.Log.Warn(w, nil); err != nil {
			return err
		}
	}
	e := &environment{ctx: ctx, cfg: cfg, account: caller.AccountId, protect: cfg.IsProduction()}
	for _, step := range []func() error{e.foundation, e.data, e.rotation, e.storage, e.edge, e.compute, e.schedule, e.operations} {
		if err := step(); err != nil {
			return err
		}
	}
	e.export()
	return nil
}

func (e *environment) blueGreen() bool { return e.cfg.Compute.APIDeployment == compute.BlueGreen }

// foundation is the environment's key, its network and the network's firewall.
func (e *environment) foundation() (err error) {
	cfg := e.cfg
	e.key, err = secrets.NewKey(e.ctx, cfg.Stack, &secrets.KeyArgs{
		Stack:              cfg.Stack,
		Region:             cfg.Region,
		AccountID:          e.account,
		DeletionWindowDays: cfg.Secrets.KeyDeletionWindowDays,
		Protect:            e.protect,
	})
	if err != nil {
		return err
	}
	net, err := network.NewNetwork(e.ctx, cfg.Stack, &network.Args{
		Config:               cfg.Network,
		FlowLogRetentionDays: cfg.Logging.RetentionDays,
		LogKmsKeyArn:         e.key.Arn,
		Region:               cfg.Region,
		AccountID:            e.account,
	})
	if err != nil {
		return err
	}
	lbPorts := []int{80, 443}
	if cfg.Edge.Internal {
		// Inside the VPC there is no public certificate: the internal load balancer serves HTTP.
		lbPorts = []int{80}
	}
	testPort := 0
	if e.blueGreen() {
		testPort = edge.TestListenerPort
	}
	e.firewall, err = firewall.NewFirewall(e.ctx, cfg.Stack, &firewall.Args{
		VpcID:   net.VpcID,
		VpcCidr: net.VpcCidr,
		Ports: firewall.Ports{
			Container: cfg.API.ContainerPort,
			Database:  database.Port,
			Cache:     cache.Port,
			SMTP:      cfg.App.SMTP.Port,
		},
		PublicLoadBalancer: !cfg.Edge.Internal,
		LoadBalancerSignIn: cfg.Edge.SignIn,
		LoadBalancerPorts:  lbPorts,
		TestListenerPort:   testPort,
		Bastion:            cfg.Bastion.Enabled,
		// The groups and their rules were the network's children until the firewall had a
		// component of its own: their aliases keep every live group and rule.
		PreviousParent: net,
	})
	if err != nil {
		return err
	}
	e.net = newNetworkView(net, e.firewall, cfg.Bastion.Enabled)
	return nil
}

// data is PostgreSQL, Redis and the secrets that hold their URLs.
func (e *environment) data() (err error) {
	cfg := e.cfg
	e.db, err = database.NewDatabase(e.ctx, cfg.Stack, &database.Args{
		Config:           cfg.Database,
		Stack:            cfg.Stack,
		Region:           cfg.Region,
		AccountID:        e.account,
		SubnetIDs:        e.net.IsolatedSubnetIDs,
		SecurityGroupID:  e.net.SecurityGroups.Database.ToStringOutput(),
		KeyArn:           e.key.Arn,
		LogRetentionDays: cfg.Logging.RetentionDays,
		Protect:          e.protect,
	})
	if err != nil {
		return err
	}
	e.redis, err = cache.NewCache(e.ctx, cfg.Stack, &cache.Args{
		Config:           cfg.Cache,
		SubnetIDs:        e.net.IsolatedSubnetIDs,
		SecurityGroupID:  e.net.SecurityGroups.Cache.ToStringOutput(),
		KeyArn:           e.key.Arn,
		LogRetentionDays: cfg.Logging.RetentionDays,
		Protect:          e.protect,
	})
	if err != nil {
		return err
	}
	e.store, err = secrets.NewStore(e.ctx, cfg.Stack, &secrets.StoreArgs{
		Stack:              cfg.Stack,
		KeyArn:             e.key.Arn,
		RecoveryWindowDays: cfg.Secrets.RecoveryWindowDays,
		Protect:            e.protect,
		Database: secrets.DatabaseEndpoint{
			Host: e.db.Address, ReaderHost: e.db.ReaderAddress, Port: database.Port, Name: database.Name,
		},
		Cache:           secrets.CacheEndpoint{Host: e.redis.PrimaryAddress, Port: cache.Port, AuthToken: e.redis.AuthToken},
		External:        cfg.External,
		SmokeTestHeader: cfg.Edge.SignIn,
	})
	return err
}

// rotation rotates the database login and the JWT key, and redeploys the services after.
func (e *environment) rotation() (err error) {
	cfg := e.cfg
	args := &secrets.RotationArgs{
		Stack: cfg.Stack, Region: cfg.Region, AccountID: e.account,
		KeyArn:              e.key.Arn,
		SubnetIDs:           e.net.PrivateSubnetIDs,
		SecurityGroupID:     e.net.SecurityGroups.Rotation.ToStringOutput(),
		LogRetentionDays:    cfg.Logging.RetentionDays,
		DatabaseSecretArn:   e.store.Arns[secrets.DatabaseURL],
		ReaderSecretArn:     e.store.Arns[secrets.DatabaseReaderURL],
		MasterSecretArn:     e.db.MasterSecretArn,
		MigrationsSecretArn: e.store.Arns[secrets.MigrationsURL],
		Database:            secrets.DatabaseEndpoint{Host: e.db.Address, Port: database.Port, Name: database.Name},
		ReaderHost:          e.db.ReaderAddress,
		DatabaseDays:        cfg.Secrets.DatabaseRotationDays,
		JWTSecretArn:        e.store.Arns[secrets.JWTSecret],
		JWTDays:             cfg.Secrets.JWTRotationDays,
		Cluster:             compute.ClusterName(cfg.Stack),
		Services:            []string{compute.API, compute.Worker},
		DatabaseID:          e.db.ResourceID,
		BootstrapAfter:      append(slices.Clone(e.store.Versions), e.net.Rules...),
	}
	if e.blueGreen() {
		args.BlueGreen = &secrets.BlueGreenRedeploy{
			Application: compute.CodeDeployApplicationName(cfg.Stack), DeploymentGroup: compute.BlueGreenGroup,
		}
	}
	e.rotator, err = secrets.NewRotation(e.ctx, cfg.Stack, args)
	return err
}

// schedule turns the rotations on once the services they redeploy exist (with blue/green, the
// API's deployment group too), and with blue/green lets the functions pass the API's roles to
// CodeDeploy.
func (e *environment) schedule() error {
	after := slices.Clone(e.app.Services)
	if e.blueGreen() {
		after = append(after, e.release.Group)
		policies, err := e.rotator.AllowPassingRoles(e.ctx, e.cfg.Stack, e.app.TaskRoleArns[compute.API])
		if err != nil {
			return err
		}
		after = append(after, policies...)
	}
	return e.rotator.Schedule(e.ctx, after...)
}

// storage is the buckets; the logs bucket keeps the log archive as long as the archive says.
func (e *environment) storage() (err error) {
	cfg := e.cfg
	logDays, archiveDays := cfg.Logging.RetentionDays, 0
	if cfg.Logging.ArchiveDays != nil {
		logDays, archiveDays = *cfg.Logging.ArchiveDays, *cfg.Logging.ArchiveDays
	}
	e.buckets, err = storage.NewStorage(e.ctx, cfg.Stack, &storage.Args{
		Config: cfg.Storage, Stack: cfg.Stack, Region: cfg.Region, AccountID: e.account,
		KeyArn:              e.key.Arn,
		BackupRetentionDays: cfg.Database.BackupRetentionDays,
		LogRetentionDays:    logDays,
		ArchiveDays:         archiveDays,
		Protect:             e.protect,
	})
	return err
}

// edge is the load balancer, its certificate, DNS and WAF.
func (e *environment) edge() (err error) {
	cfg := e.cfg
	subnets := e.net.PublicSubnetIDs
	if cfg.Edge.Internal {
		subnets = e.net.PrivateSubnetIDs
	}
	args := &edge.Args{
		Config:              cfg.Edge,
		Stack:               cfg.Stack,
		VpcID:               e.net.VpcID,
		SubnetIDs:           subnets,
		SecurityGroupID:     e.firewall.GroupID(firewall.Alb),
		ContainerPort:       cfg.API.ContainerPort,
		HealthCheckPath:     cfg.API.HealthCheckPath,
		BlueGreen:           e.blueGreen(),
		WAFLogRetentionDays: cfg.Logging.RetentionDays,
		KeyArn:              e.key.Arn,
		AccountID:           e.account,
	}
	if cfg.Edge.SignIn {
		args.SmokeTestToken = e.store.SmokeTestToken
	}
	if cfg.Storage.Logs {
		args.AccessLogsBucket = e.buckets.LogsBucket
		args.AccessLogDependency = e.buckets.LogsReady
	}
	e.front, err = edge.NewEdge(e.ctx, cfg.Stack, args)
	return err
}

// compute is the cluster, the services and the migration task behind the load balancer, and
// with blue/green the API's release.
func (e *environment) compute() error {
	cfg, front := e.cfg, e.front
	app, err := compute.NewCompute(e.ctx, cfg.Stack, &compute.Args{
		Stack: cfg.Stack, Region: cfg.Region, AccountID: e.account,
		Settings: compute.Settings{
			Environment: cfg.Environment, LogLevel: cfg.Logging.Level, App: cfg.App, Worker: cfg.Worker, Port: cfg.API.ContainerPort,
		},
		API:       cfg.API,
		Worker:    cfg.Worker,
		Compute:   cfg.Compute,
		SubnetIDs: e.net.PrivateSubnetIDs,
		SecurityGroups: map[string]pulumi.StringInput{
			compute.API:        e.firewall.GroupID(firewall.API),
			compute.Worker:     e.firewall.GroupID(firewall.Worker),
			compute.Migrations: e.firewall.GroupID(firewall.Migrations),
		},
		KeyArn:           e.key.Arn,
		AppSecrets:       secretEnv(e.store.Inject(secrets.AppEnv)),
		MigrationSecrets: secretEnv(e.store.Inject(secrets.MigrationsEnv)),
		LogRetentionDays: cfg.Logging.RetentionDays,
		LoadBalancer: compute.LoadBalancer{
			TargetGroupArn: front.TargetGroupArn,
			RequestLabel:   front.RequestLabel,
			Listeners:      front.Listeners,
			BlueGreen:      e.blueGreen(),
		},
		Protect: e.protect,
		// Tasks read database-url at start: its login must exist by then.
		ServicesAfter: []pulumi.Resource{e.rotator.Bootstrap},
	})
	if err != nil {
		return err
	}
	e.app = &computeView{Compute: app}
	if !e.blueGreen() {
		return nil
	}
	e.release, err = release.NewBlueGreen(e.ctx, cfg.Stack, &release.Args{
		ClusterName:         app.ClusterName,
		ServiceName:         app.ServiceNames[compute.API],
		DeploymentGroupName: compute.BlueGreenGroup,
		Targets:             release.Targets(*front.BlueGreen),
		// The release's resources were the compute's children until the release had a
		// component of its own: their aliases keep the live application, group and alarms.
		PreviousParent: app,
	})
	if err != nil {
		return err
	}
	e.app.CodeDeployApplication, e.app.CodeDeployGroup = e.release.Application, e.release.DeploymentGroup
	return nil
}

// operations is the monitoring, the log archive and the bastion.
func (e *environment) operations() (err error) {
	cfg := e.cfg
	tgSuffixes := []pulumi.StringInput{e.front.BlueArnSuffix}
	if e.blueGreen() {
		tgSuffixes = append(tgSuffixes, e.front.GreenArnSuffix)
	}
	e.monitoring, err = observability.NewObservability(e.ctx, cfg.Stack, &observability.Args{
		Config: cfg.Monitoring, Stack: cfg.Stack, Region: cfg.Region, KeyArn: e.key.Arn,
		LoadBalancerSuffix:  e.front.ArnSuffix,
		TargetGroupSuffixes: tgSuffixes,
		Cluster:             compute.ClusterName(cfg.Stack),
		Services:            []string{compute.API, compute.Worker},
		DatabaseIdentifier:  e.db.Identifier,
		ReplicaIdentifier:   e.db.ReplicaIdentifier,
		CacheGroupID:        e.redis.GroupID,
		CacheNodes:          cfg.Cache.NumNodes,
		RotationFunctions:   e.rotator.FunctionNames,
		EventRetentionDays:  cfg.Logging.RetentionDays,
	})
	if err != nil {
		return err
	}
	if cfg.Logging.ArchiveDays != nil {
		var groups []pulumi.StringInput
		for _, w := range []string{compute.API, compute.Worker, compute.Migrations} {
			groups = append(groups, e.app.LogGroupNames[w])
		}
		if _, err := observability.NewLogArchive(e.ctx, cfg.Stack, &observability.ArchiveArgs{
			Stack: cfg.Stack, Region: cfg.Region, AccountID: e.account,
			LogGroups: groups, BucketArn: e.buckets.ArchiveBucketArn, KeyArn: e.key.Arn,
		}); err != nil {
			return err
		}
	}
	if cfg.Bastion.Enabled {
		e.bastion, err = bastion.NewBastion(e.ctx, cfg.Stack, &bastion.Args{
			Config: cfg.Bastion, Stack: cfg.Stack,
			SubnetID:         e.net.PrivateSubnetIDs.Index(pulumi.Int(0)),
			SecurityGroupID:  e.net.SecurityGroups.Bastion.ToStringOutput(),
			KeyArn:           e.key.Arn,
			LogRetentionDays: cfg.Logging.RetentionDays,
		})
	}
	return err
}

// export is what operators and the pipeline read: names, endpoints and ARNs, never a secret.
func (e *environment) export() {
	ctx, cfg := e.ctx, e.cfg
	ctx.Export("url", e.front.URL)
	ctx.Export("loadBalancerDnsName", e.front.DNSName)
	ctx.Export("clusterName", e.app.ClusterName)
	ctx.Export("serviceNames", pulumi.ToStringArray([]string{compute.API, compute.Worker}))
	ctx.Export("repositoryUrl", e.app.RepositoryURL)
	ctx.Export("imageTag", pulumi.String(cfg.Compute.ImageTag))
	for name, arn := range e.app.TaskDefinition {
		ctx.Export(name+"TaskDefinitionArn", arn)
	}
	// What the pipeline's `aws ecs run-task` of the migrations needs.
	ctx.Export("migrationsTaskFamily", pulumi.String(naming.For(cfg.Stack).Resource(compute.Migrations)))
	ctx.Export("migrationsSubnetIds", e.net.PrivateSubnetIDs)
	ctx.Export("migrationsSecurityGroupId", e.net.SecurityGroups.Migrations.ToStringOutput())
	if e.blueGreen() {
		ctx.Export("codeDeployApplication", e.app.CodeDeployApplication)
		ctx.Export("codeDeployDeploymentGroup", e.app.CodeDeployGroup)
	}
	ctx.Export("alarmNames", e.monitoring.AlarmNames)
	if cfg.Monitoring.Level == observability.Alerting {
		ctx.Export("alertTopicArn", e.monitoring.TopicArn)
	}
	if e.bastion != nil {
		ctx.Export("bastionInstanceId", e.bastion.InstanceID)
		ctx.Export("bastionSessionDocument", e.bastion.SessionDocument)
	}
	for purpose, name := range e.buckets.Buckets {
		ctx.Export(purpose+"Bucket", name)
	}
	ctx.Export("vpcId", e.net.VpcID)
	ctx.Export("publicSubnetIds", e.net.PublicSubnetIDs)
	ctx.Export("privateSubnetIds", e.net.PrivateSubnetIDs)
	ctx.Export("isolatedSubnetIds", e.net.IsolatedSubnetIDs)
	ctx.Export("kmsKeyArn", e.key.Arn)
	ctx.Export("databaseAddress", e.db.Address)
	ctx.Export("databaseReaderAddress", e.db.ReaderAddress)
	ctx.Export("databaseIdentifier", e.db.Identifier)
	ctx.Export("cacheAddress", e.redis.PrimaryAddress)
	secretArns := pulumi.StringMap{}
	for name, arn := range e.store.Arns {
		secretArns[name] = arn
	}
	ctx.Export("secretArns", secretArns)
	if cfg.Edge.SignIn {
		// The pipeline's smoke tests read the token from here to pass the sign-in.
		ctx.Export("smokeTestHeaderSecretArn", e.store.Arns[secrets.SmokeTestHeader])
	}
}

// checkImage fails before anything is registered when the stack's image repository holds images
// but none with the configured tag: `pulumi up` would move the services to an image ECS cannot
// pull (the stack files' placeholder, bootstrap, is never pushed). A new environment has no
// repository, or an empty one if its first up stopped half-way: nothing runs there yet, and its
// first image is deployed by scripts/create-environment.sh after the up.
func checkImage(ctx *pulumi.Context, cfg *Config) error {
	repo, tag := compute.RepositoryName(cfg.Stack), cfg.Compute.ImageTag
	repos, err := ecr.GetRepositories(ctx, nil)
	if err != nil {
		return fmt.Errorf("list the ECR repositories (to check taskmanager:compute.imageTag): %w", err)
	}
	if !slices.Contains(repos.Names, repo) {
		return nil
	}
	if _, err := ecr.GetImage(ctx, &ecr.GetImageArgs{RepositoryName: repo, ImageTag: &tag}); err != nil {
		if _, empty := ecr.GetImage(ctx, &ecr.GetImageArgs{RepositoryName: repo, MostRecent: pulumi.BoolRef(true)}); empty != nil {
			return nil
		}
		return fmt.Errorf("stack %q: taskmanager:compute.imageTag: %q is not an image in ECR repository %s; "+
			"push that tag first, or set the tag the stack runs (tag=$(scripts/deploy.sh --running-image %s); "+
			"pulumi config set --path taskmanager:compute.imageTag \"${tag##*:}\"); nothing was deployed (%v)",
			cfg.Stack, tag, repo, cfg.Stack, err)
	}
	return nil
}

// secretEnv hands the secrets component's resolution of a container's variables to the compute.
func secretEnv(in secrets.Injection) compute.SecretEnv {
	return compute.SecretEnv{ValueFrom: in.ValueFrom, SecretArns: in.SecretArns}
}
