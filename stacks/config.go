package stacks

import (
	"encoding/json"
	"fmt"
	"maps"
	"net/netip"
	"os"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strings"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/taskmanager/taskmanager-infra/infra/bastion"
	"github.com/taskmanager/taskmanager-infra/infra/cache"
	"github.com/taskmanager/taskmanager-infra/infra/compute"
	"github.com/taskmanager/taskmanager-infra/infra/database"
	"github.com/taskmanager/taskmanager-infra/infra/edge"
	"github.com/taskmanager/taskmanager-infra/infra/network"
	"github.com/taskmanager/taskmanager-infra/infra/observability"
	"github.com/taskmanager/taskmanager-infra/infra/secrets"
	"github.com/taskmanager/taskmanager-infra/infra/storage"
	"github.com/taskmanager/taskmanager-infra/internal/awslimits"
	"github.com/taskmanager/taskmanager-infra/internal/configcheck"
)

// Namespace is the project's config namespace: its keys are taskmanager:<group>.
const Namespace = "taskmanager"

// Environments are the values of taskmanager:environment, the app's ENVIRONMENT.
var Environments = []string{"development", "staging", "production"}

// RequiredTags are the tags aws:defaultTags must put on every resource.
var RequiredTags = []string{"Environment", "Project", "ManagedBy"}

// Config is one environment: everything its stack file says, typed and validated.
type Config struct {
	// Stack is the stack's name (dev, staging, production): the <environment> of physical names.
	Stack string
	// Region is aws:region.
	Region string
	// Tags are aws:defaultTags.tags.
	Tags map[string]string

	Environment string                         // taskmanager:environment: ENVIRONMENT and the Environment tag
	Network     network.Config                 // taskmanager:network
	Database    database.Config                // taskmanager:database
	Cache       cache.Config                   // taskmanager:cache
	API         compute.APIConfig              // taskmanager:api
	Worker      compute.WorkerConfig           // taskmanager:worker
	App         compute.AppConfig              // taskmanager:app
	Logging     observability.LoggingConfig    // taskmanager:logging
	Edge        edge.Config                    // taskmanager:edge
	Secrets     secrets.Config                 // taskmanager:secrets
	Compute     compute.Config                 // taskmanager:compute
	Storage     storage.Config                 // taskmanager:storage
	Monitoring  observability.MonitoringConfig // taskmanager:monitoring
	Bastion     bastion.Config                 // taskmanager:bastion
	Budget      CostBudget                     // taskmanager:budget: read by the cost estimate only
	// External are the person-supplied secret values (taskmanager:externalSecrets, optional).
	External secrets.External
}

// group is one taskmanager:<key> of the stack file, decoded into target and checked by validate.
type group struct {
	key      string
	target   any
	validate func() error
}

func (c *Config) groups() []group {
	return []group{
		{"environment", &c.Environment, c.validateEnvironment},
		{"network", &c.Network, c.Network.Validate},
		{"database", &c.Database, c.Database.Validate},
		{"cache", &c.Cache, c.Cache.Validate},
		{"api", &c.API, c.API.Validate},
		{"worker", &c.Worker, c.Worker.Validate},
		{"app", &c.App, c.App.Validate},
		{"logging", &c.Logging, c.Logging.Validate},
		{"edge", &c.Edge, c.Edge.Validate},
		{"secrets", &c.Secrets, c.Secrets.Validate},
		{"compute", &c.Compute, c.Compute.Validate},
		{"storage", &c.Storage, c.Storage.Validate},
		{"monitoring", &c.Monitoring, c.Monitoring.Validate},
		{"bastion", &c.Bastion, c.Bastion.Validate},
		{"budget", &c.Budget, c.Budget.Validate},
	}
}

// Source is where config comes from: a stack's values by full key ("taskmanager:database"), as
// the Pulumi engine hands them to the program.
type Source struct {
	Stack  string
	Values map[string]string
	// SecretKeys are the keys whose values are secret.
	SecretKeys []string
}

