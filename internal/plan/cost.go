package plan

import (
	"encoding/json"
	"fmt"
	"math"
	"sort"
	"strings"

	"github.com/taskmanager/taskmanager-infra/internal/mockengine"
)

// Components: the spec's cost-table rows where it has one, and the lines it leaves out.
const (
	compRDS        = "RDS"
	compReplica    = "RDS Replica"
	compProxy      = "RDS Proxy"
	compCache      = "ElastiCache"
	compAPI        = "ECS API"
	compWorker     = "ECS Worker"
	compALB        = "ALB"
	compWAF        = "WAF"
	compNAT        = "NAT"
	compIPv4       = "Public IPv4"
	compSecrets    = "Secrets Manager"
	compKMS        = "KMS"
	compCloudWatch = "CloudWatch"
	compRoute53    = "Route 53"
	compLambda     = "Lambda"
	compEC2        = "EC2"
	compS3         = "S3"
)

// Line is one priced item of the estimate. Its JSON is `cost --json`'s, which plan delta reads
// from another commit's cmd/plan: add fields, never rename one.
type Line struct {
	Component string `json:"component"` // the spec's component it belongs to (RDS, ECS API, ...) or what it is
	Item      string `json:"item"`      // what is priced
	Resources string `json:"resources"` // the resources it comes from
	// Quantity is in Unit (instance-h, GB-month, ...) per month at the desired counts;
	// QuantityMax at the services' maximum counts (the same for everything but Fargate).
	Quantity    float64 `json:"quantity"`
	QuantityMax float64 `json:"quantityMax"`
	Unit        string  `json:"unit"`
	UnitPrice   float64 `json:"unitPrice"`  // dollars per Unit
	Monthly     float64 `json:"monthly"`    // Quantity × UnitPrice
	MonthlyMax  float64 `json:"monthlyMax"` // QuantityMax × UnitPrice
	// Assumption says which usage assumption (usage.yaml) the quantity comes from, "" for a size
	// the program sets.
	Assumption string `json:"assumption,omitempty"`
	// Key identifies the line from one evaluation to the next (plan delta matches on it): the
	// resources and the unit, or the resource type for lines that count resources of a type.
	Key string `json:"key"`
}

// Estimate is a stack's itemised monthly cost.
type Estimate struct {
	Stack       string
	Environment string
	Lines       []Line
	// Total at the desired task counts, TotalMax at the services' maximum counts.
	Total, TotalMax float64
	// BudgetUSD is the stack's taskmanager:budget.monthlyUSD (0 for hand-made estimates).
	BudgetUSD float64
	// Usage lists the resources whose cost depends on traffic or data and is not estimated.
	Usage []Unpriced
	// Missing lists what has no price here: a class not in the table, or a resource type the
	// estimate does not know. A non-empty list means the total is too low.
	Missing []string
}

// Unpriced is a resource type whose cost is usage-based.
type Unpriced struct {
	Type  string
	Count int
	Why   string
}

// EstimateCost prices a stack's resources, with its usage assumptions from usage.yaml.
func EstimateCost(s *Stack) (*Estimate, error) {
	u, err := usageFor(s.Name)
	if err != nil {
		return nil, err
	}
	e, err := estimate(s.Resources, u)
	if err != nil {
		return nil, fmt.Errorf("stack %s: %w", s.Name, err)
	}
	if u == nil {
		e.Missing = append(e.Missing, fmt.Sprintf("%s has no usage assumptions for stack %s: the load balancer's LCUs, WAF requests, NAT data processing, log ingestion, Container Insights' log events, backup and snapshot storage are not priced", UsageFile, s.Name))
	}
	e.Stack, e.Environment = s.Name, s.Config.Environment
	e.BudgetUSD = s.Config.Budget.MonthlyUSD
	return e, nil
}

