package scripts_test

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/stretchr/testify/require"
)

// Failing CLIs as the real ones fail: the message on stderr (the harness's rules answer on
// stdout), where deploy.sh reads the cause of a failure from. Installed by failingCLIs, before
// the harness's stub runs, in the four CLIs a deploy calls.

// failPrelude answers a call with a failure when
//   - it is the FAULT_NTH call whose line ("<tool> <args>") is FAULT_LINE: it fails with exit code
//     254 and FAULT_ERROR on stderr (fault injection, faults_test.go);
//   - or it matches an error rule (errors/*.rule: the glob, the exit code, then the message).
//
// Either way the call is logged in calls.log like every other.
const failPrelude = `line="${0##*/} $*"
if [[ -n ${FAULT_LINE:-} && $line == "$FAULT_LINE" ]]; then
	seen=$(grep -cxF -- "$line" "$STUB_DIR/calls.log" 2>/dev/null || true)
	if ((${seen:-0} + 1 == FAULT_NTH)); then
		printf '%s\n' "$line" >>"$STUB_DIR/calls.log"
		printf '\n%s\n' "$FAULT_ERROR" >&2
		exit 254
	fi
fi
for rule in "$STUB_DIR"/errors/*.rule; do
	[[ -e $rule ]] || continue
	{ IFS= read -r pattern; IFS= read -r code; } <"$rule"
	[[ $line == $pattern ]] || continue
	printf '%s\n' "$line" >>"$STUB_DIR/calls.log"
	tail -n +3 "$rule" >&2
	exit "$code"
done`

// failingCLIs puts failPrelude in front of the stubs of aws, pulumi, curl and skopeo.
func (s *sandbox) failingCLIs() {
	s.t.Helper()
	require.NoError(s.t, os.MkdirAll(filepath.Join(s.dir, "errors"), 0o755))
	for _, tool := range []string{"aws", "pulumi", "curl", "skopeo"} {
		s.addStub(tool, failPrelude)
	}
}

// failOn makes every call matching pattern fail with code and message on stderr. Error rules
// come before the harness's rules.
func (s *sandbox) failOn(pattern string, code int, message string) {
	s.t.Helper()
	s.failingCLIs()
	s.rules++
	body := fmt.Sprintf("%s\n%d\n%s\n", pattern, code, message)
	require.NoError(s.t, os.WriteFile(filepath.Join(s.dir, "errors", fmt.Sprintf("%04d.rule", s.rules)), []byte(body), 0o644))
}

// AWS's answers for an image that is not there, a throttled call and an expired token.
const (
	imageNotFound = "An error occurred (ImageNotFoundException) when calling the DescribeImages operation: The image with imageId {imageDigest:'null', imageTag:'main-abc1234'} does not exist within the repository with name 'taskmanager-dev' in the registry with id '123456789012'"
	throttled     = "An error occurred (ThrottlingException) when calling the DescribeServices operation (reached max retries: 2): Rate exceeded"
	expiredToken  = "An error occurred (ExpiredTokenException) when calling the %s operation: The security token included in the request is expired"
)
