package rotation

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// dbEnv is the database kind's required configuration, plus extra.
func dbEnv(extra map[string]string) map[string]string {
	env := map[string]string{
		EnvKind: "database", EnvSecretARN: "arn:db", EnvMasterSecretARN: "arn:master", EnvMigrationsSecretARN: "arn:migrations",
		EnvDBHost: "tm.abc.us-east-1.rds.amazonaws.com", EnvDBPort: "5432", EnvDBName: "taskmanager",
	}
	for k, v := range extra {
		if v == "" {
			delete(env, k)
			continue
		}
		env[k] = v
	}
	return env
}

func TestLoadConfig(t *testing.T) {
	dbMinimal := Config{
		Kind: KindDatabase, SecretARN: "arn:db", MasterSecretARN: "arn:master", MigrationsSecretARN: "arn:migrations",
		DBHost: "tm.abc.us-east-1.rds.amazonaws.com", AppHost: "tm.abc.us-east-1.rds.amazonaws.com", DBPort: 5432, DBName: "taskmanager",
	}
	tests := []struct {
		name    string
		env     map[string]string
		want    Config
		wantErr string // substring; the variable the operator must fix
	}{
		{
			name: "database with reader and services",
			env: dbEnv(map[string]string{
				EnvReaderSecretARN: "arn:reader", EnvReaderHost: "replica.internal",
				EnvECSCluster: "tm-dev", EnvECSServices: " api , worker ,,",
				EnvCodeDeployApplication: " tm-prod-api ", EnvCodeDeployGroup: "tm-prod-api-group",
				EnvDBPort: " 6432 ",
			}),
			want: Config{
				Kind: KindDatabase, SecretARN: "arn:db", MasterSecretARN: "arn:master", MigrationsSecretARN: "arn:migrations",
				DBHost: "tm.abc.us-east-1.rds.amazonaws.com", AppHost: "tm.abc.us-east-1.rds.amazonaws.com", DBPort: 6432, DBName: "taskmanager",
				ReaderSecretARN: "arn:reader", ReaderHost: "replica.internal",
				ECSCluster: "tm-dev", ECSServices: []string{"api", "worker"},
				CodeDeployApplication: "tm-prod-api", CodeDeployDeploymentGroup: "tm-prod-api-group",
			},
		},
		{name: "database minimal", env: dbEnv(nil), want: dbMinimal},
		{
			name: "database with login secrets",
			env: dbEnv(map[string]string{
				// Either order, spaces around, and "=" in a secret's name.
				EnvLoginSecretARNs: " taskmanager_app_clone = arn:aws:secretsmanager:eu-west-1:1:secret:login-clone=x-AbC ,taskmanager_app=arn:aws:secretsmanager:eu-west-1:1:secret:login-app-DeF,",
			}),
			want: func() Config {
				c := dbMinimal
				c.LoginSecretARNs = map[string]string{
					AppUser:      "arn:aws:secretsmanager:eu-west-1:1:secret:login-app-DeF",
					AppCloneUser: "arn:aws:secretsmanager:eu-west-1:1:secret:login-clone=x-AbC",
				}
				return c
			}(),
		},
		{name: "login secrets blank", env: dbEnv(map[string]string{EnvLoginSecretARNs: "  "}), want: dbMinimal},
		{
			name:    "login secrets for an unknown user",
			env:     dbEnv(map[string]string{EnvLoginSecretARNs: "taskmanager_app=arn:a,taskmanager_migrations=arn:m"}),
			wantErr: `environment variable LOGIN_SECRET_ARNS: unknown user "taskmanager_migrations"`,
		},
		{
			name:    "login secrets with a user twice",
			env:     dbEnv(map[string]string{EnvLoginSecretARNs: "taskmanager_app=arn:a,taskmanager_app=arn:b"}),
			wantErr: `environment variable LOGIN_SECRET_ARNS: user "taskmanager_app" is given twice`,
		},
		{
			name:    "login secret for one user only",
			env:     dbEnv(map[string]string{EnvLoginSecretARNs: "taskmanager_app=arn:a"}),
			wantErr: `environment variable LOGIN_SECRET_ARNS: no login secret for "taskmanager_app_clone"`,
		},
		{
			name:    "login secret for the other user only",
			env:     dbEnv(map[string]string{EnvLoginSecretARNs: "taskmanager_app_clone=arn:c"}),
			wantErr: `environment variable LOGIN_SECRET_ARNS: no login secret for "taskmanager_app"`,
		},
		{
			name:    "login secrets: pair without =",
			env:     dbEnv(map[string]string{EnvLoginSecretARNs: "taskmanager_app=arn:a,arn:c"}),
			wantErr: `environment variable LOGIN_SECRET_ARNS: "arn:c" is not user=<secret ARN>`,
		},
		{
			name:    "login secrets: pair without ARN",
			env:     dbEnv(map[string]string{EnvLoginSecretARNs: "taskmanager_app=arn:a,taskmanager_app_clone="}),
			wantErr: `environment variable LOGIN_SECRET_ARNS: "taskmanager_app_clone=" is not user=<secret ARN>`,
		},
		{
			name:    "login secrets: pair without user",
			env:     dbEnv(map[string]string{EnvLoginSecretARNs: "=arn:a"}),
			wantErr: `environment variable LOGIN_SECRET_ARNS: "=arn:a" is not user=<secret ARN>`,
		},
		{
			name:    "login secrets: not an ARN",
			env:     dbEnv(map[string]string{EnvLoginSecretARNs: "taskmanager_app=arn:a,taskmanager_app_clone=taskmanager/prod/login"}),
			wantErr: `environment variable LOGIN_SECRET_ARNS: the secret of "taskmanager_app_clone", "taskmanager/prod/login", is not a secret ARN`,
		},
		{
			name:    "login secrets: one secret for both users",
			env:     dbEnv(map[string]string{EnvLoginSecretARNs: "taskmanager_app=arn:a,taskmanager_app_clone=arn:a"}),
			wantErr: `environment variable LOGIN_SECRET_ARNS: "taskmanager_app" and "taskmanager_app_clone" name the same secret`,
		},
		{
			name:    "login secret is the rotated secret",
			env:     dbEnv(map[string]string{EnvLoginSecretARNs: "taskmanager_app=arn:db,taskmanager_app_clone=arn:c"}),
			wantErr: `environment variable LOGIN_SECRET_ARNS: the login secret of "taskmanager_app" is SECRET_ARN's secret`,
		},
		{
			name: "login secret is the reader secret",
			env: dbEnv(map[string]string{
				EnvReaderSecretARN: "arn:reader", EnvReaderHost: "r",
				EnvLoginSecretARNs: "taskmanager_app=arn:a,taskmanager_app_clone=arn:reader",
			}),
			wantErr: `the login secret of "taskmanager_app_clone" is READER_SECRET_ARN's secret`,
		},
		{
			name:    "login secrets on the jwt function",
			env:     map[string]string{EnvKind: "jwt", EnvLoginSecretARNs: "taskmanager_app=arn:a,taskmanager_app_clone=arn:c"},
			wantErr: "environment variable LOGIN_SECRET_ARNS is set, but only ROTATION_KIND=database",
		},
		{
			name: "jwt needs no database settings",
			env:  map[string]string{EnvKind: "jwt", EnvECSCluster: "c", EnvECSServices: "api"},
			want: Config{Kind: KindJWT, ECSCluster: "c", ECSServices: []string{"api"}},
		},
		{name: "kind missing", env: map[string]string{}, wantErr: EnvKind},
		{name: "kind unknown", env: map[string]string{EnvKind: "oauth"}, wantErr: EnvKind},
		{name: "database without master", env: dbEnv(map[string]string{EnvMasterSecretARN: ""}), wantErr: EnvMasterSecretARN},
		{
			name:    "database without its secret",
			env:     dbEnv(map[string]string{EnvSecretARN: ""}),
			wantErr: "environment variable " + EnvSecretARN + " is not set",
		},
		{
			name:    "database without the migration secret",
			env:     dbEnv(map[string]string{EnvMigrationsSecretARN: ""}),
			wantErr: "environment variable " + EnvMigrationsSecretARN + " is not set: required when ROTATION_KIND=database",
		},
		{
			name:    "database without host",
			env:     dbEnv(map[string]string{EnvDBHost: ""}),
			wantErr: "environment variable " + EnvDBHost + " is not set: required when ROTATION_KIND=database",
		},
		{
			name:    "database without port",
			env:     dbEnv(map[string]string{EnvDBPort: ""}),
			wantErr: "environment variable " + EnvDBPort + " is not set: required when ROTATION_KIND=database",
		},
		{
			name:    "database without name",
			env:     dbEnv(map[string]string{EnvDBName: ""}),
			wantErr: "environment variable " + EnvDBName + " is not set: required when ROTATION_KIND=database",
		},
		{name: "port not a number", env: dbEnv(map[string]string{EnvDBPort: "5432/tcp"}), wantErr: `environment variable DB_PORT="5432/tcp": must be a port number`},
		{name: "port out of range", env: dbEnv(map[string]string{EnvDBPort: "70000"}), wantErr: `DB_PORT="70000"`},
		{name: "port zero", env: dbEnv(map[string]string{EnvDBPort: "0"}), wantErr: `DB_PORT="0"`},
		{
			name:    "reader secret without host",
			env:     dbEnv(map[string]string{EnvReaderSecretARN: "r"}),
			wantErr: EnvReaderHost,
		},
		{
			name:    "codedeploy application without group",
			env:     map[string]string{EnvKind: "jwt", EnvCodeDeployApplication: "app"},
			wantErr: "environment variable " + EnvCodeDeployGroup + " is not set: required when " + EnvCodeDeployApplication + " is set",
		},
		{
			name:    "codedeploy group without application",
			env:     dbEnv(map[string]string{EnvCodeDeployGroup: "group"}),
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
