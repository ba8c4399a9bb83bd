package main

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/taskmanager/taskmanager-infra/access/permissions"
)

// refreshReads are the data-reading actions a resource type's refresh calls (the AWS provider's
// Read), for the types where one could meet the drift role's denies.
var refreshReads = map[string]string{
	"aws:secretsmanager/secretVersion:SecretVersion": "secretsmanager:GetSecretValue",
	"aws:lambda/function:Function":                   "lambda:GetFunction",
	"aws:ssm/parameter:Parameter":                    "ssm:GetParameters",
	"aws:s3/bucketObjectv2:BucketObjectv2":           "s3:GetObject",
	"aws:s3/bucketObject:BucketObject":               "s3:GetObject",
	"aws:cognito/user:User":                          "cognito-idp:AdminGetUser",
	"aws:cognito/userPoolClient:UserPoolClient":      "cognito-idp:DescribeUserPoolClient",
}

// Issue 18, item 2: the drift check can refresh every resource of every stack (tests/testdata/
// <stack>.urns) with its describe-only role, except those whose refresh reads a value the role is
// denied, and those scripts/report-drift.sh leaves out of the check (NOT_REFRESHED) and counts as
// not checked. A new resource type that the deny would break fails here, not in the nightly run.
func TestDriftCanRefreshEveryStack(t *testing.T) {
	script, err := os.ReadFile("../scripts/report-drift.sh")
	require.NoError(t, err)
	var notRefreshed string
	for _, line := range strings.Split(string(script), "\n") {
		if v, ok := strings.CutPrefix(line, "NOT_REFRESHED="); ok {
			notRefreshed = v
		}
	}
	require.NotEmpty(t, notRefreshed, "scripts/report-drift.sh has no NOT_REFRESHED")
	denied := permissions.DataReads()
	paths, err := filepath.Glob("../tests/testdata/*.urns")
	require.NoError(t, err)
	require.NotEmpty(t, paths)
	excluded := map[string]bool{}
	for _, path := range paths {
		b, err := os.ReadFile(path)
		require.NoError(t, err)
		for _, urn := range strings.Split(strings.TrimSpace(string(b)), "\n") {
			parts := strings.Split(urn, "::")
			if len(parts) < 4 {
				continue
			}
			types := strings.Split(parts[2], "$")
			typ := types[len(types)-1]
			action, reads := refreshReads[typ]
			if !reads || !slices.Contains(denied, action) {
				continue
			}
			assert.Contains(t, notRefreshed, `"`+typ+`"`, "%s: refreshing %s calls %s, which the drift role is denied, and report-drift.sh does not leave it out", filepath.Base(path), typ, action)
			excluded[typ] = true
		}
	}
	assert.True(t, excluded["aws:secretsmanager/secretVersion:SecretVersion"], "the secret versions are left out")
	assert.True(t, excluded["aws:cognito/userPoolClient:UserPoolClient"], "the sign-in's client, whose description holds its secret, is left out")
	assert.NotContains(t, denied, "lambda:GetFunction", "refreshing a function calls it")
}
