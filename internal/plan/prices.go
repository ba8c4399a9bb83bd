package plan

// The price table: AWS list prices, us-east-1 (N. Virginia), on-demand, Linux, USD, without tax,
// free tier or savings plans.
//
// Source: AWS's public pricing pages (aws.amazon.com/rds/postgresql/pricing,
// /elasticache/pricing, /fargate/pricing, /elasticloadbalancing/pricing, /vpc/pricing,
// /waf/pricing, /secrets-manager/pricing, /kms/pricing, /cloudwatch/pricing, /route53/pricing,
// /ec2/pricing/on-demand, /ebs/pricing), as published in 2025; written down by hand, not fetched.
// Check a figure against the AWS Pricing Calculator before quoting it to anyone who pays.
// Fargate Spot prices move with spare capacity; the figure is a typical us-east-1 price.
const (
	PricesAsOf   = "2025-10-30" // the spec's "Last Updated"; prices as published in 2025
	PricesSource = "AWS public pricing pages, us-east-1, on-demand list prices (2025), in internal/plan/prices.go"
	PricesRegion = "us-east-1"
)

// HoursPerMonth is AWS's own convention for monthly estimates: 24 × 365 / 12.
const HoursPerMonth = 730.0

// rdsPostgresHourly is RDS for PostgreSQL, Single-AZ, per instance-hour. A Multi-AZ (one
// standby) instance costs exactly twice the Single-AZ price (aws.amazon.com/rds/postgresql/pricing).
var rdsPostgresHourly = map[string]float64{
	"db.t3.micro":    0.018,
	"db.t3.small":    0.036,
	"db.t3.medium":   0.072,
	"db.t3.large":    0.145,
	"db.t3.xlarge":   0.290,
	"db.t3.2xlarge":  0.580,
	"db.t4g.micro":   0.016,
	"db.t4g.small":   0.032,
	"db.t4g.medium":  0.065,
	"db.t4g.large":   0.129,
	"db.t4g.xlarge":  0.258,
	"db.m6g.large":   0.159,
	"db.m6g.xlarge":  0.318,
	"db.r6g.large":   0.225,
	"db.r6g.xlarge":  0.449,
	"db.r6g.2xlarge": 0.899,
	"db.r5.large":    0.250,
	"db.r5.xlarge":   0.500,
}

// rdsProxyVCPUHour is RDS Proxy, per vCPU-hour of the instance it fronts (minimum 2 vCPUs)
// (aws.amazon.com/rds/proxy/pricing).
const rdsProxyVCPUHour = 0.015

// RDS storage, gp3, per GB-month; Multi-AZ keeps a second copy and bills it
// (aws.amazon.com/rds/postgresql/pricing, "Storage").
const (
	rdsGP3PerGBMonth        = 0.115
	rdsGP3MultiAZPerGBMonth = 0.230
)

// elastiCacheHourly is ElastiCache for Redis OSS, per node-hour (aws.amazon.com/elasticache/pricing,
// "On-Demand Nodes").
var elastiCacheHourly = map[string]float64{
	"cache.t3.micro":   0.017,
	"cache.t3.small":   0.034,
	"cache.t3.medium":  0.068,
	"cache.t4g.micro":  0.016,
	"cache.t4g.small":  0.032,
	"cache.t4g.medium": 0.065,
	"cache.m6g.large":  0.149,
	"cache.m7g.large":  0.158,
	"cache.r6g.large":  0.206,
	"cache.r7g.large":  0.219,
}

// Fargate, Linux/x86 (the task definitions' runtime platform), per vCPU-hour and per GB-hour
// (aws.amazon.com/fargate/pricing, US East (N. Virginia), Linux/X86).
// Fargate Spot is the same capacity, interruptible, at the "Current Spot price" table's us-east-1
// Linux/X86 figures (the same page): about 31% of on-demand for both vCPU and memory
// (0.01245/0.04048 = 0.308, 0.00137/0.004445 = 0.308). Spot prices move with spare capacity; the
// earlier figures here (0.01334058, 0.00146489) were eu-west-1's. No task runs on arm64, whose
// prices are lower: a task definition that asks for ARM64 is reported as unpriced.
const (
	fargateVCPUHour     = 0.04048
	fargateGBHour       = 0.004445
	fargateSpotVCPUHour = 0.01245
	fargateSpotGBHour   = 0.00137
)

// Application Load Balancer: per hour, and per LCU-hour (aws.amazon.com/elasticloadbalancing/pricing).
// An LCU is 25 new connections a second, 3,000 active connections a minute, 1 GB an hour processed
// or 1,000 rule evaluations a second, whichever is highest; the LCUs are usage.yaml's albLCUs.
const (
	albHour    = 0.0225
	albLCUHour = 0.008
)

// NAT: a managed gateway per hour and per GB it processes, whichever way
// (aws.amazon.com/vpc/pricing, "NAT Gateway pricing"). A NAT instance has no per-GB charge.
const (
	natGatewayHour = 0.045
	natGatewayGB   = 0.045
)

// Public IPv4 addresses, in use or idle, per hour (aws.amazon.com/vpc/pricing, "Public IPv4
// Addresses").
const publicIPv4Hour = 0.005

