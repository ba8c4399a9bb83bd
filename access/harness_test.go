package main

import (
	"encoding/json"
	"maps"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/stretchr/testify/require"

	"github.com/taskmanager/taskmanager-infra/internal/iampolicy"
	"github.com/taskmanager/taskmanager-infra/internal/mockengine"
)

// exampleValues are the committed example account's config values (Pulumi.example.yaml).
func exampleValues(t *testing.T) map[string]string {
	t.Helper()
	src, err := mockengine.LoadStack(".", "example")
	require.NoError(t, err)
	return maps.Clone(src.Values)
}

// run runs the access program on config values under Pulumi's mocks (the main program's mock
// engine answers the AWS invokes) and returns what it registered, and the program's error.
func run(t *testing.T, values map[string]string) (*mockengine.Recorder, error) {
	t.Helper()
	rec := mockengine.NewRecorder()
	src := source{Stack: "example", Values: values}
	err := pulumi.RunErr(func(ctx *pulumi.Context) error {
		return deploy(withSource(ctx, src))
	}, pulumi.WithMocks("taskmanager-access", "example", rec), func(info *pulumi.RunInfo) { info.Config = values })
	return rec, err
}

// runExample runs the example account and fails the test on an error.
func runExample(t *testing.T) *mockengine.Recorder {
	t.Helper()
	rec, err := run(t, exampleValues(t))
	require.NoError(t, err)
	return rec
}

// document decodes a policy input (JSON text) into statements.
func document(t *testing.T, v any) iampolicy.Document {
	t.Helper()
	s, ok := v.(string)
	require.True(t, ok, "policy is %T, not JSON text", v)
	var d iampolicy.Document
	require.NoError(t, json.Unmarshal([]byte(s), &d))
	return d
}

// one is the registration of a type and logical name; the test stops without it.
func one(t *testing.T, rec *mockengine.Recorder, typ, name string) *mockengine.Resource {
	t.Helper()
	r, ok := rec.Find(typ, name)
	require.True(t, ok, "no %s %q", typ, name)
	return r
}
