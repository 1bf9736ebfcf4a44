package backend

import "context"

// CancelledReason is the failed reason of a job that JobCancel ended.
const CancelledReason = "cancelled"

// Cancellers is the optional interface of a backend that can cancel jobs
// (fila's Queue.Cancel). Package fila type-asserts it and returns
// ErrUnsupported for a backend without it.
type Cancellers interface {
	// JobCancel fails a job that has not finished, at once and without
	// retry, with CancelledReason, applying its RemoveOnFail retention and
	// recording a failed event: a waiting, prioritized, paused or delayed
	// job, or an active one, whose lock it revokes. The worker running an
	// active job learns it at its next JobExtendLocks, which reports the
	// lock lost, and JobCancelled then tells it why; meanwhile the worker
	// can no longer complete or fail the job (ErrLockLost). So that
	// JobCancelled can answer, a cancelled active job is kept in failed even
	// when its retention says remove (then with the default retention,
	// DefaultKeepFailed). It returns the state the job was in; a
	// StateError for a job that completed or failed already,
	// ErrJobNotFound for no job.
	JobCancel(ctx context.Context, p *JobCancelParams) (State, error)

	// JobCancelled returns the IDs of p.Locks whose lock JobCancel revoked:
	// the job was cancelled while that token held it. Locks lost for other
	// reasons (expired, recovered as stalled, finished) are not listed, nor
	// is a cancelled job that retention has since removed.
	JobCancelled(ctx context.Context, p *JobCancelledParams) ([]string, error)
}

// JobCancelParams names the job to cancel.
type JobCancelParams struct {
	Queue string
	ID    string
}

// JobCancelledParams asks which of several locks JobCancel revoked.
type JobCancelledParams struct {
	Queue string
	Locks []JobLock
}
