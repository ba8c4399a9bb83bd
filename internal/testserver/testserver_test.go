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

// The initdb template is used only where it is a real directory of the right user: not through
// a link someone planted, not when another user owns it.
func TestTemplateOwnership(t *testing.T) {
	dir := t.TempDir()
	me := os.Geteuid()
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
	if ownedBy(dir, me+1) {
		t.Errorf("ownedBy(%s, %d): true for a directory uid %d owns", dir, me+1, me)
	}
}

// A file the server gets is written new, never through a link left where it goes (the server's
// user could leave one there, and the tests may run as root).
func TestWriteFileReplacesALink(t *testing.T) {
	dir := t.TempDir()
	target := filepath.Join(dir, "target")
	if err := os.WriteFile(target, []byte("keep"), 0o600); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "pg_hba.conf")
	if err := os.Symlink(target, path); err != nil {
		t.Fatal(err)
	}
	o := owner{uid: os.Geteuid(), gid: os.Getegid()}
	if err := o.writeFile(path, []byte("hostssl all all 127.0.0.1/32 scram-sha-256\n")); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(target); string(b) != "keep" {
		t.Errorf("the link's target was written: %q", b)
	}
	fi, err := os.Lstat(path)
	if err != nil || !fi.Mode().IsRegular() || fi.Mode().Perm() != 0o600 {
		t.Errorf("%s: %v, %v; want a regular file, mode 0600", path, fi, err)
	}
}

// A template whose cluster was damaged (a temp cleaner, a killed copy) is made again: without
// its "complete" file it does not count. (A stand-in initdb: the real one is the rotation and
// sanitize tests' when no template is there yet.)
func TestADamagedTemplateIsMadeAgain(t *testing.T) {
	o, err := serverOwner()
	if err != nil {
		t.Fatal(err)
	}
	// The stand-in runs as the server's user: a directory it may enter.
	bin, err := os.MkdirTemp("", "initdb")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(bin) })
	if err := os.Chmod(bin, 0o755); err != nil {
		t.Fatal(err)
	}
	initdb := "#!/bin/sh\n# initdb -D DIR ...\nmkdir -p \"$2/global\" && : >\"$2/global/pg_control\"\n"
	if err := os.WriteFile(filepath.Join(bin, "initdb"), []byte(initdb), 0o755); err != nil {
		t.Fatal(err)
	}
	// A damaged template in a project root of the test's own: no "complete" file, no cluster.
	fake := t.TempDir()
	const version = "postgres (PostgreSQL) 16.0"
	junk := filepath.Join(templatePath(o, fake, version), "data", "junk")
	if err := os.MkdirAll(filepath.Dir(junk), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(junk, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(filepath.Dir(junk), o.uid, o.gid); err != nil {
		t.Fatal(err)
	}
	data, err := initdbTemplate(o, fake, bin, version)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(data, "global", "pg_control")); err != nil {
		t.Errorf("the damaged template was not made again: %v", err)
	}
	if _, err := os.Stat(junk); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the damaged template's files are still there: %v", err)
	}
	if _, err := os.Stat(filepath.Join(filepath.Dir(data), "complete")); err != nil {
		t.Errorf("the new template is not marked complete: %v", err)
	}
}