// estimate prices a list of resources with a stack's usage assumptions (none when u is nil); the
// tests feed it hand-made ones.
func estimate(res []*mockengine.Resource, u *UsageAssumptions) (*Estimate, error) {
	e := &Estimate{}
	add := func(l Line) {
		if l.QuantityMax == 0 {
			l.QuantityMax = l.Quantity
		}
		if l.Key == "" {
			l.Key = l.Resources + " | " + l.Unit
		}
		l.Monthly = l.Quantity * l.UnitPrice
		l.MonthlyMax = l.QuantityMax * l.UnitPrice
		e.Lines = append(e.Lines, l)
	}
	missing := func(format string, args ...any) { e.Missing = append(e.Missing, fmt.Sprintf(format, args...)) }

	priceDatabases(res, add, missing)
	priceProxies(res, add, missing)
	priceCaches(res, add, missing)
	if err := priceServices(res, add, missing); err != nil {
		return nil, err
	}
	priceEdge(res, add)
	priceNetwork(res, add, missing)
	priceManaged(res, add)
	priceQueueMetrics(res, add)
	priceInsights(res, add)
	priceMonitoringLogs(res, add)
	if u != nil {
		priceUsage(res, *u, add)
	}

	for _, l := range e.Lines {
		e.Total += l.Monthly
		e.TotalMax += l.MonthlyMax
	}
	e.Usage, e.Missing = classify(res, e.Missing)
	return e, nil
}

type adder func(Line)
type misser func(format string, args ...any)

// hours is a month of hours for n of something.
func hours(n float64) float64 { return n * HoursPerMonth }

func priceDatabases(res []*mockengine.Resource, add adder, missing misser) {
	instances := ofType(res, typeDBInstance)
	byIdentifier := map[string]*mockengine.Resource{}
	for _, r := range instances {
		byIdentifier[str(r, "identifier")] = r
	}
	for _, r := range instances {
		class := str(r, "instanceClass")
		multiAZ := boolean(r, "multiAz")
		source := str(r, "replicateSourceDb")
		comp, role := compRDS, "primary"
		if source != "" {
			comp, role = compReplica, "read replica"
		}
		price, ok := rdsPostgresHourly[class]
		if !ok {
			missing("%s: RDS class %s has no price in the table", label(r), class)
		} else {
			n, az := 1.0, "Single-AZ"
			if multiAZ {
				// A Multi-AZ instance is a primary and a standby: twice the hours.
				n, az = 2, "Multi-AZ (primary + standby)"
			}
			add(Line{Component: comp, Item: fmt.Sprintf("%s %s, %s", class, role, az), Resources: label(r),
				Quantity: hours(n), Unit: "instance-h", UnitPrice: price})
		}
		// A replica has no allocatedStorage of its own: it gets the source's.
		gb, ok := number(r, "allocatedStorage")
		if src, found := byIdentifier[source]; !ok && found {
			gb, ok = number(src, "allocatedStorage")
		}
		if !ok {
			missing("%s: no allocated storage to price", label(r))
			continue
		}
		if t := str(r, "storageType"); t != "" && t != "gp3" {
			missing("%s: storage type %s has no price in the table (gp3 only)", label(r), t)
			continue
		}
		storage, what := rdsGP3PerGBMonth, "gp3 storage"
		if multiAZ {
			storage, what = rdsGP3MultiAZPerGBMonth, "gp3 storage, Multi-AZ (two copies)"
		}
		if ceiling, ok := number(r, "maxAllocatedStorage"); ok && ceiling > gb {
			what += fmt.Sprintf(", allocated (autoscaling up to %.0f GB)", ceiling)
		}
		add(Line{Component: comp, Item: what, Resources: label(r), Quantity: gb, Unit: "GB-month", UnitPrice: storage})
		if boolean(r, "manageMasterUserPassword") {
			add(Line{Component: compSecrets, Item: "RDS-managed master password secret", Resources: label(r),
				Quantity: 1, Unit: "secret-month", UnitPrice: secretMonth})
		}
	}
}

func priceCaches(res []*mockengine.Resource, add adder, missing misser) {
	for _, r := range ofType(res, typeCacheGroup) {
		nodeType := str(r, "nodeType")
		nodes, _ := number(r, "numCacheClusters")
		price, ok := elastiCacheHourly[nodeType]
		if !ok {
			missing("%s: ElastiCache node type %s has no price in the table", label(r), nodeType)
			continue
		}
		add(Line{Component: compCache, Item: fmt.Sprintf("%s × %.0f node(s)", nodeType, nodes), Resources: label(r),
			Quantity: hours(nodes), Unit: "node-h", UnitPrice: price})
	}
}

