// Package mockengine runs the real program (stacks.Deploy) against a real stack file in-process,
// on Pulumi's mocks, and records every resource it registers: what `pulumi preview` would list,
// with no cloud account, no Pulumi CLI and no network. The tests and the offline tools share it.
package mockengine

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// Account and Region are what the mocks answer for the AWS account and region.
const (
	Account = "123456789012"
	Region  = "us-east-1"
)

// Resource is one registration, as the engine received it.
type Resource struct {
	Type   string // type token, e.g. aws:rds/instance:Instance
	Name   string // logical name
	URN    string
	Parent string // the parent's URN; the stack's for top-level resources
	Custom bool   // false for components
	// Inputs are the resource's inputs with secrets unwrapped to their values; SecretInputs
	// names the top-level inputs that were marked secret.
	Inputs       map[string]any
	SecretInputs map[string]bool
	// Options.
	Protect        bool
	RetainOnDelete bool
	IgnoreChanges  []string
	// DeleteBeforeReplace: a replacement deletes the old resource first (its fixed name is free).
	DeleteBeforeReplace bool
	DependsOn           []string // URNs
	// Aliases are the URNs the resource had before (pulumi.Aliases): Pulumi moves it instead of
	// replacing it.
	Aliases []string
}

// Recorder is a pulumi.MockResourceMonitor that records every registration and answers with
// plausible outputs.
type Recorder struct {
	mu        sync.Mutex
	resources []*Resource
	outputs   map[string]Output
	// Images are the ECR repositories that exist before the run, with their image tags: none,
	// as in a new account, unless a test says otherwise.
	Images map[string][]string
}

// Output is one stack output.
type Output struct {
	Value  any
	Secret bool
}

// NewRecorder returns an empty recorder.
func NewRecorder() *Recorder { return &Recorder{outputs: map[string]Output{}} }

// Resources returns every registration, in order.
func (r *Recorder) Resources() []*Resource {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]*Resource(nil), r.resources...)
}

// All returns the registrations of one type, in order.
func (r *Recorder) All(typ string) []*Resource {
	var out []*Resource
	for _, res := range r.Resources() {
		if res.Type == typ {
			out = append(out, res)
		}
	}
	return out
}

// Find returns the registration of a type and logical name.
func (r *Recorder) Find(typ, name string) (*Resource, bool) {
	for _, res := range r.Resources() {
		if res.Type == typ && res.Name == name {
			return res, true
		}
	}
	return nil, false
}

// Outputs returns the stack outputs by name.
func (r *Recorder) Outputs() map[string]Output {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make(map[string]Output, len(r.outputs))
	for k, v := range r.outputs {
		out[k] = v
	}
	return out
}

func (r *Recorder) setOutput(name string, value any, secret bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.outputs[name] = Output{Value: value, Secret: secret}
}

// NewResource records a registration and returns its inputs, plus the outputs AWS would add.
func (r *Recorder) NewResource(args pulumi.MockResourceArgs) (string, resource.PropertyMap, error) {
	res := &Resource{
		Type:         args.TypeToken,
		Name:         args.Name,
		Custom:       args.Custom,
		Inputs:       map[string]any{},
		SecretInputs: map[string]bool{},
	}
	for k, v := range args.Inputs {
		res.Inputs[string(k)] = plain(v)
		if v.ContainsSecrets() {
			res.SecretInputs[string(k)] = true
		}
	}
	if rpc := args.RegisterRPC; rpc != nil {
		res.Parent = rpc.GetParent()
		res.Protect = rpc.GetProtect()
		res.RetainOnDelete = rpc.GetRetainOnDelete()
		res.IgnoreChanges = rpc.GetIgnoreChanges()
		res.DependsOn = rpc.GetDependencies()
		res.DeleteBeforeReplace = rpc.GetDeleteBeforeReplace()
		res.URN = urn(res.Parent, args.TypeToken, args.Name)
		for _, a := range rpc.GetAliases() {
			if u := a.GetUrn(); u != "" {
				res.Aliases = append(res.Aliases, u)
				continue
			}
			spec := a.GetSpec()
			name, typ, parent := spec.GetName(), spec.GetType(), res.Parent
			if name == "" {
				name = args.Name
			}
			if typ == "" {
				typ = args.TypeToken
			}
			if p := spec.GetParentUrn(); p != "" {
				parent = p
			} else if spec.GetNoParent() {
				parent = ""
			}
			res.Aliases = append(res.Aliases, urn(parent, typ, name))
		}
	}
	r.mu.Lock()
	r.resources = append(r.resources, res)
	r.mu.Unlock()

	id := args.Name + "-id"
	if !args.Custom {
		id = ""
	}
	state := args.Inputs.Copy()
	for k, v := range fakeOutputs(args.TypeToken, args.Name, args.Inputs) {
		if _, set := state[resource.PropertyKey(k)]; !set {
			state[resource.PropertyKey(k)] = resource.NewPropertyValue(v)
		}
	}
	return id, state, nil
}

