package iampolicy

import (
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/stretchr/testify/assert"
)

type noMocks struct{}

func (noMocks) NewResource(args pulumi.MockResourceArgs) (string, resource.PropertyMap, error) {
	return args.Name + "-id", args.Inputs, nil
}

func (noMocks) Call(args pulumi.MockCallArgs) (resource.PropertyMap, error) { return args.Args, nil }

// Render gets a resource's ID (pulumi.ID, not string) as its value, never "": an ARN built from
// "" would name no resource, or every one.
func TestRenderResolvesIDs(t *testing.T) {
	got := make(chan string, 1)
	err := pulumi.RunErr(func(ctx *pulumi.Context) error {
		Render(func(a []string) Document {
			return New(Allow([]string{"ssm:StartSession"}, "instance/"+a[0], a[1]))
		}, pulumi.ID("i-0abc").ToIDOutput(), pulumi.String("doc")).ApplyT(func(s string) string {
			got <- s
			return s
		})
		return nil
	}, pulumi.WithMocks("p", "s", noMocks{}))
	assert.NoError(t, err)
	assert.Contains(t, <-got, `"Resource":["instance/i-0abc","doc"]`)
}
