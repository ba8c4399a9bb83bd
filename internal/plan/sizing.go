package plan

import (
	"fmt"
	"strings"

	"github.com/taskmanager/taskmanager-infra/internal/mockengine"
)

// sizing is the short description of a resource that a reviewer of a preview wants to see:
// the class, count, size or retention that costs money or matters for reliability. It is ""
// for resources with nothing to say.
func sizing(r *mockengine.Resource, svcs map[*mockengine.Resource]service) string {
	var parts []string
	addf := func(format string, args ...any) { parts = append(parts, fmt.Sprintf(format, args...)) }
	switch r.Type {
	case typeVpc:
		addf("%s over %d AZs", str(r, "cidrBlock"), count(r, "availabilityZoneNames"))
		addf("NAT: %s", natDescription(r))
	case typeDBInstance:
		addf("%s", str(r, "instanceClass"))
		if src := str(r, "replicateSourceDb"); src != "" {
			addf("read replica of %s", src)
		} else if boolean(r, "multiAz") {
			addf("Multi-AZ")
		} else {
			addf("Single-AZ")
		}
		if gb, ok := number(r, "allocatedStorage"); ok {
			s := fmt.Sprintf("%s %.0f GB", str(r, "storageType"), gb)
			if ceiling, ok := number(r, "maxAllocatedStorage"); ok && ceiling > gb {
				s += fmt.Sprintf(" (up to %.0f)", ceiling)
			}
			addf("%s", strings.TrimSpace(s))
		}
		if days, ok := number(r, "backupRetentionPeriod"); ok && days > 0 {
			addf("backups %.0f d", days)
		}
	case typeCacheGroup:
		addf("%s", cacheDescription(r))
	case typeTaskDefinition:
		cpu, _ := number(r, "cpu")
		mem, _ := number(r, "memory")
		addf("%s vCPU / %s GB", trimFloat(cpu/1024), trimFloat(mem/1024))
	case typeService:
		if s, ok := svcs[r]; ok {
			addf("%s vCPU / %s GB %s", trimFloat(s.VCPU), trimFloat(s.MemoryGB), s.counts())
			addf("%s", s.Capacity)
			if s.BlueGreen {
				addf("blue/green")
			} else {
				addf("rolling")
			}
		}
	case typeScalingTarget:
		lo, _ := number(r, "minCapacity")
		hi, _ := number(r, "maxCapacity")
		addf("%.0f–%.0f tasks", lo, hi)
	case typeLoadBalancer:
		if boolean(r, "internal") {
			addf("internal")
		} else {
			addf("internet-facing")
		}
		addf("%d subnets", count(r, "subnets"))
		if boolean(r, "enableDeletionProtection") {
			addf("deletion protection")
		}
	case typeWebACL:
		addf("%s, %d rules", str(r, "scope"), wafRules(r))
	case typeLogGroup:
		if days, ok := number(r, "retentionInDays"); ok {
			addf("retention %.0f d", days)
		}
	case typeSecret:
		addf("%s", str(r, "name"))
		if days, ok := number(r, "recoveryWindowInDays"); ok {
			addf("recovery %.0f d", days)
		}
	case typeKMSKey:
		if boolean(r, "enableKeyRotation") {
			addf("rotation on")
		}
		if days, ok := number(r, "deletionWindowInDays"); ok {
			addf("deletion window %.0f d", days)
		}
	case typeAlarm:
		threshold, _ := number(r, "threshold")
		metric := str(r, "metricName")
		if metric == "" {
			metric = "metric math" // metricQueries: an expression over several metrics
		}
		addf("%s %s %s", metric, comparison(str(r, "comparisonOperator")), trimFloat(threshold))
		if n := count(r, "alarmActions"); n > 0 {
			addf("%d action(s)", n)
		}
	case typeLambda:
		addf("%s %s", str(r, "runtime"), strings.Join(strs(input(r, "architectures")), ","))
	case typeEC2Instance:
		addf("%s", str(r, "instanceType"))
		if isNatInstance(r) {
			addf("NAT instance")
		}
	case typeCluster:
		for _, s := range asList(input(r, "settings")) {
			if get(s, "name") == "containerInsights" {
				addf("Container Insights %v", get(s, "value"))
			}
		}
	case typeDeployGroup:
		addf("%s", str(r, "deploymentConfigName"))
	case "aws:ecr/repository:Repository":
		addf("%s", str(r, "imageTagMutability"))
	}
	if r.Protect {
		parts = append(parts, "protected")
	}
	return strings.Join(parts, ", ")
}

// natDescription says how a VPC reaches the internet: 1 gateway (Single), 2 gateways (one per AZ),
// or no gateway (None: the stack's NAT instances, if any, are resources of their own).
func natDescription(vpc *mockengine.Resource) string {
	switch n, strategy, _ := natGateways(vpc); strategy {
	case "Single":
		return "1 gateway (Single)"
	case "None":
		return "no gateway"
	case "OnePerAz", "":
		return fmt.Sprintf("%d gateways (one per AZ)", n)
	default:
		return strategy
	}
}

// cacheDescription is a replication group's node type, count and resilience.
func cacheDescription(r *mockengine.Resource) string {
	nodes, _ := number(r, "numCacheClusters")
	s := fmt.Sprintf("%s × %.0f", str(r, "nodeType"), nodes)
	if boolean(r, "automaticFailoverEnabled") {
		s += ", failover"
	}
	if boolean(r, "multiAzEnabled") {
		s += ", Multi-AZ"
	}
	return s
}

func comparison(op string) string {
	switch op {
	case "GreaterThanThreshold":
		return ">"
	case "GreaterThanOrEqualToThreshold":
		return "≥"
	case "LessThanThreshold":
		return "<"
	case "LessThanOrEqualToThreshold":
		return "≤"
	}
	return op
}

func strs(v any) []string {
	var out []string
	for _, e := range asList(v) {
		if s, ok := e.(string); ok {
			out = append(out, s)
		}
	}
	return out
}

// isNatInstance says whether an EC2 instance forwards traffic (source/destination check off): a
// NAT instance.
func isNatInstance(r *mockengine.Resource) bool {
	v, set := input(r, "sourceDestCheck").(bool)
	return set && !v
}
