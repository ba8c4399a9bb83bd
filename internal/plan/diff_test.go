package plan

import (
	"strings"
	"testing"

	"github.com/taskmanager/taskmanager-infra/internal/spec"
)

func TestNormalizer(t *testing.T) {
	norm := normalizer("dev")
	for in, want := range map[string]string{
		"dev-api":                    "<stack>-api",
		"taskmanager/dev/jwt-secret": "taskmanager/<stack>/jwt-secret",
		"taskmanager-dev:bootstrap":  "taskmanager-<stack>:bootstrap",
		"dev-dev-taskmanager-db":     "<stack>-<stack>-taskmanager-db",
		"development":                "development",
		"devices":                    "devices",
		"arn:aws:lb:us-east-1:1:dev": "arn:aws:lb:us-east-1:1:<stack>",
	} {
		if got := norm(in); got != want {
			t.Errorf("normalize(%q) = %q, want %q", in, got, want)
		}
	}
}

func diffOf(t *testing.T, a, b string) *StackDiff {
	t.Helper()
	d, err := DiffStacks(evaluate(t, a), evaluate(t, b))
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func changeOf(t *testing.T, changes []Change, path string) Change {
	t.Helper()
	for _, c := range changes {
		if c.Path == path {
			return c
		}
	}
	t.Fatalf("no change at %s in %+v", path, changes)
	return Change{}
}

// The spec (internal/spec): dev is Single AZ without a replica; production is Multi-AZ with a
// replica, on another class.
func TestDiffDevProduction(t *testing.T) {
	sp, err := spec.Load()
	if err != nil {
		t.Fatal(err)
	}
	dev, _ := sp.ByStack("dev")
	prod, _ := sp.ByStack("production")
	d := diffOf(t, "dev", "production")
	db := d.Find(typeDBInstance, "<stack>")
	if c := changeOf(t, db, "instanceClass"); c.A != dev.TFVars.DBInstanceClass || c.B != prod.TFVars.DBInstanceClass {
		t.Errorf("instanceClass: %s → %s, want %s → %s", c.A, c.B, dev.TFVars.DBInstanceClass, prod.TFVars.DBInstanceClass)
	}
	if c := changeOf(t, db, "multiAz"); c.A != "false" || c.B != "true" {
		t.Errorf("multiAz: %s → %s, want false → true", c.A, c.B)
	}
	replica := false
	for _, k := range d.OnlyB {
		if k.Type == typeDBInstance && k.Name == "<stack>-replica" {
			replica = true
		}
	}
	if !replica {
		t.Errorf("the replica is not reported as production's only: %v", d.OnlyB)
	}
	for _, k := range d.OnlyA {
		if k.Type == typeDBInstance {
			t.Errorf("dev has no database production lacks, got %v", k)
		}
	}
	// The task definitions compare inside containerDefinitions, environment variables by name.
	api := d.Find(typeTaskDefinition, "<stack>-api")
	if c := changeOf(t, api, "containerDefinitions[api].environment[LOG_LEVEL].value"); c.A != "DEBUG" || c.B != "INFO" {
		t.Errorf("LOG_LEVEL: %s → %s, want DEBUG → INFO", c.A, c.B)
	}
	if c := changeOf(t, d.Settings, "taskmanager:database.replica.instanceClass"); c.A != absent || c.B != prod.TFVars.DBReplicaInstanceClass {
		t.Errorf("settings replica: %s → %s", c.A, c.B)
	}
}

// Names and ARNs that differ only by the stack's name are not differences.
func TestDiffNormalisesStackNames(t *testing.T) {
	d := diffOf(t, "staging", "production")
	// staging-api and production-api are one resource, <stack>-api, and what differs is real.
	if c := changeOf(t, d.Find(typeService, "<stack>-api"), "desiredCount"); c.A != "3" || c.B != "5" {
		t.Errorf("api desiredCount: %s → %s, want 3 → 5", c.A, c.B)
	}
	for _, rc := range d.Changed {
		for _, c := range rc.Changes {
			if strings.Contains(c.Path, "environment[") {
				continue // the app's settings compare literally: ENVIRONMENT=staging is real
			}
			if strings.Contains(c.A, "staging") && strings.ReplaceAll(c.A, "staging", "production") == c.B {
				t.Errorf("%s %s differs by the stack's name only: %s → %s", rc.Key, c.Path, c.A, c.B)
			}
		}
	}
	for _, c := range d.Find(typeSecret, "<stack>-jwt-secret") {
		if c.Path == "name" {
			t.Errorf("secret names taskmanager/<stack>/jwt-secret must compare equal: %+v", c)
		}
	}
}

func TestDiffOfAStackWithItselfIsEmpty(t *testing.T) {
	d := diffOf(t, "production", "production")
	if len(d.Settings)+len(d.OnlyA)+len(d.OnlyB)+len(d.Changed) != 0 {
		t.Errorf("production differs from itself: %+v", d)
	}
}
