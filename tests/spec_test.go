package tests

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/taskmanager/taskmanager-infra/internal/mockengine"
	"github.com/taskmanager/taskmanager-infra/stacks"
)

// The spec's tables once more, independently of the stack files: a stack file that drifts from
// the spec fails here until this test is changed on purpose. (The per-resource tests check the
// same numbers on what the program registers.)
var specTables = map[string]struct {
	environment                string
	region                     string
	logRetention, archive      int // archive 0: none
	logLevel, domain           string
	backups                    int
	debug, emailVerify, rateOn bool
	jwtMinutes                 int
}{
	"dev":        {"development", "us-east-1", 7, 0, "DEBUG", "dev.taskmanager.internal", 7, true, false, false, 1440},
	"staging":    {"staging", "us-east-1", 30, 0, "INFO", "staging.taskmanager.com", 14, false, true, true, 15},
	"production": {"production", "us-east-1", 30, 365, "INFO", "taskmanager.com", 30, false, true, true, 15},
}

func TestStackFilesMatchTheSpecTables(t *testing.T) {
	for _, stack := range allStacks {
		t.Run(stack, func(t *testing.T) {
			want := specTables[stack]
			cfg, err := stacks.Load(mockengine.WithExternalSecrets(loadStack(t, stack)))
			require.NoError(t, err)
			assert.Equal(t, want.environment, cfg.Environment)
			assert.Equal(t, want.region, cfg.Region)
			assert.Equal(t, map[string]string{"Environment": want.environment, "Project": "taskmanager", "ManagedBy": "pulumi"}, cfg.Tags)
			assert.Equal(t, want.logRetention, cfg.Logging.RetentionDays)
			if want.archive == 0 {
				assert.Nil(t, cfg.Logging.ArchiveDays)
			} else {
				require.NotNil(t, cfg.Logging.ArchiveDays)
				assert.Equal(t, want.archive, *cfg.Logging.ArchiveDays)
			}
			assert.Equal(t, want.logLevel, cfg.Logging.Level)
			assert.Equal(t, want.domain, cfg.Edge.DomainName)
			assert.Equal(t, want.backups, cfg.Database.BackupRetentionDays)
			assert.Equal(t, want.debug, cfg.App.Debug)
			assert.Equal(t, want.emailVerify, cfg.App.Features.EmailVerification)
			assert.Equal(t, want.rateOn, cfg.App.Features.RateLimiting)
			assert.Equal(t, want.jwtMinutes, cfg.App.JWT.AccessTokenExpireMinutes)
			assert.Equal(t, stack != "dev", cfg.API.Autoscaling && cfg.Worker.Autoscaling, "matrix: auto scaling off in development only")
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
