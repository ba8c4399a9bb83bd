package plan

import (
	"fmt"
	"math"

	"github.com/taskmanager/taskmanager-infra/internal/mockengine"
)

const typeFlowLog = "aws:ec2/flowLog:FlowLog"

// secondsPerMonth is HoursPerMonth in seconds.
const secondsPerMonth = HoursPerMonth * 3600

// priceInsights prices Container Insights where a cluster enables it: custom metrics by cluster,
// by service and by the task definition family each service runs.
func priceInsights(res []*mockengine.Resource, add adder) {
	svcs := len(ofType(res, typeService))
	for _, c := range ofType(res, typeCluster) {
		if !insightsOn(c) {
			continue
		}
		metrics := insightsClusterMetrics + (insightsServiceMetrics+insightsFamilyMetrics)*svcs
		add(Line{Component: compCloudWatch,
			Item: fmt.Sprintf("Container Insights: %d custom metrics (cluster %d, %d service(s) × %d, their task families × %d)",
				metrics, insightsClusterMetrics, svcs, insightsServiceMetrics, insightsFamilyMetrics),
			Resources: label(c), Quantity: float64(metrics), Unit: "metric-month", UnitPrice: customMetricMonth})
	}
}

func insightsOn(c *mockengine.Resource) bool {
	for _, s := range asList(input(c, "settings")) {
		if get(s, "name") == "containerInsights" && (get(s, "value") == "enabled" || get(s, "value") == "enhanced") {
			return true
		}
	}
	return false
}

// priceMonitoringLogs prices RDS Enhanced Monitoring: one event an interval per instance, ingested
// into CloudWatch Logs as vended logs.
func priceMonitoringLogs(res []*mockengine.Resource, add adder) {
	for _, r := range ofType(res, typeDBInstance) {
		interval, ok := number(r, "monitoringInterval")
		if !ok || interval <= 0 {
			continue
		}
		comp := compRDS
		if str(r, "replicateSourceDb") != "" {
			comp = compReplica
		}
		events := secondsPerMonth / interval
		add(Line{Component: comp, Item: fmt.Sprintf("Enhanced Monitoring every %.0f s: %s events ingested", interval, quantity(events)),
			Resources: label(r), Quantity: events * enhancedMonitoringEventKB / 1e6, Unit: "GB", UnitPrice: vendedLogsIngestedGB,
			Assumption: fmt.Sprintf("%s KB an event", trimFloat(enhancedMonitoringEventKB)), Key: label(r) + " | enhanced monitoring"})
	}
}

// priceUsage prices what traffic and data cost, from a stack's usage assumptions.
func priceUsage(res []*mockengine.Resource, u UsageAssumptions, add adder) {
	for _, r := range ofType(res, typeLoadBalancer) {
		add(Line{Component: compALB, Item: fmt.Sprintf("LCUs: %s on average", trimFloat(u.ALBLCUs)), Resources: label(r),
			Quantity: hours(u.ALBLCUs), Unit: "LCU-h", UnitPrice: albLCUHour, Assumption: "albLCUs " + trimFloat(u.ALBLCUs)})
	}
	for _, r := range ofType(res, typeWebACL) {
		add(Line{Component: compWAF, Item: fmt.Sprintf("requests: %s million a month", trimFloat(u.WAFRequestsMillions)), Resources: label(r),
			Quantity: u.WAFRequestsMillions, Unit: "million requests", UnitPrice: wafMillionRequests,
			Assumption: "wafRequestsMillions " + trimFloat(u.WAFRequestsMillions)})
	}
	for _, r := range ofType(res, typeVpc) {
		if n, _, _ := natGateways(r); n > 0 {
			add(Line{Component: compNAT, Item: "NAT gateway data processing (no VPC endpoints: image pulls, logs and secret reads cross it)",
				Resources: label(r), Quantity: u.NATGB(), Unit: "GB", UnitPrice: natGatewayGB,
				Assumption: fmt.Sprintf("imagePullsGB %s + appLogsGB %s + otherNatGB %s", trimFloat(u.ImagePullsGB), trimFloat(u.AppLogsGB), trimFloat(u.OtherNATGB)),
				Key:        label(r) + " | NAT GB"})
		}
	}
	if svcs := ofType(res, typeService); len(svcs) > 0 {
		add(Line{Component: compCloudWatch, Item: "log ingestion: the services' logs", Resources: labels(svcs),
			Quantity: u.AppLogsGB, Unit: "GB", UnitPrice: logsIngestedGB, Assumption: "appLogsGB " + trimFloat(u.AppLogsGB), Key: "app logs"})
	}
	for _, r := range ofType(res, typeFlowLog) {
		add(Line{Component: compCloudWatch, Item: fmt.Sprintf("VPC flow logs (%s) ingestion, vended logs", str(r, "trafficType")), Resources: label(r),
			Quantity: u.FlowLogsGB, Unit: "GB", UnitPrice: vendedLogsIngestedGB, Assumption: "flowLogsGB " + trimFloat(u.FlowLogsGB)})
	}
	for _, c := range ofType(res, typeCluster) {
		if insightsOn(c) {
			add(Line{Component: compCloudWatch, Item: "Container Insights performance log events ingestion", Resources: label(c),
				Quantity: u.ContainerInsightsGB, Unit: "GB", UnitPrice: logsIngestedGB,
				Assumption: "containerInsightsGB " + trimFloat(u.ContainerInsightsGB), Key: label(c) + " | insights GB"})
		}
	}
	for _, r := range ofType(res, typeDBInstance) {
		days, _ := number(r, "backupRetentionPeriod")
		if str(r, "replicateSourceDb") != "" || days <= 0 {
			continue
		}
		// A full copy and one increment a day kept; RDS gives backup storage up to the provisioned
		// storage free (the replica's storage is not counted towards it here: an upper bound).
		free, _ := number(r, "allocatedStorage")
		kept := u.DatabaseGB + u.DatabaseChangeGBPerDay*days
		add(Line{Component: compRDS, Item: fmt.Sprintf("backup storage beyond the free %s GB: %s GB kept over %.0f days", trimFloat(free), trimFloat(kept), days),
			Resources: label(r), Quantity: math.Max(0, kept-free), Unit: "GB-month", UnitPrice: rdsBackupGBMonth,
			Assumption: fmt.Sprintf("databaseGB %s + databaseChangeGBPerDay %s × %.0f days", trimFloat(u.DatabaseGB), trimFloat(u.DatabaseChangeGBPerDay), days),
			Key:        label(r) + " | backups"})
	}
	for _, r := range ofType(res, typeCacheGroup) {
		kept, _ := number(r, "snapshotRetentionLimit")
		if kept <= 0 {
			continue
		}
		// One snapshot per cluster is free; each further day kept is a snapshot of the data.
		add(Line{Component: compCache, Item: fmt.Sprintf("snapshots beyond the free one: %.0f kept", kept), Resources: label(r),
			Quantity: (kept - 1) * u.CacheDataGB, Unit: "GB-month", UnitPrice: elastiCacheSnapshotGBMon,
			Assumption: fmt.Sprintf("cacheDataGB %s × %.0f snapshots beyond the first", trimFloat(u.CacheDataGB), kept-1), Key: label(r) + " | snapshots"})
	}
}
