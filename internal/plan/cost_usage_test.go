package plan

import (
	"bytes"
	"strings"
	"testing"

	"github.com/taskmanager/taskmanager-infra/internal/mockengine"
)

// The lines issue 20 added, each computed by hand from hand-made resources and usage.
func TestCostUsageLines(t *testing.T) {
	u := &UsageAssumptions{ImagePullsGB: 100, AppLogsGB: 5, OtherNATGB: 2, FlowLogsGB: 10, ContainerInsightsGB: 1,
		DatabaseGB: 40, DatabaseChangeGBPerDay: 2, CacheDataGB: 3}
	res := []*mockengine.Resource{
		fake(typeVpc, "vpc", map[string]any{"availabilityZoneNames": []any{"a", "b"}, "natGateways": map[string]any{"strategy": "OnePerAz"}}),
		fake(typeFlowLog, "flows", map[string]any{"trafficType": "ALL"}),
		fake(typeCluster, "cluster", map[string]any{"settings": []any{map[string]any{"name": "containerInsights", "value": "enabled"}}}),
		fake(typeDBInstance, "db", map[string]any{"identifier": "db", "instanceClass": "db.t3.micro", "allocatedStorage": 50.0,
			"storageType": "gp3", "backupRetentionPeriod": 14.0, "monitoringInterval": 60.0}),
		fake(typeCacheGroup, "redis", map[string]any{"nodeType": "cache.t3.micro", "numCacheClusters": 2.0, "snapshotRetentionLimit": 5.0}),
	}
	res = append(res, fargate("api", "FARGATE", "256", "512", 1, 0, 0)...)
	e, err := estimate(res, u)
	if err != nil {
		t.Fatal(err)
	}
	// NAT gateways process 100 + 5 + 2 = 107 GB × $0.045 = $4.815
	nat := lineFor(t, e, compNAT, "NAT gateway data processing", "vpc")
	near(t, "NAT processing", nat.Monthly, 4.815)
	if nat.Assumption != "imagePullsGB 100 + appLogsGB 5 + otherNatGB 2" {
		t.Errorf("NAT assumption = %q", nat.Assumption)
	}
	// The services' logs: 5 GB × $0.50; flow logs: 10 GB × $0.50; Container Insights' events 1 GB × $0.50
	near(t, "app logs", lineFor(t, e, compCloudWatch, "log ingestion", "s-api").Monthly, 2.50)
	near(t, "flow logs", lineFor(t, e, compCloudWatch, "VPC flow logs (ALL)", "flows").Monthly, 5.00)
	near(t, "insights events", lineFor(t, e, compCloudWatch, "Container Insights performance", "cluster").Monthly, 0.50)
	// Container Insights metrics: 12 + 1 service × (15 + 10) = 37 × $0.30 = $11.10
	near(t, "insights metrics", lineFor(t, e, compCloudWatch, "Container Insights: 37 custom metrics", "cluster").Monthly, 11.10)
	// Enhanced Monitoring every 60 s: 2,628,000 / 60 = 43,800 events × 2 KB = 0.0876 GB × $0.50
	near(t, "enhanced monitoring", lineFor(t, e, compRDS, "Enhanced Monitoring every 60 s", "db").Monthly, 0.0438)
	// Backups: 40 GB + 2 GB × 14 days = 68 GB kept, 50 GB free: 18 GB × $0.095 = $1.71
	near(t, "backups", lineFor(t, e, compRDS, "backup storage beyond the free 50 GB: 68 GB", "db").Monthly, 1.71)
	// Snapshots: 5 kept, the first free: 4 × 3 GB × $0.085 = $1.02
	near(t, "snapshots", lineFor(t, e, compCache, "snapshots beyond the free one: 5 kept", "redis").Monthly, 1.02)

	// Without usage assumptions, none of the usage lines is priced (and EstimateCost says so).
	bare, err := estimate(res, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range bare.Lines {
		if l.Assumption != "" && !strings.HasPrefix(l.Item, "Enhanced Monitoring") {
			t.Errorf("a usage line without usage assumptions: %+v", l)
		}
	}
}

// A dev-like VPC behind a NAT instance pays no per-GB processing; backups within the free
// allowance and a single snapshot cost nothing.
func TestCostUsageFreeCases(t *testing.T) {
	u := &UsageAssumptions{ImagePullsGB: 55, DatabaseGB: 2, DatabaseChangeGBPerDay: 0.1, CacheDataGB: 1}
	e, err := estimate([]*mockengine.Resource{
		fake(typeVpc, "vpc", map[string]any{"availabilityZoneNames": []any{"a", "b"}, "natGateways": map[string]any{"strategy": "None"}}),
		fake(typeDBInstance, "db", map[string]any{"identifier": "db", "instanceClass": "db.t3.micro", "allocatedStorage": 20.0,
			"storageType": "gp3", "backupRetentionPeriod": 7.0}),
		fake(typeCacheGroup, "redis", map[string]any{"nodeType": "cache.t3.micro", "numCacheClusters": 1.0, "snapshotRetentionLimit": 0.0}),
	}, u)
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range e.Lines {
		if l.Component == compNAT || strings.HasPrefix(l.Item, "snapshots") {
			t.Errorf("no NAT gateway and no snapshot kept, yet %+v", l)
		}
	}
	near(t, "backups within the free allowance", lineFor(t, e, compRDS, "backup storage", "db").Monthly, 0)
}

// KMS keys at their second year's price; alarms by the metrics they query.
func TestCostKeysAndAlarmMetrics(t *testing.T) {
	e := mustEstimate(t,
		fake(typeKMSKey, "yearly", map[string]any{"enableKeyRotation": true}),
		fake(typeKMSKey, "quarterly", map[string]any{"enableKeyRotation": true, "rotationPeriodInDays": 90.0}),
		fake(typeAlarm, "plain", map[string]any{"metricName": "CPUUtilization"}),
		// A metric math alarm reading two metrics through one expression: two metrics billed.
		fake(typeAlarm, "math", map[string]any{"metricQueries": []any{
			map[string]any{"id": "a", "metric": map[string]any{"metricName": "RequestCount"}},
			map[string]any{"id": "b", "metric": map[string]any{"metricName": "HTTPCode_ELB_5XX_Count"}},
			map[string]any{"id": "rate", "expression": "100 * b / a", "returnData": true},
		}}),
	)
	// Yearly rotation: $1 and one rotation so far in year two = $2.
	near(t, "yearly key", lineFor(t, e, compKMS, "1 customer managed key(s) rotated yearly", "yearly").Monthly, 2)
	// Every 90 days: eight rotations by day 730, two billed at most = $3.
	near(t, "quarterly key", lineFor(t, e, compKMS, "1 customer managed key(s) rotated yearly", "quarterly").Monthly, 3)
	// 1 + 2 metrics × $0.10
	near(t, "alarms", lineFor(t, e, compCloudWatch, "2 metric alarm(s) evaluating 3 metric(s)", "plain").Monthly, 0.30)
}

// usage.yaml is read strictly: an unknown or misspelt key, a non-number or a negative figure is
// refused, naming the stack, the key and what is allowed.
func TestUsageFileIsStrict(t *testing.T) {
	_, err := parseUsage([]byte("dev:\n  imagePullGB: 5\n  appLogsGB: -1\n  flowLogsGB: lots\n"))
	if err == nil {
		t.Fatal("a bad usage file was accepted")
	}
	for _, want := range []string{
		`dev.imagePullGB: unknown key; did you mean "imagePullsGB"?`,
		`dev.flowLogsGB: "lots" is not a number`,
		`dev.imagePullsGB: missing; this key is required`,
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
	_, err = parseUsage([]byte("dev:\n  albLCUs: 0\n  wafRequestsMillions: 0\n  imagePullsGB: 1\n  appLogsGB: -1\n  otherNatGB: 0\n  flowLogsGB: 0\n  containerInsightsGB: 0\n  databaseGB: 0\n  databaseChangeGBPerDay: 0\n  cacheDataGB: 0\n"))
	if err == nil || !strings.Contains(err.Error(), "dev.appLogsGB: -1 is negative; want 0 or more") {
		t.Errorf("a negative figure: %v", err)
	}
	// The committed file holds every stack of the project.
	all, err := parseUsage(usageYAML)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range mockengine.Stacks(projectDir) {
		if all[name] == nil {
			t.Errorf("%s has no usage assumptions for stack %s", UsageFile, name)
		}
	}
}

// cost fails, exit 3, when a stack's estimate is over its budget, naming the budget's key and
// the biggest lines; cost --json prints the estimate for plan delta whatever the budget.
func TestCostOverBudget(t *testing.T) {
	dir := copyProject(t)
	editFile(t, dir, "Pulumi.dev.yaml", "monthlyUSD: 82", "monthlyUSD: 50")
	code, out, errOut := runPlan(t, "cost", "dev", "--dir", dir)
	if code != ExitOverBudget {
		t.Fatalf("exit %d, want %d; stderr %s", code, ExitOverBudget, errOut)
	}
	for _, want := range []string{
		"error: stack dev: the estimate at the desired counts, $",
		"is over taskmanager:budget.monthlyUSD ($50.00) by $",
		"the biggest lines: ALB Application Load Balancer $16.43; RDS db.t3.micro primary",
		"raise taskmanager:budget.monthlyUSD in Pulumi.dev.yaml",
	} {
		if !strings.Contains(errOut, want) {
			t.Errorf("stderr lacks %q:\n%s", want, errOut)
		}
	}
	if !strings.Contains(out, "Budget: $50.00 a month (taskmanager:budget.monthlyUSD)") {
		t.Errorf("the report does not state the budget:\n%s", out)
	}
	code, out, errOut = runPlan(t, "cost", "dev", "--json", "--dir", dir)
	if code != 0 {
		t.Fatalf("cost --json: exit %d: %s", code, errOut)
	}
	e, err := readJSON([]byte(out))
	if err != nil {
		t.Fatal(err)
	}
	want := estimated(t, "dev")
	if e.BudgetUSD != 50 || cents(e.Total) != cents(want.Total) || len(e.Lines) != len(want.Lines) || e.Lines[0].Key != want.Lines[0].Key {
		t.Errorf("cost --json: budget %v, total %v, %d lines; want 50, %v, %d lines", e.BudgetUSD, e.Total, len(e.Lines), want.Total, len(want.Lines))
	}
	var b bytes.Buffer
	if err := WriteJSON(&b, want); err != nil || !strings.Contains(b.String(), `"schema": 1`) {
		t.Errorf("WriteJSON: %v\n%s", err, b.String())
	}
}