// Load decodes and validates a stack's config. It reports every problem at once, each naming
// its stack-file key, the bad value and what is allowed.
func Load(src Source) (*Config, error) {
	c := &Config{Stack: src.Stack}
	var ps configcheck.Problems
	if !validStackName(src.Stack) {
		ps.Addf("stack name", "%q cannot name this environment's resources; want lower-case letters, digits and single hyphens, starting with a letter, at most %d characters (AWS's name limits after Pulumi's 8-character suffix)",
			src.Stack, MaxStackName)
	}

	var known []string
	for _, g := range c.groups() {
		known = append(known, g.key)
	}
	known = append(known, externalKey)
	for _, key := range slices.Sorted(maps.Keys(src.Values)) {
		ns, name, _ := strings.Cut(key, ":")
		if ns != Namespace || slices.Contains(known, name) {
			continue
		}
		if near, ok := configcheck.Closest(name, known); ok {
			ps.Addf(key, "unknown key; did you mean %q?", Namespace+":"+near)
		} else {
			ps.Addf(key, "unknown key; the project's keys are %s:%s", Namespace, strings.Join(known, ", "+Namespace+":"))
		}
	}

	c.loadAWS(src, &ps)

	// Decode every group first, then validate those that decoded: a rule that compares two
	// keys must not report a type error twice.
	decoded := map[string]bool{}
	for _, g := range c.groups() {
		key := Namespace + ":" + g.key
		raw, ok := src.Values[key]
		if !ok {
			ps.Addf(key, "missing; this key is required")
			continue
		}
		if err := configcheck.Decode(raw, g.target); err != nil {
			ps.Merge(key, err)
			continue
		}
		decoded[g.key] = true
	}
	for _, g := range c.groups() {
		if decoded[g.key] {
			ps.Merge(Namespace+":"+g.key, g.validate())
		}
	}
	c.loadExternal(src, &ps)
	if decoded["network"] && c.Region != "" {
		for i, az := range c.Network.AvailabilityZones {
			if !awslimits.AZInRegion(az, c.Region) {
				ps.Addf(fmt.Sprintf("%s:network.availabilityZones[%d]", Namespace, i),
					"%q is not an availability zone of aws:region %s; want %sa, %sb, ...", az, c.Region, c.Region, c.Region)
			}
		}
	}
	if decoded["compute"] && decoded["edge"] && c.Compute.APIDeployment == compute.BlueGreen && c.Edge.Internal {
		ps.Addf(Namespace+":compute.apiDeployment", "blueGreen needs an HTTPS load balancer with a test listener, and taskmanager:edge.internal is true; want rolling")
	}
	if decoded["database"] && decoded["app"] && c.Database.Proxy != nil && c.App.DBPoolRecycleSeconds > database.MaxAppPoolRecycleWithProxy {
		ps.Addf(Namespace+":app.dbPoolRecycleSeconds", "%d is too long with RDS Proxy (taskmanager:database.proxy), whose idle client timeout must stay above it by %d s and cannot exceed %d s; want at most %d",
			c.App.DBPoolRecycleSeconds, database.ProxyIdleMarginSeconds, database.MaxProxyIdleClientTimeout, database.MaxAppPoolRecycleWithProxy)
	}
	if decoded["network"] && decoded["bastion"] && c.Network.DataRefreshGroup && !c.Bastion.Enabled {
		ps.Addf(Namespace+":network.dataRefreshGroup", "true needs taskmanager:bastion.enabled, the data refresh's only way to its temporary copy; want the bastion enabled, or false")
	}
	if decoded["environment"] {
		if tag, ok := c.Tags["Environment"]; ok && tag != c.Environment {
			ps.Addf("aws:defaultTags.tags.Environment", "%q differs from taskmanager:environment %q; want the same value", tag, c.Environment)
		}
	}
	if err := ps.Err(); err != nil {
		return nil, err
	}
	return c, nil
}

func (c *Config) loadAWS(src Source, ps *configcheck.Problems) {
	c.Region = src.Values["aws:region"]
	if !awslimits.ValidRegion(c.Region) {
		ps.Addf("aws:region", "%q is not an AWS region; want e.g. us-east-1", c.Region)
		c.Region = ""
	}
	raw, ok := src.Values["aws:defaultTags"]
	if !ok {
		ps.Addf("aws:defaultTags", "missing; want tags: {%s} so that every resource is tagged", strings.Join(RequiredTags, ", "))
		return
	}
	var tags struct {
		Tags map[string]string `json:"tags"`
	}
	if err := configcheck.Decode(raw, &tags); err != nil {
		ps.Merge("aws:defaultTags", err)
		return
	}
	c.Tags = tags.Tags
	for _, t := range RequiredTags {
		if c.Tags[t] == "" {
			ps.Addf("aws:defaultTags.tags."+t, "missing; every resource must carry the tags %s", strings.Join(RequiredTags, ", "))
		}
	}
}

// externalKey holds the values only a person has, as Pulumi secrets.
const externalKey = "externalSecrets"

