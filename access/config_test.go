package main

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Each rule of the config, with its exact message: the program registers nothing and never
// panics. Every problem of a stack file is reported at once.
func TestBadConfig(t *testing.T) {
	cases := []struct {
		name   string
		change map[string]string // "" deletes the key
		want   []string
	}{
		{"unknown key", map[string]string{"taskmanager-access:roleNamePrefx": "x"},
			[]string{`taskmanager-access:roleNamePrefx: unknown key; did you mean "taskmanager-access:roleNamePrefix"?`}},
		{"missing key", map[string]string{"taskmanager-access:github": ""},
			[]string{"taskmanager-access:github: missing; this key is required"}},
		{"bad owner and repository", map[string]string{"taskmanager-access:github": `{"owner":"-x","repository":"a b"}`},
			[]string{`taskmanager-access:github.owner: "-x" is not a GitHub user or organisation; want letters, digits and hyphens, at most 39`,
				`taskmanager-access:github.repository: "a b" is not a repository name; want letters, digits, '.', '-' and '_', at most 100`}},
		{"unknown stack", map[string]string{"taskmanager-access:environments": `["dev","prod"]`},
			[]string{`taskmanager-access:environments[1]: "prod" is not a stack; want one of dev, staging, production`}},
		{"provider switch", map[string]string{"taskmanager-access:oidcProvider": "import"},
			[]string{`taskmanager-access:oidcProvider: "import" is not a choice; want "create" (make GitHub's OIDC provider here) or "adopt" (use the account's existing one)`}},
		{"prefix a deploy may write", map[string]string{"taskmanager-access:roleNamePrefix": "dev-ci"},
			[]string{`taskmanager-access:roleNamePrefix: "dev-ci" begins with "dev-", the prefix of the roles dev's deploy may write; want a prefix that names no stack, e.g. taskmanager-ci`}},
		{"prefix too long", map[string]string{"taskmanager-access:roleNamePrefix": "a-very-long-prefix-for-the-pipelines-roles-x"},
			[]string{`taskmanager-access:roleNamePrefix: "a-very-long-prefix-for-the-pipelines-roles-x" is too long: the longest role, "a-very-long-prefix-for-the-pipelines-roles-x-drift-manual-production", would exceed IAM's 64 characters; want at most 40 characters`}},
		{"reviewed environment without reviewers", map[string]string{"taskmanager-access:reviewers": `{"production":{"teams":[1]}}`},
			[]string{"taskmanager-access:reviewers.staging-data-refresh: missing; the GitHub environment staging-data-refresh waits for a reviewer: want teams and/or users (GitHub IDs), 1 to 6 in all"}},
		{"reviewers of an environment not here", map[string]string{"taskmanager-access:environments": `["dev","staging"]`},
			[]string{`taskmanager-access:reviewers.production: "production" is not a reviewed GitHub environment of this account; the reviewed ones are staging-data-refresh`}},
		{"too many reviewers, bad id", map[string]string{"taskmanager-access:reviewers": `{"production":{"teams":[1,2,3,4],"users":[5,6,0]},"staging-data-refresh":{"users":[7]}}`},
			[]string{"taskmanager-access:reviewers.production: 7 reviewers; GitHub allows at most 6 per environment",
				"taskmanager-access:reviewers.production.users[2]: 0 is not a GitHub ID; want a positive number"}},
		{"no release managers", map[string]string{"taskmanager-access:repository": `{"releaseManagerTeams":[]}`},
			[]string{"taskmanager-access:repository.releaseManagerTeams: empty; want the team IDs that may create version tags (v*)"}},
		{"bad region, wrong type", map[string]string{"aws:region": "moon-1", "taskmanager-access:environments": `"dev"`},
			[]string{`aws:region: "moon-1" is not an AWS region; want e.g. us-east-1`,
				`taskmanager-access:environments: "dev" is not a list`}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			values := exampleValues(t)
			for k, v := range c.change {
				if v == "" {
					delete(values, k)
				} else {
					values[k] = v
				}
			}
			rec, err := run(t, values)
			require.Error(t, err)
			for _, w := range c.want {
				assert.Contains(t, err.Error(), w)
			}
			assert.Empty(t, rec.Resources(), "bad config registers nothing")
		})
	}
}