func priceServices(res []*mockengine.Resource, add adder, missing misser) error {
	svcs, err := services(res)
	if err != nil {
		return err
	}
	for _, s := range svcs {
		if arch := str(s.Task, "runtimePlatform", "cpuArchitecture"); arch != "" && arch != "X86_64" {
			missing("%s: Fargate on %s has no price in the table (Linux/X86 only)", label(s.Task), arch)
			continue
		}
		comp := serviceComponent(s.Name)
		vcpu, gb, kind := fargateVCPUHour, fargateGBHour, "Fargate"
		if s.Capacity == "FARGATE_SPOT" {
			vcpu, gb, kind = fargateSpotVCPUHour, fargateSpotGBHour, "Fargate Spot"
		}
		counts := fmt.Sprintf("%d task(s)", s.Desired)
		if s.Max != s.Desired {
			counts = fmt.Sprintf("%d task(s), %d at max", s.Desired, s.Max)
		}
		where := label(s.Res) + ", " + label(s.Task)
		add(Line{Component: comp, Item: fmt.Sprintf("%s vCPU: %s × %s vCPU", kind, counts, trimFloat(s.VCPU)), Resources: where,
			Quantity: hours(float64(s.Desired) * s.VCPU), QuantityMax: hours(float64(s.Max) * s.VCPU), Unit: "vCPU-h", UnitPrice: vcpu})
		add(Line{Component: comp, Item: fmt.Sprintf("%s memory: %s × %s GB", kind, counts, trimFloat(s.MemoryGB)), Resources: where,
			Quantity: hours(float64(s.Desired) * s.MemoryGB), QuantityMax: hours(float64(s.Max) * s.MemoryGB), Unit: "GB-h", UnitPrice: gb})
	}
	return nil
}

// serviceComponent maps an ECS service to the spec's row.
func serviceComponent(name string) string {
	switch name {
	case "api":
		return compAPI
	case "worker":
		return compWorker
	}
	return "ECS " + name
}

func priceEdge(res []*mockengine.Resource, add adder) {
	for _, r := range ofType(res, typeLoadBalancer) {
		add(Line{Component: compALB, Item: "Application Load Balancer", Resources: label(r),
			Quantity: hours(1), Unit: "ALB-h", UnitPrice: albHour})
		if !boolean(r, "internal") {
			// An internet-facing ALB holds a public IPv4 address in each of its AZs (one subnet each).
			n := float64(count(r, "subnets") + count(r, "subnetMappings"))
			add(Line{Component: compIPv4, Item: fmt.Sprintf("internet-facing ALB: %.0f address(es), one per AZ", n), Resources: label(r),
				Quantity: hours(n), Unit: "IPv4-h", UnitPrice: publicIPv4Hour})
		}
	}
	for _, r := range ofType(res, typeWebACL) {
		rules := wafRules(r)
		add(Line{Component: compWAF, Item: "web ACL", Resources: label(r), Quantity: 1, Unit: "ACL-month", UnitPrice: wafWebACLMonth})
		add(Line{Component: compWAF, Item: fmt.Sprintf("%d rule(s) (a managed rule group is one rule)", rules), Resources: label(r),
			Quantity: float64(rules), Unit: "rule-month", UnitPrice: wafRuleMonth})
	}
}

// wafRules counts a web ACL's rules, given as ruleJson (a JSON list) or as rules.
func wafRules(r *mockengine.Resource) int {
	if raw := str(r, "ruleJson"); raw != "" {
		var rules []any
		if json.Unmarshal([]byte(raw), &rules) == nil {
			return len(rules)
		}
	}
	return count(r, "rules")
}

