package main

import (
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"regexp"
	"slices"
	"strings"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/taskmanager/taskmanager-infra/access/pipeline"
	"github.com/taskmanager/taskmanager-infra/internal/awslimits"
	"github.com/taskmanager/taskmanager-infra/internal/configcheck"
)

// Namespace is the access project's config namespace.
const Namespace = "taskmanager-access"

// Config is one AWS account's access stack: everything its stack file says, typed and validated.
type Config struct {
	// Stack is the access stack's name (one per AWS account).
	Stack string
	// Region is aws:region: where the roles' policies name regional resources.
	Region string

	// GitHub is taskmanager-access:github: the repository whose workflows assume the roles.
	GitHub GitHub
	// Environments is taskmanager-access:environments: the stacks (dev, staging, production) this
	// account hosts. Their roles and GitHub environments are made here (pipeline.Roles' and
	// pipeline.Environments' Stack), and nowhere else.
	Environments []string
	// OIDCProvider is taskmanager-access:oidcProvider: "create" GitHub's OIDC provider in this
	// account, or "adopt" the one that exists (it is account-wide: one per issuer URL).
	OIDCProvider string
	// RoleNamePrefix is taskmanager-access:roleNamePrefix: roles are <prefix>-<purpose>-<stack>.
	RoleNamePrefix string
	// Reviewers is taskmanager-access:reviewers: the required reviewers of each reviewed GitHub
	// environment made here, by GitHub environment name.
	Reviewers map[string]Reviewers
	// Repository is taskmanager-access:repository, set in exactly one access stack: it makes the
	// repository-wide settings (branch protection, the tag ruleset, the shared variables).
	Repository *Repository
}

// GitHub names the repository.
type GitHub struct {
	// Owner is the organisation or user owning the repository.
	Owner string `json:"owner"`
	// Repository is the repository's name.
	Repository string `json:"repository"`
}

// Reviewers are GitHub user and team IDs (numbers, which survive a rename:
// `gh api users/<login> --jq .id`, `gh api orgs/<org>/teams/<slug> --jq .id`).
type Reviewers struct {
	Teams []int `json:"teams,omitempty"`
	Users []int `json:"users,omitempty"`
}

// Repository is the repository-wide part.
type Repository struct {
	// ReleaseManagerTeams are the team IDs that may create, move or delete v* tags.
	ReleaseManagerTeams []int `json:"releaseManagerTeams"`
	// PulumiOrg, when set, becomes the repository variable PULUMI_ORG (the stacks' organisation).
	PulumiOrg string `json:"pulumiOrg,omitempty"`
}

// OIDC provider switch values.
const (
	CreateProvider = "create"
	AdoptProvider  = "adopt"
)

var (
	githubOwner = regexp.MustCompile(`^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})$`)
	githubRepo  = regexp.MustCompile(`^[A-Za-z0-9._-]{1,100}$`)
	iamName     = regexp.MustCompile(`^[A-Za-z0-9+=,.@_-]+$`)
)

// GitHub allows at most six required reviewers per environment.
const maxReviewers = 6

// IAM role names are at most 64 characters.
const maxRoleName = 64

// source is the config the engine hands the program.
type source struct {
	Stack  string
	Values map[string]string
}

// keys are the project's stack-file keys.
var keys = []string{"environments", "github", "oidcProvider", "repository", "reviewers", "roleNamePrefix"}

