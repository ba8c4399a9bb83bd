package plan

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/taskmanager/taskmanager-infra/internal/mockengine"
)

// Type tokens the reports read.
const (
	typeVpc            = "awsx:ec2:Vpc"
	typeDBInstance     = "aws:rds/instance:Instance"
	typeCacheGroup     = "aws:elasticache/replicationGroup:ReplicationGroup"
	typeTaskDefinition = "aws:ecs/taskDefinition:TaskDefinition"
	typeService        = "aws:ecs/service:Service"
	typeScalingTarget  = "aws:appautoscaling/target:Target"
	typeLoadBalancer   = "aws:lb/loadBalancer:LoadBalancer"
	typeWebACL         = "aws:wafv2/webAcl:WebAcl"
	typeSecret         = "aws:secretsmanager/secret:Secret"
	typeKMSKey         = "aws:kms/key:Key"
	typeAlarm          = "aws:cloudwatch/metricAlarm:MetricAlarm"
	typeDashboard      = "aws:cloudwatch/dashboard:Dashboard"
	typeLogGroup       = "aws:cloudwatch/logGroup:LogGroup"
	typeLambda         = "aws:lambda/function:Function"
	typeEC2Instance    = "aws:ec2/instance:Instance"
	typeZone           = "aws:route53/zone:Zone"
	typeCluster        = "aws:ecs/cluster:Cluster"
	typeSNSTopic       = "aws:sns/topic:Topic"
	typeDeployGroup    = "aws:codedeploy/deploymentGroup:DeploymentGroup"
)

// ofType returns the resources of one type, in the given order.
func ofType(res []*mockengine.Resource, typ string) []*mockengine.Resource {
	var out []*mockengine.Resource
	for _, r := range res {
		if r.Type == typ {
			out = append(out, r)
		}
	}
	return out
}

// get walks a path of map keys and list indexes ("natGateways", "strategy"; "capacityProviderStrategies", 0).
func get(v any, path ...any) any {
	for _, p := range path {
		switch key := p.(type) {
		case string:
			m, ok := v.(map[string]any)
			if !ok {
				return nil
			}
			v = m[key]
		case int:
			l, ok := v.([]any)
			if !ok || key < 0 || key >= len(l) {
				return nil
			}
			v = l[key]
		default:
			return nil
		}
	}
	return v
}

// input returns one input of a resource by path.
func input(r *mockengine.Resource, path ...any) any { return get(r.Inputs, path...) }

// str reads a string input ("" when absent or not a string).
func str(r *mockengine.Resource, path ...any) string {
	s, _ := input(r, path...).(string)
	return s
}

// boolean reads a bool input (false when absent).
func boolean(r *mockengine.Resource, path ...any) bool {
	b, _ := input(r, path...).(bool)
	return b
}

// number reads a numeric input, whether the program passed a number or a numeric string (ECS
// task definitions take cpu and memory as strings). ok is false when absent or not numeric.
func number(r *mockengine.Resource, path ...any) (float64, bool) {
	switch v := input(r, path...).(type) {
	case float64:
		return v, true
	case int:
		return float64(v), true
	case string:
		f, err := strconv.ParseFloat(v, 64)
		return f, err == nil
	}
	return 0, false
}

// count reads the length of a list input.
func count(r *mockengine.Resource, path ...any) int {
	l, _ := input(r, path...).([]any)
	return len(l)
}

// shortType is a type token without the provider and the repeated kind:
// aws:rds/instance:Instance → rds/instance; others (awsx:ec2:Vpc, components) stay whole.
func shortType(typ string) string {
	if rest, ok := strings.CutPrefix(typ, "aws:"); ok {
		if mod, _, ok := strings.Cut(rest, ":"); ok {
			return mod
		}
	}
	return typ
}

// label names a resource in a report: short type and logical name.
func label(r *mockengine.Resource) string { return shortType(r.Type) + " " + r.Name }

// labels names several resources: each one when they are few, else by type with a count and
// the first and last names (the plan lists them all).
func labels(rs []*mockengine.Resource) string {
	if len(rs) <= 3 {
		var out []string
		for _, r := range rs {
			out = append(out, label(r))
		}
		return strings.Join(out, ", ")
	}
	byType := map[string][]*mockengine.Resource{}
	var types []string
	for _, r := range rs {
		if byType[r.Type] == nil {
			types = append(types, r.Type)
		}
		byType[r.Type] = append(byType[r.Type], r)
	}
	var out []string
	for _, t := range types {
		group := byType[t]
		if len(group) == 1 {
			out = append(out, label(group[0]))
			continue
		}
		out = append(out, fmt.Sprintf("%s × %d (%s … %s)", shortType(t), len(group), group[0].Name, group[len(group)-1].Name))
	}
	return strings.Join(out, ", ")
}