func priceNetwork(res []*mockengine.Resource, add adder, missing misser) {
	for _, r := range ofType(res, typeVpc) {
		n, strategy, ok := natGateways(r)
		if !ok {
			missing("%s: NAT strategy %s is not known here", label(r), strategy)
		}
		if n == 0 {
			continue
		}
		if strategy == "" {
			strategy = "OnePerAz (awsx default)"
		}
		add(Line{Component: compNAT, Item: fmt.Sprintf("NAT gateway × %d (%s)", n, strategy), Resources: label(r),
			Quantity: hours(float64(n)), Unit: "gateway-h", UnitPrice: natGatewayHour})
		add(Line{Component: compIPv4, Item: fmt.Sprintf("NAT gateway Elastic IP × %d", n), Resources: label(r),
			Quantity: hours(float64(n)), Unit: "IPv4-h", UnitPrice: publicIPv4Hour})
	}
	for _, r := range ofType(res, typeEC2Instance) {
		it := str(r, "instanceType")
		// An instance that forwards traffic (source/destination check off) is a NAT instance.
		comp, role := compEC2, "instance"
		if v, set := input(r, "sourceDestCheck").(bool); set && !v {
			comp, role = compNAT, "NAT instance"
		}
		price, ok := ec2Hourly[it]
		if !ok {
			missing("%s: EC2 type %s has no price in the table", label(r), it)
		} else {
			add(Line{Component: comp, Item: fmt.Sprintf("%s %s", role, it), Resources: label(r), Quantity: hours(1), Unit: "instance-h", UnitPrice: price})
		}
		gb, ok := number(r, "rootBlockDevice", "volumeSize")
		if !ok {
			gb = defaultRootGB
		}
		add(Line{Component: comp, Item: fmt.Sprintf("%s root volume, gp3", role), Resources: label(r), Quantity: gb, Unit: "GB-month", UnitPrice: ebsGP3PerGBMonth})
		if boolean(r, "associatePublicIpAddress") {
			add(Line{Component: compIPv4, Item: role + " public address", Resources: label(r), Quantity: hours(1), Unit: "IPv4-h", UnitPrice: publicIPv4Hour})
		}
	}
}

// priceManaged prices the per-item monthly services.
func priceManaged(res []*mockengine.Resource, add adder) {
	perItem := []struct {
		typ, comp, item, unit string
		price                 float64
	}{
		{typeSecret, compSecrets, "secret(s)", "secret-month", secretMonth},
		{typeDashboard, compCloudWatch, "dashboard(s)", "dashboard-month", dashboardMonth},
		{typeZone, compRoute53, "hosted zone(s)", "zone-month", hostedZoneMonth},
		{typeLambda, compLambda, "function(s): inside the free tier, negligible", "function-month", lambdaMonth},
	}
	for _, p := range perItem {
		rs := ofType(res, p.typ)
		if len(rs) == 0 {
			continue
		}
		add(Line{Component: p.comp, Item: fmt.Sprintf("%d %s", len(rs), p.item), Resources: labels(rs),
			Quantity: float64(len(rs)), Unit: p.unit, UnitPrice: p.price, Key: p.typ})
	}
	priceKeys(res, add)
	if alarms := ofType(res, typeAlarm); len(alarms) > 0 {
		metrics := 0
		for _, a := range alarms {
			metrics += alarmMetrics(a)
		}
		add(Line{Component: compCloudWatch, Item: fmt.Sprintf("%d metric alarm(s) evaluating %d metric(s), standard resolution", len(alarms), metrics),
			Resources: labels(alarms), Quantity: float64(metrics), Unit: "alarm metric-month", UnitPrice: alarmMetricMonth, Key: typeAlarm})
	}
}

// alarmMetrics is how many metrics an alarm is billed for: one for an alarm on a metric; for a
// metric math alarm, each metric its queries read (the expressions are free).
func alarmMetrics(a *mockengine.Resource) int {
	queries := asList(input(a, "metricQueries"))
	if len(queries) == 0 {
		return 1
	}
	n := 0
	for _, q := range queries {
		if get(q, "metric") != nil {
			n++
		}
	}
	return n
}

// priceKeys prices the KMS keys at their second year's price: $1 a month, and $1 for each rotation
// so far, the first two only (AWS's default period, and the program's, is a year).
func priceKeys(res []*mockengine.Resource, add adder) {
	keys := ofType(res, typeKMSKey)
	byPrice := map[float64][]*mockengine.Resource{}
	var prices []float64
	for _, k := range keys {
		price := kmsKeyMonth
		if boolean(k, "enableKeyRotation") {
			period, ok := number(k, "rotationPeriodInDays")
			if !ok || period <= 0 {
				period = 365
			}
			// Rotations before the end of the key's second year (day 730), at most two billed.
			price += kmsRotationMonth * float64(min(kmsBilledRotation, int((730-1)/period)))
		}
		if byPrice[price] == nil {
			prices = append(prices, price)
		}
		byPrice[price] = append(byPrice[price], k)
	}
	for _, price := range prices {
		ks := byPrice[price]
		item := fmt.Sprintf("%d customer managed key(s), no rotation", len(ks))
		if rotations := int(math.Round((price - kmsKeyMonth) / kmsRotationMonth)); rotations > 0 {
			item = fmt.Sprintf("%d customer managed key(s) rotated yearly, second-year price: $1 and $1 a rotation so far (%d)", len(ks), rotations)
		}
		add(Line{Component: compKMS, Item: item, Resources: labels(ks), Quantity: float64(len(ks)), Unit: "key-month", UnitPrice: price,
			Key: fmt.Sprintf("%s %.2f", typeKMSKey, price)})
	}
}

