package redistest

import "syscall"

// procAttr makes a redis-server die with the test binary, even when the
// binary itself is killed (a -timeout panic) before its cleanups run.
func procAttr() *syscall.SysProcAttr { return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL} }
