// Package spec is the spec's tables as data: spec.yaml, embedded and decoded here, is the one
// copy that the plan and the tests read. It holds what the spec asks for, independently of the
// stack files: the tests hold the stacks against it.
package spec

import (
	"bytes"
	_ "embed"
	"fmt"
	"maps"
	"strconv"
	"strings"
	"sync"

	"gopkg.in/yaml.v3"
)

//go:embed spec.yaml
var data []byte

// Spec is the whole file.
type Spec struct {
	// Environments are in the spec's order: development, staging, production.
	Environments []Environment `yaml:"environments"`
	// Matrix is the "Environment Comparison Matrix": feature → environment name → cell.
	Matrix map[string]map[string]string `yaml:"matrix"`
	// Common are the app's plain environment variables that every environment shares.
	Common map[string]string `yaml:"app_environment_common"`
}

// Environment is one environment of the spec.
type Environment struct {
	Name  string    `yaml:"name"`  // taskmanager:environment: development, staging, production
	Stack string    `yaml:"stack"` // the stack that deploys it: dev, staging, production
	Costs CostTable `yaml:"costs"`
	// TFVars is its terraform.tfvars, under the spec's names.
	TFVars TFVars `yaml:"tfvars"`
	// AppEnv is the app's plain environment variables of this environment only; see AppEnvironment.
	AppEnv map[string]string `yaml:"app_environment"`
	common map[string]string
}

// CostTable is an "Infrastructure Configuration" table, as the spec writes it.
type CostTable struct {
	Section string    `yaml:"section"` // where it is in the spec
	Rows    []CostRow `yaml:"rows"`
	Total   string    `yaml:"total"` // ~$77/month, ~$2,210-$5,450/month
}

// CostRow is one row: the component, its "Specification" and its "Cost/Month" (~$15, Free,
// ~$180-$1800).
type CostRow struct {
	Component     string `yaml:"component"`
	Specification string `yaml:"specification"`
	Cost          string `yaml:"cost"`
}

// TFVars are the values of an environment's terraform.tfvars.
type TFVars struct {
	Region            string   `yaml:"aws_region"`
	VpcCidr           string   `yaml:"vpc_cidr"`
	AvailabilityZones []string `yaml:"availability_zones"`

	DBInstanceClass        string `yaml:"db_instance_class"`
	DBAllocatedStorage     int    `yaml:"db_allocated_storage"`
	DBMaxAllocatedStorage  int    `yaml:"db_max_allocated_storage"`
	DBMultiAZ              bool   `yaml:"db_multi_az"`
	DBBackupRetentionDays  int    `yaml:"db_backup_retention_days"`
	DBDeletionProtection   bool   `yaml:"db_deletion_protection"`
	DBSkipFinalSnapshot    bool   `yaml:"db_skip_final_snapshot"`
	DBCreateReplica        bool   `yaml:"db_create_replica"`
	DBReplicaInstanceClass string `yaml:"db_replica_instance_class"`

	CacheNodeType          string `yaml:"cache_node_type"`
	CacheNumNodes          int    `yaml:"cache_num_nodes"`
	CacheAutomaticFailover bool   `yaml:"cache_automatic_failover"`

	APICPU             int `yaml:"api_cpu"`
	APIMemory          int `yaml:"api_memory"`
	APIDesiredCount    int `yaml:"api_desired_count"`
	APIMinCapacity     int `yaml:"api_min_capacity"`
	APIMaxCapacity     int `yaml:"api_max_capacity"`
	WorkerCPU          int `yaml:"worker_cpu"`
	WorkerMemory       int `yaml:"worker_memory"`
	WorkerDesiredCount int `yaml:"worker_desired_count"`
	WorkerMinCapacity  int `yaml:"worker_min_capacity"`
	WorkerMaxCapacity  int `yaml:"worker_max_capacity"`

	LogRetentionDays int    `yaml:"log_retention_days"`
	LogArchiveDays   int    `yaml:"log_archive_days"` // 0: no archive
	LogLevel         string `yaml:"log_level"`
	DomainName       string `yaml:"domain_name"`
}

