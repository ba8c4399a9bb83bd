package tests

import (
	"strconv"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/taskmanager/taskmanager-infra/internal/mockengine"
	"github.com/taskmanager/taskmanager-infra/stacks"
)

// The stack files hold the spec's values (internal/spec/spec.yaml, written independently of
// them): a stack file that drifts from the spec fails here until one of the two is changed on
// purpose. (The per-resource tests check the same numbers on what the program registers.)
func TestStackFilesMatchTheSpecTables(t *testing.T) {
	for _, stack := range allStacks {
		t.Run(stack, func(t *testing.T) {
			want := specOf(t, stack)
			v, env := want.TFVars, want.AppEnvironment()
			cfg, err := stacks.Load(mockengine.WithExternalSecrets(loadStack(t, stack)))
			require.NoError(t, err)
			assert.Equal(t, want.Name, cfg.Environment)
			assert.Equal(t, v.Region, cfg.Region)
			assert.Equal(t, map[string]string{"Environment": want.Name, "Project": "taskmanager", "ManagedBy": "pulumi"}, cfg.Tags)
			assert.Equal(t, v.LogRetentionDays, cfg.Logging.RetentionDays)
			if v.LogArchiveDays == 0 {
				assert.Nil(t, cfg.Logging.ArchiveDays)
			} else {
				require.NotNil(t, cfg.Logging.ArchiveDays)
				assert.Equal(t, v.LogArchiveDays, *cfg.Logging.ArchiveDays)
			}
			assert.Equal(t, v.LogLevel, cfg.Logging.Level)
			assert.Equal(t, v.DomainName, cfg.Edge.DomainName)
			assert.Equal(t, v.DBBackupRetentionDays, cfg.Database.BackupRetentionDays)
			assert.Equal(t, env["DEBUG"] == "true", cfg.App.Debug)
			assert.Equal(t, env["ENABLE_EMAIL_VERIFICATION"] == "true", cfg.App.Features.EmailVerification)
			assert.Equal(t, env["ENABLE_RATE_LIMITING"] == "true", cfg.App.Features.RateLimiting)
			assert.Equal(t, env["JWT_ACCESS_TOKEN_EXPIRE_MINUTES"], strconv.Itoa(cfg.App.JWT.AccessTokenExpireMinutes))
			autoscaling := specMatrix(t, "Auto Scaling", stack) == "Enabled"
			assert.Equal(t, autoscaling, cfg.API.Autoscaling, "the spec's matrix: Auto Scaling")
			assert.Equal(t, autoscaling, cfg.Worker.Autoscaling, "the spec's matrix: Auto Scaling")
		})
	}
}

// The environments' networks must never overlap, so that they can be peered or reached over one
// VPN; this needs all three files at once, which no single `pulumi preview` sees.
func TestVPCBlocksDoNotOverlap(t *testing.T) {
	blocks := map[string]string{}
	for _, stack := range allStacks {
		cfg, err := stacks.Load(mockengine.WithExternalSecrets(loadStack(t, stack)))
		require.NoError(t, err)
		blocks[stack] = cfg.Network.VpcCidr
	}
	assert.Empty(t, stacks.OverlappingNetworks(blocks))

	blocks["staging"] = "10.1.128.0/17" // inside dev's 10.1.0.0/16
	assert.Equal(t, []string{`taskmanager:network.vpcCidr: "10.1.128.0/17" of stack staging overlaps "10.1.0.0/16" of stack dev; want disjoint blocks`},
		stacks.OverlappingNetworks(blocks))
}
