// Command taskmanager is the Pulumi program of the Task Management System's infrastructure.
package main

import (
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/taskmanager/taskmanager-infra/stacks"
)

func main() {
	pulumi.Run(stacks.Deploy)
}
