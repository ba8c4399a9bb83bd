package secrets

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/iam"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/lambda"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/secretsmanager"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/taskmanager/taskmanager-infra/internal/gofunction"
	"github.com/taskmanager/taskmanager-infra/internal/iampolicy"
)

const rotationType = "taskmanager:secrets:Rotation"

// RotationCode is the rotation function's build (scripts/build-lambdas.sh makes it from
// cmd/rotation-lambda): the code ships with the program, nothing is downloaded at deploy time.
const RotationCode = "./build/rotation"

// RotationArgs configures the rotation of the generated secrets.
type RotationArgs struct {
	Stack, Region, AccountID string
	KeyArn                   pulumi.StringInput
	// SubnetIDs (private) and SecurityGroupID put the database rotation where it reaches
	// PostgreSQL, and Secrets Manager and ECS through the NAT.
	SubnetIDs       pulumi.StringArrayInput
	SecurityGroupID pulumi.StringInput
	// VpcID is the VPC of those subnets: the function's network interfaces are managed there only.
	VpcID            pulumi.StringInput
	LogRetentionDays int
	// Database rotation: the app's login secret, the reader secret it rewrites, the replica's
	// address, RDS's master secret it connects with to change passwords (read only), and the
	// migration login's secret, whose login the bootstrap creates (read only).
	DatabaseSecretArn, ReaderSecretArn, MasterSecretArn, MigrationsSecretArn pulumi.StringInput
	ReaderHost                                                               pulumi.StringInput
	// Database is where the function connects: from its own configuration, never from the
	// secret it rotates (which anyone who can write that secret could point elsewhere).
	Database DatabaseEndpoint
	// AppHost is the host the app's database-url names (RDS Proxy's endpoint where there is one).
	AppHost pulumi.StringInput
	// LoginSecretArns are RDS Proxy's login secrets by user (nil without a proxy): the function
	// keeps each at its user's password.
	LoginSecretArns map[string]pulumi.StringOutput
	DatabaseDays    int
	// JWT rotation (0 days: manual).
	JWTSecretArn pulumi.StringInput
	JWTDays      int
	// Cluster and Services are redeployed after a rotation so that tasks take the new values.
	Cluster  string
	Services []string
	// BlueGreen, when set, names the CodeDeploy deployment that redeploys the one service ECS
	// cannot force-redeploy (its deployment controller is CODE_DEPLOY).
	BlueGreen *BlueGreenRedeploy
	// DatabaseID changes when the database instance is replaced: the first login is then created
	// again in the new instance.
	DatabaseID pulumi.StringInput
	// BootstrapAfter must exist before the bootstrap runs: the secrets' first values it reads,
	// and the security group rules that let it reach the database and Secrets Manager.
	BootstrapAfter []pulumi.Resource
}

// BlueGreenRedeploy is the CodeDeploy application and deployment group of a blue/green service.
type BlueGreenRedeploy struct {
	Application, DeploymentGroup string
}

// Rotation is the functions that rotate the database login (alternating users) and the JWT key.
type Rotation struct {
	pulumi.ResourceState
	// Bootstrap is the deploy-time invocation that creates the app's first database login, with
	// the password of database-url's first value: whatever reads that secret waits for it.
	Bootstrap pulumi.Resource
	// FunctionNames are the rotation functions by kind (database, jwt), whose errors page.
	FunctionNames map[string]pulumi.StringOutput
	roles         []*iam.Role
	schedules     []schedule
}

// schedule is a rotation waiting for Schedule: what it rotates, with which function, and what
// must exist first.
type schedule struct {
	name        string
	secretArn   pulumi.StringInput
	functionArn pulumi.StringInput
	days        int
	immediately bool
	after       []pulumi.Resource
}

// rotator is one rotation function and the secret it rotates.
type rotator struct {
	kind        string // ROTATION_KIND
	secretArn   pulumi.StringInput
	days        int
	inVPC       bool
	immediately bool
	bootstrap   bool // invoked at deploy time to create the first login
	env         pulumi.StringMap
	writable    []pulumi.StringInput // further secrets it writes
	readable    []pulumi.StringInput // secrets it only reads
}

