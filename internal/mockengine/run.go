package mockengine

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"gopkg.in/yaml.v3"

	"github.com/taskmanager/taskmanager-infra/infra/secrets"
	"github.com/taskmanager/taskmanager-infra/stacks"
)

// Project is the Pulumi project's name.
const Project = "taskmanager"

// LoadStack reads Pulumi.<stack>.yaml from the project directory dir into the values the Pulumi
// engine would hand the program. A secure value (set with `pulumi config set --secret`) cannot be
// decrypted offline: it reads as "mock-secret-<key>".
func LoadStack(dir, stack string) (stacks.Source, error) {
	path := filepath.Join(dir, "Pulumi."+stack+".yaml")
	data, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		return stacks.Source{}, fmt.Errorf("no stack %q: %s does not exist; the stacks are %s",
			stack, path, strings.Join(Stacks(dir), ", "))
	}
	if err != nil {
		return stacks.Source{}, err
	}
	var file struct {
		Config map[string]any `yaml:"config"`
	}
	if err := yaml.Unmarshal(data, &file); err != nil {
		return stacks.Source{}, fmt.Errorf("%s: %w", path, err)
	}
	src := stacks.Source{Stack: stack, Values: map[string]string{}}
	for key, v := range file.Config {
		if m, ok := v.(map[string]any); ok && len(m) == 1 && m["secure"] != nil {
			src.Values[key] = "mock-secret-" + key
			src.SecretKeys = append(src.SecretKeys, key)
			continue
		}
		if s, ok := v.(string); ok {
			src.Values[key] = s
			continue
		}
		b, err := json.Marshal(v)
		if err != nil {
			return stacks.Source{}, fmt.Errorf("%s: %s: %w", path, key, err)
		}
		src.Values[key] = string(b)
	}
	sort.Strings(src.SecretKeys)
	return src, nil
}

// Stacks lists the stacks that have a file in dir.
func Stacks(dir string) []string {
	matches, _ := filepath.Glob(filepath.Join(dir, "Pulumi.*.yaml"))
	var out []string
	for _, m := range matches {
		out = append(out, strings.TrimSuffix(strings.TrimPrefix(filepath.Base(m), "Pulumi."), ".yaml"))
	}
	sort.Strings(out)
	return out
}

// Run loads a stack file from dir and runs the program on it.
func Run(dir, stack string) (*Recorder, error) {
	src, err := LoadStack(dir, stack)
	if err != nil {
		return nil, err
	}
	return RunSource(src)
}

// RunSource runs the program (stacks.Deploy) on config values under mocks and returns what it
// registered. The error is the program's, as `pulumi preview` would print it.
func RunSource(src stacks.Source) (*Recorder, error) {
	rec := NewRecorder()
	return rec, RunWith(src, rec)
}

// RunWith runs the program on config values under mocks, recording into rec (whose Images say
// what exists in ECR beforehand).
func RunWith(src stacks.Source, rec *Recorder) error {
	withConfig := func(info *pulumi.RunInfo) {
		info.Config = src.Values
		info.ConfigSecretKeys = src.SecretKeys
	}
	// Stack outputs are read by applies, which may run after the program returns: wait for them.
	var outputs sync.WaitGroup
	err := pulumi.RunErr(func(ctx *pulumi.Context) error {
		if err := stacks.Deploy(stacks.WithSource(ctx, src)); err != nil {
			return err
		}
		for name, v := range ctx.GetCurrentExportMap() {
			out := pulumi.ToOutput(v)
			secret := pulumi.IsSecret(out)
			outputs.Add(1)
			pulumi.Unsecret(out).ApplyT(func(x any) any {
				defer outputs.Done()
				rec.setOutput(name, x, secret)
				return x
			})
		}
		return nil
	}, pulumi.WithMocks(Project, src.Stack, rec), withConfig)
	if err == nil {
		done := make(chan struct{})
		go func() { outputs.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			err = fmt.Errorf("stack outputs did not resolve within 10s")
		}
	}
	return err
}

// FindProjectDir returns the nearest directory at or above dir that holds Pulumi.yaml.
func FindProjectDir(dir string) (string, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	for d := abs; ; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, "Pulumi.yaml")); err == nil {
			return d, nil
		}
		if filepath.Dir(d) == d {
			return "", fmt.Errorf("no Pulumi.yaml in %s or above it", abs)
		}
	}
}

// WithExternalSecrets returns src with a stand-in for every person-supplied secret value
// (taskmanager:externalSecrets) that is missing: what an operator sets with
// `pulumi config set --secret` and the offline engine cannot decrypt.
func WithExternalSecrets(src stacks.Source) stacks.Source {
	const key = "taskmanager:externalSecrets"
	values := map[string]string{}
	if raw, ok := src.Values[key]; ok {
		_ = json.Unmarshal([]byte(raw), &values)
	}
	for _, k := range secrets.ExternalKeys() {
		if values[k] == "" {
			values[k] = "mock-" + k
		}
	}
	b, _ := json.Marshal(values)
	out := stacks.Source{Stack: src.Stack, Values: map[string]string{}}
	for k, v := range src.Values {
		out.Values[k] = v
	}
	out.Values[key] = string(b)
	out.SecretKeys = append([]string{key}, src.SecretKeys...)
	return out
}