func (c *Config) loadExternal(src Source, ps *configcheck.Problems) {
	key := Namespace + ":" + externalKey
	raw, ok := src.Values[key]
	if ok {
		if !slices.Contains(src.SecretKeys, key) {
			// Say nothing of the value: it is meant to be secret.
			ps.Addf(key, "holds plain text; set each value with `pulumi config set --secret --path %s.<key> <value>`", key)
			return
		}
		if err := configcheck.Decode(raw, &c.External); err != nil {
			// The decoder quotes bad values; these are secrets, so name the keys only.
			for _, p := range configcheck.List(err) {
				ps.Addf(key+"."+p.Key, "is not allowed here; want one of the keys %s, each a string", strings.Join(secrets.ExternalKeys(), ", "))
			}
			return
		}
	}
	if c.Secrets.RequireExternal {
		for _, k := range c.External.Missing() {
			ps.Addf(key+"."+k, "missing; taskmanager:secrets.requireExternal is true, so set it with `pulumi config set --secret --path %s.%s <value>`", key, k)
		}
	}
}

func (c *Config) validateEnvironment() error {
	var ps configcheck.Problems
	if !slices.Contains(Environments, c.Environment) {
		ps.Addf("", "%q is not an environment; want %s", c.Environment, configcheck.OneOf(Environments))
	}
	return ps.Err()
}

// MaxStackName is the longest stack name whose derived names fit AWS's limits: the stack name
// starts the physical and logical names, and the tightest is a target group's 32 characters
// for "<stack>-green" plus Pulumi's 8-character auto-name suffix.
const MaxStackName = 18

var stackNamePattern = regexp.MustCompile(`^[a-z]([a-z0-9]|-[a-z0-9])*$`)

func validStackName(name string) bool {
	return len(name) <= MaxStackName && stackNamePattern.MatchString(name)
}

// IsProduction says whether the stack holds real customer data: its stateful resources are then
// protected from deletion.
func (c *Config) IsProduction() bool { return c.Environment == "production" }

// configKeysKey carries the stack's config to Deploy when the caller runs the program itself.
type configKeysKey struct{}

// WithSource hands Deploy the config values of an in-process run (the offline engine of mocks),
// which the Go SDK does not let a program list.
func WithSource(ctx *pulumi.Context, src Source) *pulumi.Context {
	return ctx.WithValue(configKeysKey{}, src)
}

// sourceOf returns the config the engine gave the program. The Go SDK reads one key at a time
// and cannot list keys, so an unknown key would pass unseen; the engine also hands the whole
// config to the program as JSON in PULUMI_CONFIG, which is read here instead.
func sourceOf(ctx *pulumi.Context) (Source, error) {
	if src, ok := ctx.Value(configKeysKey{}).(Source); ok {
		return src, nil
	}
	src := Source{Stack: ctx.Stack(), Values: map[string]string{}}
	if raw := os.Getenv(pulumi.EnvConfig); raw != "" {
		if err := json.Unmarshal([]byte(raw), &src.Values); err != nil {
			return src, fmt.Errorf("reading the stack's config from %s: %w", pulumi.EnvConfig, err)
		}
	}
	for key := range src.Values {
		if ctx.IsConfigSecret(key) {
			src.SecretKeys = append(src.SecretKeys, key)
		}
	}
	sort.Strings(src.SecretKeys)
	return src, nil
}

// OverlappingNetworks reports each pair of stacks whose VPC blocks overlap (by stack name): the
// environments must stay disjoint to be peered or reached over one VPN.
func OverlappingNetworks(blocks map[string]string) []string {
	names := slices.Sorted(maps.Keys(blocks))
	var out []string
	for i, a := range names {
		pa, err := netip.ParsePrefix(blocks[a])
		if err != nil {
			continue // Load reports a malformed block
		}
		for _, b := range names[i+1:] {
			pb, err := netip.ParsePrefix(blocks[b])
			if err == nil && pa.Overlaps(pb) {
				first, second := a, b
				if b < a {
					first, second = b, a
				}
				out = append(out, fmt.Sprintf("%s:network.vpcCidr: %q of stack %s overlaps %q of stack %s; want disjoint blocks",
					Namespace, blocks[second], second, blocks[first], first))
			}
		}
	}
	return out
}

// GroupType is one taskmanager:<key> of a stack file and the Go type its value decodes into: what
// the configuration reference (docs/configuration.md, internal/configdoc) is generated from.
type GroupType struct {
	Key    string
	Type   reflect.Type
	Secret bool // set with `pulumi config set --secret` only
}

// Groups are the stack file's taskmanager: keys, in the order Load reads them.
func Groups() []GroupType {
	var out []GroupType
	for _, g := range (&Config{}).groups() {
		out = append(out, GroupType{Key: g.key, Type: reflect.TypeOf(g.target).Elem()})
	}
	return append(out, GroupType{Key: externalKey, Type: reflect.TypeOf(secrets.External{}), Secret: true})
}
