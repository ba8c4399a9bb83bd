// Command access is the Pulumi program of the pipeline's own access (project taskmanager-access,
// one stack per AWS account): GitHub's OIDC provider and the pipeline's roles in the account, and
// the GitHub environments, variables and branch rules they are used through. It runs before any
// environment's stack, and rarely after.
package main

import "github.com/pulumi/pulumi/sdk/v3/go/pulumi"

func main() {
	pulumi.Run(deploy)
}
