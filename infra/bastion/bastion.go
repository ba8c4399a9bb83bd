// Package bastion is the one way in for people: an instance in a private subnet reached only
// through SSM Session Manager (no SSH, no public IP), with its sessions logged.
package bastion

import (
	"encoding/json"
	"fmt"
	"regexp"

	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/cloudwatch"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/ec2"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/iam"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/ssm"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/taskmanager/taskmanager-infra/internal/configcheck"
	"github.com/taskmanager/taskmanager-infra/internal/hardening"
	"github.com/taskmanager/taskmanager-infra/internal/iampolicy"
	"github.com/taskmanager/taskmanager-infra/internal/naming"
)

const bastionType = "taskmanager:bastion:Bastion"

// Config is the stack file's taskmanager:bastion.
type Config struct {
	// Enabled creates the bastion (spec: developers reach dev's database through it, database
	// admins production's, audit logged).
	Enabled bool `json:"enabled"`
	// InstanceType is a Graviton (arm64) type; the bastion only forwards ports.
	InstanceType string `json:"instanceType"`
}

var gravitonType = regexp.MustCompile(`^[a-z][0-9]+g[a-z]*\.[a-z0-9]+$`)

// Validate reports every problem, keys relative to taskmanager:bastion.
func (c Config) Validate() error {
	var ps configcheck.Problems
	if c.Enabled && !gravitonType.MatchString(c.InstanceType) {
		ps.Addf("instanceType", "%q is not a Graviton (arm64) instance type; want e.g. t4g.nano", c.InstanceType)
	}
	return ps.Err()
}

// PortForwardingDocument is AWS's document for tunnels through the bastion (the database, dev's
// load balancer).
const PortForwardingDocument = "AWS-StartPortForwardingSessionToRemoteHost"

// Args configures the bastion.
type Args struct {
	Config           Config
	Stack            string
	SubnetID         pulumi.StringInput // a private subnet
	SecurityGroupID  pulumi.StringInput
	KeyArn           pulumi.StringInput
	LogRetentionDays int
	Region           string
	AccountID        string
}

// Bastion is the instance and the session document that logs what is done on it.
type Bastion struct {
	pulumi.ResourceState
	InstanceID      pulumi.StringOutput `pulumi:"instanceId"`
	SessionDocument pulumi.StringOutput `pulumi:"sessionDocument"`
	// SessionLogGroup holds the sessions' logs: an audit log, archived where the stack archives.
	SessionLogGroup pulumi.StringOutput
	// UsersPolicyArn is the managed policy that people who reach the bastion get: sessions with
	// the stack's logged document or port forwarding, nothing else.
	UsersPolicyArn pulumi.StringOutput `pulumi:"usersPolicyArn"`
}

