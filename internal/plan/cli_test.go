package plan

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func runPlan(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code = Main(args, &out, &errOut)
	return code, out.String(), errOut.String()
}

// Each command runs from the command line, flags before or after the stack names.
func TestCommands(t *testing.T) {
	for _, c := range []struct {
		args []string
		want []string
	}{
		{[]string{"plan", "dev", "--dir", projectDir}, []string{"Plan: stack dev (development)", "aws:rds/instance:Instance", "Secret values are stand-ins"}},
		{[]string{"plan", "--markdown", "production", "-dir=" + projectDir}, []string{"| Type | Name | Sizing |", "| --- | --- | --- |", "Multi-AZ"}},
		{[]string{"cost", "production", "--dir", projectDir}, []string{"Monthly cost estimate: production", "Total for production:"}},
		{[]string{"cost", "dev", "--dir=" + projectDir, "--markdown"}, []string{"| Component | Item |", "NAT instance t4g.nano"}},
		{[]string{"diff", "dev", "--dir", projectDir, "production"}, []string{"Diff: dev → production", "instanceClass: ", "<stack>-replica"}},
		{[]string{"matrix", "--dir", projectDir}, []string{"Single AZ, no replica", "Multi-AZ, with replica"}},
	} {
		code, out, errOut := runPlan(t, c.args...)
		if code != 0 {
			t.Errorf("%v: exit %d, stderr %s", c.args, code, errOut)
			continue
		}
		for _, w := range c.want {
			if !strings.Contains(out, w) {
				t.Errorf("%v: output lacks %q", c.args, w)
			}
		}
	}
}

func TestUnknownStack(t *testing.T) {
	code, out, errOut := runPlan(t, "plan", "prod", "--dir", projectDir)
	if code != 1 || out != "" {
		t.Errorf("exit %d, stdout %q; want 1 and nothing", code, out)
	}
	for _, want := range []string{`error: no stack "prod"`, "dev, production, staging"} {
		if !strings.Contains(errOut, want) {
			t.Errorf("stderr %q lacks %q", errOut, want)
		}
	}
}

// An invalid stack file fails as `pulumi preview` does: every problem, one a line, exit 1.
func TestInvalidConfig(t *testing.T) {
	dir := t.TempDir()
	for _, f := range []string{"Pulumi.yaml", "Pulumi.dev.yaml"} {
		data, err := os.ReadFile(filepath.Join(projectDir, f))
		if err != nil {
			t.Fatal(err)
		}
		if f == "Pulumi.dev.yaml" {
			f = "Pulumi.broken.yaml"
			data = bytes.Replace(data, []byte("instanceClass: db.t3.micro"), []byte("instanceClass: db.t3.micro\n    instanceClas: db.t3.small"), 1)
			data = bytes.Replace(data, []byte("memory: 512"), []byte("memory: 4096"), 1)
		}
		if err := os.WriteFile(filepath.Join(dir, f), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	code, _, errOut := runPlan(t, "cost", "broken", "--dir", dir)
	if code != 1 {
		t.Errorf("exit %d, want 1", code)
	}
	for _, want := range []string{
		`error: stack "broken" has invalid configuration (Pulumi.broken.yaml); nothing was deployed:`,
		"  - taskmanager:api.memory: 4096 MiB is not a Fargate memory size for cpu 256",
		"  - taskmanager:database.instanceClas",
	} {
		if !strings.Contains(errOut, want) {
			t.Errorf("stderr lacks %q:\n%s", want, errOut)
		}
	}
	if strings.Contains(errOut, "error occurred") {
		t.Errorf("stderr keeps the SDK's wrapping:\n%s", errOut)
	}
}

func TestUsage(t *testing.T) {
	for _, args := range [][]string{{}, {"plan"}, {"plan", "dev", "staging"}, {"deploy", "dev"}, {"plan", "dev", "--color"},
		{"cost", "dev", "--write"}, {"--markdown", "cost", "dev"}, {"plan", "dev", "--dir"}} {
		if code, _, errOut := runPlan(t, args...); code != 2 || !strings.Contains(errOut, "usage: go run ./cmd/plan") {
			t.Errorf("%v: exit %d, stderr %q; want 2 and the usage", args, code, errOut)
		}
	}
}

// docs/environments.md is generated: matrix --write must reproduce the committed file, so a
// change to a stack file that it does not reflect fails.
func TestMatrixWrite(t *testing.T) {
	dir := t.TempDir()
	for _, f := range []string{"Pulumi.yaml", "Pulumi.dev.yaml", "Pulumi.staging.yaml", "Pulumi.production.yaml"} {
		data, err := os.ReadFile(filepath.Join(projectDir, f))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, f), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Mkdir(filepath.Join(dir, "docs"), 0o755); err != nil {
		t.Fatal(err)
	}
	if code, _, errOut := runPlan(t, "matrix", "--write", "--dir", dir); code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	written, err := os.ReadFile(filepath.Join(dir, "docs", "environments.md"))
	if err != nil {
		t.Fatal(err)
	}
	committed, err := os.ReadFile(filepath.Join(projectDir, MatrixDoc))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(written, committed) {
		t.Errorf("%s is stale; regenerate it with `go run ./cmd/plan matrix --write`", MatrixDoc)
	}
}
