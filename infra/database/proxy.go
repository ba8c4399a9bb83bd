package database

import (
	"encoding/json"
	"fmt"

	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/iam"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/rds"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/secretsmanager"
	"github.com/pulumi/pulumi-random/sdk/v4/go/random"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/taskmanager/taskmanager-infra/internal/iampolicy"
	"github.com/taskmanager/taskmanager-infra/internal/naming"
)

// AppUsers are the app's two alternating logins (the rotation switches between them).
var AppUsers = []string{"taskmanager_app", "taskmanager_app_clone"}

// ProxyArgs are what the proxy needs besides the database's own args.
type ProxyArgs struct {
	SecurityGroupID    pulumi.StringInput
	RecoveryWindowDays int
	// AppPoolRecycleSeconds is the app's DB_POOL_RECYCLE: the proxy's idle client timeout is
	// derived from it (ProxyIdleClientTimeout).
	AppPoolRecycleSeconds int
}

// The proxy closes a client connection idle for longer than its idle client timeout (AWS allows
// 1 to 28,800 s). SQLAlchemy replaces a pooled connection older than pool_recycle when it is
// next checked out, and a connection idle that long is older still: so when the timeout is above
// the app's DB_POOL_RECYCLE, the pool always recycles a connection before the proxy drops it,
// and no query meets a connection closed under it after a quiet spell.
const (
	ProxyIdleMarginSeconds     = 300
	MaxProxyIdleClientTimeout  = 28800
	MaxAppPoolRecycleWithProxy = MaxProxyIdleClientTimeout - ProxyIdleMarginSeconds
)

// ProxyIdleClientTimeout is the proxy's idle client timeout for an app pool that recycles its
// connections after poolRecycleSeconds.
func ProxyIdleClientTimeout(poolRecycleSeconds int) int {
	return poolRecycleSeconds + ProxyIdleMarginSeconds
}

