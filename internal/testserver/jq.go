package testserver

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/taskmanager/taskmanager-infra/internal/modroot"
)

// JQVersion is the jq that scripts/install-test-servers.sh builds into jqBin: the one GitHub's
// ubuntu-24.04 runners have, which run the lifecycle scripts in the pipeline.
const JQVersion = "1.7.1"

const jqBin = testServersDir + "/jq-" + JQVersion + "/bin/jq"

// JQEnv names another jq to run the lifecycle scripts' tests with: .ci/run also runs them under
// Debian 12's jq 1.6, an operator's.
const JQEnv = "SCRIPTS_TEST_JQ"

// JQ is the jq the lifecycle scripts' tests give the scripts: $SCRIPTS_TEST_JQ where it is set,
// else the jq JQVersion that scripts/install-test-servers.sh builds. The error says what is missing.
func JQ() (string, error) {
	if path := os.Getenv(JQEnv); path != "" {
		if _, err := exec.Command(path, "--version").Output(); err != nil {
			return "", fmt.Errorf("%s=%s does not run: %v", JQEnv, path, err)
		}
		return path, nil
	}
	root, err := modroot.Find()
	if err != nil {
		return "", err
	}
	path := filepath.Join(root, jqBin)
	out, err := exec.Command(path, "--version").Output()
	if err != nil {
		return "", fmt.Errorf("jq %s is not installed at %s (%v)", JQVersion, path, err)
	}
	if got := strings.TrimSpace(string(out)); got != "jq-"+JQVersion {
		return "", fmt.Errorf("%s is %q, not jq-%s", path, got, JQVersion)
	}
	return path, nil
}
