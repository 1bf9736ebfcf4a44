package fila

import (
	"context"
	"errors"

	"github.com/fila-go/fila/backend"
)

// ErrCancelled is the cause of a handler's context ending because its job
// was cancelled (Queue.Cancel): errors.Is(context.Cause(ctx), ErrCancelled).
// WorkerOptions.OnError and OnFinished receive it for such a job.
var ErrCancelled = errors.New("fila: job cancelled")

// Cancel stops a job that has not finished and fails it for good, with the
// reason "cancelled" and no retry, whatever attempts remain. It returns the
// state the job was in.
//
// A job that is not running (waiting, prioritized, paused, delayed) is
// failed at once and never runs; it follows its RemoveOnFail retention.
// A running job is failed at once too: it leaves active, its worker can no
// longer complete or fail it, and waiters (WaitUntilFinished) see the
// failure now. Its worker, in this process or any other, learns it at its
// next lock renewal, so within LockDuration/2 (15s by default): the
// handler's context then ends with cause ErrCancelled, and what the
// handler returns is dropped (a handler that returns before that renewal
// has its result refused, and the worker learns of the cancel then).
// WorkerOptions.OnError and OnFinished get ErrCancelled. A handler that
// ignores its context keeps running until it returns (its job stays
// failed). A cancelled running job
// stays in failed even when its RemoveOnFail is RemoveJob (then with the
// default retention), so its worker can tell the cancel from a lost lock.
//
// A finished job gives a *StateError, a missing one ErrJobNotFound, and a
// backend without backend.Cancellers ErrUnsupported. RetryJob runs a
// cancelled job again.
func (q *Queue) Cancel(ctx context.Context, id string) (State, error) {
	var was State
	err := q.jobOp("cancel", id, func() error {
		c, ok := q.be.(backend.Cancellers)
		if !ok {
			return ErrUnsupported
		}
		var err error
		was, err = c.JobCancel(ctx, &backend.JobCancelParams{Queue: q.name, ID: id})
		return err
	})
	return was, err
}

// cancelledOf asks the backend which of the lost locks a Cancel revoked.
// An error only costs the distinction: those jobs count as lost locks.
func (w *Worker) cancelledOf(ctx context.Context, lost []string, sent map[string]string) map[string]bool {
	c, ok := w.be.(backend.Cancellers)
	if !ok || len(lost) == 0 {
		return nil
	}
	locks := make([]backend.JobLock, 0, len(lost))
	for _, id := range lost {
		locks = append(locks, backend.JobLock{ID: id, Token: sent[id]})
	}
	ids, err := c.JobCancelled(ctx, &backend.JobCancelledParams{Queue: w.queue, Locks: locks})
	if err != nil {
		if ctx.Err() == nil {
			w.backendFailed("could not check for cancelled jobs", err)
		}
		return nil
	}
	out := make(map[string]bool, len(ids))
	for _, id := range ids {
		out[id] = true
	}
	return out
}

// lostToCancel reports whether a finishing call refused with ErrLockLost
// because the job was cancelled before the worker's renewal told it (the
// handler returned first), and if so ends the job as cancelled.
func (w *Worker) lostToCancel(aj *activeJob, err error) bool {
	if !errors.Is(err, backend.ErrLockLost) {
		return false
	}
	ctx, stop := context.WithTimeout(context.Background(), w.opts.LockDuration)
	defer stop()
	if !w.cancelledOf(ctx, []string{aj.job.ID}, map[string]string{aj.job.ID: aj.token})[aj.job.ID] {
		return false
	}
	w.cancelled(aj)
	return true
}

// cancelled ends a job that Queue.Cancel failed while it ran: the backend
// has recorded the outcome already, so only the hooks and counts remain.
func (w *Worker) cancelled(aj *activeJob) {
	w.stats.failed.Add(1)
	w.log.Info("job cancelled", "job", aj.job.ID, "attempt", aj.job.AttemptsMade+1)
	if w.opts.OnError != nil {
		w.opts.OnError(aj.job, ErrCancelled, false)
	}
	if w.opts.OnFinished != nil {
		w.opts.OnFinished(aj.job, ErrCancelled)
	}
}
