package edge

import (
	"fmt"
	"net/url"

	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/cognito"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/lb"
	"github.com/pulumi/pulumi-random/sdk/v4/go/random"
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
		// Staging holds a sanitized copy of production's data: every sign-in takes a second
		// factor, an authenticator app (TOTP).
		MfaConfiguration:              pulumi.String("ON"),
		SoftwareTokenMfaConfiguration: cognito.UserPoolSoftwareTokenMfaConfigurationArgs{Enabled: pulumi.Bool(true)},
		// Threat protection enforced: compromised credentials and risky sign-ins are blocked, not
		// only reported. It is a feature of the Plus tier.
		UserPoolTier:   pulumi.String("PLUS"),
		UserPoolAddOns: cognito.UserPoolUserPoolAddOnsArgs{AdvancedSecurityMode: pulumi.String("ENFORCED")},
		AccountRecoverySetting: cognito.UserPoolAccountRecoverySettingArgs{
			RecoveryMechanisms: cognito.UserPoolAccountRecoverySettingRecoveryMechanismArray{
				cognito.UserPoolAccountRecoverySettingRecoveryMechanismArgs{Name: pulumi.String("verified_email"), Priority: pulumi.Int(1)},
			},
		},
	}, parent)
	if err != nil {
		return nil, err
	}
	// The hosted sign-in page. A prefix is unique per region across all accounts, and it is
	// public: a random suffix makes it ours without publishing the account id.
	suffix, err := random.NewRandomString(ctx, name+"-sign-in-domain", &random.RandomStringArgs{
		Length: pulumi.Int(8), Special: pulumi.Bool(false), Upper: pulumi.Bool(false),
	}, parent)
	if err != nil {
		return nil, err
	}
	domain, err := cognito.NewUserPoolDomain(ctx, name+"-sign-in", &cognito.UserPoolDomainArgs{
		Domain:     pulumi.Sprintf("%s-%s", naming.For(args.Stack).Project(), suffix.Result),
		UserPoolId: pool.ID(),
	}, parent)
	if err != nil {
		return nil, err
	}
	var callbacks, signedOut []string
	for _, h := range hosts {
		// The load balancer finishes the sign-in at this path of each name it serves.
		callbacks = append(callbacks, fmt.Sprintf("https://%s/oauth2/idpresponse", h))
		// Where Cognito's logout sends people back to (SignedOutPath, outside the sign-in).
		signedOut = append(signedOut, fmt.Sprintf("https://%s%s", h, SignedOutPath))
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
		LogoutUrls:                      pulumi.ToStringArray(signedOut),
		// A sign-in lasts a working day (sessionSeconds); no token outlives it by much.
		RefreshTokenValidity: pulumi.Int(RefreshTokenHours),
		AccessTokenValidity:  pulumi.Int(1),
		IdTokenValidity:      pulumi.Int(1),
		TokenValidityUnits: cognito.UserPoolClientTokenValidityUnitsArgs{
			RefreshToken: pulumi.String("hours"), AccessToken: pulumi.String("hours"), IdToken: pulumi.String("hours"),
		},
		EnableTokenRevocation: pulumi.Bool(true),
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

// RefreshTokenHours bounds the sign-in's refresh tokens (at most 12 hours).
const RefreshTokenHours = 12

// Signing out must end both sessions: Cognito's, and the load balancer's own cookie
// (AWSELBAuthSessionCookie-*), which a redirect alone leaves valid until it expires. LogoutPath
// answers with both: the cookies expired, then a redirect to Cognito's logout endpoint, which
// returns to SignedOutPath, a page outside the sign-in.
const (
	LogoutPath    = "/logout"
	SignedOutPath = "/signed-out"
)

// newRules adds to the HTTPS listener, before its default action (sign in, then the app): the
// pipeline's smoke tests, which carry the secret header, straight to the app; and /api/*, whose
// unauthenticated requests get 401.
func (s *signIn) newRules(ctx *pulumi.Context, name string, listener *lb.Listener, tg *lb.TargetGroup, smokeTestToken pulumi.StringInput, healthPath string, parent pulumi.ResourceOption) error {
	// The header opens only what the smoke test reads (scripts/deploy.sh --smoke-test): a GET of
	// the health path. Anything else with the header signs in like everyone.
	if _, err := lb.NewListenerRule(ctx, name+"-smoke-tests", &lb.ListenerRuleArgs{
		ListenerArn: listener.Arn,
		Priority:    pulumi.Int(10),
		Conditions: lb.ListenerRuleConditionArray{
			lb.ListenerRuleConditionArgs{HttpHeader: lb.ListenerRuleConditionHttpHeaderArgs{
				HttpHeaderName: pulumi.String(SmokeTestHeader),
				Values:         pulumi.StringArray{smokeTestToken},
			}},
			lb.ListenerRuleConditionArgs{HttpRequestMethod: lb.ListenerRuleConditionHttpRequestMethodArgs{
				Values: pulumi.ToStringArray([]string{"GET"}),
			}},
			lb.ListenerRuleConditionArgs{PathPattern: lb.ListenerRuleConditionPathPatternArgs{
				Values: pulumi.ToStringArray([]string{healthPath}),
			}},
		},
		Actions: lb.ListenerRuleActionArray{lb.ListenerRuleActionArgs{Type: pulumi.String("forward"), TargetGroupArn: tg.Arn}},
	}, parent); err != nil {
		return err
	}
	// After Cognito's logout: a page of the load balancer's own, outside the sign-in.
	if _, err := lb.NewListenerRule(ctx, name+"-signed-out", &lb.ListenerRuleArgs{
		ListenerArn: listener.Arn,
		Priority:    pulumi.Int(15),
		Conditions: lb.ListenerRuleConditionArray{lb.ListenerRuleConditionArgs{
			PathPattern: lb.ListenerRuleConditionPathPatternArgs{Values: pulumi.ToStringArray([]string{SignedOutPath})},
		}},
		Actions: lb.ListenerRuleActionArray{lb.ListenerRuleActionArgs{Type: pulumi.String("fixed-response"),
			FixedResponse: lb.ListenerRuleActionFixedResponseArgs{
				ContentType: pulumi.String("text/plain"), StatusCode: pulumi.String("200"),
				MessageBody: pulumi.String("You are signed out."),
			}}},
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

// signOutURL is Cognito's logout endpoint for this client, returning to host's SignedOutPath.
func (s *signIn) signOutURL(region, host string) pulumi.StringOutput {
	back := url.QueryEscape(fmt.Sprintf("https://%s%s", host, SignedOutPath))
	return pulumi.Sprintf("https://%s.auth.%s.amazoncognito.com/logout?client_id=%s&logout_uri=%s", s.domain.Domain, region, s.client.ID(), back)
}
