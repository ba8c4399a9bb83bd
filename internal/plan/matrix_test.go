package plan

import (
	"testing"

	"github.com/taskmanager/taskmanager-infra/internal/mockengine"
	"github.com/taskmanager/taskmanager-infra/internal/spec"
)

func allStacks(t *testing.T) []*Stack {
	t.Helper()
	var out []*Stack
	for _, name := range []string{"dev", "staging", "production"} {
		out = append(out, evaluate(t, name))
	}
	return out
}

// The rows the spec's matrix has agree with what the stacks build, and every row of the spec's
// matrix is derived but those no stack file holds.
func TestMatrixAgreesWithTheSpec(t *testing.T) {
	all := allStacks(t)
	rows, err := Matrix(all)
	if err != nil {
		t.Fatal(err)
	}
	derived := map[string]bool{}
	for _, r := range rows {
		for i, v := range r.Values {
			if r.Spec[i] == "" {
				continue
			}
			derived[r.Feature] = true
			if v != r.Spec[i] {
				t.Errorf("%s, %s: the stack has %q, the spec's matrix %q", r.Feature, all[i].Name, v, r.Spec[i])
			}
		}
	}
	sp, err := spec.Load()
	if err != nil {
		t.Fatal(err)
	}
	notInStackFiles := map[string]bool{"Uptime SLA": true, "Data": true, "Deployment": true, "Cost/Month": true}
	for feature := range sp.Matrix {
		if !derived[feature] && !notInStackFiles[feature] {
			t.Errorf("the spec's matrix row %q is not derived", feature)
		}
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
