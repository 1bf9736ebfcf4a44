package fila

import (
	"context"
	"time"

	"github.com/fila-go/fila/backend"
)

// renewLocks extends every running job's lock at LockDuration/2, in one
// backend call per tick, and cancels the handlers of jobs whose lock is gone.
func (w *Worker) renewLocks(ctx context.Context) {
	t := time.NewTicker(w.opts.LockDuration / 2)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		w.mu.Lock()
		locks := make([]backend.JobLock, 0, len(w.active))
		for id, aj := range w.active {
			locks = append(locks, backend.JobLock{ID: id, Token: aj.token})
		}
		w.mu.Unlock()
		if len(locks) == 0 {
			continue
		}
		lost, err := w.be.JobExtendLocks(ctx, &backend.JobExtendLocksParams{Queue: w.queue, Locks: locks, Duration: w.opts.LockDuration})
		if err != nil {
			if ctx.Err() == nil {
				w.backendFailed("lock renewal failed", err)
			}
			continue
		}
		sent := make(map[string]string, len(locks))
		for _, l := range locks {
			sent[l.ID] = l.Token
		}
		cancelled := w.cancelledOf(ctx, lost, sent)
		for _, id := range lost {
			w.mu.Lock()
			aj := w.active[id]
			w.mu.Unlock()
			// The job may have been retried and claimed again meanwhile: only
			// the attempt whose token was renewed has lost its lock.
			if aj != nil && aj.token == sent[id] && aj.state.Load() == jobRunning {
				if cancelled[id] {
					aj.cancel(ErrCancelled)
					continue
				}
				w.log.Warn("job lock lost", "job", id)
				aj.cancel(ErrLockLost)
			}
		}
	}
}

// checkStalled runs the stalled-job check now and every StalledInterval.
func (w *Worker) checkStalled(ctx context.Context) {
	t := time.NewTicker(w.opts.StalledInterval)
	defer t.Stop()
	for {
		res, err := w.be.StalledCheck(ctx, &backend.StalledCheckParams{
			Queue: w.queue, MaxStalledCount: w.opts.MaxStalledCount, Interval: w.opts.StalledInterval,
		})
		switch {
		case err != nil && ctx.Err() == nil:
			w.backendFailed("stalled check failed", err)
		case err == nil && len(res.Stalled)+len(res.Failed) > 0:
			w.stats.stalled.Add(uint64(len(res.Stalled)))
			w.stats.stalledFailed.Add(uint64(len(res.Failed)))
			w.log.Warn("recovered stalled jobs", "requeued", res.Stalled, "failed", res.Failed)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// backendFailed counts and logs a failed background call; a permanent
// failure ends Run.
func (w *Worker) backendFailed(msg string, err error) {
	w.stats.backendError(err)
	w.log.Warn(msg, "err", err)
	if backend.IsPermanent(err) {
		w.stop(err)
	}
}