// NewRotation creates the rotation functions and schedules.
func NewRotation(ctx *pulumi.Context, name string, args *RotationArgs, opts ...pulumi.ResourceOption) (*Rotation, error) {
	r := &Rotation{FunctionNames: map[string]pulumi.StringOutput{}}
	if err := ctx.RegisterComponentResource(rotationType, name, r, opts...); err != nil {
		return nil, err
	}
	redeploy := pulumi.StringMap{
		"ECS_CLUSTER":  pulumi.String(args.Cluster),
		"ECS_SERVICES": pulumi.String(strings.Join(args.Services, ",")),
	}
	if bg := args.BlueGreen; bg != nil {
		redeploy["CODEDEPLOY_APPLICATION"] = pulumi.String(bg.Application)
		redeploy["CODEDEPLOY_DEPLOYMENT_GROUP"] = pulumi.String(bg.DeploymentGroup)
	}
	rotators := []rotator{{
		kind: "database", secretArn: args.DatabaseSecretArn, days: args.DatabaseDays, inVPC: true,
		// The bootstrap has created the first login: the first rotation, at deploy time, creates
		// the second and proves the whole cycle works while someone is watching.
		immediately: true, bootstrap: true,
		env: pulumi.StringMap{
			"MASTER_SECRET_ARN":     args.MasterSecretArn,
			"MIGRATIONS_SECRET_ARN": args.MigrationsSecretArn,
			"READER_SECRET_ARN":     args.ReaderSecretArn,
			"READER_HOST":           args.ReaderHost,
			"DB_HOST":               args.Database.Host,
			"DB_PORT":               pulumi.String(strconv.Itoa(args.Database.Port)),
			"DB_NAME":               pulumi.String(args.Database.Name),
			"APP_HOST":              args.AppHost,
		},
		writable: append([]pulumi.StringInput{args.ReaderSecretArn}, loginArns(args.LoginSecretArns)...),
		readable: []pulumi.StringInput{args.MasterSecretArn, args.MigrationsSecretArn},
	}}
	if len(args.LoginSecretArns) > 0 {
		var pairs []pulumi.StringInput
		for _, user := range slices.Sorted(maps.Keys(args.LoginSecretArns)) {
			pairs = append(pairs, pulumi.Sprintf("%s=%s", user, args.LoginSecretArns[user]))
		}
		rotators[0].env["LOGIN_SECRET_ARNS"] = pulumi.All(toAny(pairs)...).ApplyT(func(v []any) string {
			out := make([]string, len(v))
			for i, p := range v {
				out[i] = p.(string)
			}
			return strings.Join(out, ",")
		}).(pulumi.StringOutput)
	}
	if args.JWTDays > 0 {
		rotators = append(rotators, rotator{kind: "jwt", secretArn: args.JWTSecretArn, days: args.JWTDays, env: pulumi.StringMap{}})
	}
	for _, rot := range rotators {
		for k, v := range redeploy {
			rot.env[k] = v
		}
		rot.env["ROTATION_KIND"] = pulumi.String(rot.kind)
		rot.env["SECRET_ARN"] = rot.secretArn
		if err := newRotator(ctx, name, args, r, rot, pulumi.Parent(r)); err != nil {
			return nil, err
		}
	}
	names := pulumi.StringMap{}
	for k, n := range r.FunctionNames {
		names[k] = n
	}
	return r, ctx.RegisterResourceOutputs(r, pulumi.Map{"functionNames": names})
}

