package naming

import "testing"

func TestNames(t *testing.T) {
	n := For("staging")
	for got, want := range map[string]string{
		n.Resource():                        "staging-taskmanager",
		n.Resource("db"):                    "staging-taskmanager-db",
		n.Resource("rotate", "database"):    "staging-taskmanager-rotate-database",
		n.Secret("database-url"):            "taskmanager/staging/database-url",
		n.Project():                         "taskmanager-staging",
		n.LogGroup("/ecs", "api"):           "/ecs/staging-taskmanager-api",
		n.LogGroup("/aws/lambda", "rotate"): "/aws/lambda/staging-taskmanager-rotate",
		"alias/" + n.Project():              "alias/taskmanager-staging",
	} {
		if got != want {
			t.Errorf("got %q, want %q", got, want)
		}
	}
}
