//go:build !linux

package testserver

import "syscall"

// dieWithParent: only Linux has a parent-death signal; elsewhere an interrupted run's server
// goes on until it is stopped by hand.
func dieWithParent(*syscall.SysProcAttr) {}
