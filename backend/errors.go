package backend

import (
	"errors"
	"fmt"
)

// Sentinel errors every backend returns for the same conditions. Check them
// with errors.Is; backends may wrap them with detail.
var (
	// ErrJobNotFound: no job with that ID in that queue.
	ErrJobNotFound = errors.New("job not found")
	// ErrLockLost: the token does not hold the job's lock (it expired, the job
	// was recovered as stalled, or it already finished), so the caller may not
	// change the job's outcome.
	ErrLockLost = errors.New("job lock lost")
	// ErrJobActive: the job is held by a worker and cannot be removed.
	ErrJobActive = errors.New("job is active")
	// ErrQueueActive: the queue has active jobs and the call was not forced.
	ErrQueueActive = errors.New("queue has active jobs")
	// ErrClosed: the backend was closed.
	ErrClosed = errors.New("backend closed")
	// ErrPermanent marks a failure that retrying cannot fix: credentials
	// refused, a server without a command fila needs, a script the server
	// will not run. Backends wrap such errors with it (ErrClosed counts as
	// permanent too: see IsPermanent); a worker's Run ends with them
	// instead of retrying forever.
	ErrPermanent = errors.New("permanent backend failure")
	// ErrQuota: the storage service refused the call because a usage quota
	// is spent (requests per second, per day or per month; a record or
	// request size limit is not a quota). Retrying later helps, so workers
	// back off longer than for a network error instead of spinning.
	ErrQuota = errors.New("storage quota exceeded")
	// ErrUnsupported: the backend does not implement an optional
	// interface the call needs (such as Schedulers, Groups or Cancellers).
	ErrUnsupported = errors.New("fila: not supported by this backend")
)

// IsPermanent reports whether err is a failure that retrying cannot fix:
// ErrPermanent or ErrClosed.
func IsPermanent(err error) bool {
	return errors.Is(err, ErrPermanent) || errors.Is(err, ErrClosed)
}

// StateError reports a call that needs the job in another state, such as
// promoting a job that is not delayed.
type StateError struct {
	JobID string
	State State   // the state the job is in
	Want  []State // the states the call accepts
}

func (e *StateError) Error() string {
	return fmt.Sprintf("job %q is %s, want %v", e.JobID, e.State, e.Want)
}

// CorruptJobError reports a stored job that cannot be decoded. Backends that
// meet one while claiming move the job to failed with this as the reason, so a
// bad record never wedges a queue.
type CorruptJobError struct {
	JobID  string
	Reason string
}

func (e *CorruptJobError) Error() string {
	return fmt.Sprintf("job %q is corrupt: %s", e.JobID, e.Reason)
}
