//go:build unix

package plan

import (
	"os"
	"syscall"
)

// lockFile takes an exclusive lock on path (created if missing) without waiting: ok is false when
// another process holds it. The lock goes with the process, however it ends.
func lockFile(path string) (release func(), ok bool) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, false
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		_ = f.Close()
		return nil, false
	}
	return func() { _ = f.Close() }, true
}
