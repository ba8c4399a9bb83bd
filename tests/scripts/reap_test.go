package scripts_test

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// reapNow is the reaper's clock in these tests: 2026-12-04T18:00:00Z.
const reapNow = "1796407200"

// rdsInstances is `aws rds describe-db-instances --output json` with the refresh copy created at
// created ("" for none, "-" while it is being created).
func rdsInstances(created string) string {
	switch created {
	case "":
		return `{"DBInstances":[{"DBInstanceIdentifier":"staging-taskmanager-db","InstanceCreateTime":"2026-01-01T00:00:00.000000+00:00"}]}`
	case "-":
		return `{"DBInstances":[{"DBInstanceIdentifier":"staging-taskmanager-refresh"}]}`
	}
	return fmt.Sprintf(`{"DBInstances":[{"DBInstanceIdentifier":"staging-taskmanager-db","InstanceCreateTime":"2026-01-01T00:00:00.000000+00:00"},`+
		`{"DBInstanceIdentifier":"staging-taskmanager-refresh","InstanceCreateTime":%q}]}`, created)
}

func rdsSnapshots(created string) string {
	if created == "" {
		return `{"DBSnapshots":[]}`
	}
	return fmt.Sprintf(`{"DBSnapshots":[{"DBSnapshotIdentifier":"staging-taskmanager-refresh","SnapshotCreateTime":%q}]}`, created)
}

// A copy of production's data that a refresh left behind is deleted once older than a refresh can
// take, and the run fails (the alarm); a younger one, or one being created, is a refresh running:
// left alone. Only the refresh copy is ever deleted, never staging's database.
func TestReapRefreshCopies(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, instance, snapshot string
		code                     int
		deleted                  []string
		says                     string
	}{
		{"nothing left", "", "", 0, nil, "no copy of production's data left behind"},
		{"a running refresh", "2026-12-04T15:00:00.000000+00:00", "2026-12-04T14:30:00.000000+00:00", 0, nil, "a refresh may be running; left alone"},
		{"an instance being created", "-", "", 0, nil, "a refresh is running"},
		{"left behind", "2026-12-04T08:00:00.123000+00:00", "2026-12-04T07:40:00.000000+00:00", 3,
			[]string{"aws rds delete-db-instance --db-instance-identifier staging-taskmanager-refresh --skip-final-snapshot --delete-automated-backups",
				"aws rds delete-db-snapshot --db-snapshot-identifier staging-taskmanager-refresh"},
			"a data refresh left a copy of production's data behind"},
		{"only the snapshot left", "", "2026-12-03T07:40:00.000000+00:00", 3,
			[]string{"aws rds delete-db-snapshot --db-snapshot-identifier staging-taskmanager-refresh"}, "Deleting the snapshot staging-taskmanager-refresh, left behind 34h ago"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := newSandbox(t)
			s.env["REAP_NOW"] = reapNow
			s.on("aws rds describe-db-instances --output json", 0, rdsInstances(tc.instance))
			s.on("aws rds describe-db-snapshots --snapshot-type manual --output json", 0, rdsSnapshots(tc.snapshot))
			s.on("aws rds delete-db-instance *", 0, "staging-taskmanager-refresh")
			s.on("aws rds delete-db-snapshot *", 0, "staging-taskmanager-refresh")
			r := s.run("", "reap-refresh-copies.sh")
			require.Equal(t, tc.code, r.code, r.stderr)
			assert.Contains(t, r.stderr, tc.says)
			calls := s.calls()
			for _, d := range tc.deleted {
				requireSequence(t, calls, []string{d})
			}
			if tc.deleted == nil {
				requireNoCall(t, calls, "aws rds delete-")
			}
			requireNoCall(t, calls, "staging-taskmanager-db --")
		})
	}
	t.Run("a listing that fails is an error, nothing deleted", func(t *testing.T) {
		t.Parallel()
		s := newSandbox(t)
		s.on("aws rds describe-db-instances --output json", 255, "")
		r := s.run("", "reap-refresh-copies.sh")
		assert.Equal(t, 1, r.code)
		assert.Contains(t, r.stderr, "cannot list the RDS instances")
		requireNoCall(t, s.calls(), "aws rds delete-")
	})
}
