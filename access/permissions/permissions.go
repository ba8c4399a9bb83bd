// Package permissions writes the pipeline roles' policies: what each purpose may do, the deploy
// roles' permissions boundary, and the OIDC trust. Plain functions of names and ARNs, so that the
// tests read every statement without a Pulumi engine.
package permissions

import (
	"fmt"

	"github.com/taskmanager/taskmanager-infra/internal/iampolicy"
	"github.com/taskmanager/taskmanager-infra/internal/naming"
)

// GitHub's OIDC issuer and the audience configure-aws-credentials asks for.
const (
	OIDCHost = "token.actions.githubusercontent.com"
	OIDCURL  = "https://" + OIDCHost
	Audience = "sts.amazonaws.com"
)

// Account is where the policies apply: the partition, region and account of the access stack.
type Account struct {
	Partition, Region, ID string
}

func (a Account) arn(service, resource string) string {
	return fmt.Sprintf("arn:%s:%s:%s:%s:%s", a.Partition, service, a.Region, a.ID, resource)
}

func (a Account) iam(resource string) string {
	return fmt.Sprintf("arn:%s:iam::%s:%s", a.Partition, a.ID, resource)
}

// Trust lets exactly one GitHub environment's jobs assume a role: the subject matched exactly
// (StringEquals: a pattern such as repo:<owner>/<repo>:* would let any branch or pull request in),
// and the audience configure-aws-credentials asks for.
func Trust(providerARN, subject string) iampolicy.Document {
	return iampolicy.New(iampolicy.Statement{
		Effect:    "Allow",
		Principal: map[string]any{"Federated": providerARN},
		Action:    []string{"sts:AssumeRoleWithWebIdentity"},
		Condition: map[string]any{"StringEquals": map[string]any{
			OIDCHost + ":aud": Audience,
			OIDCHost + ":sub": subject,
		}},
	})
}

// Services are the IAM service prefixes of what the main program creates and what its roles use
// (tests/testdata/<stack>.urns; the roles' policies): the deploy roles may manage them, the
// drift and preview roles read them. IAM is not among them: its writes are scoped below.
var Services = []string{
	"acm", "application-autoscaling", "cloudwatch", "codedeploy", "cognito-idp", "ec2",
	"ec2messages", "ecr", "ecs", "elasticache", "elasticloadbalancing", "events", "firehose", "kms",
	"lambda", "logs", "rds", "route53", "s3", "secretsmanager", "sns", "ssm", "ssmmessages", "wafv2",
}

// BoundaryName is the permissions boundary's policy name for a stack. The main program derives
// the same name (naming.PipelineBoundary) and puts the boundary on every role it creates.
func BoundaryName(stack string) string { return naming.For(stack).PipelineBoundary() }

// BoundaryARN is the boundary's ARN in an account.
func BoundaryARN(a Account, stack string) string { return a.iam("policy/" + BoundaryName(stack)) }

// iamWrites are the IAM actions the main program's roles, instance profiles and managed policies
// (the bastion's users policy) need.
var iamWrites = []string{
	"iam:CreateRole", "iam:DeleteRole", "iam:UpdateRole", "iam:UpdateRoleDescription",
	"iam:UpdateAssumeRolePolicy", "iam:TagRole", "iam:UntagRole", "iam:PutRolePolicy",
	"iam:DeleteRolePolicy", "iam:AttachRolePolicy", "iam:DetachRolePolicy",
	"iam:PutRolePermissionsBoundary", "iam:PassRole",
	"iam:CreateInstanceProfile", "iam:DeleteInstanceProfile", "iam:AddRoleToInstanceProfile",
	"iam:RemoveRoleFromInstanceProfile", "iam:TagInstanceProfile", "iam:UntagInstanceProfile",
	"iam:CreatePolicy", "iam:DeletePolicy", "iam:CreatePolicyVersion", "iam:DeletePolicyVersion",
	"iam:SetDefaultPolicyVersion", "iam:TagPolicy", "iam:UntagPolicy",
}

