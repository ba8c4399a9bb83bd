package tests

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/taskmanager/taskmanager-infra/internal/mockengine"
	"github.com/taskmanager/taskmanager-infra/stacks"
)

// The spec's pool sizes fit each primary at the desired counts but not at the maximum counts:
// the plan warns, it does not fail.
func TestConnectionBudget(t *testing.T) {
	want := map[string]stacks.ConnectionBudget{
		// (2 + 2×2) × (10+5); (5 + 10×2) × 15; 1 GiB / 9531392 bytes
		"dev": {AtDesired: 90, AtMax: 375, MaxConnections: 112},
		// (3 + 5×4) × (20+10); (10 + 20×4) × 30; 8 GiB
		"staging": {AtDesired: 690, AtMax: 2700, MaxConnections: 901},
		// (5 + 10×4) × (50+20); (50 + 100×4) × 70; 32 GiB
		"production": {AtDesired: 3150, AtMax: 31500, MaxConnections: 3604},
	}
	for _, stack := range allStacks {
		cfg, err := stacks.Load(mockengine.WithExternalSecrets(loadStack(t, stack)))
		require.NoError(t, err)
		b := stacks.Budget(cfg)
		assert.Equal(t, want[stack], b, stack)
		assert.LessOrEqual(t, b.AtDesired, b.MaxConnections, "%s fits at its desired counts", stack)
	}
	cfg, err := stacks.Load(loadStack(t, "dev"))
	require.NoError(t, err)
	assert.Equal(t, "at maxCapacity the API and worker may open 375 database connections, above db.t3.micro's max_connections of about 112 (90 at desiredCount); "+
		"lower taskmanager:app.dbPoolSize/dbPoolMaxOverflow or the maximum counts, or put a connection pooler (RDS Proxy) in front",
		stacks.Budget(cfg).Warning(cfg.Database.InstanceClass))
}
