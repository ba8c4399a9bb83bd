// Package scripts_test runs the lifecycle scripts (scripts/deploy.sh, create-environment.sh,
// destroy-environment.sh) against stand-ins for the pulumi, aws, skopeo and curl CLIs: small bash
// scripts put first on PATH that record every call and answer from rules each test writes. No
// cloud, no Pulumi CLI, no network. The scripts need bash 4+ and jq, as on an operator's machine.
package scripts_test

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/taskmanager/taskmanager-infra/internal/testserver"
)

// stub is every stand-in CLI. It appends "<tool> <args>" to calls.log, keeps what a secret
// `pulumi config set` or a `curl -K -` reads on stdin (in stdin.log, curl-config.log: the tests
// check where secrets go), then answers with the first rule whose glob matches the call line.
// A rule file holds the glob, the exit code, "once" or "always", then the output.
// It answers with builtins only, and runs under the absolute path of the bash on PATH (no env
// lookup): a test of a deploy makes hundreds of calls, and each process started costs.
const stub = `tool=${0##*/}
dir=${STUB_DIR:?}
line="$tool $*"
printf '%s\n' "$line" >>"$dir/calls.log"
if [[ $tool == pulumi && " $* " == *" config set "* && " $* " == *" --secret "* ]]; then
	printf '%s\t%s\n' "$*" "$(cat)" >>"$dir/stdin.log"
fi
if [[ $tool == curl && " $* " == *" -K - "* ]]; then
	printf '%s\n' "$(cat)" >>"$dir/curl-config.log"
fi
shopt -s nullglob
for rule in "$dir"/rules/*.rule; do
	{ IFS= read -r pattern; IFS= read -r code; IFS= read -r mode; } <"$rule"
	[[ $line == $pattern ]] || continue
	if [[ $mode == once ]]; then
		[[ -e $rule.used ]] && continue
		: >"$rule.used"
	fi
	body=
	IFS= read -r -d '' body <"$rule" || true
	body=${body#*$'\n'} body=${body#*$'\n'} body=${body#*$'\n'}
	printf '%s' "$body"
	exit "$code"
done
exit 0
`

// buildStub stands in for scripts/build-lambdas.sh (a real Go cross-compile) in create's tests.
const buildStub = `printf 'build-lambdas\n' >>"$STUB_DIR/calls.log"
`

// sandbox is one test's PATH of stubs, its rules and its logs.
type sandbox struct {
	t     *testing.T
	dir   string
	bash  string // its absolute path, for the stubs' #! line
	rules int
	env   map[string]string
}

// scriptsJQ is the jq the scripts run with: testserver.JQ's (jq 1.7.1, the pipeline's, unless
// $SCRIPTS_TEST_JQ names another). Outside CI, where it is not installed, the jq on PATH stands in.
var scriptsJQ = sync.OnceValues(func() (string, error) {
	path, err := testserver.JQ()
	if err != nil && !testserver.InCI() {
		return exec.LookPath("jq")
	}
	return path, err
})

// stubsRun checks once that a file in the temp directory can be run: on a noexec mount the
// stubs would be passed over, and the scripts would call the real CLIs on PATH.
var stubsRun = sync.OnceValue(func() error {
	dir, err := os.MkdirTemp("", "exec-probe")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	probe := filepath.Join(dir, "probe")
	if err := os.WriteFile(probe, []byte("#!/bin/sh\n"), 0o700); err != nil {
		return err
	}
	if err := exec.Command(probe).Run(); err != nil {
		return fmt.Errorf("a file in the temp directory %s cannot be run (%v; mounted noexec?): the stubs would be passed over for the real CLIs; set TMPDIR to a directory that allows it", os.TempDir(), err)
	}
	return nil
})

func newSandbox(t *testing.T) *sandbox {
	t.Helper()
	require.NoError(t, stubsRun())
	bash, err := exec.LookPath("bash")
	require.NoError(t, err, "bash is required by scripts/*.sh and by these tests")
	jq, err := scriptsJQ()
	require.NoError(t, err, "jq is required by scripts/*.sh and by these tests; %s installs it", testserver.InstallCommand)
	dir := t.TempDir()
	bin := filepath.Join(dir, "bin")
	require.NoError(t, os.MkdirAll(bin, 0o755))
	require.NoError(t, os.MkdirAll(filepath.Join(dir, "rules"), 0o755))
	require.NoError(t, os.Symlink(jq, filepath.Join(bin, "jq")))
	s := &sandbox{t: t, dir: dir, bash: bash}
	for _, tool := range []string{"pulumi", "aws", "skopeo", "curl"} {
		s.addStub(tool, "")
	}
	build := filepath.Join(dir, "build-lambdas.sh")
	require.NoError(t, os.WriteFile(build, []byte(s.script(buildStub)), 0o755))
	s.env = map[string]string{
		// The stubs and jq first; the real tools (bash, sed, date...) after.
		"PATH":             bin + string(os.PathListSeparator) + os.Getenv("PATH"),
		"HOME":             dir,
		"STUB_DIR":         dir,
		"DEPLOY_STATE_DIR": filepath.Join(dir, "state"),
		"BUILD_LAMBDAS":    build,
		"POLL_SECONDS":     "0",
		"SMOKE_INTERVAL":   "0",
	}
	return s
}

// script is a bash script's text with its #! line.
func (s *sandbox) script(body string) string { return "#!" + s.bash + "\n" + body }

