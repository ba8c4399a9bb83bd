package tests

import (
	"flag"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// updateURNs rewrites tests/testdata/<stack>.urns from what the program registers now:
//
//	go test ./tests -run TestResourceIdentity -update-urns
//
// Only do it for a change of identity made on purpose, and say in the commit why each added or
// removed URN is right. A resource whose URN changes is deleted and created again by the next
// `pulumi up` unless it carries pulumi.Aliases with its old identity: a database, a key or a
// bucket must never move without one.
var updateURNs = flag.Bool("update-urns", false, "rewrite tests/testdata/<stack>.urns from the program")

// newComponents are the types of component resources added since the .urns files were recorded.
// A component holds nothing in AWS, so adding one replaces nothing; what moved under it carries
// an alias of its recorded URN, and is checked as such. Issue 12: the security groups and their
// rules moved from the network to the firewall, and the API's CodeDeploy application, group,
// role and alarms from the compute to the release.
var newComponents = []string{"taskmanager:firewall:Firewall", "taskmanager:release:BlueGreen"}

// Every resource's identity (its URN: type, name and parents) is under test: a refactor that
// renames, re-types or re-parents a resource fails here instead of replacing it in AWS.
func TestResourceIdentity(t *testing.T) {
	for _, stack := range allStacks {
		t.Run(stack, func(t *testing.T) {
			var urns []string
			aliased := map[string]bool{} // old URNs a resource now carries as aliases
			resources := runStack(t, stack).Resources()
			for _, r := range resources {
				urns = append(urns, r.URN)
				for _, a := range r.Aliases {
					aliased[a] = true
				}
			}
			slices.Sort(urns)
			got := strings.Join(urns, "\n") + "\n"
			path := filepath.Join("testdata", stack+".urns")
			if *updateURNs {
				// The file records identities as they are: a moved resource's old URN stays only
				// while its alias does.
				require.NoError(t, os.MkdirAll("testdata", 0o755))
				require.NoError(t, os.WriteFile(path, []byte(got), 0o644))
				return
			}
			want, err := os.ReadFile(path)
			require.NoError(t, err, "no recorded identities; create them with -update-urns")
			wantURNs := strings.Split(strings.TrimSuffix(string(want), "\n"), "\n")
			// A resource that moved with an alias of its recorded URN keeps its identity: the
			// recorded file stays as it is, and the new URN is accepted through the alias.
			var added, removed []string
			moved := map[string]bool{}
			for _, r := range resources {
				for _, a := range r.Aliases {
					if slices.Contains(wantURNs, a) {
						moved[r.URN] = true
					}
				}
			}
			for _, r := range resources {
				if !r.Custom && slices.Contains(newComponents, r.Type) {
					continue
				}
				if !slices.Contains(wantURNs, r.URN) && !moved[r.URN] {
					added = append(added, r.URN)
				}
			}
			for _, u := range wantURNs {
				if !slices.Contains(urns, u) && !aliased[u] {
					removed = append(removed, u)
				}
			}
			assert.Empty(t, removed, "%s: resources whose identity is gone (each would be deleted, or replaced without an alias)", stack)
			assert.Empty(t, added, "%s: new identities (new resources, or moved ones without an alias); if on purpose: go test ./tests -run TestResourceIdentity -update-urns", stack)
		})
	}
}
