// Package naming makes the physical names of one stack's resources: every name that AWS, the
// runbook or the pipeline sees comes from here, so that the scheme is written once. Names use the
// stack name (dev, staging, production), as the spec's scripts do (ENVIRONMENT=${1}).
package naming

import "strings"

// Names are one stack's physical names.
type Names struct{ Stack string }

// For returns the names of a stack.
func For(stack string) Names { return Names{Stack: stack} }

// Resource is <stack>-taskmanager[-part...]: the cluster, the database, task families, functions,
// alarms' prefix, dashboards, streams.
func (n Names) Resource(parts ...string) string {
	return strings.Join(append([]string{n.Stack + "-taskmanager"}, parts...), "-")
}

// Secret is a secret's name in Secrets Manager: taskmanager/<stack>/<name>.
func (n Names) Secret(name string) string { return "taskmanager/" + n.Stack + "/" + name }

// Project is taskmanager-<stack>[-part...]: names that start with the project, such as the image
// repository, the key's alias and the sign-in's user pool.
func (n Names) Project(parts ...string) string {
	return strings.Join(append([]string{"taskmanager-" + n.Stack}, parts...), "-")
}

// PipelineBoundary is the name of the IAM permissions boundary that the access program
// (access/) creates for the stack's deploy role, and that every role of the stack carries: the
// deploy role can create roles only with it. Outside the <stack>- prefix that the deploy may write.
func (n Names) PipelineBoundary() string { return n.Project("pipeline-boundary") }

// LogGroup is a log group's name under an AWS service's prefix (/ecs, /aws/lambda, /aws/events,
// /ssm) for a Resource name: <prefix>/<stack>-taskmanager-<part...>.
func (n Names) LogGroup(prefix string, parts ...string) string {
	return prefix + "/" + n.Resource(parts...)
}
