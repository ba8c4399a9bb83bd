package testserver

import "syscall"

// dieWithParent has the kernel stop the server when the test process dies without stopping it
// (an interrupted run): SIGINT, PostgreSQL's fast shutdown. (Pdeathsig follows the thread that
// started the server; Go ends a thread only when a goroutine locked to it returns, which nothing
// here does.)
func dieWithParent(attr *syscall.SysProcAttr) { attr.Pdeathsig = syscall.SIGINT }