// AllowPassingRoles lets the rotation functions start a CodeDeploy deployment of a task
// definition with these roles (its execution and task roles): CodeDeploy checks that the caller
// may pass them. It is a policy of its own because the roles exist only once the services'
// task definitions do, after the bootstrap they wait for.
func (r *Rotation) AllowPassingRoles(ctx *pulumi.Context, name string, roleArns []pulumi.StringOutput) ([]pulumi.Resource, error) {
	arns := make([]pulumi.StringInput, len(roleArns))
	for i, a := range roleArns {
		arns[i] = a
	}
	policy := iampolicy.Render(func(a []string) iampolicy.Document {
		return iampolicy.New(iampolicy.Statement{
			Effect: "Allow", Action: []string{"iam:PassRole"}, Resource: a,
			Condition: map[string]any{"StringEquals": map[string]any{"iam:PassedToService": "ecs-tasks.amazonaws.com"}},
		})
	}, arns...)
	var policies []pulumi.Resource
	for i, role := range r.roles {
		p, err := iam.NewRolePolicy(ctx, fmt.Sprintf("%s-pass-task-roles-%d", name, i), &iam.RolePolicyArgs{
			Role: role.Name, Policy: policy,
		}, pulumi.Parent(r))
		if err != nil {
			return nil, err
		}
		policies = append(policies, p)
	}
	return policies, nil
}

func newRotator(ctx *pulumi.Context, name string, args *RotationArgs, r *Rotation, rot rotator, parent pulumi.ResourceOption) error {
	base := fmt.Sprintf("%s-rotate-%s", name, rot.kind)
	services := make([]string, len(args.Services))
	for i, s := range args.Services {
		services[i] = fmt.Sprintf("arn:aws:ecs:%s:%s:service/%s/%s", args.Region, args.AccountID, args.Cluster, s)
	}
	var network *lambda.FunctionVpcConfigArgs
	if rot.inVPC {
		network = &lambda.FunctionVpcConfigArgs{
			SubnetIds:        args.SubnetIDs,
			SecurityGroupIds: pulumi.StringArray{args.SecurityGroupID},
		}
	}
	description := pulumi.Sprintf("Rotates taskmanager/%s secrets (%s)", args.Stack, rot.kind)
	fn, err := gofunction.New(ctx, base, gofunction.Args{
		Stack:            args.Stack,
		Name:             []string{"rotate", rot.kind},
		Description:      description,
		RoleDescription:  description,
		Code:             RotationCode,
		LogRetentionDays: args.LogRetentionDays,
		KeyArn:           args.KeyArn,
		Inputs:           append(append([]pulumi.StringInput{rot.secretArn, args.KeyArn, args.VpcID}, rot.writable...), rot.readable...),
		Policy: func(a []string) []iampolicy.Statement {
			secret, key, vpc := a[0], a[1], a[2]
			writable, readable := a[3:3+len(rot.writable)], a[3+len(rot.writable):]
			statements := []iampolicy.Statement{
				iampolicy.Allow([]string{"secretsmanager:DescribeSecret", "secretsmanager:GetSecretValue",
					"secretsmanager:PutSecretValue", "secretsmanager:UpdateSecretVersionStage"}, append([]string{secret}, writable...)...),
				// GetRandomPassword has no resource to scope to.
				iampolicy.Allow([]string{"secretsmanager:GetRandomPassword"}, "*"),
				// The key serves the function only through Secrets Manager, never directly.
				iampolicy.DecryptVia(key, "secretsmanager", args.Region, "kms:Decrypt", "kms:GenerateDataKey"),
				// DescribeServices tells a rolling service from a blue/green one, and gives the latter's
				// task definition, network and capacity provider strategy for its appspec.
				iampolicy.Allow([]string{"ecs:UpdateService", "ecs:DescribeServices"}, services...),
			}
			if bg := args.BlueGreen; bg != nil {
				codedeploy := fmt.Sprintf("arn:aws:codedeploy:%s:%s", args.Region, args.AccountID)
				statements = append(statements,
					iampolicy.Allow([]string{"codedeploy:CreateDeployment"},
						fmt.Sprintf("%s:deploymentgroup:%s/%s", codedeploy, bg.Application, bg.DeploymentGroup)),
					iampolicy.Allow([]string{"codedeploy:GetDeploymentConfig"}, codedeploy+":deploymentconfig:*"),
					iampolicy.Allow([]string{"codedeploy:RegisterApplicationRevision", "codedeploy:GetApplicationRevision"},
						fmt.Sprintf("%s:application:%s", codedeploy, bg.Application)),
				)
			}
			if len(readable) > 0 {
				// RDS's master secret and the migration login's: read, never written.
				statements = append(statements, iampolicy.Allow([]string{"secretsmanager:DescribeSecret", "secretsmanager:GetSecretValue"}, readable...))
			}
			if rot.inVPC {
				// Lambda manages the function's network interfaces, in the stack's VPC only.
				statements = append(statements, iampolicy.LambdaNetworkInterfaces(args.Region, args.AccountID, vpc)...)
			}
			return statements
		},
		Timeout:     60,
		Environment: rot.env,
		VPC:         network,
	}, parent)
	if err != nil {
		return err
	}
	r.roles = append(r.roles, fn.Role)
	r.FunctionNames[rot.kind] = fn.Name
	after := []pulumi.Resource{}
	if rot.bootstrap {
		// Synchronous: `pulumi up` fails here, naming the function's error, if the login cannot be
		// created. Invoked again only when the database instance is replaced.
		bootstrap, err := lambda.NewInvocation(ctx, base+"-bootstrap", &lambda.InvocationArgs{
			FunctionName: fn.Name,
			Input:        pulumi.String(`{"Action":"bootstrap"}`),
			Triggers:     bootstrapTriggers(args),
		}, parent, pulumi.DependsOn(args.BootstrapAfter))
		if err != nil {
			return err
		}
		r.Bootstrap = bootstrap
		after = append(after, bootstrap)
	}
	permission, err := lambda.NewPermission(ctx, base, &lambda.PermissionArgs{
		Action:    pulumi.String("lambda:InvokeFunction"),
		Function:  fn.Name,
		Principal: pulumi.String("secretsmanager.amazonaws.com"),
		SourceArn: rot.secretArn,
	}, parent)
	if err != nil {
		return err
	}
	r.schedules = append(r.schedules, schedule{
		name: base, secretArn: rot.secretArn, functionArn: fn.Arn, days: rot.days, immediately: rot.immediately,
		after: append(after, permission),
	})
	return nil
}