// newProxy puts RDS Proxy in front of the primary. A proxy authenticates its clients against
// secrets that each hold one login; the app's database-url holds only the login in use, so the
// proxy gets one secret per alternating user, which the rotation function keeps at that user's
// password: tasks still on the previous login keep connecting until they are redeployed.
func newProxy(ctx *pulumi.Context, name string, args *Args, d *Database, primary *rds.Instance, parent pulumi.ResourceOption) error {
	names := naming.For(args.Stack)
	cfg := args.Config.Proxy
	var secretArns []pulumi.StringInput
	d.LoginSecretArns = map[string]pulumi.StringOutput{}
	for _, user := range AppUsers {
		secret, err := secretsmanager.NewSecret(ctx, fmt.Sprintf("%s-login-%s", name, user), &secretsmanager.SecretArgs{
			Name:                 pulumi.String(names.Secret("database-login-" + user)),
			Description:          pulumi.Sprintf("RDS Proxy's login for %s; written by the rotation function", user),
			KmsKeyId:             args.KeyArn,
			RecoveryWindowInDays: pulumi.Int(args.Proxy.RecoveryWindowDays),
		}, parent, pulumi.Protect(args.Protect))
		if err != nil {
			return err
		}
		// A placeholder until the rotation function writes the real password (the bootstrap for
		// the first login, the first rotation for the other): a login nobody knows.
		placeholder, err := random.NewRandomPassword(ctx, fmt.Sprintf("%s-login-%s", name, user), &random.RandomPasswordArgs{
			Length: pulumi.Int(32), Special: pulumi.Bool(false),
		}, parent)
		if err != nil {
			return err
		}
		value := placeholder.Result.ApplyT(func(p string) (string, error) {
			b, err := json.Marshal(map[string]string{"username": user, "password": p})
			return string(b), err
		}).(pulumi.StringOutput)
		version, err := secretsmanager.NewSecretVersion(ctx, fmt.Sprintf("%s-login-%s", name, user), &secretsmanager.SecretVersionArgs{
			SecretId: secret.ID(), SecretString: pulumi.ToSecret(value).(pulumi.StringOutput),
		}, parent, pulumi.IgnoreChanges([]string{"secretString", "versionStages"}))
		if err != nil {
			return err
		}
		d.LoginSecretVersions = append(d.LoginSecretVersions, version)
		secretArns = append(secretArns, secret.Arn)
		d.LoginSecretArns[user] = secret.Arn
	}

	role, err := iam.NewRole(ctx, name+"-proxy", &iam.RoleArgs{
		Description:      pulumi.String("RDS Proxy reads the app's login secrets"),
		AssumeRolePolicy: iampolicy.AssumeRoleFor("rds.amazonaws.com", args.AccountID, fmt.Sprintf("arn:aws:rds:%s:%s:db-proxy:*", args.Region, args.AccountID)),
		InlinePolicies: iam.RoleInlinePolicyArray{iam.RoleInlinePolicyArgs{
			Name: pulumi.String("login-secrets"),
			Policy: iampolicy.Render(func(a []string) iampolicy.Document {
				return iampolicy.New(
					iampolicy.Allow([]string{"secretsmanager:GetSecretValue"}, a[1:]...),
					iampolicy.Statement{Effect: "Allow", Action: []string{"kms:Decrypt"}, Resource: []string{a[0]},
						Condition: map[string]any{"StringEquals": map[string]any{"kms:ViaService": fmt.Sprintf("secretsmanager.%s.amazonaws.com", args.Region)}}},
				)
			}, append([]pulumi.StringInput{args.KeyArn}, secretArns...)...),
		}},
	}, parent)
	if err != nil {
		return err
	}
	var auths rds.ProxyAuthArray
	for _, arn := range secretArns {
		auths = append(auths, rds.ProxyAuthArgs{
			AuthScheme: pulumi.String("SECRETS"), SecretArn: arn, IamAuth: pulumi.String("DISABLED"),
			ClientPasswordAuthType: pulumi.String("POSTGRES_SCRAM_SHA_256"),
		})
	}
	proxy, err := rds.NewProxy(ctx, name, &rds.ProxyArgs{
		// The name is the endpoint's first label: auto-naming would make it change on replacement.
		Name:                pulumi.String(names.Resource("proxy")),
		EngineFamily:        pulumi.String("POSTGRESQL"),
		RequireTls:          pulumi.Bool(true),
		RoleArn:             role.Arn,
		VpcSubnetIds:        args.SubnetIDs,
		VpcSecurityGroupIds: pulumi.StringArray{args.Proxy.SecurityGroupID},
		Auths:               auths,
		IdleClientTimeout:   pulumi.Int(ProxyIdleClientTimeout(args.Proxy.AppPoolRecycleSeconds)),
	}, parent, pulumi.DeleteBeforeReplace(true))
	if err != nil {
		return err
	}
	group, err := rds.NewProxyDefaultTargetGroup(ctx, name, &rds.ProxyDefaultTargetGroupArgs{
		DbProxyName: proxy.Name,
		ConnectionPoolConfig: rds.ProxyDefaultTargetGroupConnectionPoolConfigArgs{
			MaxConnectionsPercent:     pulumi.Int(cfg.MaxConnectionsPercent),
			MaxIdleConnectionsPercent: pulumi.Int(cfg.MaxConnectionsPercent / 2),
			ConnectionBorrowTimeout:   pulumi.Int(30),
		},
	}, parent)
	if err != nil {
		return err
	}
	if _, err := rds.NewProxyTarget(ctx, name, &rds.ProxyTargetArgs{
		DbProxyName:          proxy.Name,
		TargetGroupName:      group.Name,
		DbInstanceIdentifier: primary.Identifier,
	}, parent); err != nil {
		return err
	}
	d.ProxyEndpoint = proxy.Endpoint
	return nil
}