// inCI runs the scripts as the pipeline does: GitHub Actions sets CI=true, and production's job
// there is bound to the GitHub environment "production" (its reviewers are the approval), so the
// scripts ask for no --i-mean-production and no typed name. Outside CI production needs both
// (production_test.go).
func (s *sandbox) inCI() { s.env["CI"] = "true" }

// inCIFor is inCI for production only: the tests over every stack that model the pipeline's
// production deploy; dev and staging run as on an operator's machine.
func (s *sandbox) inCIFor(stack string) {
	if stack == "production" {
		s.inCI()
	}
}

func (s *sandbox) rule(pattern string, code int, mode, output string) {
	s.t.Helper()
	s.rules++
	body := fmt.Sprintf("%s\n%d\n%s\n%s", pattern, code, mode, output)
	require.NoError(s.t, os.WriteFile(filepath.Join(s.dir, "rules", fmt.Sprintf("%04d.rule", s.rules)), []byte(body), 0o644))
}

// on answers every call matching pattern (a bash glob over "<tool> <args>").
func (s *sandbox) on(pattern string, code int, output string) {
	s.rule(pattern, code, "always", output)
}

// once answers the first matching call only; later calls fall through to the next rule.
func (s *sandbox) once(pattern string, code int, output string) {
	s.rule(pattern, code, "once", output)
}

type result struct {
	stdout, stderr string
	code           int
}

// output is everything the script printed, where a leaked secret would show.
func (r result) output() string { return r.stdout + r.stderr }

// run runs scripts/<script> with stdin and returns what it printed and its exit code. The script
// has no terminal: it runs in a session of its own, so /dev/tty cannot be opened, whether or not
// the test runs in one (a script that asks at the terminal must refuse, never wait for a person).
func (s *sandbox) run(stdin, script string, args ...string) result {
	s.t.Helper()
	return s.exec(stdin, nil, script, args...)
}

// runAtTerminal runs scripts/<script> as run does, but with a terminal (a pseudo-terminal as its
// controlling terminal: what /dev/tty opens) on which a person has typed typed. Stdin is separate.
func (s *sandbox) runAtTerminal(stdin, typed, script string, args ...string) result {
	s.t.Helper()
	term := openTerminal(s.t)
	term.typeIn(s.t, typed)
	return s.exec(stdin, term, script, args...)
}

func (s *sandbox) exec(stdin string, term *terminal, script string, args ...string) result {
	s.t.Helper()
	path, err := filepath.Abs(filepath.Join("..", "..", "scripts", script))
	require.NoError(s.t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, path, args...)
	cmd.Stdin = strings.NewReader(stdin)
	for k, v := range s.env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if term != nil {
		term.attach(cmd)
		defer term.close()
	} else {
		detach(cmd)
	}
	err = cmd.Run()
	code := 0
	if err != nil {
		exit, ok := err.(*exec.ExitError)
		require.True(s.t, ok, "running %s: %v", script, err)
		code = exit.ExitCode()
	}
	require.NoError(s.t, ctx.Err(), "%s timed out; stderr:\n%s", script, stderr.String())
	return result{stdout.String(), stderr.String(), code}
}

func (s *sandbox) read(name string) string {
	b, err := os.ReadFile(filepath.Join(s.dir, name))
	if os.IsNotExist(err) {
		return ""
	}
	require.NoError(s.t, err)
	return string(b)
}

// calls are the stubs' invocations, in order, as "<tool> <args>".
func (s *sandbox) calls() []string {
	log := strings.TrimSpace(s.read("calls.log"))
	if log == "" {
		return nil
	}
	return strings.Split(log, "\n")
}

// find is the index of the first call, at or after from, that contains every part; -1 if none.
func find(calls []string, from int, parts ...string) int {
	for i := max(from, 0); i < len(calls); i++ {
		ok := true
		for _, p := range parts {
			if !strings.Contains(calls[i], p) {
				ok = false
				break
			}
		}
		if ok {
			return i
		}
	}
	return -1
}

// requireSequence asserts that calls contains the steps in this order (other calls may come
// between them) and returns the index of each.
func requireSequence(t *testing.T, calls []string, steps ...[]string) []int {
	t.Helper()
	at := make([]int, len(steps))
	from := 0
	for i, parts := range steps {
		at[i] = find(calls, from, parts...)
		require.NotEqual(t, -1, at[i], "no call with %q after call %d; calls:\n%s", parts, from, strings.Join(calls, "\n"))
		from = at[i] + 1
	}
	return at
}

// requireNoCall asserts that no call contains every part.
func requireNoCall(t *testing.T, calls []string, parts ...string) {
	t.Helper()
	i := find(calls, 0, parts...)
	require.Equal(t, -1, i, "unexpected call %q; calls:\n%s", parts, strings.Join(calls, "\n"))
}

// parallelCases is how many cases run at once unless -parallel says otherwise. A case mostly
// waits on the bash, jq and stub processes it starts, so the default (GOMAXPROCS, 2 on the
// development machine) leaves the cores idle: eight at once take about half the wall time for
// the same CPU time (docs/performance.md).
const parallelCases = 8

func TestMain(m *testing.M) {
	flag.Parse()
	explicit := false
	flag.Visit(func(f *flag.Flag) { explicit = explicit || f.Name == "test.parallel" })
	if !explicit {
		if err := flag.Set("test.parallel", strconv.Itoa(parallelCases)); err != nil {
			fmt.Fprintln(os.Stderr, "set -test.parallel:", err)
			os.Exit(2)
		}
	}
	os.Exit(m.Run())
}