// load decodes and validates an access stack's config, every problem at once, each naming its
// stack-file key, the bad value and what is allowed.
func load(src source) (*Config, error) {
	c := &Config{Stack: src.Stack, Region: src.Values["aws:region"]}
	var ps configcheck.Problems
	if !awslimits.ValidRegion(c.Region) {
		ps.Addf("aws:region", "%q is not an AWS region; want e.g. us-east-1", c.Region)
	}
	for _, key := range slices.Sorted(maps.Keys(src.Values)) {
		ns, name, _ := strings.Cut(key, ":")
		if ns != Namespace || slices.Contains(keys, name) {
			continue
		}
		if near, ok := configcheck.Closest(name, keys); ok {
			ps.Addf(key, "unknown key; did you mean %q?", Namespace+":"+near)
		} else {
			ps.Addf(key, "unknown key; the project's keys are %s:%s", Namespace, strings.Join(keys, ", "+Namespace+":"))
		}
	}
	decode := func(name string, into any, required bool) bool {
		key := Namespace + ":" + name
		raw, ok := src.Values[key]
		if !ok {
			if required {
				ps.Addf(key, "missing; this key is required")
			}
			return false
		}
		if err := configcheck.Decode(raw, into); err != nil {
			ps.Merge(key, err)
			return false
		}
		return true
	}
	if decode("github", &c.GitHub, true) {
		c.validateGitHub(&ps)
	}
	envsOK := decode("environments", &c.Environments, true) && c.validateEnvironments(&ps)
	if decode("oidcProvider", &c.OIDCProvider, true) && c.OIDCProvider != CreateProvider && c.OIDCProvider != AdoptProvider {
		ps.Addf(Namespace+":oidcProvider", "%q is not a choice; want %q (make GitHub's OIDC provider here) or %q (use the account's existing one)",
			c.OIDCProvider, CreateProvider, AdoptProvider)
	}
	if decode("roleNamePrefix", &c.RoleNamePrefix, true) {
		c.validatePrefix(&ps)
	}
	reviewersOK := decode("reviewers", &c.Reviewers, false)
	if envsOK && (reviewersOK || src.Values[Namespace+":reviewers"] == "") {
		c.validateReviewers(&ps)
	}
	var repo Repository
	if decode("repository", &repo, false) {
		c.Repository = &repo
		c.validateRepository(&ps)
	}
	if err := ps.Err(); err != nil {
		return nil, err
	}
	return c, nil
}

func (c *Config) validateGitHub(ps *configcheck.Problems) {
	key := Namespace + ":github"
	if !githubOwner.MatchString(c.GitHub.Owner) {
		ps.Addf(key+".owner", "%q is not a GitHub user or organisation; want letters, digits and hyphens, at most 39", c.GitHub.Owner)
	}
	if !githubRepo.MatchString(c.GitHub.Repository) || c.GitHub.Repository == "." || c.GitHub.Repository == ".." {
		ps.Addf(key+".repository", "%q is not a repository name; want letters, digits, '.', '-' and '_', at most 100", c.GitHub.Repository)
	}
}

func (c *Config) validateEnvironments(ps *configcheck.Problems) bool {
	key := Namespace + ":environments"
	if len(c.Environments) == 0 {
		ps.Addf(key, "empty; want the stacks this account hosts, some of %s", strings.Join(pipeline.Stacks, ", "))
		return false
	}
	ok := true
	for i, e := range c.Environments {
		if !slices.Contains(pipeline.Stacks, e) {
			ps.Addf(fmt.Sprintf("%s[%d]", key, i), "%q is not a stack; want %s", e, configcheck.OneOf(pipeline.Stacks))
			ok = false
		} else if slices.Index(c.Environments, e) != i {
			ps.Addf(fmt.Sprintf("%s[%d]", key, i), "%q is listed twice", e)
			ok = false
		}
	}
	return ok
}

func (c *Config) validatePrefix(ps *configcheck.Problems) {
	key := Namespace + ":roleNamePrefix"
	longest := 0
	for _, r := range pipeline.Roles {
		longest = max(longest, len(r.Name("")))
	}
	switch {
	case !iamName.MatchString(c.RoleNamePrefix):
		ps.Addf(key, "%q cannot begin an IAM role name; want letters, digits and +=,.@_-", c.RoleNamePrefix)
	case len(c.RoleNamePrefix)+longest > maxRoleName:
		ps.Addf(key, "%q is too long: the longest role, %q, would exceed IAM's %d characters; want at most %d characters",
			c.RoleNamePrefix, c.RoleNamePrefix+longestName(), maxRoleName, maxRoleName-longest)
	}
	// A deploy role may write IAM roles named <stack>-*: the pipeline's own roles must be outside.
	for _, s := range pipeline.Stacks {
		if strings.HasPrefix(c.RoleNamePrefix+"-", s+"-") {
			ps.Addf(key, "%q begins with %q, the prefix of the roles %s's deploy may write; want a prefix that names no stack, e.g. taskmanager-ci",
				c.RoleNamePrefix, s+"-", s)
		}
	}
}

