package scripts_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

// More stand-in CLIs, for scripts/report-drift.sh (gh) and scripts/refresh-staging-data.sh (the
// PostgreSQL client tools): the harness's stub, with a few lines run first that keep what the
// tests check and that the call line does not show.

// ghPrelude keeps the body a `gh ... --body-file FILE` sends (in gh-bodies.log, after a line
// "== <args>"): the script removes the file when it exits.
const ghPrelude = `for ((i = 1; i <= $#; i++)); do
	if [[ ${!i} == --body-file ]]; then
		j=$((i + 1))
		{ printf '== %s\n' "$*"; cat "${!j}"; printf '\n'; } >>"$STUB_DIR/gh-bodies.log"
	fi
done`

// pgPrelude keeps the password each PostgreSQL tool got in its environment (pgpassword.log): the
// only way a password may reach them.
const pgPrelude = `printf '%s PGPASSWORD=%s\n' "${0##*/}" "${PGPASSWORD:-}" >>"$STUB_DIR/pgpassword.log"`

// addStub puts tool on the sandbox's PATH: the harness's stub, prelude first.
func (s *sandbox) addStub(tool, prelude string) {
	s.t.Helper()
	require.NoError(s.t, os.WriteFile(filepath.Join(s.dir, "bin", tool), []byte(s.script(prelude+"\n"+stub)), 0o755))
}

// setOutputs gives the script GitHub Actions' step-output and step-summary files, and returns
// a reader of the outputs.
func (s *sandbox) setOutputs() func() string {
	s.t.Helper()
	s.env["GITHUB_OUTPUT"] = filepath.Join(s.dir, "github-output")
	s.env["GITHUB_STEP_SUMMARY"] = filepath.Join(s.dir, "step-summary")
	return func() string { return s.read("github-output") }
}

// writeFile writes name in the sandbox's directory and returns its path.
func (s *sandbox) writeFile(t *testing.T, name, content string) string {
	t.Helper()
	path := filepath.Join(s.dir, name)
	require.NoError(t, os.WriteFile(path, []byte(content), 0o644))
	return path
}
