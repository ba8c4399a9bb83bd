package scripts_test

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The bash constructs whose failures bash ignores, kept out of scripts/ so that a failed call
// always stops the step that made it (issue 22: a throttled describe-services read through a
// process substitution left the rollback plan empty, and the deploy went on).
var forbiddenConstructs = []struct {
	re  *regexp.Regexp
	why string
}{
	{regexp.MustCompile(`[<>]\(`), "process substitution: its exit status is lost; read the output into a variable first (x=$(cmd) || die ...), then <<<\"$x\""},
	{regexp.MustCompile(`\b(local|declare|typeset|export|readonly)\b[^#]*=\$\([^<]`), "`local x=$(cmd)` returns local's status, not cmd's: declare first, then assign"},
	{regexp.MustCompile(`\(\([^#]*\$\([^<]`), "a command substitution inside (( )) loses its failure: assign it first"},
	{regexp.MustCompile(`\[\[[^#]*\$\([^<]`), "a command substitution inside [[ ]] loses its failure: assign it first"},
	// Not a lost error but a false one: scripts/test.sh stopped once when a run took 11.000 s.
	{regexp.MustCompile(`(?:^|;|\bthen\b|\bdo\b|\belse\b)\s*\(\((?:[^|&;]|\|[^|]|&[^&])*(?:;|$)`), "an arithmetic command on its own stops the script under set -e when its value is 0 (`((n++))` from 0, `((ms = t % 1000))`): assign with x=$((...)), or test it in if or before ||"},
}

// codeLines are a script's lines without comments and without the heredoc of its usage text.
func codeLines(t *testing.T, path string) map[int]string {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	out := map[int]string{}
	heredoc := ""
	for i, line := range strings.Split(string(b), "\n") {
		trimmed := strings.TrimSpace(line)
		if heredoc != "" {
			if trimmed == heredoc {
				heredoc = ""
			}
			continue
		}
		if m := regexp.MustCompile(`<<-?'?([A-Z]+)'?`).FindStringSubmatch(line); m != nil {
			heredoc = m[1]
		}
		if strings.HasPrefix(trimmed, "#") {
			continue
		}
		out[i+1] = line
	}
	return out
}

func TestScriptsAvoidConstructsThatLoseErrors(t *testing.T) {
	t.Parallel()
	paths, err := filepath.Glob(filepath.Join("..", "..", "scripts", "*.sh"))
	require.NoError(t, err)
	require.NotEmpty(t, paths)
	for _, path := range paths {
		name := filepath.Base(path)
		lines := codeLines(t, path)
		for n, line := range lines {
			for _, f := range forbiddenConstructs {
				assert.False(t, f.re.MatchString(line), "%s:%d: %s\n\t%s", name, n, f.why, strings.TrimSpace(line))
			}
		}
		b, err := os.ReadFile(path)
		require.NoError(t, err)
		text := string(b)
		if name == "lib.sh" {
			// Sourced: the scripts' options apply; it adds errexit inside command substitutions.
			assert.Contains(t, text, "\nshopt -s inherit_errexit\n", name)
			continue
		}
		// Every script stops on a failed command, an unset variable and a failed pipeline stage,
		// and (itself or through lib.sh) inside command substitutions too.
		assert.Contains(t, text, "\nset -euo pipefail\n", name)
		assert.True(t, strings.Contains(text, "\nshopt -s inherit_errexit\n") || strings.Contains(text, `/lib.sh"`), "%s: inherit_errexit", name)
	}
}

// The check itself: each construct is caught, and the allowed forms are not.
func TestForbiddenConstructsAreCaught(t *testing.T) {
	t.Parallel()
	bad := []string{
		`done < <(services_table "$cluster" api worker)`,
		`tee >(gzip >x.gz)`,
		`local td=$(service_task_definition "$cluster" api)`,
		`if (($(changed "$preview") == 0)); then`,
		`[[ -n $(state_get "$stack" previous_api) ]] || continue`,
		`((n == 0))`,
		`	((i++))`,
		`((ms = t / 1000 % 1000))`,
		`if [[ -s $f ]]; then ((n++)); fi`,
		`for f in *; do ((n += 1)); done`,
	}
	good := []string{
		`table=$(services_table "$cluster" api worker) || die "cannot read"`,
		`IFS=$'\t' read -r a b <<<"$line"`,
		`local td`,
		`cause=$(<"$RUN_DIR/cause")`,
		`if [[ -s $RUN_DIR/cause ]]; then printf '%s' "$(<"$RUN_DIR/cause")"; fi`,
		`((n == 0)) || return 1`,
		`if ((n == 0)); then`,
		`ms=$((t / 1000 % 1000))`,
		`while ((i < ${#args[@]})); do`,
		`a=1; b=$((a + 1))`,
	}
	match := func(line string) bool {
		for _, f := range forbiddenConstructs {
			if f.re.MatchString(line) {
				return true
			}
		}
		return false
	}
	for _, l := range bad {
		assert.True(t, match(l), l)
	}
	for _, l := range good {
		assert.False(t, match(l), l)
	}
}