// Schedule turns rotation on, once everything a rotation touches exists: the first one runs at
// once and ends by redeploying the services, so it waits for them, their deployment group and the
// roles it passes (after). Until then only the bootstrap has run.
func (r *Rotation) Schedule(ctx *pulumi.Context, after ...pulumi.Resource) error {
	for _, s := range r.schedules {
		if _, err := secretsmanager.NewSecretRotation(ctx, s.name, &secretsmanager.SecretRotationArgs{
			SecretId:          s.secretArn,
			RotationLambdaArn: s.functionArn,
			RotationRules: secretsmanager.SecretRotationRotationRulesArgs{
				AutomaticallyAfterDays: pulumi.Int(s.days),
			},
			RotateImmediately: pulumi.Bool(s.immediately),
		}, pulumi.Parent(r), pulumi.DependsOn(append(s.after, after...))); err != nil {
			return err
		}
	}
	return nil
}

// loginArns are the login secrets' ARNs, in the users' order.
func loginArns(m map[string]pulumi.StringOutput) []pulumi.StringInput {
	var out []pulumi.StringInput
	for _, user := range slices.Sorted(maps.Keys(m)) {
		out = append(out, m[user])
	}
	return out
}

func toAny(in []pulumi.StringInput) []any {
	out := make([]any, len(in))
	for i, v := range in {
		out[i] = v
	}
	return out
}

// bootstrapTriggers invoke the bootstrap again when the database instance is replaced (its login
// must be created there) or RDS Proxy's login secrets change (the current login's must be
// written).
func bootstrapTriggers(args *RotationArgs) pulumi.StringMap {
	t := pulumi.StringMap{"database": args.DatabaseID}
	for user, arn := range args.LoginSecretArns {
		t["login-"+user] = arn
	}
	return t
}
