package tests

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/taskmanager/taskmanager-infra/internal/mockengine"
	"github.com/taskmanager/taskmanager-infra/stacks"
)

// The spec's pool sizes fit each primary at the desired counts but not at the maximum counts.
// Staging and production put RDS Proxy in front: only its ceiling (90% of max_connections)
// reaches the database, leaving room for the migration task, the bastion and the rotation, and
// nothing warns at maximum scale. Dev connects directly, and warns.
func TestConnectionBudget(t *testing.T) {
	want := map[string]stacks.ConnectionBudget{
		// (2 + 2×2) × (10+5); (5 + 10×2) × 15; 1 GiB / 9531392 bytes
		"dev": {AtDesired: 90, AtMax: 375, MaxConnections: 112},
		// (3 + 5×4) × (20+10); (10 + 20×4) × 30; 8 GiB; 90% of 901
		"staging": {AtDesired: 690, AtMax: 2700, MaxConnections: 901, ProxyCeiling: 810},
		// (5 + 10×4) × (50+20); (50 + 100×4) × 70; 32 GiB; 90% of 3604
		"production": {AtDesired: 3150, AtMax: 31500, MaxConnections: 3604, ProxyCeiling: 3243},
	}
	for _, stack := range allStacks {
		cfg, err := stacks.Load(mockengine.WithExternalSecrets(loadStack(t, stack)))
		require.NoError(t, err)
		b := stacks.Budget(cfg)
		assert.Equal(t, want[stack], b, stack)
		assert.LessOrEqual(t, b.AtDesired, b.MaxConnections, "%s fits at its desired counts", stack)
		if stack != "dev" {
			assert.Empty(t, b.Warning(cfg.Database.InstanceClass), "%s: no warning at maximum scale behind the proxy", stack)
			assert.GreaterOrEqual(t, b.MaxConnections-b.ProxyCeiling, 30, "%s keeps connections for migrations, the bastion and the rotation", stack)
		}
	}
	prod, err := stacks.Load(mockengine.WithExternalSecrets(loadStack(t, "production")))
	require.NoError(t, err)
	prod.Database.Proxy.MaxConnectionsPercent = 100
	assert.Equal(t, "RDS Proxy may open 3604 of db.r6g.xlarge's about 3604 connections, leaving 0 for the migration task, the bastion and the rotation function (want at least 30); "+
		"lower taskmanager:database.proxy.maxConnectionsPercent", stacks.Budget(prod).Warning(prod.Database.InstanceClass))
	cfg, err := stacks.Load(loadStack(t, "dev"))
	require.NoError(t, err)
	assert.Equal(t, "at maxCapacity the API and worker may open 375 database connections, above db.t3.micro's max_connections of about 112 (90 at desiredCount); "+
		"lower taskmanager:app.dbPoolSize/dbPoolMaxOverflow or the maximum counts, or put a connection pooler (RDS Proxy) in front",
		stacks.Budget(cfg).Warning(cfg.Database.InstanceClass))
}