// stackIAM are the IAM resources a stack's deploy may write: the main program's roles, instance
// profiles and managed policies are auto-named from logical names <stack>-...
// (tests/testdata/<stack>.urns). The boundary (taskmanager-<stack>-pipeline-boundary) is not one.
func stackIAM(a Account, stack string) []string {
	return []string{a.iam("role/" + stack + "-*"), a.iam("instance-profile/" + stack + "-*"), a.iam("policy/" + stack + "-*")}
}

// Deploy is what a stack's deploy role may do: manage every service the program uses, and IAM
// only under the stack's own name prefix, with the boundary on every role it creates (Boundary's
// denies, which also bound the deploy role itself).
func Deploy(a Account, stack string) iampolicy.Document {
	return iampolicy.New(deployAllows(a, stack)...)
}

func deployAllows(a Account, stack string) []iampolicy.Statement {
	services := make([]string, len(Services))
	for i, s := range Services {
		services[i] = s + ":*"
	}
	return []iampolicy.Statement{
		{Sid: "ManageTheStacksServices", Effect: "Allow", Action: services, Resource: []string{"*"}},
		{Sid: "ReadIAM", Effect: "Allow", Action: []string{"iam:Get*", "iam:List*"}, Resource: []string{"*"}},
		{Sid: "WriteTheStacksRoles", Effect: "Allow", Action: iamWrites, Resource: stackIAM(a, stack)},
		// ECS, RDS, ElastiCache and Auto Scaling create their service-linked roles on first use;
		// their policies are AWS's own.
		{Sid: "ServiceLinkedRoles", Effect: "Allow", Action: []string{"iam:CreateServiceLinkedRole"},
			Resource: []string{a.iam("role/aws-service-role/*")}},
	}
}

// Boundary is the permissions boundary of a stack's deploy role and of every role that deploy
// creates: at most the deploy's own allowances, and never a way past them. A role can only be
// created, or given a boundary, with this one; no boundary can be removed; no IAM write reaches
// outside the stack's prefix (so neither the access program's roles nor this policy).
func Boundary(a Account, stack string) iampolicy.Document {
	boundary := BoundaryARN(a, stack)
	return iampolicy.New(append(deployAllows(a, stack),
		iampolicy.Statement{Sid: "CreateRolesOnlyWithThisBoundary", Effect: "Deny",
			Action:    []string{"iam:CreateRole", "iam:PutRolePermissionsBoundary"},
			Resource:  []string{"*"},
			Condition: map[string]any{"StringNotEquals": map[string]any{"iam:PermissionsBoundary": boundary}}},
		iampolicy.Statement{Sid: "KeepBoundaries", Effect: "Deny",
			Action:   []string{"iam:DeleteRolePermissionsBoundary", "iam:DeleteUserPermissionsBoundary"},
			Resource: []string{"*"}},
		iampolicy.Statement{Sid: "KeepThisBoundary", Effect: "Deny",
			Action: []string{"iam:CreatePolicyVersion", "iam:DeletePolicy", "iam:DeletePolicyVersion",
				"iam:SetDefaultPolicyVersion", "iam:TagPolicy", "iam:UntagPolicy"},
			Resource: []string{boundary}},
		iampolicy.Statement{Sid: "NoIAMWritesOutsideTheStack", Effect: "Deny", Action: iamWrites,
			NotResource: stackIAM(a, stack)},
	)...)
}

// dataReads are the actions that read data rather than describe resources: objects, log events,
// secret values, decryption, parameters, the sign-in's users. Not lambda:GetFunction: the functions'
// code is this repository's (scripts/build-lambdas.sh), their configuration is GetFunctionConfiguration's
// as well, and refreshing a function calls it (the drift check would fail on every function).
var dataReads = []string{
	"s3:GetObject", "s3:GetObjectVersion", "s3:GetObjectAttributes", "s3:GetObjectTorrent",
	"logs:GetLogEvents", "logs:FilterLogEvents", "logs:StartQuery", "logs:GetQueryResults",
	"logs:StartLiveTail", "logs:GetLogRecord",
	"secretsmanager:GetSecretValue", "secretsmanager:BatchGetSecretValue",
	"kms:Decrypt", "kms:ReEncryptFrom",
	"ssm:GetParameter", "ssm:GetParameters", "ssm:GetParametersByPath", "ssm:GetParameterHistory",
	"rds:DownloadDBLogFilePortion", "rds:DownloadCompleteDBLogFile",
	"cognito-idp:ListUsers", "cognito-idp:ListUsersInGroup", "cognito-idp:AdminGetUser",
	// It returns the client's secret (staging's sign-in, the load balancer's client).
	"cognito-idp:DescribeUserPoolClient",
}

