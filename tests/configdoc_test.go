package tests

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"

	"github.com/taskmanager/taskmanager-infra/internal/configdoc"
)

// The configuration reference's tests live here, in the binary that links the program anyway:
// a test binary of internal/configdoc would link it a second time (docs/performance.md).

// docs/configuration.md is generated from the config types: it must be exactly what they say now,
// so that a field added, removed, retyped or redocumented shows in the same change.
func TestReferenceIsCurrent(t *testing.T) {
	want, err := configdoc.Markdown(projectDir)
	require.NoError(t, err)
	got, err := os.ReadFile(filepath.Join(projectDir, configdoc.Path))
	require.NoError(t, err)
	if string(got) != want {
		t.Fatalf("%s is stale: regenerate it with `go run ./cmd/configdoc` and commit it", configdoc.Path)
	}
}

// Every key of the three stack files is in the reference (the reference is what the types decode,
// and the strict loader refuses any other key: this holds the generator to the loader), and every
// key the issue named the old README table for missing is there.
func TestReferenceCoversEveryStackFileKey(t *testing.T) {
	groups, err := configdoc.Groups(projectDir)
	require.NoError(t, err)
	paths := configdoc.Paths(groups)
	for _, stack := range []string{"dev", "staging", "production"} {
		b, err := os.ReadFile(filepath.Join(projectDir, "Pulumi."+stack+".yaml"))
		require.NoError(t, err)
		var file struct {
			Config map[string]any `yaml:"config"`
		}
		require.NoError(t, yaml.Unmarshal(b, &file))
		for key, v := range file.Config {
			if !strings.HasPrefix(key, "taskmanager:") {
				continue
			}
			for _, p := range leaves(key, v) {
				assert.Contains(t, paths, p, "Pulumi.%s.yaml sets %s, which the reference lacks", stack, p)
			}
		}
	}
	for _, p := range []string{"taskmanager:monitoring", "taskmanager:bastion", "taskmanager:database.proxy",
		"taskmanager:database.proxy.maxConnectionsPercent", "taskmanager:database.monitoringIntervalSeconds",
		"taskmanager:api.command", "taskmanager:worker.command", "taskmanager:worker.backlogPerTask",
		"taskmanager:budget.monthlyUSD", "taskmanager:secrets.keyPrincipals", "taskmanager:externalSecrets.googleClientSecret"} {
		assert.Contains(t, paths, p)
	}
}

// leaves are the keys under one stack-file value: each map key, nested, lists not descended.
func leaves(prefix string, v any) []string {
	out := []string{prefix}
	if m, ok := v.(map[string]any); ok {
		if _, secure := m["secure"]; secure && len(m) == 1 {
			return out
		}
		for k, child := range m {
			out = append(out, leaves(prefix+"."+k, child)...)
		}
	}
	return out
}

// Every key has a type, a requirement and a description; optional keys say what leaving them out
// means; the closed sets come from the validation's own variables.
func TestReferenceRows(t *testing.T) {
	groups, err := configdoc.Groups(projectDir)
	require.NoError(t, err)
	byPath := map[string]configdoc.Key{}
	for _, g := range groups {
		assert.NotEmpty(t, g.Doc, g.Key)
		for _, k := range g.Keys {
			byPath[k.Path] = k
			assert.NotEmpty(t, k.Type, k.Path)
			assert.NotEmpty(t, k.Required, k.Path)
			assert.NotEmpty(t, k.Doc, k.Path)
			if k.Required == "no" {
				assert.NotEmpty(t, k.Default, k.Path)
			}
		}
	}
	assert.Equal(t, configdoc.Key{Path: "taskmanager:worker.backlogPerTask", Type: "number", Required: "where `worker.autoscaling` is true",
		Default: "no queue-depth scaling or function", Doc: byPath["taskmanager:worker.backlogPerTask"].Doc}, byPath["taskmanager:worker.backlogPerTask"])
	assert.Equal(t, "`basic`, `full`, `alerting`", byPath["taskmanager:monitoring.level"].Allowed)
	assert.Equal(t, "`Single`, `OnePerAz`, `Instance`", byPath["taskmanager:network.natGateways"].Allowed)
	assert.Equal(t, "list of string", byPath["taskmanager:api.command"].Type)
	assert.Equal(t, "where `database.proxy` is set", byPath["taskmanager:database.proxy.maxConnectionsPercent"].Required)
	assert.True(t, byPath["taskmanager:externalSecrets.smtpPassword"].Secret)
	assert.True(t, strings.HasPrefix(byPath["taskmanager:api.maxCapacity"].Doc, "`minCapacity` and `maxCapacity` bound auto scaling"),
		"a field documented together with the one before it shares its comment, with keys for Go names")
	assert.False(t, slices.ContainsFunc(configdoc.Paths(groups), func(p string) bool { return strings.Contains(p, "..") }))
}
