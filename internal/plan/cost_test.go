package plan

import (
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/taskmanager/taskmanager-infra/internal/mockengine"
)

// fake is a hand-made registration: the cost lines below are computed by hand from it, not from
// a stack file, so a wrong price, a missing doubling or a lost count fails them.
func fake(typ, name string, inputs map[string]any) *mockengine.Resource {
	return &mockengine.Resource{Type: typ, Name: name, URN: "urn:pulumi:t::taskmanager::" + typ + "::" + name, Custom: true, Inputs: inputs}
}

// lineFor returns the estimate's line of a component whose item starts with prefix and which
// comes from the named resource.
func lineFor(t *testing.T, e *Estimate, component, prefix, from string) Line {
	t.Helper()
	for _, l := range e.Lines {
		if l.Component == component && strings.HasPrefix(l.Item, prefix) && strings.Contains(l.Resources, from) {
			return l
		}
	}
	t.Fatalf("no %s line %q from %s; lines: %+v", component, prefix, from, e.Lines)
	return Line{}
}

func near(t *testing.T, what string, got, want float64) {
	t.Helper()
	if math.Abs(got-want) > 0.005 {
		t.Errorf("%s = %.4f, want %.4f", what, got, want)
	}
}

func mustEstimate(t *testing.T, res ...*mockengine.Resource) *Estimate {
	t.Helper()
	e, err := estimate(res, nil)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func TestCostDatabase(t *testing.T) {
	e := mustEstimate(t,
		fake(typeDBInstance, "small", map[string]any{"identifier": "small-db", "instanceClass": "db.t3.micro",
			"multiAz": false, "allocatedStorage": 20.0, "storageType": "gp3", "manageMasterUserPassword": true}),
		fake(typeDBInstance, "big", map[string]any{"identifier": "big-db", "instanceClass": "db.r6g.xlarge",
			"multiAz": true, "allocatedStorage": 100.0, "storageType": "gp3"}),
		// A replica has no allocatedStorage of its own: it has its source's 100 GB.
		fake(typeDBInstance, "big-replica", map[string]any{"identifier": "big-db-replica", "instanceClass": "db.r6g.large",
			"replicateSourceDb": "big-db", "storageType": "gp3"}),
	)
	// db.t3.micro $0.018/h × 730 h = $13.14
	near(t, "db.t3.micro hours", lineFor(t, e, compRDS, "db.t3.micro", "small").Monthly, 13.14)
	// 20 GB × $0.115 = $2.30
	near(t, "Single-AZ gp3", lineFor(t, e, compRDS, "gp3", "small").Monthly, 2.30)
	// RDS-managed master secret: $0.40
	near(t, "master secret", lineFor(t, e, compSecrets, "RDS-managed", "small").Monthly, 0.40)
	// Multi-AZ doubles: db.r6g.xlarge $0.449/h × 2 × 730 h = $655.54
	near(t, "Multi-AZ db.r6g.xlarge hours", lineFor(t, e, compRDS, "db.r6g.xlarge", "big").Monthly, 655.54)
	// Multi-AZ storage doubles too: 100 GB × $0.23 = $23.00
	near(t, "Multi-AZ gp3", lineFor(t, e, compRDS, "gp3", "big").Monthly, 23.00)
	// Replica: db.r6g.large $0.225/h × 730 h = $164.25; its 100 GB × $0.115 = $11.50
	near(t, "replica hours", lineFor(t, e, compReplica, "db.r6g.large", "big-replica").Monthly, 164.25)
	near(t, "replica gp3", lineFor(t, e, compReplica, "gp3", "big-replica").Monthly, 11.50)
	if len(e.Missing) != 0 {
		t.Errorf("missing = %v, want none", e.Missing)
	}
}

func TestCostCache(t *testing.T) {
	e := mustEstimate(t, fake(typeCacheGroup, "redis", map[string]any{"nodeType": "cache.r7g.large", "numCacheClusters": 3.0}))
	// cache.r7g.large $0.219/h × 3 nodes × 730 h = $479.61
	near(t, "cache", lineFor(t, e, compCache, "cache.r7g.large × 3", "redis").Monthly, 479.61)
}

// fargate returns a service, its task definition and, when scaling, its scaling target.
func fargate(name, capacity string, cpu, memory string, desired, lo, hi float64) []*mockengine.Resource {
	out := []*mockengine.Resource{
		fake(typeService, "s-"+name, map[string]any{"name": name, "desiredCount": desired, "taskDefinition": "arn:aws:ecs:us-east-1:1:t-" + name,
			"capacityProviderStrategies": []any{map[string]any{"capacityProvider": capacity, "weight": 1.0}}}),
		fake(typeTaskDefinition, "t-"+name, map[string]any{"family": "x-" + name, "cpu": cpu, "memory": memory}),
	}
	if hi > 0 {
		out = append(out, fake(typeScalingTarget, "a-"+name, map[string]any{"serviceNamespace": "ecs",
			"resourceId": "service/c/" + name, "minCapacity": lo, "maxCapacity": hi}))
	}
	return out
}

func TestCostFargate(t *testing.T) {
	var res []*mockengine.Resource
	res = append(res, fargate("api", "FARGATE", "1024", "2048", 5, 5, 50)...)
	res = append(res, fargate("worker", "FARGATE_SPOT", "256", "512", 2, 0, 0)...)
	e := mustEstimate(t, res...)

	vcpu := lineFor(t, e, compAPI, "Fargate vCPU", "s-api")
	// 5 tasks × 1 vCPU × 730 h = 3,650 vCPU-h × $0.04048 = $147.75; at 50 tasks, $1,477.52
	near(t, "api vCPU", vcpu.Monthly, 147.752)
	near(t, "api vCPU at max", vcpu.MonthlyMax, 1477.52)
	mem := lineFor(t, e, compAPI, "Fargate memory", "s-api")
	// 5 tasks × 2 GB × 730 h = 7,300 GB-h × $0.004445 = $32.45; at 50 tasks, $324.49
	near(t, "api memory", mem.Monthly, 32.4485)
	near(t, "api memory at max", mem.MonthlyMax, 324.485)

	// Fargate Spot at us-east-1's rate, no autoscaling (max = desired): 2 × 0.25 vCPU × 730 h =
	// 365 vCPU-h × $0.01245 = $4.54
	spot := lineFor(t, e, compWorker, "Fargate Spot vCPU", "s-worker")
	near(t, "worker Spot vCPU", spot.Monthly, 4.544)
	near(t, "worker Spot vCPU at max", spot.MonthlyMax, 4.544)
	// 2 × 0.5 GB × 730 h = 730 GB-h × $0.00137 = $1.00
	near(t, "worker Spot memory", lineFor(t, e, compWorker, "Fargate Spot memory", "s-worker").Monthly, 1.0001)
}

func TestCostEdge(t *testing.T) {
	rules := `[{"Name":"a"},{"Name":"b"},{"Name":"c"},{"Name":"d"},{"Name":"e"},{"Name":"f"}]`
	e, err := estimate([]*mockengine.Resource{
		fake(typeLoadBalancer, "public", map[string]any{"loadBalancerType": "application", "internal": false, "subnets": []any{"a", "b"}}),
		fake(typeLoadBalancer, "private", map[string]any{"loadBalancerType": "application", "internal": true, "subnets": []any{"a", "b"}}),
		fake(typeWebACL, "acl", map[string]any{"scope": "REGIONAL", "ruleJson": rules}),
	}, &UsageAssumptions{ALBLCUs: 1.5, WAFRequestsMillions: 3})
	if err != nil {
		t.Fatal(err)
	}
	// $0.0225/h × 730 h = $16.43 (16.425)
	near(t, "ALB hours", lineFor(t, e, compALB, "Application Load Balancer", "public").Monthly, 16.425)
	// usage.yaml's albLCUs, 1.5 × 730 h × $0.008 = $8.76, an assumption
	lcu := lineFor(t, e, compALB, "LCUs", "public")
	near(t, "ALB LCU", lcu.Monthly, 8.76)
	if lcu.Assumption != "albLCUs 1.5" {
		t.Errorf("the LCU line's assumption = %q", lcu.Assumption)
	}
	// internet-facing: 2 AZs × 730 h × $0.005 = $7.30
	near(t, "ALB IPv4", lineFor(t, e, compIPv4, "internet-facing ALB", "public").Monthly, 7.30)
	for _, l := range e.Lines {
		if l.Component == compIPv4 && strings.Contains(l.Resources, "private") {
			t.Errorf("an internal ALB has no public address, got %+v", l)
		}
	}
	// WAF: $5 the web ACL, 6 rules × $1 = $6, usage.yaml's 3 million requests × $0.60 = $1.80
	near(t, "WAF ACL", lineFor(t, e, compWAF, "web ACL", "acl").Monthly, 5)
	near(t, "WAF rules", lineFor(t, e, compWAF, "6 rule", "acl").Monthly, 6)
	near(t, "WAF requests", lineFor(t, e, compWAF, "requests", "acl").Monthly, 1.80)
	// Without usage assumptions, traffic is not priced (and the estimate says so).
	for _, l := range mustEstimate(t, fake(typeLoadBalancer, "public", map[string]any{"internal": false})).Lines {
		if l.Unit == "LCU-h" {
			t.Errorf("an LCU line without usage assumptions: %+v", l)
		}
	}
}

func TestCostNetwork(t *testing.T) {
	e := mustEstimate(t,
		fake(typeVpc, "single", map[string]any{"availabilityZoneNames": []any{"a", "b"}, "natGateways": map[string]any{"strategy": "Single"}}),
		fake(typeVpc, "perAz", map[string]any{"availabilityZoneNames": []any{"a", "b", "c"}, "natGateways": map[string]any{"strategy": "OnePerAz"}}),
		fake(typeVpc, "none", map[string]any{"availabilityZoneNames": []any{"a", "b"}, "natGateways": map[string]any{"strategy": "None"}}),
		// A NAT instance: forwards traffic (no source/destination check), with a public address.
		fake(typeEC2Instance, "nat", map[string]any{"instanceType": "t4g.nano", "sourceDestCheck": false, "associatePublicIpAddress": true}),
		fake(typeEC2Instance, "bastion", map[string]any{"instanceType": "t4g.nano", "rootBlockDevice": map[string]any{"volumeSize": 10.0}}),
	)
	// Single: 1 gateway × 730 h × $0.045 = $32.85, and its Elastic IP 730 h × $0.005 = $3.65
	near(t, "Single NAT", lineFor(t, e, compNAT, "NAT gateway × 1", "single").Monthly, 32.85)
	near(t, "Single NAT IPv4", lineFor(t, e, compIPv4, "NAT gateway Elastic IP × 1", "single").Monthly, 3.65)
	// OnePerAz over 3 AZs: 3 × $32.85 = $98.55; 3 × $3.65 = $10.95
	near(t, "OnePerAz NAT", lineFor(t, e, compNAT, "NAT gateway × 3", "perAz").Monthly, 98.55)
	near(t, "OnePerAz NAT IPv4", lineFor(t, e, compIPv4, "NAT gateway Elastic IP × 3", "perAz").Monthly, 10.95)
	for _, l := range e.Lines {
		if strings.Contains(l.Resources, "awsx:ec2:Vpc none") {
			t.Errorf("a VPC without NAT gateways costs nothing, got %+v", l)
		}
	}
	// NAT instance t4g.nano: $0.0042/h × 730 h = $3.07 (3.066); 8 GB root × $0.08 = $0.64; its address $3.65
	near(t, "NAT instance", lineFor(t, e, compNAT, "NAT instance t4g.nano", "nat").Monthly, 3.066)
	near(t, "NAT instance volume", lineFor(t, e, compNAT, "NAT instance root volume", "nat").Monthly, 0.64)
	near(t, "NAT instance IPv4", lineFor(t, e, compIPv4, "NAT instance public address", "nat").Monthly, 3.65)
	// Bastion: $3.07 and a 10 GB root × $0.08 = $0.80, no public address (SSM).
	near(t, "bastion", lineFor(t, e, compEC2, "instance t4g.nano", "bastion").Monthly, 3.066)
	near(t, "bastion volume", lineFor(t, e, compEC2, "instance root volume", "bastion").Monthly, 0.80)
}

func TestCostManagedServices(t *testing.T) {
	var res []*mockengine.Resource
	for _, n := range []string{"s1", "s2", "s3"} {
		res = append(res, fake(typeSecret, n, nil))
	}
	res = append(res,
		fake(typeKMSKey, "key", nil),
		fake(typeAlarm, "a1", nil), fake(typeAlarm, "a2", nil), fake(typeAlarm, "a3", nil), fake(typeAlarm, "a4", nil),
		fake(typeDashboard, "d1", nil), fake(typeDashboard, "d2", nil),
		fake(typeZone, "zone", nil),
		fake(typeLambda, "rotate", nil),
	)
	e := mustEstimate(t, res...)
	near(t, "secrets", lineFor(t, e, compSecrets, "3 secret(s)", "s1").Monthly, 1.20)          // 3 × $0.40
	near(t, "KMS", lineFor(t, e, compKMS, "1 customer managed", "key").Monthly, 1.00)          // 1 × $1, not rotated
	near(t, "alarms", lineFor(t, e, compCloudWatch, "4 metric alarm(s)", "a1").Monthly, 0.40)  // 4 × $0.10
	near(t, "dashboards", lineFor(t, e, compCloudWatch, "2 dashboard(s)", "d1").Monthly, 6.00) // 2 × $3
	near(t, "zone", lineFor(t, e, compRoute53, "1 hosted zone", "zone").Monthly, 0.50)         // 1 × $0.50
	near(t, "lambda", lineFor(t, e, compLambda, "1 function(s)", "rotate").Monthly, 0)         // negligible
	near(t, "total", e.Total, 1.20+1+0.40+6+0.50)
}

func TestCostReportsWhatItCannotPrice(t *testing.T) {
	e := mustEstimate(t,
		fake(typeDBInstance, "odd", map[string]any{"instanceClass": "db.x9.huge", "allocatedStorage": 20.0, "storageType": "gp3"}),
		fake("aws:ec2/vpcEndpoint:VpcEndpoint", "endpoint", nil),
		fake(typeLogGroup, "logs", nil),
		fake("aws:iam/role:Role", "role", nil),
	)
	joined := strings.Join(e.Missing, "\n")
	for _, want := range []string{"db.x9.huge", "aws:ec2/vpcEndpoint:VpcEndpoint"} {
		if !strings.Contains(joined, want) {
			t.Errorf("missing prices %q do not name %s", joined, want)
		}
	}
	if strings.Contains(joined, "Role") || strings.Contains(joined, "LogGroup") {
		t.Errorf("a free role and a usage-priced log group are not missing prices: %q", joined)
	}
	if len(e.Usage) != 1 || e.Usage[0].Type != typeLogGroup {
		t.Errorf("usage = %+v, want the log group", e.Usage)
	}
}

func TestCompareExplainsExcess(t *testing.T) {
	e := &Estimate{Stack: "dev", Environment: "development", Lines: []Line{
		{Component: compRDS, Monthly: 15, MonthlyMax: 15},
		{Component: compCache, Monthly: 12, MonthlyMax: 12},
		{Component: compAPI, Monthly: 5, MonthlyMax: 5},
		{Component: compWorker, Monthly: 5, MonthlyMax: 5},
		{Component: compALB, Monthly: 22, MonthlyMax: 22},
		{Component: compNAT, Monthly: 32.85, MonthlyMax: 32.85},
	}}
	for _, l := range e.Lines {
		e.Total += l.Monthly
		e.TotalMax += l.MonthlyMax
	}
	c, err := Compare(e)
	if err != nil {
		t.Fatal(err)
	}
	// 91.85 − 77 = 14.85: NAT +32.85 (not in the spec), ALB +2, offset by API −10 and worker −10.
	near(t, "excess", c.Excess(), 14.85)
	above, below := c.Causes(false)
	if len(above) != 2 || above[0].Component != compNAT || above[0].InSpec || above[1].Component != compALB {
		t.Errorf("above = %+v, want NAT (not in the spec) then ALB", above)
	}
	if len(below) != 2 {
		t.Errorf("below = %+v, want the two services", below)
	}
	v := strings.Join(c.Verdict(), " ")
	for _, want := range []string{"$14.85 more", "NAT +$32.85 (not in the spec's table)", "ALB +$2.00", "ECS API −$10.00"} {
		if !strings.Contains(v, want) {
			t.Errorf("verdict %q lacks %q", v, want)
		}
	}
}

// Dev runs on a NAT instance and Fargate Spot: the estimate must price exactly that, and hold
// dev within its budget.
func TestDevCostAgainstSpec(t *testing.T) {
	s := evaluate(t, "dev")
	e, err := EstimateCost(s)
	if err != nil {
		t.Fatal(err)
	}
	// One t4g.nano ($0.0042/h × 730 h = $3.066), its 8 GB of gp3 ($0.64) and its public address
	// ($3.65), where the NAT gateway alone was $32.85.
	near(t, "dev NAT instance", lineFor(t, e, compNAT, "NAT instance t4g.nano", "dev-nat").Monthly, 3.066)
	near(t, "dev NAT instance volume", lineFor(t, e, compNAT, "NAT instance root volume", "dev-nat").Monthly, 0.64)
	near(t, "dev NAT instance address", lineFor(t, e, compIPv4, "NAT instance public address", "dev-nat").Monthly, 3.65)
	for _, l := range e.Lines {
		if strings.Contains(l.Item, "NAT gateway") {
			t.Errorf("dev has no NAT gateway: %+v", l)
		}
	}
	if e.BudgetUSD <= 0 || e.Total > e.BudgetUSD {
		t.Errorf("dev costs %s a month, over its budget of %s (taskmanager:budget.monthlyUSD)", money(e.Total), money(e.BudgetUSD))
	}
	if l := lineFor(t, e, compAPI, "Fargate Spot vCPU", "dev-api"); l.UnitPrice != fargateSpotVCPUHour {
		t.Errorf("dev's API runs on FARGATE_SPOT: unit price %v, want %v", l.UnitPrice, fargateSpotVCPUHour)
	}
	c, err := Compare(e)
	if err != nil {
		t.Fatal(err)
	}
	var sum float64
	for _, r := range c.Rows {
		sum += r.Est
	}
	near(t, "comparison rows add up to the total", sum, e.Total)
	// What remains above the spec is what its table leaves out (Secrets Manager, the bastion, the
	// NAT instance and its address...), less Fargate Spot's discount: NAT is no longer the cause.
	above, _ := c.Causes(false)
	if len(above) > 0 && above[0].Component == compNAT {
		t.Errorf("NAT is still the largest cause of dev's excess: %+v", above[0])
	}
}

// docs/costs.md records every stack's current total: a change in price or size that moves a
// total fails here until the document is regenerated.
func TestCostsDocIsCurrent(t *testing.T) {
	doc, err := os.ReadFile(filepath.Join(projectDir, "docs", "costs.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range mockengine.Stacks(projectDir) {
		e := estimated(t, name)
		c, err := Compare(e)
		if err != nil {
			t.Fatal(err)
		}
		if line := TotalLine(e, c); !strings.Contains(string(doc), line) {
			t.Errorf("docs/costs.md lacks the current total of %s:\n  %s\nregenerate its estimate with `go run ./cmd/plan cost %s --markdown`", name, line, name)
		}
	}
}

// docs/costs.md proposes settings that make dev cheaper without weakening a security rule: what
// they save must add up, and with them dev is under the spec's ~$77 (its Basic monitoring, without
// Container Insights, already keeps it within its $82 budget: TestBudgetsAsTheIssueSetThem).
func TestDevProposals(t *testing.T) {
	s := evaluate(t, "dev")
	props, total, err := Proposals(s)
	if err != nil {
		t.Fatal(err)
	}
	e, err := EstimateCost(s)
	if err != nil {
		t.Fatal(err)
	}
	saved := 0.0
	for _, p := range props {
		if p.Saving <= 0 {
			t.Errorf("a proposal that saves nothing: %+v", p)
		}
		saved += p.Saving
	}
	// The Graviton classes (db.t4g.micro, cache.t4g.micro: $2.19) and the bastion in working
	// hours ($2.33).
	near(t, "dev's savings", saved, 2.19+2.3268)
	near(t, "dev with every proposal", total, e.Total-saved)
	if total >= 77 {
		t.Errorf("dev with every proposal costs $%.2f, not under the spec's ~$77", total)
	}
	for _, p := range props {
		if strings.HasPrefix(p.Name, "NAT instance") {
			t.Errorf("dev already runs a NAT instance: nothing to save, got %+v", p)
		}
		if p.Name == "Fargate Spot" {
			t.Errorf("dev already runs on Fargate Spot: nothing to save, got %+v", p)
		}
	}
	// The shared evaluation is not modified by pricing the proposals.
	if e, _ := EstimateCost(s); lineFor(t, e, compNAT, "NAT instance t4g.nano", "dev-nat").Monthly != 3.066 {
		t.Errorf("proposals changed the evaluated stack")
	}
}

// Staging keeps its gateways (docs/costs.md says why), so the NAT instance is a setting it could
// use, priced as what it builds: two gateways, their addresses and the GB they process ($65.70 +
// $7.30 + 107 GB × $0.045) for one t4g.nano ($3.066), its volume ($0.64), its address ($3.65) and
// two recovery alarms ($0.20).
func TestStagingNatInstanceProposal(t *testing.T) {
	props, _, err := Proposals(evaluate(t, "staging"))
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range props {
		if strings.HasPrefix(p.Name, "NAT instance") {
			near(t, "NAT instance saving", p.Saving, 73+107*0.045-3.066-0.64-3.65-0.2)
			if !p.Exists || !strings.HasPrefix(p.Setting, "taskmanager:network.natGateways: Instance") {
				t.Errorf("the NAT instance is a setting of the stack file: %+v", p)
			}
			return
		}
	}
	t.Errorf("no NAT instance proposal for staging: %+v", props)
}

func TestProductionProposalsKeepTheSLA(t *testing.T) {
	props, _, err := Proposals(evaluate(t, "production"))
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range props {
		if strings.HasPrefix(p.Name, "NAT instance") || p.Name == "Fargate Spot" || strings.HasPrefix(p.Name, "Bastion") {
			t.Errorf("production is offered %q, which costs availability", p.Name)
		}
	}
}
