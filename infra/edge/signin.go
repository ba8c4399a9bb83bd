package edge

import (
	"fmt"

	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/cognito"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/lb"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/taskmanager/taskmanager-infra/internal/naming"
)

// SmokeTestHeader is the header the pipeline's smoke tests send, with the token of the
// smoke-test-header secret, to pass the sign-in.
const SmokeTestHeader = "X-Smoke-Test-Token"

// signIn is the load balancer's own authentication (Cognito) in front of every path: people an
// administrator invited sign in; nobody can sign up. Pages redirect to the sign-in page, /api/*
// answers 401 so that the single-page app's calls fail plainly instead of following a redirect,
// and the app's own Authorization: Bearer header passes through untouched (the load balancer's
// session is a cookie of its own).
type signIn struct {
	pool   *cognito.UserPool
	client *cognito.UserPoolClient
	domain *cognito.UserPoolDomain
}

func newSignIn(ctx *pulumi.Context, name string, args *Args, hosts []string, parent pulumi.ResourceOption) (*signIn, error) {
	pool, err := cognito.NewUserPool(ctx, name+"-sign-in", &cognito.UserPoolArgs{
		Name: pulumi.String(naming.For(args.Stack).Project()),
		// Invited users only: no self sign-up.
		AdminCreateUserConfig:  cognito.UserPoolAdminCreateUserConfigArgs{AllowAdminCreateUserOnly: pulumi.Bool(true)},
		UsernameAttributes:     pulumi.ToStringArray([]string{"email"}),
		AutoVerifiedAttributes: pulumi.ToStringArray([]string{"email"}),
		PasswordPolicy: cognito.UserPoolPasswordPolicyArgs{
			MinimumLength: pulumi.Int(14), RequireLowercase: pulumi.Bool(true), RequireUppercase: pulumi.Bool(true),
			RequireNumbers: pulumi.Bool(true), RequireSymbols: pulumi.Bool(true), TemporaryPasswordValidityDays: pulumi.Int(3),
		},
		MfaConfiguration:              pulumi.String("OPTIONAL"),
		SoftwareTokenMfaConfiguration: cognito.UserPoolSoftwareTokenMfaConfigurationArgs{Enabled: pulumi.Bool(true)},
		AccountRecoverySetting: cognito.UserPoolAccountRecoverySettingArgs{
			RecoveryMechanisms: cognito.UserPoolAccountRecoverySettingRecoveryMechanismArray{
				cognito.UserPoolAccountRecoverySettingRecoveryMechanismArgs{Name: pulumi.String("verified_email"), Priority: pulumi.Int(1)},
			},
		},
	}, parent)
	if err != nil {
		return nil, err
	}
	// The hosted sign-in page. A prefix is unique per region across all accounts: the account id
	// makes it ours.
	domain, err := cognito.NewUserPoolDomain(ctx, name+"-sign-in", &cognito.UserPoolDomainArgs{
		Domain:     pulumi.String(naming.For(args.Stack).Project(args.AccountID)),
		UserPoolId: pool.ID(),
	}, parent)
	if err != nil {
		return nil, err
	}
	var callbacks []string
	for _, h := range hosts {
		// The load balancer finishes the sign-in at this path of each name it serves.
		callbacks = append(callbacks, fmt.Sprintf("https://%s/oauth2/idpresponse", h))
	}
	client, err := cognito.NewUserPoolClient(ctx, name+"-sign-in", &cognito.UserPoolClientArgs{
		Name:                            pulumi.String(naming.For(args.Stack).Project("load-balancer")),
		UserPoolId:                      pool.ID(),
		GenerateSecret:                  pulumi.Bool(true), // the load balancer is a confidential client
		AllowedOauthFlowsUserPoolClient: pulumi.Bool(true),
		AllowedOauthFlows:               pulumi.ToStringArray([]string{"code"}),
		AllowedOauthScopes:              pulumi.ToStringArray([]string{"openid", "email"}),
		CallbackUrls:                    pulumi.ToStringArray(callbacks),
		SupportedIdentityProviders:      pulumi.ToStringArray([]string{"COGNITO"}),
		PreventUserExistenceErrors:      pulumi.String("ENABLED"),
	}, parent)
	if err != nil {
		return nil, err
	}
	return &signIn{pool: pool, client: client, domain: domain}, nil
}