// pricedTypes are priced above.
var pricedTypes = map[string]bool{
	typeDBInstance: true, typeCacheGroup: true, typeService: true, typeTaskDefinition: true, typeLoadBalancer: true,
	typeWebACL: true, typeVpc: true, typeEC2Instance: true, typeSecret: true,
	typeKMSKey: true, typeAlarm: true, typeDashboard: true, typeZone: true, typeLambda: true,
	typeDBProxy: true, typeCluster: true, typeFlowLog: true,
}

// usageTypes cost what traffic or data costs: real money in production, not estimated here.
var usageTypes = map[string]string{
	typeLogGroup:                    "storage $0.03/GB-month (ingestion is priced from usage.yaml)",
	"aws:s3/bucketV2:BucketV2":      "storage $0.023/GB-month, requests",
	"aws:ecr/repository:Repository": "image storage $0.10/GB-month",
	"aws:route53/record:Record":     "DNS queries (alias queries to the ALB are free)",
	"aws:kinesis/firehoseDeliveryStream:FirehoseDeliveryStream": "ingestion $0.029/GB, delivered to S3 (the log archive)",
}

// freeTypes cost nothing by themselves.
var freeTypes = map[string]bool{
	"aws:iam/role:Role": true, "aws:iam/rolePolicy:RolePolicy": true, "aws:iam/policy:Policy": true,
	"aws:iam/rolePolicyAttachment:RolePolicyAttachment": true, "aws:iam/instanceProfile:InstanceProfile": true,
	"aws:ec2/securityGroup:SecurityGroup": true, "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup": true,
	// A NAT instance's routes cost nothing; the instance, its volume and its address are priced.
	"aws:ec2/route:Route": true,
	"aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule": true, "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule": true,
	"aws:kms/alias:Alias": true, "aws:rds/subnetGroup:SubnetGroup": true, "aws:rds/parameterGroup:ParameterGroup": true,
	"aws:elasticache/subnetGroup:SubnetGroup": true, "aws:elasticache/parameterGroup:ParameterGroup": true,
	"aws:secretsmanager/secretRotation:SecretRotation": true, "aws:secretsmanager/secretVersion:SecretVersion": true, "aws:lambda/permission:Permission": true,
	"aws:lb/listener:Listener": true, "aws:lb/targetGroup:TargetGroup": true, "aws:lb/listenerRule:ListenerRule": true,
	"aws:acm/certificate:Certificate": true, "aws:acm/certificateValidation:CertificateValidation": true,
	"aws:appautoscaling/target:Target": true, "aws:appautoscaling/policy:Policy": true,
	"aws:codedeploy/application:Application": true, typeDeployGroup: true,
	"aws:ecs/clusterCapacityProviders:ClusterCapacityProviders": true, "aws:ecr/lifecyclePolicy:LifecyclePolicy": true,
	"aws:s3/bucketOwnershipControls:BucketOwnershipControls": true, "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock": true,
	"aws:s3/bucketServerSideEncryptionConfigurationV2:BucketServerSideEncryptionConfigurationV2": true,
	"aws:s3/bucketVersioningV2:BucketVersioningV2":                                               true, "aws:s3/bucketLifecycleConfigurationV2:BucketLifecycleConfigurationV2": true,
	"aws:s3/bucketPolicy:BucketPolicy": true, "aws:wafv2/ipSet:IpSet": true, "aws:wafv2/webAclAssociation:WebAclAssociation": true,
	"aws:wafv2/webAclLoggingConfiguration:WebAclLoggingConfiguration": true, typeSNSTopic: true,
	"aws:sns/topicSubscription:TopicSubscription": true, "aws:ssm/parameter:Parameter": true, "aws:ssm/document:Document": true,
	"aws:sns/topicPolicy:TopicPolicy": true, "aws:cloudwatch/logSubscriptionFilter:LogSubscriptionFilter": true,
	// RDS Proxy is priced by the proxy; its target group and target cost nothing more.
	"aws:rds/proxyDefaultTargetGroup:ProxyDefaultTargetGroup": true, "aws:rds/proxyTarget:ProxyTarget": true,
	// RDS event subscriptions are free; their mails are SNS traffic.
	"aws:rds/eventSubscription:EventSubscription": true,
	// EventBridge rules on AWS services' own events are free, and so is a log group's policy.
	"aws:cloudwatch/eventRule:EventRule": true, "aws:cloudwatch/eventTarget:EventTarget": true,
	"aws:cloudwatch/logResourcePolicy:LogResourcePolicy": true,
	// One invocation per database instance: a fraction of a cent, once.
	"aws:lambda/invocation:Invocation": true,
	// The queue-depth function's retry settings; its schedule is an EventBridge rule, free too.
	"aws:lambda/functionEventInvokeConfig:FunctionEventInvokeConfig": true,
	// Staging's sign-in: Cognito's first 10,000 monthly active users are free, and staging has
	// tens. Object Lock itself costs nothing; the locked objects are storage.
	"aws:cognito/userPool:UserPool": true, "aws:cognito/userPoolClient:UserPoolClient": true,
	"aws:cognito/userPoolDomain:UserPoolDomain":                              true,
	"aws:s3/bucketObjectLockConfigurationV2:BucketObjectLockConfigurationV2": true,
	"aws:s3/bucketNotification:BucketNotification":                           true,
	"aws:elasticache/user:User":                                              true,
	"aws:elasticache/userGroup:UserGroup":                                    true,
}