// DataReads are the actions Describe denies, for the tests.
func DataReads() []string { return append([]string(nil), dataReads...) }

// Describe is the drift and preview roles' policy: describe, list and read the configuration of
// the program's services (what `pulumi preview --refresh` reads), and explicitly never the data:
// the denies win over the Get* allowances and over anything attached later. Pulumi decrypts the
// stack's secrets with its own secrets provider (the Pulumi service), not with AWS KMS.
func Describe() iampolicy.Document {
	var reads []string
	for _, s := range append([]string{"iam"}, Services...) {
		reads = append(reads, s+":Describe*", s+":List*", s+":Get*")
	}
	return iampolicy.New(
		iampolicy.Statement{Sid: "DescribeTheStacksServices", Effect: "Allow", Action: reads, Resource: []string{"*"}},
		iampolicy.Statement{Sid: "NeverReadData", Effect: "Deny", Action: dataReads, Resource: []string{"*"}},
	)
}

// ImageRead pulls the images of one stack's repository (taskmanager-<stack>), for the next
// stack's deploy to copy by digest.
func ImageRead(a Account, stack string) iampolicy.Document {
	return iampolicy.New(
		// GetAuthorizationToken takes no resource.
		iampolicy.Allow([]string{"ecr:GetAuthorizationToken"}, "*"),
		iampolicy.Allow([]string{"ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer", "ecr:BatchCheckLayerAvailability", "ecr:DescribeImages"},
			a.arn("ecr", "repository/"+naming.For(stack).Project())),
	)
}

// ReleaseCheck reads which image a stack's services run (scripts/deploy.sh --running-image).
func ReleaseCheck(a Account, stack string) iampolicy.Document {
	return iampolicy.New(
		iampolicy.Allow([]string{"ecs:DescribeServices"}, a.arn("ecs", "service/"+naming.For(stack).Resource()+"/*")),
		// DescribeTaskDefinition takes no resource.
		iampolicy.Allow([]string{"ecs:DescribeTaskDefinition"}, "*"),
	)
}

// DataReap is what scripts/refresh-staging-data.sh --reap calls: find the refresh's temporary
// instance and snapshot copy, and delete them; nothing else of the target, nothing of the source.
func DataReap(a Account, source, target string) iampolicy.Document {
	work := naming.For(target).Resource("refresh")
	return iampolicy.New(
		iampolicy.Allow([]string{"rds:DescribeDBInstances", "rds:DescribeDBSnapshots"}, "*"),
		iampolicy.Allow([]string{"rds:DeleteDBInstance"}, a.arn("rds", "db:"+work)),
		iampolicy.Allow([]string{"rds:DeleteDBSnapshot"}, a.arn("rds", "snapshot:"+work)),
		iampolicy.Statement{Sid: "NeverWriteTheSource", Effect: "Deny",
			Action:   []string{"rds:Create*", "rds:Modify*", "rds:Delete*", "rds:Restore*", "rds:Reboot*"},
			Resource: []string{fmt.Sprintf("arn:%s:rds:*:*:*:%s-*", a.Partition, source)}},
	)
}

