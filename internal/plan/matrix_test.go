package plan

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/taskmanager/taskmanager-infra/internal/mockengine"
)

func allStacks(t *testing.T) []*Stack {
	t.Helper()
	var out []*Stack
	for _, name := range []string{"dev", "staging", "production"} {
		out = append(out, evaluate(t, name))
	}
	return out
}

// docs/environments.md is generated: a change to a stack file that it does not reflect fails.
func TestMatrixDocIsCurrent(t *testing.T) {
	want, err := MatrixDocument(allStacks(t))
	if err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(filepath.Join(projectDir, MatrixDoc))
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != want {
		t.Errorf("%s is stale; regenerate it with `go run ./cmd/plan matrix --write`", MatrixDoc)
	}
}

// The rows the spec's matrix has agree with what the stacks build.
func TestMatrixAgreesWithTheSpec(t *testing.T) {
	rows, err := Matrix(allStacks(t))
	if err != nil {
		t.Fatal(err)
	}
	compared := 0
	for _, r := range rows {
		for i, v := range r.Values {
			if r.Spec[i] == "" {
				continue
			}
			compared++
			if v != r.Spec[i] {
				t.Errorf("%s, %s: the stack has %q, the spec's matrix %q", r.Feature, allStacks(t)[i].Name, v, r.Spec[i])
			}
		}
	}
	if compared != 3*len(specMatrix) {
		t.Errorf("compared %d cells, want %d: a spec row is not derived", compared, 3*len(specMatrix))
	}
}

func TestMonitoringRule(t *testing.T) {
	cases := []struct {
		name string
		res  []*mockengine.Resource
		want string
	}{
		{"logs only", []*mockengine.Resource{fake(typeDBInstance, "db", map[string]any{"monitoringInterval": 0.0})}, "Basic"},
		{"alarms without a full level", []*mockengine.Resource{fake(typeDBInstance, "db", nil), fake(typeSNSTopic, "t", nil)}, "Basic"},
		{"enhanced monitoring", []*mockengine.Resource{fake(typeDBInstance, "db", map[string]any{"monitoringInterval": 60.0})}, "Full"},
		{"performance insights", []*mockengine.Resource{fake(typeDBInstance, "db", map[string]any{"performanceInsightsEnabled": true})}, "Full"},
		{"a dashboard", []*mockengine.Resource{fake(typeDashboard, "d", nil)}, "Full"},
		{"alarms that notify no one", []*mockengine.Resource{fake(typeDashboard, "d", nil), fake(typeAlarm, "a", map[string]any{"alarmActions": []any{}})}, "Full"},
		{"alarms with actions", []*mockengine.Resource{fake(typeDashboard, "d", nil), fake(typeAlarm, "a", map[string]any{"alarmActions": []any{"arn:topic"}})}, "Full + Alerting"},
		{"a topic", []*mockengine.Resource{fake(typeDashboard, "d", nil), fake(typeSNSTopic, "t", nil)}, "Full + Alerting"},
	}
	for _, c := range cases {
		if got := monitoring(c.res); got != c.want {
			t.Errorf("%s: %s, want %s", c.name, got, c.want)
		}
	}
}

func TestMinutes(t *testing.T) {
	for in, want := range map[string]string{"1440": "24 hours", "15": "15 minutes", "60": "1 hour", "90": "90 minutes"} {
		if got := minutes(in); got != want {
			t.Errorf("minutes(%s) = %s, want %s", in, got, want)
		}
	}
}
