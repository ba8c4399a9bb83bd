package spec

import (
	"strings"
	"testing"
)

func TestLoad(t *testing.T) {
	s, err := Load()
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Environments) != 3 {
		t.Fatalf("%d environments, want 3", len(s.Environments))
	}
	prod, ok := s.ByStack("production")
	if !ok || prod.Name != "production" {
		t.Fatalf("no production stack: %+v", prod)
	}
	if lo, hi := prod.Costs.Range(); lo != 2210 || hi != 5450 {
		t.Errorf("production's total %v-%v, want 2210-5450", lo, hi)
	}
	if r, _ := prod.Costs.Row("ECS API"); r.Cost != "~$180-$1800" {
		t.Errorf("production's ECS API row %+v", r)
	}
	dev, _ := s.ByName("development")
	if env := dev.AppEnvironment(); env["PORT"] != "8000" || env["LOG_LEVEL"] != "DEBUG" {
		t.Errorf("dev's app environment lacks the common or its own variables: %v", env)
	}
	if svc, _ := dev.TFVars.Service("worker"); svc != (Service{256, 512, 2, 1, 10}) {
		t.Errorf("dev's worker %+v", svc)
	}
}

// A typo in a key, a cost that does not parse or rows that do not add up fail the load.
func TestDecodeRejectsMistakes(t *testing.T) {
	for _, c := range []struct{ from, to, want string }{
		{"db_instance_class: db.t3.micro", "db_instance_clas: db.t3.micro", "db_instance_clas"},
		{"cost: ~$12 }", "cost: about 12 }", `cost "about 12"`},
		{"cost: ~$12 }", "cost: ~$13 }", "add up to 78-78"},
	} {
		broken := strings.Replace(string(data), c.from, c.to, 1)
		if _, err := decode([]byte(broken)); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s → %s: error %v, want it to say %q", c.from, c.to, err, c.want)
		}
	}
}