// Service is an ECS service's size and counts from the tfvars.
type Service struct{ CPU, Memory, Desired, Min, Max int }

// Service returns the api's or the worker's size and counts.
func (v TFVars) Service(name string) (Service, bool) {
	switch name {
	case "api":
		return Service{v.APICPU, v.APIMemory, v.APIDesiredCount, v.APIMinCapacity, v.APIMaxCapacity}, true
	case "worker":
		return Service{v.WorkerCPU, v.WorkerMemory, v.WorkerDesiredCount, v.WorkerMinCapacity, v.WorkerMaxCapacity}, true
	}
	return Service{}, false
}

// AppEnvironment is every plain environment variable of the API and the worker.
func (e Environment) AppEnvironment() map[string]string {
	out := maps.Clone(e.common)
	maps.Copy(out, e.AppEnv)
	return out
}

// Row returns the cost table's row of a component.
func (t CostTable) Row(component string) (CostRow, bool) {
	for _, r := range t.Rows {
		if r.Component == component {
			return r, true
		}
	}
	return CostRow{}, false
}

// Range is a row's cost in dollars: low and high, equal unless the spec gives a range; Free is 0.
func (r CostRow) Range() (low, high float64) {
	low, high, _ = parseCost(r.Cost)
	return low, high
}

// Range is the table's total.
func (t CostTable) Range() (low, high float64) {
	low, high, _ = parseCost(t.Total)
	return low, high
}

// parseCost reads ~$15, Free, ~$180-$1800, ~$2,210-$5,450/month.
func parseCost(s string) (low, high float64, err error) {
	if s == "Free" {
		return 0, 0, nil
	}
	t := strings.NewReplacer("~", "", "$", "", ",", "", "/month", "").Replace(s)
	lo, hi, isRange := strings.Cut(t, "-")
	if !isRange {
		hi = lo
	}
	if low, err = strconv.ParseFloat(lo, 64); err == nil {
		high, err = strconv.ParseFloat(hi, 64)
	}
	if err != nil {
		return 0, 0, fmt.Errorf("cost %q: want ~$N, ~$N-$M or Free", s)
	}
	return low, high, nil
}

// ByName returns the environment of a name (taskmanager:environment).
func (s *Spec) ByName(name string) (Environment, bool) {
	for _, e := range s.Environments {
		if e.Name == name {
			return e, true
		}
	}
	return Environment{}, false
}

// ByStack returns the environment a stack deploys.
func (s *Spec) ByStack(stack string) (Environment, bool) {
	for _, e := range s.Environments {
		if e.Stack == stack {
			return e, true
		}
	}
	return Environment{}, false
}

var (
	loadOnce sync.Once
	loaded   *Spec
	loadErr  error
)

// Load returns the spec, decoded once. The file is embedded, so an error is a mistake in it
// (an unknown key, a cost that does not parse, rows that do not add up to the total), which
// every test reading it reports.
func Load() (*Spec, error) {
	loadOnce.Do(func() { loaded, loadErr = decode(data) })
	return loaded, loadErr
}

func decode(b []byte) (*Spec, error) {
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	var s Spec
	if err := dec.Decode(&s); err != nil {
		return nil, fmt.Errorf("internal/spec/spec.yaml: %w", err)
	}
	for i, e := range s.Environments {
		s.Environments[i].common = s.Common
		var lo, hi float64
		for _, r := range e.Costs.Rows {
			l, h, err := parseCost(r.Cost)
			if err != nil {
				return nil, fmt.Errorf("internal/spec/spec.yaml: %s, %s: %w", e.Name, r.Component, err)
			}
			lo, hi = lo+l, hi+h
		}
		tl, th, err := parseCost(e.Costs.Total)
		if err != nil {
			return nil, fmt.Errorf("internal/spec/spec.yaml: %s total: %w", e.Name, err)
		}
		if lo != tl || hi != th {
			return nil, fmt.Errorf("internal/spec/spec.yaml: %s: the cost rows add up to %v-%v, the total is %v-%v", e.Name, lo, hi, tl, th)
		}
	}
	return &s, nil
}
