package secrets

import (
	"fmt"

	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/kms"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/taskmanager/taskmanager-infra/internal/iampolicy"
	"github.com/taskmanager/taskmanager-infra/internal/naming"
)

const keyType = "taskmanager:secrets:Key"

// KeyArgs configures the environment's key.
type KeyArgs struct {
	Stack              string
	Region             string
	AccountID          string
	DeletionWindowDays int
	// Principals, when set, are the only principals that may use the key directly
	// (Config.KeyPrincipals).
	Principals []string
	// Protect keeps the key from being deleted or replaced by Pulumi: deleting a key loses every
	// secret, snapshot and log encrypted with it.
	Protect bool
}

// Key is the environment's customer-managed KMS key: it encrypts the database, the cache, the
// secrets and the log groups.
type Key struct {
	pulumi.ResourceState
	Arn pulumi.StringOutput `pulumi:"arn"`
}

// NewKey creates the key, with a policy that lets the account administer it and CloudWatch Logs
// use it for this account's log groups only.
func NewKey(ctx *pulumi.Context, name string, args *KeyArgs, opts ...pulumi.ResourceOption) (*Key, error) {
	k := &Key{}
	if err := ctx.RegisterComponentResource(keyType, name, k, opts...); err != nil {
		return nil, err
	}
	// Every stack retains its key when destroyed: the final snapshots that destroy leaves are
	// encrypted with it, and are unusable once it is deleted. The runbook says when to schedule
	// its deletion by hand (after the snapshots go).
	stateful := []pulumi.ResourceOption{pulumi.Parent(k), pulumi.Protect(args.Protect), pulumi.RetainOnDelete(true)}
	root := fmt.Sprintf("arn:aws:iam::%s:root", args.AccountID)
	policy := iampolicy.New(
		iampolicy.Statement{
			Sid: "AccountAdministersTheKey", Effect: "Allow",
			Principal: map[string]any{"AWS": root}, Action: []string{"kms:*"}, Resource: []string{"*"},
		},
		iampolicy.Statement{
			Sid: "CloudWatchLogsOfThisAccount", Effect: "Allow",
			Principal: map[string]any{"Service": fmt.Sprintf("logs.%s.amazonaws.com", args.Region)},
			Action:    []string{"kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"},
			Resource:  []string{"*"},
			Condition: map[string]any{"ArnLike": map[string]any{
				"kms:EncryptionContext:aws:logs:arn": fmt.Sprintf("arn:aws:logs:%s:%s:log-group:*", args.Region, args.AccountID),
			}},
		},
		// Alarms and RDS events publish to the encrypted alert topic. This is AWS's documented
		// statement for those services and encrypted topics (SNS developer guide, "compatibility
		// with AWS services"), without a condition: AWS does not document that these services
		// send aws:SourceAccount with their KMS requests, and a condition on a key that is not
		// sent denies every notification without an error anywhere. Who may publish to the topic
		// is the topic's policy's to say (this account only); the key only lets the service
		// encrypt what it was allowed to publish.
		iampolicy.Statement{
			Sid: "AlarmsAndDatabaseEventsPublishToEncryptedTopics", Effect: "Allow",
			Principal: map[string]any{"Service": []string{"cloudwatch.amazonaws.com", "events.rds.amazonaws.com"}},
			Action:    []string{"kms:Decrypt", "kms:GenerateDataKey*"},
			Resource:  []string{"*"},
		},
	)
	if args.Principals != nil {
		// Everyone else is denied, whatever IAM grants them, unless the caller is an AWS service
		// principal (CloudWatch Logs, the alarms' and RDS events' publishers above, a service
		// using a grant its resource was created with). A request an AWS service makes for a role
		// (Secrets Manager, RDS, S3: kms:ViaService) still carries that role's aws:PrincipalArn,
		// so it is the role that must be listed: exempting kms:ViaService would let another
		// environment's role read production's secrets, objects and snapshots through the service.
		policy.Statement = append(policy.Statement, iampolicy.Statement{
			Sid: "OnlyThisEnvironmentsPrincipals", Effect: "Deny",
			Principal: map[string]any{"AWS": "*"}, Action: []string{"kms:*"}, Resource: []string{"*"},
			Condition: map[string]any{
				"StringNotLike": map[string]any{"aws:PrincipalArn": args.Principals},
				"BoolIfExists":  map[string]any{"aws:PrincipalIsAWSService": "false"},
			},
		})
	}
	key, err := kms.NewKey(ctx, name, &kms.KeyArgs{
		Description:          pulumi.Sprintf("taskmanager %s: database, cache, secrets and logs", args.Stack),
		EnableKeyRotation:    pulumi.Bool(true),
		DeletionWindowInDays: pulumi.Int(args.DeletionWindowDays),
		Policy:               pulumi.String(policy.JSON()),
	}, stateful...)
	if err != nil {
		return nil, err
	}
	if _, err := kms.NewAlias(ctx, name, &kms.AliasArgs{
		Name:        pulumi.String("alias/" + naming.For(args.Stack).Project()),
		TargetKeyId: key.KeyId,
	}, pulumi.Parent(k), pulumi.DeleteBeforeReplace(true)); err != nil { // one alias, one name
		return nil, err
	}
	k.Arn = key.Arn
	return k, ctx.RegisterResourceOutputs(k, pulumi.Map{"arn": k.Arn})
}
