package testserver

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// stopped is what a fake test's Fatalf or Skipf panics with: they stop the test, as the real ones do.
type stopped struct{ how, msg string }

// fakeT records how Require stops a test.
type fakeT struct{ testing.TB }

func (fakeT) Helper()                        {}
func (fakeT) Fatalf(format string, a ...any) { panic(stopped{"fail", fmt.Sprintf(format, a...)}) }
func (fakeT) Skipf(format string, a ...any)  { panic(stopped{"skip", fmt.Sprintf(format, a...)}) }

func require(err error) (s stopped) {
	defer func() {
		if r := recover(); r != nil {
			s = r.(stopped)
		}
	}()
	Require(fakeT{}, err)
	return stopped{}
}

// Issue 19: in CI (CI=true) a test whose server did not start fails, never skips; elsewhere it is
// skipped, naming the one command that installs the servers. A server that started stops nothing.
func TestRequire(t *testing.T) {
	down := errors.New("postgres: not installed")
	t.Setenv("CI", "true")
	if s := require(down); s.how != "fail" || !strings.Contains(s.msg, "postgres: not installed") || !strings.Contains(s.msg, InstallCommand) {
		t.Errorf("in CI: %+v, want a failure naming the error and %s", s, InstallCommand)
	}
	if s := require(nil); s != (stopped{}) {
		t.Errorf("a server that started: %+v", s)
	}
	t.Setenv("CI", "")
	if s := require(down); s.how != "skip" || !strings.Contains(s.msg, "Run "+InstallCommand+" to install the test servers") {
		t.Errorf("outside CI: %+v, want a skip naming %s", s, InstallCommand)
	}
	if _, err := os.Stat(filepath.Join("..", "..", InstallCommand)); err != nil {
		t.Errorf("the command a skip names does not exist: %v", err)
	}
}

// The initdb template is used only where it is a real directory of the server's user: not
// through a link someone else planted in a shared temp directory, not when another user owns it.
func TestTemplateOwnership(t *testing.T) {
	dir := t.TempDir()
	me := owner{uid: os.Geteuid(), gid: os.Getegid()}
	link := filepath.Join(dir, "link")
	if err := os.Symlink(dir, link); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(dir, "file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	for path, want := range map[string]bool{dir: true, link: false, file: false, filepath.Join(dir, "none"): false} {
		if got := ownedBy(path, me); got != want {
			t.Errorf("ownedBy(%s) = %v, want %v", path, got, want)
		}
	}
	if ownedBy(dir, owner{uid: me.uid + 1}) {
		t.Errorf("ownedBy(%s) by uid %d: true for a directory uid %d owns", dir, me.uid+1, me.uid)
	}
}
