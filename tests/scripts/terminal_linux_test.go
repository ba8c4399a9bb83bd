//go:build linux

package scripts_test

import (
	"fmt"
	"io"
	"os"
	"os/exec"
	"syscall"
	"testing"
	"unsafe"

	"github.com/stretchr/testify/require"
)

// terminal is a pseudo-terminal: the script gets its replica side as its controlling terminal
// (what /dev/tty opens); the test types on the controller side.
type terminal struct {
	controller, replica *os.File
}

func openTerminal(t *testing.T) *terminal {
	t.Helper()
	controller, err := os.OpenFile("/dev/ptmx", os.O_RDWR|syscall.O_NOCTTY, 0)
	require.NoError(t, err, "a pseudo-terminal (/dev/ptmx) is required by the tests of the production prompts")
	fd := controller.Fd()
	var unlock int32
	if _, _, errno := syscall.Syscall(syscall.SYS_IOCTL, fd, syscall.TIOCSPTLCK, uintptr(unsafe.Pointer(&unlock))); errno != 0 {
		t.Fatalf("unlocking the pseudo-terminal: %v", errno)
	}
	var n uint32
	if _, _, errno := syscall.Syscall(syscall.SYS_IOCTL, fd, syscall.TIOCGPTN, uintptr(unsafe.Pointer(&n))); errno != 0 {
		t.Fatalf("naming the pseudo-terminal: %v", errno)
	}
	replica, err := os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|syscall.O_NOCTTY, 0)
	require.NoError(t, err)
	return &terminal{controller: controller, replica: replica}
}

// typeIn is what a person types at the terminal: it waits there until the script reads it.
func (term *terminal) typeIn(t *testing.T, typed string) {
	t.Helper()
	_, err := term.controller.WriteString(typed)
	require.NoError(t, err)
}

// attach makes the terminal the command's controlling terminal, in a session of its own, and
// discards what the terminal echoes.
func (term *terminal) attach(cmd *exec.Cmd) {
	cmd.ExtraFiles = []*os.File{term.replica}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true, Ctty: 3}
	go func() { _, _ = io.Copy(io.Discard, term.controller) }()
}

func (term *terminal) close() {
	_ = term.replica.Close()
	_ = term.controller.Close()
}

// detach runs the command in a session of its own, without a controlling terminal.
func detach(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
}
