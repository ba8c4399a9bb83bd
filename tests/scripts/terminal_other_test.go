//go:build unix && !linux

package scripts_test

import (
	"os/exec"
	"syscall"
	"testing"
)

// terminal: the tests that type at a terminal build a pseudo-terminal on Linux only (CI's runners).
type terminal struct{}

func openTerminal(t *testing.T) *terminal {
	t.Skip("the tests that type at a terminal run on Linux only")
	return nil
}

func (*terminal) typeIn(*testing.T, string) {}
func (*terminal) attach(*exec.Cmd)          {}
func (*terminal) close()                    {}

// detach runs the command in a session of its own, without a controlling terminal.
func detach(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
}