// classify sorts the resources that are not priced into usage-based ones and unknown ones.
func classify(res []*mockengine.Resource, missing []string) ([]Unpriced, []string) {
	usage := map[string]int{}
	unknown := map[string]int{}
	for _, r := range res {
		switch {
		case !r.Custom, pricedTypes[r.Type], freeTypes[r.Type], strings.HasPrefix(r.Type, "random:"), strings.HasPrefix(r.Type, "pulumi:"):
		case usageTypes[r.Type] != "":
			usage[r.Type]++
		default:
			unknown[r.Type]++
		}
	}
	var out []Unpriced
	for t, n := range usage {
		out = append(out, Unpriced{Type: t, Count: n, Why: usageTypes[t]})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Type < out[j].Type })
	var types []string
	for t := range unknown {
		types = append(types, t)
	}
	sort.Strings(types)
	for _, t := range types {
		missing = append(missing, fmt.Sprintf("%s (%d): a resource type this estimate does not price yet", t, unknown[t]))
	}
	return out, missing
}

// trimFloat prints 0.25, 1, 0.5 without trailing zeros.
func trimFloat(f float64) string {
	return strings.TrimRight(strings.TrimRight(fmt.Sprintf("%.3f", f), "0"), ".")
}

const typeDBProxy = "aws:rds/proxy:Proxy"

// priceProxies prices RDS Proxy: per vCPU-hour of the instance it fronts (the primary), with
// AWS's minimum of two vCPUs.
func priceProxies(res []*mockengine.Resource, add adder, missing misser) {
	var primary string
	for _, r := range ofType(res, typeDBInstance) {
		if str(r, "replicateSourceDb") == "" {
			primary = str(r, "instanceClass")
		}
	}
	for _, r := range ofType(res, typeDBProxy) {
		vcpus, ok := rdsVCPUs(primary)
		if !ok {
			missing("%s: RDS class %s has no vCPU count here", label(r), primary)
			continue
		}
		add(Line{Component: compProxy, Item: fmt.Sprintf("RDS Proxy for %s: %d vCPU", primary, vcpus), Resources: label(r),
			Quantity: hours(float64(vcpus)), Unit: "vCPU-h", UnitPrice: rdsProxyVCPUHour})
	}
}

// rdsVCPUs is an RDS class's vCPUs, at least 2 (RDS Proxy's minimum charge): the t classes have
// 2 up to large, and every class doubles from large (2) with each size.
func rdsVCPUs(class string) (int, bool) {
	parts := strings.Split(class, ".")
	if len(parts) != 3 {
		return 0, false
	}
	switch size := parts[2]; size {
	case "micro", "small", "medium", "large":
		return 2, true
	case "xlarge":
		return 4, true
	default:
		var n int
		if _, err := fmt.Sscanf(size, "%dxlarge", &n); err == nil && n > 0 {
			return 4 * n, true
		}
	}
	return 0, false
}
