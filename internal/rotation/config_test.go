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
				EnvKind: "database", EnvSecretARN: "arn:db", EnvMasterSecretARN: "arn:master",
				EnvReaderSecretARN: "arn:reader", EnvReaderHost: "replica.internal",
				EnvECSCluster: "tm-dev", EnvECSServices: " api , worker ,,",
				EnvCodeDeployApplication: " tm-prod-api ", EnvCodeDeployGroup: "tm-prod-api-group",
			},
			want: Config{
				Kind: KindDatabase, SecretARN: "arn:db", MasterSecretARN: "arn:master",
				ReaderSecretARN: "arn:reader", ReaderHost: "replica.internal",
				ECSCluster: "tm-dev", ECSServices: []string{"api", "worker"},
				CodeDeployApplication: "tm-prod-api", CodeDeployDeploymentGroup: "tm-prod-api-group",
			},
		},
		{
			name: "database minimal",
			env:  map[string]string{EnvKind: "database", EnvSecretARN: "arn:db", EnvMasterSecretARN: "arn:master"},
			want: Config{Kind: KindDatabase, SecretARN: "arn:db", MasterSecretARN: "arn:master"},
		},
		{
			name: "jwt needs no master secret",
			env:  map[string]string{EnvKind: "jwt", EnvECSCluster: "c", EnvECSServices: "api"},
			want: Config{Kind: KindJWT, ECSCluster: "c", ECSServices: []string{"api"}},
		},
		{name: "kind missing", env: map[string]string{}, wantErr: EnvKind},
		{name: "kind unknown", env: map[string]string{EnvKind: "oauth"}, wantErr: EnvKind},
		{name: "database without master", env: map[string]string{EnvKind: "database", EnvSecretARN: "s"}, wantErr: EnvMasterSecretARN},
		{
			name:    "database without its secret",
			env:     map[string]string{EnvKind: "database", EnvMasterSecretARN: "m"},
			wantErr: "environment variable " + EnvSecretARN + " is not set",
		},
		{
			name:    "reader secret without host",
			env:     map[string]string{EnvKind: "database", EnvSecretARN: "s", EnvMasterSecretARN: "m", EnvReaderSecretARN: "r"},
			wantErr: EnvReaderHost,
		},
		{
			name:    "codedeploy application without group",
			env:     map[string]string{EnvKind: "jwt", EnvCodeDeployApplication: "app"},
			wantErr: "environment variable " + EnvCodeDeployGroup + " is not set: required when " + EnvCodeDeployApplication + " is set",
		},
		{
			name:    "codedeploy group without application",
			env:     map[string]string{EnvKind: "database", EnvSecretARN: "s", EnvMasterSecretARN: "m", EnvCodeDeployGroup: "group"},
			wantErr: "environment variable " + EnvCodeDeployApplication + " is not set: required when " + EnvCodeDeployGroup + " is set",
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
