package tests

import (
	"encoding/json"
	"fmt"
	"sort"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/taskmanager/taskmanager-infra/internal/mockengine"
)

func secretArn(stack, name string) string {
	return fmt.Sprintf("arn:aws:secretsmanager:us-east-1:%s:secret:%s-%s-AbCdEf", mockengine.Account, stack, name)
}

// TestRotationAsTheSpecSays: database credentials every 30 days, the JWT key every 90, OAuth by
// hand (no rotation), in every environment.
func TestRotationAsTheSpecSays(t *testing.T) {
	for _, stack := range allStacks {
		t.Run(stack, func(t *testing.T) {
			rec := runStack(t, stack)
			rotations := map[string]*mockengine.Resource{}
			for _, r := range rec.All("aws:secretsmanager/secretRotation:SecretRotation") {
				rotations[r.Inputs["secretId"].(string)] = r
			}
			require.Len(t, rotations, 2, "only the database login and the JWT key rotate; OAuth is manual")
			db := rotations[secretArn(stack, "database-url")]
			require.NotNil(t, db)
			assert.Equal(t, map[string]any{"automaticallyAfterDays": 30.0}, db.Inputs["rotationRules"])
			assert.Equal(t, true, db.Inputs["rotateImmediately"], "the first rotation runs at deploy time, after the bootstrap")
			jwt := rotations[secretArn(stack, "jwt-secret")]
			require.NotNil(t, jwt)
			assert.Equal(t, map[string]any{"automaticallyAfterDays": 90.0}, jwt.Inputs["rotationRules"])

			fn := one(t, rec, "aws:lambda/function:Function", stack+"-rotate-database")
			assert.Equal(t, stack+"-taskmanager-rotate-database", fn.Inputs["name"])
			assert.Equal(t, "provided.al2023", fn.Inputs["runtime"])
			env := fn.Inputs["environment"].(map[string]any)["variables"].(map[string]any)
			assert.Equal(t, "database", env["ROTATION_KIND"])
			assert.Equal(t, stack+"-taskmanager", env["ECS_CLUSTER"])
			assert.Equal(t, "api,worker", env["ECS_SERVICES"])
			assert.Equal(t, secretArn(stack, "database-reader-url"), env["READER_SECRET_ARN"])
			vpc := fn.Inputs["vpcConfig"].(map[string]any)
			assert.Equal(t, []any{stack + "-rotation-id"}, vpc["securityGroupIds"])
			assert.Equal(t, []any{"subnet-" + stack + "-private-0", "subnet-" + stack + "-private-1"}, vpc["subnetIds"])

			for _, name := range []string{"database-url", "database-reader-url", "jwt-secret"} {
				v := one(t, rec, "aws:secretsmanager/secretVersion:SecretVersion", stack+"-"+name)
				assert.ElementsMatch(t, []string{"secretString", "versionStages"}, v.IgnoreChanges,
					"%s: the rotation owns the value and AWSCURRENT after the first version", name)
			}
			perm := one(t, rec, "aws:lambda/permission:Permission", stack+"-rotate-database")
			assert.Equal(t, "secretsmanager.amazonaws.com", perm.Inputs["principal"])
			assert.Equal(t, secretArn(stack, "database-url"), perm.Inputs["sourceArn"])
		})
	}
}

func TestRotationFunctionsReachOnlyTheirOwnSecrets(t *testing.T) {
	rec := runStack(t, "staging")
	var doc struct {
		Statement []struct {
			Action   []string
			Resource []string
		}
	}
	policy := one(t, rec, "aws:iam/rolePolicy:RolePolicy", "staging-rotate-database")
	require.NoError(t, json.Unmarshal([]byte(policy.Inputs["policy"].(string)), &doc))
	actions := policyResources(t, policy.Inputs["policy"].(string))
	master := fmt.Sprintf("arn:aws:secretsmanager:us-east-1:%s:secret:rds!db-staging-AbCdEf", mockengine.Account)
	// It writes the secret it rotates, the reader secret and RDS Proxy's login secrets it keeps
	// in step...
	written := []string{secretArn("staging", "database-reader-url"), secretArn("staging", "database-url"),
		secretArn("staging", "login-taskmanager_app"), secretArn("staging", "login-taskmanager_app_clone")}
	assert.Equal(t, written, actions["secretsmanager:PutSecretValue"])
	assert.Equal(t, written, actions["secretsmanager:UpdateSecretVersionStage"])
	// ...and only reads RDS's master secret and the migration login's.
	read := append([]string{master, secretArn("staging", "migrations-database-url")}, written...)
	sort.Strings(read)
	assert.Equal(t, read, actions["secretsmanager:GetSecretValue"])
	assert.Equal(t, []string{keyArn("staging")}, actions["kms:Decrypt"])
	assert.Equal(t, []string{
		"arn:aws:ecs:us-east-1:123456789012:service/staging-taskmanager/api",
		"arn:aws:ecs:us-east-1:123456789012:service/staging-taskmanager/worker",
	}, actions["ecs:UpdateService"])
	for _, s := range doc.Statement {
		for _, a := range s.Action {
			assert.NotEqual(t, "*", a)
			if s.Resource[0] == "*" {
				assert.Contains(t, []string{"secretsmanager:GetRandomPassword", "ec2:DescribeNetworkInterfaces"}, a,
					"only actions without resources may name * (the network-interface actions are scoped to the VPC)")
			}
		}
	}
}

// The database function connects where its own configuration says, never where the secret it
// rotates says: whoever may write that secret cannot point the master login elsewhere.
func TestRotationConnectsWhereItsConfigurationSays(t *testing.T) {
	for _, stack := range allStacks {
		rec := runStack(t, stack)
		env := functionEnv(one(t, rec, "aws:lambda/function:Function", stack+"-rotate-database"))
		db := one(t, rec, "aws:rds/instance:Instance", stack)
		assert.Equal(t, stack+".abc123.us-east-1.rds.amazonaws.com", env["DB_HOST"], stack)
		assert.Equal(t, fmt.Sprint(db.Inputs["port"]), env["DB_PORT"], stack)
		assert.Equal(t, db.Inputs["dbName"], env["DB_NAME"], stack)
		assert.Equal(t, secretArn(stack, "migrations-database-url"), env["MIGRATIONS_SECRET_ARN"], stack)
	}
}