// onUnauthenticated: "authenticate" redirects to the sign-in page, "deny" answers 401.
func (s *signIn) defaultActions(onUnauthenticated string, tg *lb.TargetGroup) lb.ListenerDefaultActionArray {
	return lb.ListenerDefaultActionArray{
		lb.ListenerDefaultActionArgs{Type: pulumi.String("authenticate-cognito"), Order: pulumi.Int(1),
			AuthenticateCognito: lb.ListenerDefaultActionAuthenticateCognitoArgs{
				UserPoolArn: s.pool.Arn, UserPoolClientId: s.client.ID(), UserPoolDomain: s.domain.Domain,
				OnUnauthenticatedRequest: pulumi.String(onUnauthenticated), Scope: pulumi.String("openid"),
				SessionTimeout: pulumi.Int(sessionSeconds),
			}},
		lb.ListenerDefaultActionArgs{Type: pulumi.String("forward"), Order: pulumi.Int(2), TargetGroupArn: tg.Arn},
	}
}

// sessionSeconds is how long a sign-in lasts: a working day.
const sessionSeconds = 8 * 60 * 60

// newRules adds to the HTTPS listener, before its default action (sign in, then the app): the
// pipeline's smoke tests, which carry the secret header, straight to the app; and /api/*, whose
// unauthenticated requests get 401.
func (s *signIn) newRules(ctx *pulumi.Context, name string, listener *lb.Listener, tg *lb.TargetGroup, smokeTestToken pulumi.StringInput, parent pulumi.ResourceOption) error {
	if _, err := lb.NewListenerRule(ctx, name+"-smoke-tests", &lb.ListenerRuleArgs{
		ListenerArn: listener.Arn,
		Priority:    pulumi.Int(10),
		Conditions: lb.ListenerRuleConditionArray{lb.ListenerRuleConditionArgs{
			HttpHeader: lb.ListenerRuleConditionHttpHeaderArgs{
				HttpHeaderName: pulumi.String(SmokeTestHeader),
				Values:         pulumi.StringArray{smokeTestToken},
			},
		}},
		Actions: lb.ListenerRuleActionArray{lb.ListenerRuleActionArgs{Type: pulumi.String("forward"), TargetGroupArn: tg.Arn}},
	}, parent); err != nil {
		return err
	}
	var actions lb.ListenerRuleActionArray
	for _, a := range s.defaultActions("deny", tg) {
		d := a.(lb.ListenerDefaultActionArgs)
		ra := lb.ListenerRuleActionArgs{Type: d.Type, Order: d.Order, TargetGroupArn: d.TargetGroupArn}
		if c, ok := d.AuthenticateCognito.(lb.ListenerDefaultActionAuthenticateCognitoArgs); ok {
			ra.AuthenticateCognito = lb.ListenerRuleActionAuthenticateCognitoArgs{
				UserPoolArn: c.UserPoolArn, UserPoolClientId: c.UserPoolClientId, UserPoolDomain: c.UserPoolDomain,
				OnUnauthenticatedRequest: c.OnUnauthenticatedRequest, Scope: c.Scope, SessionTimeout: c.SessionTimeout,
			}
		}
		actions = append(actions, ra)
	}
	_, err := lb.NewListenerRule(ctx, name+"-api", &lb.ListenerRuleArgs{
		ListenerArn: listener.Arn,
		Priority:    pulumi.Int(20),
		Conditions: lb.ListenerRuleConditionArray{lb.ListenerRuleConditionArgs{
			PathPattern: lb.ListenerRuleConditionPathPatternArgs{Values: pulumi.ToStringArray([]string{"/api/*"})},
		}},
		Actions: actions,
	}, parent)
	return err
}