// Call answers the invokes the program makes.
func (r *Recorder) Call(args pulumi.MockCallArgs) (resource.PropertyMap, error) {
	switch args.Token {
	case "aws:index/getCallerIdentity:getCallerIdentity":
		return resource.NewPropertyMapFromMap(map[string]any{
			"accountId": Account, "arn": "arn:aws:iam::" + Account + ":user/mock", "userId": "mock",
		}), nil
	case "aws:index/getRegion:getRegion":
		return resource.NewPropertyMapFromMap(map[string]any{"name": Region, "id": Region}), nil
	case "aws:route53/getZone:getZone":
		return resource.NewPropertyMapFromMap(map[string]any{
			"zoneId": "Z-" + args.Args["name"].StringValue(), "name": args.Args["name"].StringValue(),
		}), nil
	case "aws:ec2/getAmi:getAmi":
		return resource.NewPropertyMapFromMap(map[string]any{"id": "ami-0mockal2023arm64", "imageId": "ami-0mockal2023arm64"}), nil
	case "aws:ecr/getRepositories:getRepositories":
		return resource.NewPropertyMapFromMap(map[string]any{"id": Region, "names": slices.Sorted(maps.Keys(r.Images))}), nil
	case "aws:ecr/getImage:getImage":
		repo := args.Args["repositoryName"].StringValue()
		if latest, ok := args.Args["mostRecent"]; ok && latest.IsBool() && latest.BoolValue() {
			if len(r.Images[repo]) == 0 {
				return nil, fmt.Errorf("ImageNotFoundException: the repository %q holds no image", repo)
			}
			return resource.NewPropertyMapFromMap(map[string]any{"repositoryName": repo, "imageTag": r.Images[repo][len(r.Images[repo])-1], "imageDigest": "sha256:mock"}), nil
		}
		tag := args.Args["imageTag"].StringValue()
		if !slices.Contains(r.Images[repo], tag) {
			return nil, fmt.Errorf("ImageNotFoundException: the image with imageTag %q does not exist within the repository %q", tag, repo)
		}
		return resource.NewPropertyMapFromMap(map[string]any{"repositoryName": repo, "imageTag": tag, "imageDigest": "sha256:mock"}), nil
	case "aws:ec2/getRouteTable:getRouteTable":
		// awsx gives each subnet a route table of its own (its children, which the mocks never
		// see): answer the one associated with a subnet the VPC's outputs named.
		subnet := args.Args["subnetId"]
		if !subnet.IsString() || !strings.HasPrefix(subnet.StringValue(), "subnet-") {
			return nil, fmt.Errorf("getRouteTable: the mocks answer by subnetId (a subnet of an awsx VPC), got %v", args.Args)
		}
		id := "rtb-" + strings.TrimPrefix(subnet.StringValue(), "subnet-")
		result := map[string]any{"id": id, "routeTableId": id, "subnetId": subnet.StringValue(), "ownerId": Account,
			"arn": fmt.Sprintf("arn:aws:ec2:%s:%s:route-table/%s", Region, Account, id)}
		if vpc, ok := args.Args["vpcId"]; ok && vpc.IsString() {
			result["vpcId"] = vpc.StringValue()
		}
		return resource.NewPropertyMapFromMap(result), nil
	case "aws:iam/getOpenIdConnectProvider:getOpenIdConnectProvider":
		// The access program adopts the account's GitHub provider (access/, oidcProvider adopt).
		url := strings.TrimPrefix(args.Args["url"].StringValue(), "https://")
		return resource.NewPropertyMapFromMap(map[string]any{
			"arn": "arn:aws:iam::" + Account + ":oidc-provider/" + url, "url": url, "id": url,
			"clientIdLists": []any{"sts.amazonaws.com"}, "thumbprintLists": []any{},
		}), nil
	case "aws:index/getPartition:getPartition":
		return resource.NewPropertyMapFromMap(map[string]any{"partition": "aws", "dnsSuffix": "amazonaws.com"}), nil
	}
	return args.Args, nil
}

// urn mirrors the engine's URN scheme: the parent's type chain, then this type and name.
func urn(parent, typ, name string) string {
	if parent == "" {
		return fmt.Sprintf("urn:pulumi:stack::taskmanager::%s::%s", typ, name)
	}
	// urn:pulumi:<stack>::<project>::<parent types>::<parent name>
	parts := strings.SplitN(parent, "::", 4)
	if len(parts) < 4 {
		return parent + "$" + typ + "::" + name
	}
	types := parts[2]
	if types == "pulumi:pulumi:Stack" {
		return fmt.Sprintf("%s::%s::%s::%s", parts[0], parts[1], typ, name)
	}
	return fmt.Sprintf("%s::%s::%s$%s::%s", parts[0], parts[1], types, typ, name)
}

// plain turns a property value into plain Go values: secrets unwrapped, unknowns nil, resource
// references their URN.
func plain(v resource.PropertyValue) any {
	switch {
	case v.IsSecret():
		return plain(v.SecretValue().Element)
	case v.IsOutput():
		if !v.OutputValue().Known {
			return nil
		}
		return plain(v.OutputValue().Element)
	case v.IsComputed(), v.IsNull():
		return nil
	case v.IsResourceReference():
		return string(v.ResourceReferenceValue().URN)
	case v.IsArray():
		out := []any{}
		for _, e := range v.ArrayValue() {
			out = append(out, plain(e))
		}
		return out
	case v.IsObject():
		out := map[string]any{}
		for k, e := range v.ObjectValue() {
			out[string(k)] = plain(e)
		}
		return out
	default:
		return v.V
	}
}