// NewBastion creates the bastion.
func NewBastion(ctx *pulumi.Context, name string, args *Args, opts ...pulumi.ResourceOption) (*Bastion, error) {
	if err := args.Config.Validate(); err != nil {
		return nil, err
	}
	b := &Bastion{}
	if err := ctx.RegisterComponentResource(bastionType, name, b, opts...); err != nil {
		return nil, err
	}
	parent := pulumi.Parent(b)
	base := name + "-bastion"

	logs, err := cloudwatch.NewLogGroup(ctx, base+"-sessions", &cloudwatch.LogGroupArgs{
		Name:            pulumi.String(naming.For(args.Stack).LogGroup("/ssm", "sessions")),
		RetentionInDays: pulumi.Int(args.LogRetentionDays),
		KmsKeyId:        args.KeyArn,
	}, parent, pulumi.DeleteBeforeReplace(true))
	if err != nil {
		return nil, err
	}
	// Sessions started with this document are streamed to the log group. It is the stack's own
	// document: the account's default (SSM-SessionManagerRunShell) is shared by every stack.
	document := naming.For(args.Stack).Resource("session")
	content := logs.Name.ApplyT(func(group string) (string, error) {
		body, err := json.Marshal(map[string]any{
			"schemaVersion": "1.0",
			"description":   "taskmanager " + args.Stack + ": shell sessions, logged to CloudWatch",
			"sessionType":   "Standard_Stream",
			"inputs": map[string]any{
				"cloudWatchLogGroupName":      group,
				"cloudWatchEncryptionEnabled": true,
				"cloudWatchStreamingEnabled":  true,
				"runAsEnabled":                false,
				"idleSessionTimeout":          "20",
			},
		})
		return string(body), err
	}).(pulumi.StringOutput)
	if _, err := ssm.NewDocument(ctx, base+"-session", &ssm.DocumentArgs{
		Name: pulumi.String(document), DocumentType: pulumi.String("Session"),
		DocumentFormat: pulumi.String("JSON"), Content: content,
	}, parent, pulumi.DeleteBeforeReplace(true)); err != nil { // operators start sessions with this name
		return nil, err
	}

	profile, err := hardening.SSMInstanceProfile(ctx, base, pulumi.Sprintf("The %s bastion: SSM Session Manager and its session logs", args.Stack),
		iam.RoleInlinePolicyArray{iam.RoleInlinePolicyArgs{
			Name: pulumi.String("session-logs"),
			Policy: iampolicy.Render(func(a []string) iampolicy.Document {
				return iampolicy.New(
					iampolicy.Allow([]string{"logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"}, a[0]+":*"),
					// The agent checks the group's encryption before streaming to it.
					iampolicy.Allow([]string{"logs:DescribeLogGroups"}, "*"),
				)
			}, logs.Arn),
		}}, parent)
	if err != nil {
		return nil, err
	}
	ami, err := hardening.AmazonLinuxImage(ctx, "the bastion")
	if err != nil {
		return nil, err
	}
	instance, err := ec2.NewInstance(ctx, base, &ec2.InstanceArgs{
		Ami:                      pulumi.String(ami),
		InstanceType:             pulumi.String(args.Config.InstanceType),
		SubnetId:                 args.SubnetID,
		VpcSecurityGroupIds:      pulumi.StringArray{args.SecurityGroupID},
		AssociatePublicIpAddress: pulumi.Bool(false),
		IamInstanceProfile:       profile.Name,
		Monitoring:               pulumi.Bool(true),
		MetadataOptions:          hardening.Metadata(),
		RootBlockDevice:          hardening.RootVolume(args.KeyArn),
		Tags:                     pulumi.StringMap{"Name": pulumi.String(naming.For(args.Stack).Resource("bastion"))},
	}, parent, pulumi.IgnoreChanges([]string{"ami"})) // a newer image must not replace the bastion mid-session
	if err != nil {
		return nil, err
	}
	// Session logging cannot be skipped: StartSession is allowed with the stack's logged document
	// (shells) or AWS's port-forwarding document (tunnels to the database), and
	// ssm:SessionDocumentAccessCheck makes SSM check the document even when none is named, so the
	// account's default shell document (SSM-SessionManagerRunShell, unlogged unless the account's
	// preferences say otherwise) is refused.
	users, err := iam.NewPolicy(ctx, base+"-users", &iam.PolicyArgs{
		Description: pulumi.Sprintf("Sessions on the %s bastion: its logged shell document or port forwarding, nothing else", args.Stack),
		Policy: iampolicy.Render(func(a []string) iampolicy.Document {
			ssmArn := func(rest string) string {
				return fmt.Sprintf("arn:aws:ssm:%s:%s:%s", args.Region, args.AccountID, rest)
			}
			return iampolicy.New(
				iampolicy.Statement{Effect: "Allow", Action: []string{"ssm:StartSession"},
					Resource: []string{
						fmt.Sprintf("arn:aws:ec2:%s:%s:instance/%s", args.Region, args.AccountID, a[0]),
						ssmArn("document/" + document),
						fmt.Sprintf("arn:aws:ssm:%s::document/%s", args.Region, PortForwardingDocument),
					},
					Condition: map[string]any{"BoolIfExists": map[string]any{"ssm:SessionDocumentAccessCheck": "true"}}},
				iampolicy.Allow([]string{"ssm:TerminateSession", "ssm:ResumeSession"}, ssmArn("session/${aws:userid}-*")),
			)
		}, instance.ID().ToStringOutput()),
	}, parent)
	if err != nil {
		return nil, err
	}
	b.UsersPolicyArn = users.Arn
	b.InstanceID = instance.ID().ToStringOutput()
	b.SessionDocument = pulumi.String(document).ToStringOutput()
	b.SessionLogGroup = logs.Name
	return b, ctx.RegisterResourceOutputs(b, pulumi.Map{"instanceId": b.InstanceID, "sessionDocument": b.SessionDocument, "usersPolicyArn": b.UsersPolicyArn})
}
