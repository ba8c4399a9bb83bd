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
// standby) instance costs exactly twice the Single-AZ price.
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

// rdsProxyVCPUHour is RDS Proxy, per vCPU-hour of the instance it fronts (minimum 2 vCPUs).
const rdsProxyVCPUHour = 0.015

// RDS storage, gp3, per GB-month; Multi-AZ keeps a second copy and bills it.
const (
	rdsGP3PerGBMonth        = 0.115
	rdsGP3MultiAZPerGBMonth = 0.230
)

// elastiCacheHourly is ElastiCache for Redis OSS, per node-hour.
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

// Fargate, Linux/x86 (the task definitions' runtime platform), per vCPU-hour and per GB-hour.
// Fargate Spot is the same capacity at about a third of the price, interruptible.
const (
	fargateVCPUHour     = 0.04048
	fargateGBHour       = 0.004445
	fargateSpotVCPUHour = 0.01334058
	fargateSpotGBHour   = 0.00146489
)

// Application Load Balancer: per hour, and per LCU-hour (traffic-driven).
const (
	albHour    = 0.0225
	albLCUHour = 0.008
	// nominalLCUs is the average LCUs assumed: one LCU is 25 new connections/s, 3,000 active
	// connections, 1 GB/h processed or 1,000 rule evaluations/s, more than any stack's nominal
	// traffic needs. The line is marked nominal.
	nominalLCUs = 1.0
)

// NAT: a managed gateway per hour (data processing, $0.045/GB, is traffic and not estimated).
const natGatewayHour = 0.045

// Public IPv4 addresses, in use or idle, per hour.
const publicIPv4Hour = 0.005

// AWS WAF: per web ACL-month, per rule-month (a managed rule group counts as one rule), per
// million requests inspected.
const (
	wafWebACLMonth      = 5.00
	wafRuleMonth        = 1.00
	wafMillionRequests  = 0.60
	nominalWAFRequestsM = 1.0 // a nominal million requests a month; the line is marked nominal
)

// Secrets Manager per secret-month; KMS per customer managed key-month (a rotated key adds $1 a
// month for each of its first two rotations: year two and three cost more).
const (
	secretMonth = 0.40
	kmsKeyMonth = 1.00
)

// CloudWatch: a standard-resolution metric alarm, and a dashboard, per month (the account's
// first three dashboards and ten alarms are free; the free tier is shared, so not counted).
const (
	alarmMonth     = 0.10
	dashboardMonth = 3.00
)

// Route 53: a hosted zone per month (queries are traffic; alias queries to an ALB are free).
const hostedZoneMonth = 0.50

// ec2Hourly is EC2 Linux on-demand per instance-hour: the bastion's and a NAT instance's sizes.
var ec2Hourly = map[string]float64{
	"t4g.nano":  0.0042,
	"t4g.micro": 0.0084,
	"t4g.small": 0.0168,
	"t3.nano":   0.0052,
	"t3.micro":  0.0104,
	"t3.small":  0.0208,
}

// EBS gp3 per GB-month (an instance's root volume; 8 GB when the program does not say).
const (
	ebsGP3PerGBMonth = 0.08
	defaultRootGB    = 8.0
)

// Lambda: the rotation functions run a few times a month, and the queue-depth function once a
// minute (about 44,000 runs of under a second at 128 MB, some 3,000 GB-s): well inside the free
// tier (1M requests and 400,000 GB-s a month) and cents beyond it: priced at zero and listed so
// that nothing is left unsaid.
const lambdaMonth = 0.0

// CloudWatch custom metrics per metric-month (the first 10,000 of an account) and PutMetricData
// requests ($0.01 per 1,000); Secrets Manager API calls ($0.05 per 10,000). The queue-depth
// function publishes its metrics and reads the broker's secret once a minute.
const (
	customMetricMonth        = 0.30
	putMetricDataRequest     = 0.01 / 1000
	secretsAPICall           = 0.05 / 10000
	queueDepthCallsPerMinute = 1.0
)
