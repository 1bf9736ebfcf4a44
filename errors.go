package fila

import (
	"errors"
	"fmt"
	"time"

	"github.com/fila-go/fila/backend"
)

// Sentinel errors. They are the backend package's values, so errors.Is works
// whichever layer returned them.
var (
	// ErrJobNotFound: no job with that ID in the queue.
	ErrJobNotFound = backend.ErrJobNotFound
	// ErrLockLost: a worker no longer holds a job's lock, so it may not
	// change the job's outcome.
	ErrLockLost = backend.ErrLockLost
	// ErrJobActive: the job is being processed and cannot be removed.
	ErrJobActive = backend.ErrJobActive
	// ErrQueueActive: the queue has active jobs (Obliterate without force).
	ErrQueueActive = backend.ErrQueueActive
	// ErrInvalid matches every *ValidationError.
	ErrInvalid = errors.New("fila: invalid input")
	// ErrWorkerRunning: Run was called on a worker that is already running.
	ErrWorkerRunning = errors.New("fila: worker is already running")
	// ErrWorkerClosed: Run was called on a worker that was closed.
	ErrWorkerClosed = errors.New("fila: worker is closed")
	// ErrJobRemoved: a job being waited for was removed before it finished.
	ErrJobRemoved = errors.New("fila: job was removed")
	// ErrJobTimeout is the cause of a handler's context ending because the
	// job's Timeout passed.
	ErrJobTimeout = errors.New("fila: job timed out")
	// ErrShutdown is the cause of a handler's context ending because the
	// worker's shutdown deadline passed. A handler that then returns an
	// error hands its job back to waiting without spending an attempt.
	ErrShutdown = errors.New("fila: worker shut down")
	// ErrUnsupported: the backend does not implement an optional interface
	// the call needs (backend.Schedulers, Groups, Cancellers); memory, Redis
	// and Upstash implement them all.
	ErrUnsupported = backend.ErrUnsupported
)

// StateError reports a call that needs the job in another state.
type StateError = backend.StateError

// ValidationError reports bad input: the field at fault and what is wrong.
// It matches ErrInvalid with errors.Is.
type ValidationError struct {
	Field  string // the option, argument or value at fault, e.g. "Attempts"
	Reason string // what is wrong, e.g. "must be >= 0, got -1"
}

func (e *ValidationError) Error() string { return e.Field + " " + e.Reason }

// Is makes errors.Is(err, ErrInvalid) true.
func (e *ValidationError) Is(target error) bool { return target == ErrInvalid }

func invalid(field, format string, args ...any) *ValidationError {
	return &ValidationError{Field: field, Reason: fmt.Sprintf(format, args...)}
}

// JobFailedError is returned by WaitUntilFinished for a job that failed.
type JobFailedError struct {
	JobID  string
	Reason string
}

func (e *JobFailedError) Error() string {
	return fmt.Sprintf("fila: job %q failed: %s", e.JobID, e.Reason)
}

// Unrecoverable wraps err so the worker fails the job at once, whatever
// attempts remain. Use it for errors a retry cannot fix (a 4xx from an API,
// a payload that does not decode).
func Unrecoverable(err error) error {
	if err == nil {
		err = errors.New("unrecoverable")
	}
	return &unrecoverableError{err}
}

type unrecoverableError struct{ err error }

func (e *unrecoverableError) Error() string { return e.err.Error() }
func (e *unrecoverableError) Unwrap() error { return e.err }

// IsUnrecoverable reports whether err, or an error it wraps, came from
// Unrecoverable.
func IsUnrecoverable(err error) bool {
	var u *unrecoverableError
	return errors.As(err, &u)
}

// RateLimited returns an error a handler gives back to say "the service I
// call is limiting me": the worker stops claims on the whole queue (across
// every process) for d, and puts the job back in waiting without spending an
// attempt.
func RateLimited(d time.Duration) error { return &RateLimitError{Delay: d} }

// RateLimitError is the error RateLimited returns. Wrap it to add context;
// the worker finds it with errors.As.
type RateLimitError struct {
	Delay time.Duration
}

func (e *RateLimitError) Error() string {
	return fmt.Sprintf("fila: rate limited for %s", e.Delay)
}

// PanicError is the error of an attempt whose handler panicked: the worker
// recovers the panic, fails the attempt (retried while attempts remain)
// and stores Stack with the job. WorkerOptions.OnError receives it; find
// it with errors.As.
type PanicError struct {
	Value any    // what the handler passed to panic
	Stack string // the goroutine's stack at the panic (runtime/debug.Stack)
}

func (e *PanicError) Error() string { return fmt.Sprintf("panic: %v", e.Value) }

// Unwrap returns the panic value when it is an error, so errors.Is sees
// through a handler's panic(err).
func (e *PanicError) Unwrap() error {
	err, _ := e.Value.(error)
	return err
}
