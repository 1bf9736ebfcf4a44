//go:build !linux

package main

import "syscall"

// procAttr: outside Linux there is no parent-death signal; fila-bench stops
// its redis-server on exit and on SIGINT.
func procAttr() *syscall.SysProcAttr { return nil }
