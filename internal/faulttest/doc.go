// Package faulttest proves fila's delivery promise under faults: real worker
// processes (the faultworker helper in cmd/faultworker, built by the tests)
// run against a private redis-server on loopback, directly or through an
// in-test TCP proxy that drops, resets and stalls connections, while the
// tests SIGKILL, SIGSTOP and SIGTERM the workers and SIGKILL the server.
// Every scenario ends with a full accounting: each job added is completed
// (or failed, where the test meant it), none is lost or stuck, and a job's
// handler succeeded twice only when a worker that ran it was interrupted.
//
// Scenarios run at a reduced size by default (CI) and at full size with
// FILA_SOAK=1; FILA_FAULT_RESULTS=<file> appends each accounting table row
// to a file. See CI.md for the commands and RESULTS.md for the tables.
package faulttest
