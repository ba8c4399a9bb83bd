package edge

import (
	"encoding/json"
	"fmt"

	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/acm"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/lb"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/route53"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

const edgeType = "taskmanager:edge:Edge"

// TLSPolicy is the HTTPS listeners' policy: TLS 1.2 and 1.3 with forward secrecy (FSBP ELB.17).
const TLSPolicy = "ELBSecurityPolicy-TLS13-1-2-2021-06"

// TestListenerPort is the blue/green test listener's port, reachable from inside the VPC only.
const TestListenerPort = 8443

// Args configures the edge.
type Args struct {
	Config Config
	Stack  string
	VpcID  pulumi.StringInput
	// SubnetIDs are the public subnets, or the private ones for an internal load balancer.
	SubnetIDs       pulumi.StringArrayInput
	SecurityGroupID pulumi.StringInput
	// ContainerPort and HealthCheckPath are the API's.
	ContainerPort   int
	HealthCheckPath string
	// BlueGreen adds the second target group and the test listener CodeDeploy needs.
	BlueGreen bool
	// AccessLogsBucket, when set, receives the access logs.
	AccessLogsBucket pulumi.StringInput
	// AccessLogDependency is the bucket policy that lets the ELB write there: it must exist first.
	AccessLogDependency pulumi.Resource
	// SmokeTestToken is the secret the pipeline's smoke tests send in SmokeTestHeader to pass
	// the sign-in (Config.SignIn).
	SmokeTestToken pulumi.StringInput
	// Region is where the sign-in's Cognito domain lives.
	Region string
	// WAFLogRetentionDays and KeyArn are the WAF log group's.
	WAFLogRetentionDays int
	KeyArn              pulumi.StringInput
}

// Edge is the load balancer and what is in front of it.
type Edge struct {
	pulumi.ResourceState
	URL            pulumi.StringOutput `pulumi:"url"`
	DNSName        pulumi.StringOutput `pulumi:"dnsName"`
	ArnSuffix      pulumi.StringOutput `pulumi:"arnSuffix"`
	TargetGroupArn pulumi.StringOutput `pulumi:"targetGroupArn"` // blue
	// RequestLabel is the resource label of ALBRequestCountPerTarget for the blue target group.
	RequestLabel pulumi.StringOutput `pulumi:"requestLabel"`
	// BlueArnSuffix and GreenArnSuffix are the target groups' metric dimensions, which the
	// alarms watch; green only with blue/green.
	BlueArnSuffix  pulumi.StringOutput `pulumi:"blueArnSuffix"`
	GreenArnSuffix pulumi.StringOutput
	// Listeners must exist before a service registers in a target group.
	Listeners []pulumi.Resource
	// WAFLogGroup holds the WAF's logs (with the WAF): an audit log, archived where the stack
	// archives.
	WAFLogGroup pulumi.StringOutput
	// SignOutURL, with the sign-in, is where the app's /logout sends people once it has expired
	// the load balancer's session cookies: Cognito's logout, which ends its own session and
	// returns to SignedOutPath. Empty without the sign-in.
	SignOutURL pulumi.StringOutput
	// BlueGreen is what CodeDeploy shifts traffic between; nil unless Args.BlueGreen.
	BlueGreen *BlueGreenTargets
}

// BlueGreenTargets are what CodeDeploy shifts traffic between: the load balancer's two target
// groups and the listeners that route to them. release.Targets mirrors it field for field, so
// that the composition converts one into the other (components do not import each other) and
// the compiler keeps the two in step.
type BlueGreenTargets struct {
	BlueName, GreenName        pulumi.StringOutput // the target groups' names
	ProdListener, TestListener pulumi.StringOutput // the listeners' ARNs
	// The metric dimensions of the load balancer and the two target groups (their ARN
	// suffixes), which the deployment alarms watch.
	LoadBalancerSuffix, BlueSuffix, GreenSuffix pulumi.StringOutput
}

// NewEdge creates the load balancer, its listeners, certificate, DNS and WAF.
func NewEdge(ctx *pulumi.Context, name string, args *Args, opts ...pulumi.ResourceOption) (*Edge, error) {
	cfg := args.Config
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	e := &Edge{}
	if err := ctx.RegisterComponentResource(edgeType, name, e, opts...); err != nil {
		return nil, err
	}
	parent := pulumi.Parent(e)

	lbArgs := &lb.LoadBalancerArgs{
		LoadBalancerType:         pulumi.String("application"),
		Internal:                 pulumi.Bool(cfg.Internal),
		Subnets:                  args.SubnetIDs,
		SecurityGroups:           pulumi.StringArray{args.SecurityGroupID},
		DropInvalidHeaderFields:  pulumi.Bool(true),
		DesyncMitigationMode:     pulumi.String("defensive"),
		EnableDeletionProtection: pulumi.Bool(cfg.DeletionProtection),
		IdleTimeout:              pulumi.Int(60),
	}
	lbOpts := []pulumi.ResourceOption{parent}
	if args.AccessLogsBucket != nil {
		lbArgs.AccessLogs = lb.LoadBalancerAccessLogsArgs{
			Bucket: args.AccessLogsBucket, Enabled: pulumi.Bool(true), Prefix: pulumi.String("alb"),
		}
		lbOpts = append(lbOpts, pulumi.DependsOn([]pulumi.Resource{args.AccessLogDependency}))
	}
	alb, err := lb.NewLoadBalancer(ctx, name, lbArgs, lbOpts...)
	if err != nil {
		return nil, err
	}
	e.DNSName = alb.DnsName
	e.ArnSuffix = alb.ArnSuffix

	targetGroup := func(color string) (*lb.TargetGroup, error) {
		return lb.NewTargetGroup(ctx, fmt.Sprintf("%s-%s", name, color), &lb.TargetGroupArgs{
			TargetType:          pulumi.String("ip"),
			Protocol:            pulumi.String("HTTP"),
			Port:                pulumi.Int(args.ContainerPort),
			VpcId:               args.VpcID,
			DeregistrationDelay: pulumi.Int(30),
			HealthCheck: lb.TargetGroupHealthCheckArgs{
				Enabled: pulumi.Bool(true), Path: pulumi.String(args.HealthCheckPath), Matcher: pulumi.String("200"),
				Interval: pulumi.Int(15), Timeout: pulumi.Int(5), HealthyThreshold: pulumi.Int(2), UnhealthyThreshold: pulumi.Int(3),
			},
		}, parent)
	}
	blue, err := targetGroup("blue")
	if err != nil {
		return nil, err
	}
	e.TargetGroupArn = blue.Arn
	e.BlueArnSuffix = blue.ArnSuffix
	e.RequestLabel = pulumi.Sprintf("%s/%s", alb.ArnSuffix, blue.ArnSuffix)
	forward := func(tg *lb.TargetGroup) lb.ListenerDefaultActionArray {
		return lb.ListenerDefaultActionArray{lb.ListenerDefaultActionArgs{Type: pulumi.String("forward"), TargetGroupArn: tg.Arn}}
	}

	zoneID, err := zone(ctx, name, args, parent)
	if err != nil {
		return nil, err
	}
	names := append([]string{cfg.DomainName}, cfg.AlternativeNames...)

	if cfg.Internal {
		// Named waiver of the HTTPS rule: inside the VPC there is no public certificate, and
		// only the bastion's port forwarding reaches this listener.
		http, err := lb.NewListener(ctx, name+"-http", &lb.ListenerArgs{
			LoadBalancerArn: alb.Arn, Port: pulumi.Int(80), Protocol: pulumi.String("HTTP"), DefaultActions: forward(blue),
		}, parent)
		if err != nil {
			return nil, err
		}
		e.Listeners = []pulumi.Resource{http}
		e.URL = pulumi.Sprintf("http://%s", cfg.DomainName).ToStringOutput()
	} else {
		certArn, err := certificate(ctx, name, names, zoneID, parent)
		if err != nil {
			return nil, err
		}
		redirect, err := lb.NewListener(ctx, name+"-http", &lb.ListenerArgs{
			LoadBalancerArn: alb.Arn, Port: pulumi.Int(80), Protocol: pulumi.String("HTTP"),
			DefaultActions: lb.ListenerDefaultActionArray{lb.ListenerDefaultActionArgs{
				Type: pulumi.String("redirect"),
				Redirect: lb.ListenerDefaultActionRedirectArgs{
					Protocol: pulumi.String("HTTPS"), Port: pulumi.String("443"), StatusCode: pulumi.String("HTTP_301"),
				},
			}},
		}, parent)
		if err != nil {
			return nil, err
		}
		actions := forward(blue)
		var door *signIn
		if cfg.SignIn {
			if door, err = newSignIn(ctx, name, args, names, parent); err != nil {
				return nil, err
			}
			actions = door.defaultActions("authenticate", blue)
		}
		https, err := lb.NewListener(ctx, name+"-https", &lb.ListenerArgs{
			LoadBalancerArn: alb.Arn, Port: pulumi.Int(443), Protocol: pulumi.String("HTTPS"),
			SslPolicy: pulumi.String(TLSPolicy), CertificateArn: certArn, DefaultActions: actions,
		}, parent, pulumi.IgnoreChanges(blueGreenOwned(args.BlueGreen)))
		if err != nil {
			return nil, err
		}
		if door != nil {
			if err := door.newRules(ctx, name, https, blue, args.SmokeTestToken, args.HealthCheckPath, parent); err != nil {
				return nil, err
			}
			e.SignOutURL = door.signOutURL(args.Region, names[0])
		}
		e.Listeners = []pulumi.Resource{redirect, https}
		e.URL = pulumi.Sprintf("https://%s", cfg.DomainName).ToStringOutput()

		if args.BlueGreen {
			green, err := targetGroup("green")
			if err != nil {
				return nil, err
			}
			test, err := lb.NewListener(ctx, name+"-test", &lb.ListenerArgs{
				LoadBalancerArn: alb.Arn, Port: pulumi.Int(TestListenerPort), Protocol: pulumi.String("HTTPS"),
				SslPolicy: pulumi.String(TLSPolicy), CertificateArn: certArn, DefaultActions: forward(green),
			}, parent, pulumi.IgnoreChanges(blueGreenOwned(true)))
			if err != nil {
				return nil, err
			}
			e.Listeners = append(e.Listeners, test)
			e.GreenArnSuffix = green.ArnSuffix
			e.BlueGreen = &BlueGreenTargets{
				BlueName: blue.Name, GreenName: green.Name,
				ProdListener: https.Arn, TestListener: test.Arn,
				LoadBalancerSuffix: alb.ArnSuffix, BlueSuffix: blue.ArnSuffix, GreenSuffix: green.ArnSuffix,
			}
		}
		if cfg.WAF != nil {
			if e.WAFLogGroup, err = newWAF(ctx, name, args, alb.Arn, parent); err != nil {
				return nil, err
			}
		}
	}

	for i, host := range names {
		if _, err := route53.NewRecord(ctx, fmt.Sprintf("%s-alias-%d", name, i), &route53.RecordArgs{
			ZoneId: zoneID, Name: pulumi.String(host), Type: pulumi.String("A"),
			Aliases: route53.RecordAliasArray{route53.RecordAliasArgs{
				Name: alb.DnsName, ZoneId: alb.ZoneId, EvaluateTargetHealth: pulumi.Bool(true),
			}},
		}, parent, pulumi.DeleteBeforeReplace(true)); err != nil { // one record per name and type
			return nil, err
		}
	}
	outs := pulumi.Map{
		"url": e.URL, "dnsName": e.DNSName, "arnSuffix": e.ArnSuffix, "targetGroupArn": e.TargetGroupArn,
		"requestLabel": e.RequestLabel, "blueArnSuffix": e.BlueArnSuffix,
	}
	if bg := e.BlueGreen; bg != nil {
		outs["greenArnSuffix"] = e.GreenArnSuffix
		outs["blueGreen"] = pulumi.StringMap{
			"blueName": bg.BlueName, "greenName": bg.GreenName,
			"prodListener": bg.ProdListener, "testListener": bg.TestListener,
			"loadBalancerSuffix": bg.LoadBalancerSuffix, "blueSuffix": bg.BlueSuffix, "greenSuffix": bg.GreenSuffix,
		}
	}
	return e, ctx.RegisterResourceOutputs(e, outs)
}

// blueGreenOwned are the listener properties CodeDeploy changes when it shifts traffic.
func blueGreenOwned(blueGreen bool) []string {
	if !blueGreen {
		return nil
	}
	return []string{"defaultActions"}
}

// zone is the hosted zone of the names: the existing public zone, or for an internal edge a
// private zone of its own, visible in the VPC only.
func zone(ctx *pulumi.Context, name string, args *Args, parent pulumi.ResourceOption) (pulumi.StringInput, error) {
	if args.Config.Internal {
		z, err := route53.NewZone(ctx, name+"-private", &route53.ZoneArgs{
			Name:         pulumi.String(args.Config.DomainName),
			Comment:      pulumi.Sprintf("taskmanager %s: reachable inside the VPC only", args.Stack),
			Vpcs:         route53.ZoneVpcArray{route53.ZoneVpcArgs{VpcId: args.VpcID}},
			ForceDestroy: pulumi.Bool(true),
		}, parent)
		if err != nil {
			return nil, err
		}
		return z.ZoneId, nil
	}
	z, err := route53.LookupZone(ctx, &route53.LookupZoneArgs{Name: pulumi.StringRef(args.Config.HostedZone), PrivateZone: pulumi.BoolRef(false)})
	if err != nil {
		return nil, fmt.Errorf("taskmanager:edge.hostedZone: looking up the public zone %q: %w", args.Config.HostedZone, err)
	}
	return pulumi.String(z.ZoneId), nil
}

// certificate is a DNS-validated ACM certificate of the names; the listeners use it once issued.
func certificate(ctx *pulumi.Context, name string, names []string, zoneID pulumi.StringInput, parent pulumi.ResourceOption) (pulumi.StringInput, error) {
	cert, err := acm.NewCertificate(ctx, name, &acm.CertificateArgs{
		DomainName:              pulumi.String(names[0]),
		SubjectAlternativeNames: pulumi.ToStringArray(names[1:]),
		ValidationMethod:        pulumi.String("DNS"),
		KeyAlgorithm:            pulumi.String("RSA_2048"),
	}, parent)
	if err != nil {
		return nil, err
	}
	var fqdns pulumi.StringArray
	for i, host := range names {
		option := cert.DomainValidationOptions.ApplyT(func(opts []acm.CertificateDomainValidationOption) acm.CertificateDomainValidationOption {
			for _, o := range opts {
				if o.DomainName != nil && *o.DomainName == host {
					return o
				}
			}
			return acm.CertificateDomainValidationOption{}
		}).(acm.CertificateDomainValidationOptionOutput)
		rec, err := route53.NewRecord(ctx, fmt.Sprintf("%s-validation-%d", name, i), &route53.RecordArgs{
			ZoneId:         zoneID,
			Name:           option.ResourceRecordName().Elem(),
			Type:           option.ResourceRecordType().Elem(),
			Records:        pulumi.StringArray{option.ResourceRecordValue().Elem()},
			Ttl:            pulumi.Int(60),
			AllowOverwrite: pulumi.Bool(true),
		}, parent, pulumi.DeleteBeforeReplace(true)) // an overwrite, then the old one's delete, would remove it
		if err != nil {
			return nil, err
		}
		fqdns = append(fqdns, rec.Fqdn)
	}
	validation, err := acm.NewCertificateValidation(ctx, name, &acm.CertificateValidationArgs{
		CertificateArn: cert.Arn, ValidationRecordFqdns: fqdns,
	}, parent)
	if err != nil {
		return nil, err
	}
	return validation.CertificateArn, nil
}

func mustJSON(v any) string {
	b, _ := json.Marshal(v) // maps and lists of strings and numbers: cannot fail
	return string(b)
}
