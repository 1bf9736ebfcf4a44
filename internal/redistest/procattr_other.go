//go:build !linux

package redistest

import "syscall"

// procAttr: outside Linux there is no parent-death signal; the test's
// cleanups stop the server.
func procAttr() *syscall.SysProcAttr { return nil }
