package rotation

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestLoadConfig(t *testing.T) {
	tests := []struct {
		name    string
		env     map[string]string
		want    Config
		wantErr string // substring; the variable the operator must fix
	}{
		{
			name: "database with reader and services",
			env: map[string]string{
				EnvKind: "database", EnvMasterSecretARN: "arn:master",
				EnvReaderSecretARN: "arn:reader", EnvReaderHost: "replica.internal",
				EnvECSCluster: "tm-dev", EnvECSServices: " api , worker ,,",
			},
			want: Config{
				Kind: KindDatabase, MasterSecretARN: "arn:master",
				ReaderSecretARN: "arn:reader", ReaderHost: "replica.internal",
				ECSCluster: "tm-dev", ECSServices: []string{"api", "worker"},
			},
		},
		{
			name: "database minimal",
			env:  map[string]string{EnvKind: "database", EnvMasterSecretARN: "arn:master"},
			want: Config{Kind: KindDatabase, MasterSecretARN: "arn:master"},
		},
		{
			name: "jwt needs no master secret",
			env:  map[string]string{EnvKind: "jwt", EnvECSCluster: "c", EnvECSServices: "api"},
			want: Config{Kind: KindJWT, ECSCluster: "c", ECSServices: []string{"api"}},
		},
		{name: "kind missing", env: map[string]string{}, wantErr: EnvKind},
		{name: "kind unknown", env: map[string]string{EnvKind: "oauth"}, wantErr: EnvKind},
		{name: "database without master", env: map[string]string{EnvKind: "database"}, wantErr: EnvMasterSecretARN},
		{
			name:    "reader secret without host",
			env:     map[string]string{EnvKind: "database", EnvMasterSecretARN: "m", EnvReaderSecretARN: "r"},
			wantErr: EnvReaderHost,
		},
		{
			name:    "cluster without services",
			env:     map[string]string{EnvKind: "jwt", EnvECSCluster: "c", EnvECSServices: " , "},
			wantErr: EnvECSServices,
		},
		{
			name:    "services without cluster",
			env:     map[string]string{EnvKind: "jwt", EnvECSServices: "api"},
			wantErr: EnvECSCluster,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := LoadConfig(func(k string) string { return tt.env[k] })
			if tt.wantErr != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tt.wantErr)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
}
