package main

import "syscall"

// procAttr makes the private redis-server die with fila-bench, even when
// fila-bench is killed before it can stop it.
func procAttr() *syscall.SysProcAttr { return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL} }
