// Package stacks is one environment: it loads and validates the stack's config, builds the
// environment from the infra components, and exports what operators and pipelines need.
package stacks

import (
	"fmt"
	"strings"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/taskmanager/taskmanager-infra/infra/network"
	"github.com/taskmanager/taskmanager-infra/internal/configcheck"
)

// Ports the data stores listen on, as their engines default them.
const (
	postgresPort = 5432
	redisPort    = 6379
)

// Deploy is the program: pulumi.Run(stacks.Deploy).
func Deploy(ctx *pulumi.Context) error {
	src, err := sourceOf(ctx)
	if err != nil {
		return err
	}
	cfg, err := Load(src)
	if err != nil {
		return fmt.Errorf("stack %q has invalid configuration (Pulumi.%s.yaml); nothing was deployed:\n%s",
			src.Stack, src.Stack, bulleted(err))
	}
	return build(ctx, cfg)
}

// bulleted renders each problem of err on a line of its own.
func bulleted(err error) string {
	var b strings.Builder
	for _, p := range configcheck.List(err) {
		fmt.Fprintf(&b, "  - %s\n", p.Error())
	}
	return strings.TrimSuffix(b.String(), "\n")
}

// build registers the environment's resources from a valid config.
func build(ctx *pulumi.Context, cfg *Config) error {
	lbPorts := []int{80, 443}
	if cfg.Edge.Internal {
		// Inside the VPC there is no public certificate: the internal load balancer serves HTTP.
		lbPorts = []int{80}
	}
	net, err := network.NewNetwork(ctx, cfg.Stack, &network.Args{
		Config: cfg.Network,
		Ports: network.Ports{
			Container: cfg.API.ContainerPort,
			Database:  postgresPort,
			Cache:     redisPort,
			SMTP:      cfg.App.SMTP.Port,
		},
		PublicLoadBalancer:   !cfg.Edge.Internal,
		LoadBalancerPorts:    lbPorts,
		FlowLogRetentionDays: cfg.Logging.RetentionDays,
	})
	if err != nil {
		return err
	}

	ctx.Export("vpcId", net.VpcID)
	ctx.Export("publicSubnetIds", net.PublicSubnetIDs)
	ctx.Export("privateSubnetIds", net.PrivateSubnetIDs)
	ctx.Export("isolatedSubnetIds", net.IsolatedSubnetIDs)
	return nil
}
