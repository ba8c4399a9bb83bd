// Package iampolicy writes IAM policy documents from Go values, so that no component carries
// inline JSON and every statement is checked by the compiler.
package iampolicy

import (
	"encoding/json"
	"fmt"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// Document is an IAM policy document.
type Document struct {
	Version   string      `json:"Version"`
	Statement []Statement `json:"Statement"`
}

// Statement is one statement of a Document.
type Statement struct {
	Sid       string         `json:"Sid,omitempty"`
	Effect    string         `json:"Effect"`
	Principal map[string]any `json:"Principal,omitempty"`
	Action    []string       `json:"Action"`
	Resource  []string       `json:"Resource,omitempty"`
	// NotResource is every resource but these (a Deny's "outside this prefix").
	NotResource []string       `json:"NotResource,omitempty"`
	Condition   map[string]any `json:"Condition,omitempty"`
}

// New returns a document of the statements.
func New(statements ...Statement) Document {
	return Document{Version: "2012-10-17", Statement: statements}
}

// Allow is a statement allowing actions on resources.
func Allow(actions []string, resources ...string) Statement {
	return Statement{Effect: "Allow", Action: actions, Resource: resources}
}

// JSON renders the document. Documents hold only strings, lists and maps of them, so marshalling
// cannot fail; an error would be returned as an invalid policy that AWS rejects at preview.
func (d Document) JSON() string {
	b, err := json.Marshal(d)
	if err != nil {
		return "invalid policy: " + err.Error()
	}
	return string(b)
}

// AssumeRole is the trust policy that lets one AWS service assume a role.
func AssumeRole(service string) pulumi.String {
	return pulumi.String(New(Statement{
		Effect:    "Allow",
		Principal: map[string]any{"Service": service},
		Action:    []string{"sts:AssumeRole"},
	}).JSON())
}

// AssumeRoleFor is the trust policy that lets one AWS service assume a role on behalf of this
// account's resources only: aws:SourceAccount, and aws:SourceArn (ArnLike, so it may end in *)
// where the service sends it. AWS recommends both against the confused deputy: without them,
// the service would assume the role for anyone who names it.
func AssumeRoleFor(service, account, sourceArn string) pulumi.String {
	condition := map[string]any{"StringEquals": map[string]any{"aws:SourceAccount": account}}
	if sourceArn != "" {
		condition["ArnLike"] = map[string]any{"aws:SourceArn": sourceArn}
	}
	return pulumi.String(New(Statement{
		Effect:    "Allow",
		Principal: map[string]any{"Service": service},
		Action:    []string{"sts:AssumeRole"},
		Condition: condition,
	}).JSON())
}

// Render builds a policy from resolved ARNs: render is called with the values of arns, in order.
func Render(render func(arns []string) Document, arns ...pulumi.StringInput) pulumi.StringOutput {
	inputs := make([]any, len(arns))
	for i, a := range arns {
		inputs[i] = a
	}
	return pulumi.All(inputs...).ApplyT(func(values []any) string {
		resolved := make([]string, len(values))
		for i, v := range values {
			// A resource's ID resolves to pulumi.ID, not string: taken as "", it would put a
			// wildcard-like hole in an ARN.
			switch v := v.(type) {
			case string:
				resolved[i] = v
			case pulumi.ID:
				resolved[i] = string(v)
			}
		}
		return render(resolved).JSON()
	}).(pulumi.StringOutput)
}

// LambdaNetworkInterfaces are what Lambda needs, acting with a function's role, to manage the
// network interfaces of a function in a VPC: only in that VPC. CreateNetworkInterface authorises
// the subnet and security group it names (both carry ec2:Vpc) and the new interface, which does
// not exist yet and has no ec2:Vpc: a condition on it would refuse every creation. The existing
// interfaces' actions carry ec2:Vpc. DescribeNetworkInterfaces takes no resource.
func LambdaNetworkInterfaces(region, account, vpcID string) []Statement {
	arn := func(kind string) string { return fmt.Sprintf("arn:aws:ec2:%s:%s:%s", region, account, kind) }
	inVPC := map[string]any{"ArnEquals": map[string]any{"ec2:Vpc": arn("vpc/" + vpcID)}}
	return []Statement{
		Allow([]string{"ec2:DescribeNetworkInterfaces"}, "*"),
		Allow([]string{"ec2:CreateNetworkInterface"}, arn("network-interface/*")),
		{Effect: "Allow", Action: []string{"ec2:CreateNetworkInterface"},
			Resource: []string{arn("subnet/*"), arn("security-group/*")}, Condition: inVPC},
		{Effect: "Allow", Action: []string{"ec2:DeleteNetworkInterface", "ec2:AssignPrivateIpAddresses", "ec2:UnassignPrivateIpAddresses"},
			Resource: []string{arn("network-interface/*")}, Condition: inVPC},
	}
}

// DecryptVia allows actions on a KMS key only when an AWS service uses it on the caller's behalf
// (kms:ViaService), never directly.
func DecryptVia(key, service, region string, actions ...string) Statement {
	return Statement{Effect: "Allow", Action: actions, Resource: []string{key},
		Condition: map[string]any{"StringEquals": map[string]any{"kms:ViaService": fmt.Sprintf("%s.%s.amazonaws.com", service, region)}}}
}