// service is an ECS service with what sizes it: its task definition and scaling bounds.
type service struct {
	Res       *mockengine.Resource
	Task      *mockengine.Resource // nil when it cannot be matched
	Name      string               // the ECS service name: api, worker
	VCPU      float64              // per task
	MemoryGB  float64              // per task
	Desired   int
	Min, Max  int    // the autoscaling bounds; both Desired when the service does not scale
	Scales    bool   // an Application Auto Scaling target exists for it
	Capacity  string // FARGATE or FARGATE_SPOT
	BlueGreen bool   // deployed by CodeDeploy
}

// counts are a service's task counts: × 2 (fixed), × 5 (5–50).
func (s service) counts() string {
	if s.Scales {
		return fmt.Sprintf("× %d (%d–%d)", s.Desired, s.Min, s.Max)
	}
	return fmt.Sprintf("× %d (fixed)", s.Desired)
}

// natGateways is how many NAT gateways a VPC has, by its awsx strategy (awsx's default is one
// per AZ); ok is false for a strategy not known here.
func natGateways(vpc *mockengine.Resource) (n int, strategy string, ok bool) {
	switch strategy = str(vpc, "natGateways", "strategy"); strategy {
	case "Single":
		return 1, strategy, true
	case "OnePerAz", "":
		return count(vpc, "availabilityZoneNames"), strategy, true
	case "None":
		return 0, strategy, true
	}
	return 0, strategy, false
}

// services returns the ECS services of a stack with their tasks' sizes and scaling bounds.
func services(res []*mockengine.Resource) ([]service, error) {
	tasks := ofType(res, typeTaskDefinition)
	targets := ofType(res, typeScalingTarget)
	var out []service
	for _, r := range ofType(res, typeService) {
		s := service{Res: r, Name: str(r, "name"), Capacity: str(r, "capacityProviderStrategies", 0, "capacityProvider")}
		if s.Capacity == "" {
			s.Capacity = str(r, "launchType")
		}
		if s.Capacity == "" {
			s.Capacity = "FARGATE"
		}
		s.BlueGreen = str(r, "deploymentController", "type") == "CODE_DEPLOY"
		desired, _ := number(r, "desiredCount")
		s.Desired = int(desired)
		s.Min, s.Max = s.Desired, s.Desired
		s.Task = taskOf(r, tasks)
		if s.Task == nil {
			return nil, fmt.Errorf("ECS service %s: no task definition matches its taskDefinition %q", r.Name, str(r, "taskDefinition"))
		}
		cpu, okCPU := number(s.Task, "cpu")
		mem, okMem := number(s.Task, "memory")
		if !okCPU || !okMem {
			return nil, fmt.Errorf("task definition %s: cpu %v and memory %v are not task-level sizes", s.Task.Name, input(s.Task, "cpu"), input(s.Task, "memory"))
		}
		s.VCPU, s.MemoryGB = cpu/1024, mem/1024
		for _, t := range targets {
			// Application Auto Scaling names an ECS service service/<cluster>/<service>.
			if str(t, "serviceNamespace") == "ecs" && strings.HasSuffix(str(t, "resourceId"), "/"+s.Name) {
				lo, _ := number(t, "minCapacity")
				hi, _ := number(t, "maxCapacity")
				s.Min, s.Max, s.Scales = int(lo), int(hi), true
			}
		}
		out = append(out, s)
	}
	return out, nil
}

// taskOf finds a service's task definition: the service holds its ARN, which ends in the task
// definition's name.
func taskOf(svc *mockengine.Resource, tasks []*mockengine.Resource) *mockengine.Resource {
	arn := str(svc, "taskDefinition")
	for _, t := range tasks {
		if arn != "" && strings.HasSuffix(arn, ":"+t.Name) {
			return t
		}
	}
	return nil
}

// containerEnv returns the plain environment variables of a task definition's first container.
func containerEnv(task *mockengine.Resource) (map[string]string, error) {
	defs, err := parseJSON(str(task, "containerDefinitions"))
	if err != nil {
		return nil, fmt.Errorf("task definition %s: containerDefinitions: %w", task.Name, err)
	}
	env := map[string]string{}
	for _, e := range asList(get(defs, 0, "environment")) {
		name, _ := get(e, "name").(string)
		value, _ := get(e, "value").(string)
		env[name] = value
	}
	return env, nil
}

func asList(v any) []any {
	l, _ := v.([]any)
	return l
}
