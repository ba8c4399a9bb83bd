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
	"github.com/taskmanager/taskmanager-infra/infra/queuedepth"
	"github.com/taskmanager/taskmanager-infra/infra/release"
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

// environment is what every step of one stack shares: the context, the config and the account.
// The components themselves are passed from step to step as arguments and results, so that the
// compiler, not a nil dereference, enforces the order they are built in.
type environment struct {
	ctx     *pulumi.Context
	cfg     *Config
	account string
	// protect: production holds real customer data, so its stateful resources cannot be deleted
	// by a `pulumi destroy` or a replacing change without first lifting protection on purpose.
	protect bool
}

// foundation is the environment's key, network and firewall.
type foundation struct {
	key *secrets.Key
	net *network.Network
	fw  *firewall.Firewall
}

// data is PostgreSQL, Redis and the secrets that hold their URLs.
type data struct {
	db    *database.Database
	redis *cache.Cache
	store *secrets.Store
}

// app is the compute and, with blue/green, the API's release (nil otherwise).
type app struct {
	compute *compute.Compute
	release *release.BlueGreen
}

// build registers the environment's resources from a valid config.
func build(ctx *pulumi.Context, cfg *Config) error {
	caller, err := aws.GetCallerIdentity(ctx, nil)
	if err != nil {
		return err
	}
	if err := boundRoles(ctx, cfg.Stack, caller.AccountId); err != nil {
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
	for _, w := range DocumentationRangeWarnings(cfg) {
		if err := ctx.Log.Warn(w, nil); err != nil {
			return err
		}
	}
	e := &environment{ctx: ctx, cfg: cfg, account: caller.AccountId, protect: cfg.IsProduction()}
	base, err := e.foundation()
	if err != nil {
		return err
	}
	stores, err := e.data(base)
	if err != nil {
		return err
	}
	rotation, err := e.rotation(base, stores)
	if err != nil {
		return err
	}
	buckets, err := e.storage(base)
	if err != nil {
		return err
	}
	front, err := e.edge(base, stores, buckets)
	if err != nil {
		return err
	}
	services, err := e.compute(base, stores, front, rotation)
	if err != nil {
		return err
	}
	if err := e.schedule(rotation, services); err != nil {
		return err
	}
	queue, err := e.queueDepth(base, stores, services)
	if err != nil {
		return err
	}
	monitoring, bastionHost, err := e.operations(base, stores, buckets, front, services, rotation, queue)
	if err != nil {
		return err
	}
	e.export(base, stores, buckets, front, services, monitoring, bastionHost)
	return nil
}

func (e *environment) blueGreen() bool { return e.cfg.Compute.APIDeployment == compute.BlueGreen }

// foundation is the environment's key, its network and the network's firewall.
func (e *environment) foundation() (f foundation, err error) {
	cfg := e.cfg
	if f.key, err = secrets.NewKey(e.ctx, cfg.Stack, &secrets.KeyArgs{
		Stack:              cfg.Stack,
		Region:             cfg.Region,
		AccountID:          e.account,
		DeletionWindowDays: cfg.Secrets.KeyDeletionWindowDays,
		Principals:         cfg.Secrets.KeyPrincipals,
		Protect:            e.protect,
	}); err != nil {
		return f, err
	}
	if f.net, err = network.NewNetwork(e.ctx, cfg.Stack, &network.Args{
		Config:               cfg.Network,
		FlowLogRetentionDays: cfg.Logging.RetentionDays,
		LogKmsKeyArn:         f.key.Arn,
		Region:               cfg.Region,
		AccountID:            e.account,
	}); err != nil {
		return f, err
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
	f.fw, err = firewall.NewFirewall(e.ctx, cfg.Stack, &firewall.Args{
		VpcID:   f.net.VpcID,
		VpcCidr: f.net.VpcCidr,
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
		DataRefresh:        cfg.Network.DataRefreshGroup,
		QueueDepth:         e.queueDepthOn(),
		Proxy:              cfg.Database.Proxy != nil,
		NatInstance:        cfg.Network.NatGateways == network.NatInstance,
		PrivateSubnetCidrs: f.net.PrivateSubnetCidrs,
		// The groups and their rules were the network's children until the firewall had a
		// component of its own: their aliases keep every live group and rule.
		PreviousParent: f.net,
	})
	if err != nil || cfg.Network.NatGateways != network.NatInstance {
		return f, err
	}
	nat, err := network.NewNat(e.ctx, cfg.Stack, &network.NatArgs{
		Stack:           cfg.Stack,
		Region:          cfg.Region,
		Network:         f.net,
		SecurityGroupID: f.fw.GroupID(firewall.Nat),
		KeyArn:          f.key.Arn,
	})
	if err != nil {
		return f, err
	}
	// What runs in the private subnets needs its way out from the start (tasks pull their
	// images, the rotation function calls Secrets Manager while the stack deploys): every later
	// step takes the subnets from the NAT instance, which hands them out once its routes exist.
	f.net.PrivateSubnetIDs = nat.PrivateSubnetIDs
	return f, nil
}

// data is PostgreSQL, Redis and the secrets that hold their URLs.
func (e *environment) data(f foundation) (d data, err error) {
	cfg := e.cfg
	if d.db, err = database.NewDatabase(e.ctx, cfg.Stack, &database.Args{
		Config:           cfg.Database,
		Stack:            cfg.Stack,
		Region:           cfg.Region,
		AccountID:        e.account,
		SubnetIDs:        f.net.IsolatedSubnetIDs,
		SecurityGroupID:  f.fw.GroupID(firewall.Database),
		KeyArn:           f.key.Arn,
		LogRetentionDays: cfg.Logging.RetentionDays,
		Protect:          e.protect,
		Proxy:            proxyArgs(cfg, f.fw),
	}); err != nil {
		return d, err
	}
	if d.redis, err = cache.NewCache(e.ctx, cfg.Stack, &cache.Args{
		Config:           cfg.Cache,
		SubnetIDs:        f.net.IsolatedSubnetIDs,
		SecurityGroupID:  f.fw.GroupID(firewall.Cache),
		KeyArn:           f.key.Arn,
		LogRetentionDays: cfg.Logging.RetentionDays,
		Protect:          e.protect,
		Stack:            cfg.Stack,
		Reader:           e.cacheReader(),
	}); err != nil {
		return d, err
	}
	d.store, err = secrets.NewStore(e.ctx, cfg.Stack, &secrets.StoreArgs{
		Stack:              cfg.Stack,
		KeyArn:             f.key.Arn,
		RecoveryWindowDays: cfg.Secrets.RecoveryWindowDays,
		Protect:            e.protect,
		Database: secrets.DatabaseEndpoint{
			Host: appHost(cfg, d.db), PrimaryHost: d.db.Address, ReaderHost: d.db.ReaderAddress, Port: database.Port, Name: database.Name,
		},
		Cache:           cacheEndpoint(d.redis, e.cacheReader()),
		External:        cfg.External,
		SmokeTestHeader: cfg.Edge.SignIn,
	})
	return d, err
}

// rotation rotates the database login and the JWT key, and redeploys the services after. It is
// built before the services, which wait for its bootstrap, so it names them by the names compute
// gives them.
func (e *environment) rotation(f foundation, d data) (*secrets.Rotation, error) {
	cfg := e.cfg
	args := &secrets.RotationArgs{
		Stack: cfg.Stack, Region: cfg.Region, AccountID: e.account,
		KeyArn:              f.key.Arn,
		SubnetIDs:           f.net.PrivateSubnetIDs,
		SecurityGroupID:     f.fw.GroupID(firewall.Rotation),
		VpcID:               f.net.VpcID,
		LogRetentionDays:    cfg.Logging.RetentionDays,
		DatabaseSecretArn:   d.store.Arns[secrets.DatabaseURL],
		ReaderSecretArn:     d.store.Arns[secrets.DatabaseReaderURL],
		MasterSecretArn:     d.db.MasterSecretArn,
		MigrationsSecretArn: d.store.Arns[secrets.MigrationsURL],
		Database:            secrets.DatabaseEndpoint{Host: d.db.Address, Port: database.Port, Name: database.Name},
		AppHost:             appHost(cfg, d.db),
		LoginSecretArns:     d.db.LoginSecretArns,
		ReaderHost:          d.db.ReaderAddress,
		DatabaseDays:        cfg.Secrets.DatabaseRotationDays,
		JWTSecretArn:        d.store.Arns[secrets.JWTSecret],
		JWTDays:             cfg.Secrets.JWTRotationDays,
		Cluster:             compute.ClusterName(cfg.Stack),
		Services:            []string{compute.API, compute.Worker},
		DatabaseID:          d.db.ResourceID,
		// The bootstrap reads the secrets' first values and writes the login's password into
		// RDS Proxy's login secret: it comes after every first value it reads or could race.
		BootstrapAfter: slices.Concat(d.store.Versions, d.db.LoginSecretVersions, f.fw.Rules),
	}
	if e.blueGreen() {
		args.BlueGreen = &secrets.BlueGreenRedeploy{
			Application: compute.CodeDeployApplicationName(cfg.Stack), DeploymentGroup: compute.BlueGreenGroup,
		}
	}
	return secrets.NewRotation(e.ctx, cfg.Stack, args)
}

// storage is the buckets; the logs bucket keeps the log archive as long as the archive says.
func (e *environment) storage(f foundation) (*storage.Storage, error) {
	cfg := e.cfg
	logDays, archiveDays := cfg.Logging.RetentionDays, 0
	if cfg.Logging.ArchiveDays != nil {
		logDays, archiveDays = *cfg.Logging.ArchiveDays, *cfg.Logging.ArchiveDays
	}
	return storage.NewStorage(e.ctx, cfg.Stack, &storage.Args{
		Config: cfg.Storage, Stack: cfg.Stack, Region: cfg.Region, AccountID: e.account,
		KeyArn:              f.key.Arn,
		BackupRetentionDays: cfg.Database.BackupRetentionDays,
		LogRetentionDays:    logDays,
		ArchiveDays:         archiveDays,
		Protect:             e.protect,
	})
}

// edge is the load balancer, its certificate, DNS and WAF.
func (e *environment) edge(f foundation, d data, buckets *storage.Storage) (*edge.Edge, error) {
	cfg := e.cfg
	subnets := f.net.PublicSubnetIDs
	if cfg.Edge.Internal {
		subnets = f.net.PrivateSubnetIDs
	}
	args := &edge.Args{
		Config:              cfg.Edge,
		Stack:               cfg.Stack,
		VpcID:               f.net.VpcID,
		SubnetIDs:           subnets,
		SecurityGroupID:     f.fw.GroupID(firewall.Alb),
		ContainerPort:       cfg.API.ContainerPort,
		HealthCheckPath:     cfg.API.HealthCheckPath,
		BlueGreen:           e.blueGreen(),
		WAFLogRetentionDays: cfg.Logging.RetentionDays,
		KeyArn:              f.key.Arn,
		Region:              cfg.Region,
	}
	if cfg.Edge.SignIn {
		args.SmokeTestToken = d.store.SmokeTestToken
	}
	if cfg.Storage.Logs {
		args.AccessLogsBucket = buckets.LogsBucket
		args.AccessLogDependency = buckets.LogsReady
	}
	return edge.NewEdge(e.ctx, cfg.Stack, args)
}

// compute is the cluster, the services and the migration task behind the load balancer, and
// with blue/green the API's release.
func (e *environment) compute(f foundation, d data, front *edge.Edge, rotation *secrets.Rotation) (a app, err error) {
	cfg := e.cfg
	a.compute, err = compute.NewCompute(e.ctx, cfg.Stack, &compute.Args{
		Stack: cfg.Stack, Region: cfg.Region, AccountID: e.account,
		Settings: compute.Settings{
			Environment: cfg.Environment, LogLevel: cfg.Logging.Level, App: cfg.App, Worker: cfg.Worker, Port: cfg.API.ContainerPort,
		},
		API:       cfg.API,
		Worker:    cfg.Worker,
		Compute:   cfg.Compute,
		SubnetIDs: f.net.PrivateSubnetIDs,
		SecurityGroups: map[string]pulumi.StringInput{
			compute.API:        f.fw.GroupID(firewall.API),
			compute.Worker:     f.fw.GroupID(firewall.Worker),
			compute.Migrations: f.fw.GroupID(firewall.Migrations),
		},
		KeyArn:           f.key.Arn,
		AppSecrets:       secretEnv(d.store.Inject(secrets.AppEnv)),
		MigrationSecrets: secretEnv(d.store.Inject(secrets.MigrationsEnv)),
		APIEnvironment:   signOut(cfg, front),
		LogRetentionDays: cfg.Logging.RetentionDays,
		LoadBalancer: compute.LoadBalancer{
			TargetGroupArn: front.TargetGroupArn,
			RequestLabel:   front.RequestLabel,
			Listeners:      front.Listeners,
			BlueGreen:      e.blueGreen(),
		},
		Protect: e.protect,
		// Tasks read database-url at start: its login must exist by then.
		ServicesAfter: []pulumi.Resource{rotation.Bootstrap},
		// Where the queue-depth function publishes, the worker scales on its backlog too.
		ContainerInsights: cfg.Monitoring.ContainerInsights(),
		WorkerQueueMetric: e.workerQueueMetric(),
	})
	if err != nil || !e.blueGreen() {
		return a, err
	}
	a.release, err = release.NewBlueGreen(e.ctx, cfg.Stack, &release.Args{
		ClusterName:         a.compute.ClusterName,
		ServiceName:         a.compute.ServiceNames[compute.API],
		ApplicationName:     compute.CodeDeployApplicationName(cfg.Stack),
		DeploymentGroupName: compute.BlueGreenGroup,
		Targets:             release.Targets(*front.BlueGreen),
		// The release's resources were the compute's children until the release had a
		// component of its own: their aliases keep the live application, group and alarms.
		PreviousParent: a.compute,
	})
	return a, err
}

// schedule turns the rotations on once the services they redeploy exist (with blue/green, the
// API's deployment group too), and with blue/green lets the functions pass the API's roles to
// CodeDeploy.
func (e *environment) schedule(rotation *secrets.Rotation, a app) error {
	after := slices.Clone(a.compute.Services)
	if a.release != nil {
		after = append(after, a.release.Group)
		policies, err := rotation.AllowPassingRoles(e.ctx, e.cfg.Stack, a.compute.TaskRoleArns[compute.API])
		if err != nil {
			return err
		}
		after = append(after, policies...)
	}
	return rotation.Schedule(e.ctx, after...)
}

// queueDepthOn says whether the queue-depth function runs: where the worker autoscales, which is
// what its metric is for. A worker of fixed size (dev) has no use for it, and it would cost about
// $2.36 a month there (five custom metrics, two alarms, a call of each API a minute).
func (e *environment) queueDepthOn() bool { return e.cfg.Worker.Autoscaling }

// cacheReader is the queue-depth function's own Redis user, where the function runs: it reads
// the queues with read commands only, never with the app's token.
func (e *environment) cacheReader() *cache.User {
	if !e.queueDepthOn() {
		return nil
	}
	return &cache.User{Name: queuedepth.ReaderUser, Access: queuedepth.ReaderACL}
}

// cacheEndpoint is where the secrets' Redis URLs point, with the reader's login where there is one.
func cacheEndpoint(redis *cache.Cache, reader *cache.User) secrets.CacheEndpoint {
	ep := secrets.CacheEndpoint{Host: redis.PrimaryAddress, Port: cache.Port, AuthToken: redis.AuthToken}
	if reader != nil {
		ep.ReaderUser, ep.ReaderPassword = reader.Name, redis.ReaderPassword
	}
	return ep
}

// workerQueueMetric is the metric the worker scales on beside CPU, where the queue-depth
// function publishes it (nil elsewhere).
func (e *environment) workerQueueMetric() *compute.QueueMetric {
	if !e.queueDepthOn() {
		return nil
	}
	return &compute.QueueMetric{
		Namespace: queuedepth.Namespace, Name: queuedepth.BacklogPerTask,
		ClusterDimension: queuedepth.ClusterDimension, ServiceDimension: queuedepth.ServiceDimension,
	}
}

// queueDepth is the function that publishes the Celery queues' depth every minute, for the
// worker's scaling and the oldest-task alarm (nil where it does not run). It names the worker
// service by the service's own outputs, and is scheduled once it can reach Redis and read the
// broker's URL.
func (e *environment) queueDepth(f foundation, d data, a app) (*queuedepth.QueueDepth, error) {
	if !e.queueDepthOn() {
		return nil, nil
	}
	cfg := e.cfg
	return queuedepth.NewQueueDepth(e.ctx, cfg.Stack, &queuedepth.Args{
		Stack: cfg.Stack, Region: cfg.Region, AccountID: e.account,
		KeyArn:           f.key.Arn,
		SubnetIDs:        f.net.PrivateSubnetIDs,
		SecurityGroupID:  f.fw.GroupID(firewall.QueueDepth),
		VpcID:            f.net.VpcID,
		LogRetentionDays: cfg.Logging.RetentionDays,
		BrokerSecretArn:  d.store.Arns[secrets.QueueDepthRedisURL],
		ClusterName:      a.compute.ClusterName,
		ServiceName:      a.compute.ServiceNames[compute.Worker],
		StartAfter:       append(slices.Clone(d.store.Versions), f.fw.Rules...),
	})
}

// queueWatch is what the alarms watch of the queue-depth function (nil without one).
func queueWatch(q *queuedepth.QueueDepth) *observability.QueueDepth {
	if q == nil {
		return nil
	}
	return &observability.QueueDepth{
		FunctionName: q.FunctionName,
		Namespace:    queuedepth.Namespace, OldestTaskAge: queuedepth.OldestTaskAge,
		Dimensions: pulumi.StringMap{queuedepth.ClusterDimension: q.Cluster, queuedepth.ServiceDimension: q.Service},
	}
}

// operations is the monitoring, the log archive and the bastion (nil without one).
func (e *environment) operations(f foundation, d data, buckets *storage.Storage, front *edge.Edge, a app, rotation *secrets.Rotation, queue *queuedepth.QueueDepth) (*observability.Observability, *bastion.Bastion, error) {
	cfg := e.cfg
	tgSuffixes := []pulumi.StringInput{front.BlueArnSuffix}
	if e.blueGreen() {
		tgSuffixes = append(tgSuffixes, front.GreenArnSuffix)
	}
	monitoring, err := observability.NewObservability(e.ctx, cfg.Stack, &observability.Args{
		Config: cfg.Monitoring, Stack: cfg.Stack, Region: cfg.Region, KeyArn: f.key.Arn,
		LoadBalancerSuffix:  front.ArnSuffix,
		TargetGroupSuffixes: tgSuffixes,
		Cluster:             compute.ClusterName(cfg.Stack),
		Services:            []string{compute.API, compute.Worker},
		DatabaseIdentifier:  d.db.Identifier,
		ReplicaIdentifier:   d.db.ReplicaIdentifier,
		CacheGroupID:        d.redis.GroupID,
		CacheNodes:          cfg.Cache.NumNodes,
		RotationFunctions:   rotation.FunctionNames,
		EventRetentionDays:  cfg.Logging.RetentionDays,
		QueueDepth:          queueWatch(queue),
	})
	if err != nil {
		return nil, nil, err
	}
	var host *bastion.Bastion
	if cfg.Bastion.Enabled {
		if host, err = bastion.NewBastion(e.ctx, cfg.Stack, &bastion.Args{
			Config: cfg.Bastion, Stack: cfg.Stack,
			SubnetID:         f.net.PrivateSubnetIDs.Index(pulumi.Int(0)),
			SecurityGroupID:  f.fw.GroupID(firewall.Bastion),
			KeyArn:           f.key.Arn,
			LogRetentionDays: cfg.Logging.RetentionDays,
			Region:           cfg.Region,
			AccountID:        e.account,
		}); err != nil {
			return nil, nil, err
		}
	}
	if cfg.Logging.ArchiveDays != nil {
		// The app's logs, then the audit logs: the database's statements and connections, the
		// WAF's requests, the bastion's sessions. New groups go last: a filter's name is its place.
		var groups []pulumi.StringInput
		for _, w := range []string{compute.API, compute.Worker, compute.Migrations} {
			groups = append(groups, a.compute.LogGroupNames[w])
		}
		for _, g := range d.db.AuditLogGroups {
			groups = append(groups, g)
		}
		if cfg.Edge.WAF != nil {
			groups = append(groups, front.WAFLogGroup)
		}
		if host != nil {
			groups = append(groups, host.SessionLogGroup)
		}
		if _, err := observability.NewLogArchive(e.ctx, cfg.Stack, &observability.ArchiveArgs{
			Stack: cfg.Stack, Region: cfg.Region, AccountID: e.account,
			LogGroups: groups, BucketArn: buckets.ArchiveBucketArn, Bucket: buckets.ArchiveBucket, KeyArn: f.key.Arn,
			RetentionDays: *cfg.Logging.ArchiveDays, LogRetentionDays: cfg.Logging.RetentionDays,
			AlarmActions: monitoring.AlarmActions, AlertTopicArn: alertTopic(monitoring),
		}); err != nil {
			return nil, nil, err
		}
	}
	return monitoring, host, nil
}

// export is what operators and the pipeline read: names, endpoints and ARNs, never a secret.
func (e *environment) export(f foundation, d data, buckets *storage.Storage, front *edge.Edge, a app, monitoring *observability.Observability, host *bastion.Bastion) {
	ctx, cfg := e.ctx, e.cfg
	ctx.Export("url", front.URL)
	ctx.Export("loadBalancerDnsName", front.DNSName)
	ctx.Export("clusterName", a.compute.ClusterName)
	ctx.Export("serviceNames", pulumi.ToStringArray([]string{compute.API, compute.Worker}))
	ctx.Export("repositoryUrl", a.compute.RepositoryURL)
	ctx.Export("imageTag", pulumi.String(cfg.Compute.ImageTag))
	for name, arn := range a.compute.TaskDefinition {
		ctx.Export(name+"TaskDefinitionArn", arn)
	}
	// What the pipeline's `aws ecs run-task` of the migrations needs.
	ctx.Export("migrationsTaskFamily", a.compute.TaskFamilies[compute.Migrations])
	ctx.Export("migrationsSubnetIds", f.net.PrivateSubnetIDs)
	ctx.Export("migrationsSecurityGroupId", f.fw.GroupID(firewall.Migrations))
	// The API's network, which a blue/green API gets only from a CodeDeploy deployment's AppSpec
	// (scripts/deploy.sh).
	ctx.Export("apiSubnetIds", f.net.PrivateSubnetIDs)
	ctx.Export("apiSecurityGroupId", f.fw.GroupID(firewall.API))
	if a.release != nil {
		ctx.Export("codeDeployApplication", a.release.Application)
		ctx.Export("codeDeployDeploymentGroup", a.release.DeploymentGroup)
	}
	ctx.Export("alarmNames", monitoring.AlarmNames)
	if cfg.Monitoring.Level == observability.Alerting {
		ctx.Export("alertTopicArn", monitoring.TopicArn)
	}
	if cfg.Network.DataRefreshGroup {
		// Where scripts/refresh-staging-data.sh restores production's temporary copy.
		ctx.Export("dataRefreshSecurityGroupId", f.fw.GroupID(firewall.DataRefresh))
	}
	if host != nil {
		ctx.Export("bastionInstanceId", host.InstanceID)
		ctx.Export("bastionSessionDocument", host.SessionDocument)
		ctx.Export("bastionUsersPolicyArn", host.UsersPolicyArn)
	}
	for purpose, name := range buckets.Buckets {
		ctx.Export(purpose+"Bucket", name)
	}
	ctx.Export("vpcId", f.net.VpcID)
	ctx.Export("publicSubnetIds", f.net.PublicSubnetIDs)
	ctx.Export("privateSubnetIds", f.net.PrivateSubnetIDs)
	ctx.Export("isolatedSubnetIds", f.net.IsolatedSubnetIDs)
	ctx.Export("kmsKeyArn", f.key.Arn)
	ctx.Export("databaseAddress", d.db.Address)
	ctx.Export("databaseReaderAddress", d.db.ReaderAddress)
	ctx.Export("databaseIdentifier", d.db.Identifier)
	ctx.Export("cacheAddress", d.redis.PrimaryAddress)
	secretArns := pulumi.StringMap{}
	for name, arn := range d.store.Arns {
		secretArns[name] = arn
	}
	ctx.Export("secretArns", secretArns)
	if cfg.Edge.SignIn {
		// The pipeline's smoke tests read the token from here to pass the sign-in.
		ctx.Export("smokeTestHeaderSecretArn", d.store.Arns[secrets.SmokeTestHeader])
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

// proxyArgs are what RDS Proxy needs, where the stack has one.
func proxyArgs(cfg *Config, fw *firewall.Firewall) database.ProxyArgs {
	if cfg.Database.Proxy == nil {
		return database.ProxyArgs{}
	}
	return database.ProxyArgs{
		SecurityGroupID:       fw.GroupID(firewall.Proxy),
		RecoveryWindowDays:    cfg.Secrets.RecoveryWindowDays,
		AppPoolRecycleSeconds: cfg.App.DBPoolRecycleSeconds,
	}
}

// appHost is where the app's DATABASE_URL points: RDS Proxy where the stack has one, else the
// primary.
func appHost(cfg *Config, db *database.Database) pulumi.StringOutput {
	if cfg.Database.Proxy != nil {
		return db.ProxyEndpoint
	}
	return db.Address
}

// alertTopic is the stack's alert topic where it alerts, else nil.
func alertTopic(monitoring *observability.Observability) pulumi.StringInput {
	if monitoring.AlarmActions == nil {
		return nil
	}
	return monitoring.TopicArn
}

// signOut gives the API, behind the load balancer's sign-in, the URL its /logout ends on.
func signOut(cfg *Config, front *edge.Edge) map[string]pulumi.StringInput {
	if !cfg.Edge.SignIn {
		return nil
	}
	return map[string]pulumi.StringInput{"SIGN_OUT_REDIRECT": front.SignOutURL}
}
