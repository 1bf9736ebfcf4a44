package fila

import (
	"context"

	"github.com/fila-go/fila/backend"
)

// Close stops the worker: no more claims; running handlers may finish until
// ctx ends, then their jobs go back to waiting (no attempt spent) and their
// contexts end with cause ErrShutdown. Close returns when Run has returned.
// Handlers must honor their context: Close waits for them to return.
func (w *Worker) Close(ctx context.Context) error {
	w.mu.Lock()
	if w.state == workerIdle {
		w.state = workerClosed
		close(w.done) // Run will never run: a later Close must not wait for it
		w.mu.Unlock()
		return nil
	}
	w.mu.Unlock()
	w.stopOnce.Do(func() { close(w.stopReq) })
	select {
	case <-w.done:
	case <-ctx.Done():
		w.force()
		<-w.done
	}
	return nil
}

func (w *Worker) force() { w.forceOnce.Do(func() { close(w.forceCh) }) }

// releaseAll hands every running job back to waiting at the drain deadline.
func (w *Worker) releaseAll() {
	w.mu.Lock()
	var held []*activeJob
	for _, aj := range w.active {
		if aj.state.CompareAndSwap(jobRunning, jobReleased) {
			held = append(held, aj)
		}
	}
	w.mu.Unlock()
	for _, aj := range held {
		w.release(aj, atShutdown)
	}
}

// Why release hands a job back.
const (
	atShutdown     = "at shutdown"
	afterRateLimit = "unstarted: a handler rate limited the queue" // a prefetched job
)

// release hands one job back to waiting, without spending an attempt, and
// ends its context (cause ErrShutdown at shutdown).
func (w *Worker) release(aj *activeJob, why string) {
	err := w.retrying(func(ctx context.Context) error {
		return w.be.JobRelease(ctx, &backend.JobReleaseParams{Queue: w.queue, ID: aj.job.ID, Token: aj.token})
	})
	if err != nil {
		w.log.Warn("could not hand back job "+why+"; the stalled check will recover it", "job", aj.job.ID, "err", err)
	} else {
		w.stats.released.Add(1)
		w.log.Info("job handed back "+why, "job", aj.job.ID)
	}
	cause := ErrShutdown
	if why != atShutdown {
		cause = context.Canceled
	}
	aj.cancel(cause)
}
