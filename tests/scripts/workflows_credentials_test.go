package scripts_test

import (
	"fmt"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"
)

// STS's limits on a web-identity session (AssumeRoleWithWebIdentity's DurationSeconds).
const (
	minSessionSeconds = 900
	maxSessionSeconds = 43200 // and no longer than the role's own maximum session duration
)

// A job that holds AWS credentials holds them for its whole timeout: credentials that expire inside
// `pulumi up` leave the stack half-applied with pending operations, and a rollback after it has no
// credentials either. configure-aws-credentials' default session is one hour, so every step that
// assumes a role asks for at least the job's timeout, within what STS allows.
func TestCredentialsOutlastTheirJobs(t *testing.T) {
	steps := 0
	for _, file := range sortedKeys(loadWorkflows(t)) {
		w := loadWorkflows(t)[file]
		for _, id := range sortedKeys(w.jobs) {
			j := w.jobs[id]
			var limits struct {
				TimeoutMinutes int `yaml:"timeout-minutes"`
			}
			require.NoError(t, yaml.Unmarshal([]byte(j.text), &limits))
			for _, s := range j.Steps {
				if !strings.HasPrefix(s.Uses, "aws-actions/configure-aws-credentials@") {
					continue
				}
				steps++
				where := fmt.Sprintf("%s, step %q", j.key(), s.Name)
				if !assert.NotZero(t, limits.TimeoutMinutes, "%s: a job that holds AWS credentials sets timeout-minutes", where) {
					continue
				}
				raw, ok := s.With["role-duration-seconds"]
				if !assert.True(t, ok, "%s: role-duration-seconds is missing (the default is one hour; the job may run %d minutes)", where, limits.TimeoutMinutes) {
					continue
				}
				seconds, err := strconv.Atoi(fmt.Sprint(raw))
				require.NoError(t, err, "%s: role-duration-seconds %v is not a number of seconds", where, raw)
				assert.GreaterOrEqual(t, seconds, limits.TimeoutMinutes*60, "%s: the credentials expire before the job's timeout", where)
				assert.GreaterOrEqual(t, seconds, minSessionSeconds, "%s: STS refuses sessions under 15 minutes", where)
				assert.LessOrEqual(t, seconds, maxSessionSeconds, "%s: STS refuses sessions over 12 hours", where)
			}
		}
	}
	assert.GreaterOrEqual(t, steps, 5, "the deploy, preview, drift, refresh and release jobs assume roles")
}
