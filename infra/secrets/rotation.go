package secrets

import (
	"fmt"
	"strings"

	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/cloudwatch"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/iam"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/lambda"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/secretsmanager"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

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
	SubnetIDs        pulumi.StringArrayInput
	SecurityGroupID  pulumi.StringInput
	LogRetentionDays int
	// Database rotation: the app's login secret, the reader secret it rewrites, the replica's
	// address, and RDS's master secret it connects with to change passwords.
	DatabaseSecretArn, ReaderSecretArn, MasterSecretArn pulumi.StringInput
	ReaderHost                                          pulumi.StringInput
	DatabaseDays                                        int
	// JWT rotation (0 days: manual).
	JWTSecretArn pulumi.StringInput
	JWTDays      int
	// Cluster and Services are redeployed after a rotation so that tasks take the new values.
	Cluster  string
	Services []string
}

// Rotation is the functions that rotate the database login (alternating users) and the JWT key.
type Rotation struct {
	pulumi.ResourceState
}

// rotator is one rotation function and the secret it rotates.
type rotator struct {
	kind        string // ROTATION_KIND
	secretArn   pulumi.StringInput
	days        int
	inVPC       bool
	immediately bool
	env         pulumi.StringMap
	readable    []pulumi.StringInput // further secrets it reads or writes
}

// NewRotation creates the rotation functions and schedules.
func NewRotation(ctx *pulumi.Context, name string, args *RotationArgs, opts ...pulumi.ResourceOption) (*Rotation, error) {
	r := &Rotation{}
	if err := ctx.RegisterComponentResource(rotationType, name, r, opts...); err != nil {
		return nil, err
	}
	redeploy := pulumi.StringMap{
		"ECS_CLUSTER":  pulumi.String(args.Cluster),
		"ECS_SERVICES": pulumi.String(strings.Join(args.Services, ",")),
	}
	rotators := []rotator{{
		kind: "database", secretArn: args.DatabaseSecretArn, days: args.DatabaseDays, inVPC: true,
		// The first run creates the app's database user: it must run at deploy time.
		immediately: true,
		env: pulumi.StringMap{
			"MASTER_SECRET_ARN": args.MasterSecretArn,
			"READER_SECRET_ARN": args.ReaderSecretArn,
			"READER_HOST":       args.ReaderHost,
		},
		readable: []pulumi.StringInput{args.ReaderSecretArn, args.MasterSecretArn},
	}}
	if args.JWTDays > 0 {
		rotators = append(rotators, rotator{kind: "jwt", secretArn: args.JWTSecretArn, days: args.JWTDays, env: pulumi.StringMap{}})
	}
	for _, rot := range rotators {
		for k, v := range redeploy {
			rot.env[k] = v
		}
		rot.env["ROTATION_KIND"] = pulumi.String(rot.kind)
		if err := newRotator(ctx, name, args, rot, pulumi.Parent(r)); err != nil {
			return nil, err
		}
	}
	return r, ctx.RegisterResourceOutputs(r, pulumi.Map{})
}

func newRotator(ctx *pulumi.Context, name string, args *RotationArgs, rot rotator, parent pulumi.ResourceOption) error {
	base := fmt.Sprintf("%s-rotate-%s", name, rot.kind)
	fnName := fmt.Sprintf("%s-taskmanager-rotate-%s", args.Stack, rot.kind)
	logs, err := cloudwatch.NewLogGroup(ctx, base, &cloudwatch.LogGroupArgs{
		Name:            pulumi.String("/aws/lambda/" + fnName),
		RetentionInDays: pulumi.Int(args.LogRetentionDays),
		KmsKeyId:        args.KeyArn,
	}, parent)
	if err != nil {
		return err
	}
	role, err := iam.NewRole(ctx, base, &iam.RoleArgs{
		Description:      pulumi.Sprintf("Rotates taskmanager/%s secrets (%s)", args.Stack, rot.kind),
		AssumeRolePolicy: iampolicy.AssumeRole("lambda.amazonaws.com"),
	}, parent)
	if err != nil {
		return err
	}
	services := make([]string, len(args.Services))
	for i, s := range args.Services {
		services[i] = fmt.Sprintf("arn:aws:ecs:%s:%s:service/%s/%s", args.Region, args.AccountID, args.Cluster, s)
	}
	arns := append([]pulumi.StringInput{rot.secretArn, args.KeyArn, logs.Arn}, rot.readable...)
	policy := iampolicy.Render(func(a []string) iampolicy.Document {
		secret, key, logGroup, others := a[0], a[1], a[2], a[3:]
		statements := []iampolicy.Statement{
			iampolicy.Allow([]string{"secretsmanager:DescribeSecret", "secretsmanager:GetSecretValue",
				"secretsmanager:PutSecretValue", "secretsmanager:UpdateSecretVersionStage"}, append([]string{secret}, others...)...),
			// GetRandomPassword has no resource to scope to.
			iampolicy.Allow([]string{"secretsmanager:GetRandomPassword"}, "*"),
			iampolicy.Allow([]string{"kms:Decrypt", "kms:GenerateDataKey"}, key),
			iampolicy.Allow([]string{"logs:CreateLogStream", "logs:PutLogEvents"}, logGroup+":*"),
			iampolicy.Allow([]string{"ecs:UpdateService"}, services...),
		}
		if rot.inVPC {
			// Lambda manages the function's network interfaces; these actions take no resource.
			statements = append(statements, iampolicy.Allow([]string{"ec2:CreateNetworkInterface",
				"ec2:DescribeNetworkInterfaces", "ec2:DeleteNetworkInterface",
				"ec2:AssignPrivateIpAddresses", "ec2:UnassignPrivateIpAddresses"}, "*"))
		}
		return iampolicy.New(statements...)
	}, arns...)
	rolePolicy, err := iam.NewRolePolicy(ctx, base, &iam.RolePolicyArgs{Role: role.Name, Policy: policy}, parent)
	if err != nil {
		return err
	}
	fnArgs := &lambda.FunctionArgs{
		Name:          pulumi.String(fnName),
		Description:   pulumi.Sprintf("Rotates taskmanager/%s secrets (%s)", args.Stack, rot.kind),
		Runtime:       pulumi.String("provided.al2023"),
		Architectures: pulumi.StringArray{pulumi.String("arm64")},
		Handler:       pulumi.String("bootstrap"),
		Code:          pulumi.NewFileArchive(RotationCode),
		Role:          role.Arn,
		Timeout:       pulumi.Int(60),
		Environment:   lambda.FunctionEnvironmentArgs{Variables: rot.env},
	}
	if rot.inVPC {
		fnArgs.VpcConfig = lambda.FunctionVpcConfigArgs{
			SubnetIds:        args.SubnetIDs,
			SecurityGroupIds: pulumi.StringArray{args.SecurityGroupID},
		}
	}
	fn, err := lambda.NewFunction(ctx, base, fnArgs, parent, pulumi.DependsOn([]pulumi.Resource{logs, rolePolicy}))
	if err != nil {
		return err
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
	_, err = secretsmanager.NewSecretRotation(ctx, base, &secretsmanager.SecretRotationArgs{
		SecretId:          rot.secretArn,
		RotationLambdaArn: fn.Arn,
		RotationRules: secretsmanager.SecretRotationRotationRulesArgs{
			AutomaticallyAfterDays: pulumi.Int(rot.days),
		},
		RotateImmediately: pulumi.Bool(rot.immediately),
	}, parent, pulumi.DependsOn([]pulumi.Resource{permission}))
	return err
}