// DataRefresh is what scripts/refresh-staging-data.sh calls, and no more: read production's
// automated snapshots; copy one under the target's key as <target>-taskmanager-refresh; restore,
// modify (a new RDS-managed master password) and delete that instance and copy; read the master
// secrets of the target's database and of the temporary instance only (by the tag RDS puts on
// them); reach the databases through the target's bastion.
func DataRefresh(a Account, source, target string) iampolicy.Document {
	src, dst := naming.For(source), naming.For(target)
	work := dst.Resource("refresh")
	workDB, workSnapshot := a.arn("rds", "db:"+work), a.arn("rds", "snapshot:"+work)
	targetDB := a.arn("rds", "db:"+dst.Resource("db"))
	return iampolicy.New(
		iampolicy.Allow([]string{"rds:DescribeDBInstances", "rds:DescribeDBSnapshots"}, "*"),
		iampolicy.Allow([]string{"rds:CopyDBSnapshot"}, a.arn("rds", "snapshot:rds:"+src.Resource("db")+"-*"), workSnapshot),
		iampolicy.Allow([]string{"rds:AddTagsToResource"}, workSnapshot, workDB),
		iampolicy.Allow([]string{"rds:RestoreDBInstanceFromDBSnapshot"}, workDB, workSnapshot,
			a.arn("rds", "subgrp:*"), a.arn("rds", "pg:*"), a.arn("rds", "og:*"), a.arn("rds", "secgrp:*")),
		iampolicy.Allow([]string{"rds:ModifyDBInstance", "rds:DeleteDBInstance"}, workDB),
		iampolicy.Allow([]string{"rds:DeleteDBSnapshot"}, workSnapshot),
		// RDS creates the temporary instance's master secret on the caller's behalf.
		iampolicy.Allow([]string{"secretsmanager:CreateSecret", "secretsmanager:TagResource", "secretsmanager:RotateSecret", "secretsmanager:DescribeSecret"},
			a.arn("secretsmanager", "secret:rds!db-*")),
		iampolicy.Statement{Effect: "Allow", Action: []string{"secretsmanager:GetSecretValue"},
			Resource: []string{a.arn("secretsmanager", "secret:rds!db-*")},
			Condition: map[string]any{"StringEquals": map[string]any{
				"secretsmanager:ResourceTag/aws:rds:primaryDBInstanceArn": []string{targetDB, workDB},
			}}},
		// Production's key decrypts the source snapshot; the target's encrypts the copy and the
		// new secret: only through RDS and Secrets Manager, and only these two keys (by alias).
		iampolicy.Statement{Effect: "Allow",
			Action:   []string{"kms:Decrypt", "kms:DescribeKey", "kms:CreateGrant", "kms:GenerateDataKey", "kms:ReEncryptFrom", "kms:ReEncryptTo"},
			Resource: []string{a.arn("kms", "key/*")},
			Condition: map[string]any{
				"StringEquals": map[string]any{"kms:ViaService": []string{
					"rds." + a.Region + ".amazonaws.com", "secretsmanager." + a.Region + ".amazonaws.com"}},
				"ForAnyValue:StringEquals": map[string]any{"kms:ResourceAliases": []string{
					"alias/" + src.Project(), "alias/" + dst.Project()}},
			}},
		// --through-bastion: Session Manager port forwarding through the target's bastion, and
		// nothing else: ssm:SessionDocumentAccessCheck makes Session Manager check the document
		// even when none is named, so the account's default shell (unlogged) is refused.
		iampolicy.Statement{Effect: "Allow", Action: []string{"ssm:StartSession"},
			Resource: []string{a.arn("ec2", "instance/*")},
			Condition: map[string]any{
				"StringEquals": map[string]any{"ssm:resourceTag/Environment": target},
				"BoolIfExists": map[string]any{"ssm:SessionDocumentAccessCheck": "true"},
			}},
		iampolicy.Statement{Effect: "Allow", Action: []string{"ssm:StartSession"},
			Resource:  []string{fmt.Sprintf("arn:%s:ssm:%s::document/AWS-StartPortForwardingSessionToRemoteHost", a.Partition, a.Region)},
			Condition: map[string]any{"BoolIfExists": map[string]any{"ssm:SessionDocumentAccessCheck": "true"}}},
		iampolicy.Allow([]string{"ssm:TerminateSession", "ssm:ResumeSession"}, a.arn("ssm", "session/${aws:userid}-*")),
		// Production's resources are never written with this role, even by a mistake above.
		iampolicy.Statement{Sid: "NeverWriteTheSource", Effect: "Deny",
			Action: []string{"rds:Create*", "rds:Modify*", "rds:Delete*", "rds:Restore*", "rds:Reboot*",
				"rds:AddTagsToResource", "rds:RemoveTagsFromResource"},
			Resource: []string{fmt.Sprintf("arn:%s:rds:*:*:*:%s-*", a.Partition, source)}},
	)
}