// AWS WAF: per web ACL-month, per rule-month (a managed rule group counts as one rule), per
// million requests inspected (aws.amazon.com/waf/pricing).
const (
	wafWebACLMonth     = 5.00
	wafRuleMonth       = 1.00
	wafMillionRequests = 0.60 // the requests are usage.yaml's wafRequestsMillions
)

// Secrets Manager per secret-month (aws.amazon.com/secrets-manager/pricing). KMS per customer
// managed key-month, plus $1 a month for each of the key's first two rotations, later ones free
// (aws.amazon.com/kms/pricing): a key rotated yearly (AWS's default period, the program's) costs
// $1 in its first year, $2 in its second and $3 from its third. The estimate prices year two.
const (
	secretMonth       = 0.40
	kmsKeyMonth       = 1.00
	kmsRotationMonth  = 1.00
	kmsBilledRotation = 2 // rotations billed at most
)

// CloudWatch (aws.amazon.com/cloudwatch/pricing, "Alarms" and "Dashboards"): an alarm is billed
// per metric it evaluates, $0.10 a month each at standard resolution (a metric math alarm's
// every queried metric, not its expressions); a dashboard $3 a month (the account's first three
// dashboards and ten alarm metrics are free; the free tier is shared, so not counted).
const (
	alarmMetricMonth = 0.10
	dashboardMonth   = 3.00
)

// CloudWatch Logs ingestion per GB (aws.amazon.com/cloudwatch/pricing, "Logs"): standard log
// groups (the services' own logs, Container Insights' performance log events) $0.50; vended logs
// (VPC flow logs, RDS Enhanced Monitoring's RDSOSMetrics) $0.50 for the first 10 TB a month.
// Storage ($0.03/GB-month, compressed) is left out: small at these retentions.
const (
	logsIngestedGB       = 0.50
	vendedLogsIngestedGB = 0.50
)

// Container Insights (standard, `containerInsights: enabled`) is billed as custom metrics, $0.30
// a metric-month (aws.amazon.com/cloudwatch/pricing, "Container Insights"), plus its performance
// log events as log ingestion. The metrics per dimension are counted from "Amazon ECS Container
// Insights metrics" (docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/Container-Insights-metrics-ECS.html)
// for Fargate: by cluster (CPU, memory and ephemeral storage reserved and used, network and
// storage bytes, task and service counts), by service (the same plus desired, running and
// pending task counts, deployments and task sets), by task definition family (the resource
// metrics and running tasks). A migration task runs minutes a month: its family's metrics
// round to nothing and are not counted.
const (
	insightsClusterMetrics = 12
	insightsServiceMetrics = 15
	insightsFamilyMetrics  = 10
)

// RDS backup storage beyond the free allowance (100% of the region's provisioned database
// storage), per GB-month (aws.amazon.com/rds/postgresql/pricing, "Backup storage"); ElastiCache
// snapshot storage beyond the one free snapshot per cluster, per GB-month
// (aws.amazon.com/elasticache/pricing, "Backup and restore").
const (
	rdsBackupGBMonth         = 0.095
	elastiCacheSnapshotGBMon = 0.085
)

// enhancedMonitoringEventKB is the size assumed for one RDS Enhanced Monitoring event (the OS
// metrics of one instance at one interval, a JSON document in the RDSOSMetrics log group, with
// its process list): an assumption, like those of usage.yaml, shown as one in the report.
const enhancedMonitoringEventKB = 2.0

// Route 53: a hosted zone per month (queries are traffic; alias queries to an ALB are free)
// (aws.amazon.com/route53/pricing).
const hostedZoneMonth = 0.50

// ec2Hourly is EC2 Linux on-demand per instance-hour: the bastion's and a NAT instance's sizes
// (aws.amazon.com/ec2/pricing/on-demand).
var ec2Hourly = map[string]float64{
	"t4g.nano":  0.0042,
	"t4g.micro": 0.0084,
	"t4g.small": 0.0168,
	"t3.nano":   0.0052,
	"t3.micro":  0.0104,
	"t3.small":  0.0208,
}

// EBS gp3 per GB-month (an instance's root volume; 8 GB when the program does not say)
// (aws.amazon.com/ebs/pricing).
const (
	ebsGP3PerGBMonth = 0.08
	defaultRootGB    = 8.0
)

// Lambda (aws.amazon.com/lambda/pricing): the rotation functions run a few times a month, and the queue-depth function once a
// minute (about 44,000 runs of under a second at 128 MB, some 3,000 GB-s): well inside the free
// tier (1M requests and 400,000 GB-s a month) and cents beyond it: priced at zero and listed so
// that nothing is left unsaid.
const lambdaMonth = 0.0

// CloudWatch custom metrics per metric-month (the first 10,000 of an account) and PutMetricData
// requests ($0.01 per 1,000) (aws.amazon.com/cloudwatch/pricing, "Metrics"); Secrets Manager API
// calls ($0.05 per 10,000) (aws.amazon.com/secrets-manager/pricing). The queue-depth
// function publishes its metrics and reads the broker's secret once a minute.
const (
	customMetricMonth        = 0.30
	putMetricDataRequest     = 0.01 / 1000
	secretsAPICall           = 0.05 / 10000
	queueDepthCallsPerMinute = 1.0
)