func longestName() string {
	longest := ""
	for _, r := range pipeline.Roles {
		if n := r.Name(""); len(n) > len(longest) {
			longest = n
		}
	}
	return longest
}

// hosted are the GitHub environments this account makes.
func (c *Config) hosted() []pipeline.Environment {
	var out []pipeline.Environment
	for _, e := range pipeline.Environments {
		if slices.Contains(c.Environments, e.Stack) {
			out = append(out, e)
		}
	}
	return out
}

// roles are the roles this account hosts.
func (c *Config) roles() []pipeline.Role {
	var out []pipeline.Role
	for _, r := range pipeline.Roles {
		if slices.Contains(c.Environments, r.Stack) {
			out = append(out, r)
		}
	}
	return out
}

func (c *Config) validateReviewers(ps *configcheck.Problems) {
	key := Namespace + ":reviewers"
	var reviewed []string
	for _, e := range c.hosted() {
		if e.Reviewed {
			reviewed = append(reviewed, e.Name)
		}
	}
	for _, name := range slices.Sorted(maps.Keys(c.Reviewers)) {
		if !slices.Contains(reviewed, name) {
			allowed := "none in this account"
			if len(reviewed) > 0 {
				allowed = strings.Join(reviewed, ", ")
			}
			ps.Addf(key+"."+name, "%q is not a reviewed GitHub environment of this account; the reviewed ones are %s", name, allowed)
		}
	}
	for _, name := range reviewed {
		r, ok := c.Reviewers[name]
		n := len(r.Teams) + len(r.Users)
		switch {
		case !ok || n == 0:
			ps.Addf(key+"."+name, "missing; the GitHub environment %s waits for a reviewer: want teams and/or users (GitHub IDs), 1 to %d in all", name, maxReviewers)
		case n > maxReviewers:
			ps.Addf(key+"."+name, "%d reviewers; GitHub allows at most %d per environment", n, maxReviewers)
		}
		checkIDs(ps, key+"."+name+".teams", r.Teams)
		checkIDs(ps, key+"."+name+".users", r.Users)
	}
}

func (c *Config) validateRepository(ps *configcheck.Problems) {
	key := Namespace + ":repository"
	if len(c.Repository.ReleaseManagerTeams) == 0 {
		ps.Addf(key+".releaseManagerTeams", "empty; want the team IDs that may create version tags (v*)")
	}
	checkIDs(ps, key+".releaseManagerTeams", c.Repository.ReleaseManagerTeams)
	if o := c.Repository.PulumiOrg; o != "" && !githubOwner.MatchString(o) {
		ps.Addf(key+".pulumiOrg", "%q is not a Pulumi organisation name; want letters, digits and hyphens", o)
	}
}

func checkIDs(ps *configcheck.Problems, key string, ids []int) {
	for i, id := range ids {
		if id <= 0 {
			ps.Addf(fmt.Sprintf("%s[%d]", key, i), "%d is not a GitHub ID; want a positive number", id)
		}
	}
}

// sourceKey carries the config of an in-process run (the tests' mocks) to deploy.
type sourceKey struct{}

func withSource(ctx *pulumi.Context, src source) *pulumi.Context {
	return ctx.WithValue(sourceKey{}, src)
}

// sourceOf returns the config the engine gave the program. The Go SDK reads one key at a time and
// cannot list keys, so an unknown key would pass unseen; the engine also hands the whole config
// as JSON in PULUMI_CONFIG, which is read instead (as stacks.sourceOf does for the environments).
func sourceOf(ctx *pulumi.Context) (source, error) {
	if src, ok := ctx.Value(sourceKey{}).(source); ok {
		return src, nil
	}
	src := source{Stack: ctx.Stack(), Values: map[string]string{}}
	if raw := os.Getenv(pulumi.EnvConfig); raw != "" {
		if err := json.Unmarshal([]byte(raw), &src.Values); err != nil {
			return src, fmt.Errorf("reading the stack's config from %s: %w", pulumi.EnvConfig, err)
		}
	}
	return src, nil
}
