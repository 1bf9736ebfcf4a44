package fila

import (
	"context"
	"fmt"

	"github.com/fila-go/fila/backend"
)

// Close stops the worker: no more claims; prefetched jobs go back to
// waiting; running handlers may finish until ctx ends. Close returns nil
// once Run has returned. When ctx ends first, Close returns at once with
// an error wrapping ctx.Err(), and Run finishes the drain on its own: the
// handlers' contexts end with cause ErrShutdown, and a handler that then
// returns an error within shutdownGrace (100ms) hands its job back to
// waiting without spending an attempt. A handler that ignores its context
// delays neither Close nor Run beyond that: it is abandoned, not
// restarted. Its job stays active and its lock is no longer renewed; if
// the handler returns while the lock still holds, its outcome is recorded
// (a success completes the job, an error hands it back); once the lock has
// expired the outcome is dropped and the stalled check (of any worker of
// the queue) returns the job to waiting, or fails it after MaxStalledCount
// stalls. The job never gets two outcomes.
func (w *Worker) Close(ctx context.Context) error {
	w.mu.Lock()
	if w.state == workerIdle {
		w.state = workerClosed
		close(w.done) // Run will never run: a later Close must not wait for it
		w.mu.Unlock()
		workerNames.free(w.queue, w.name)
		return nil
	}
	w.mu.Unlock()
	w.stopOnce.Do(func() { close(w.stopReq) })
	select {
	case <-w.done:
		return nil
	case <-ctx.Done():
	}
	w.force()
	select {
	case <-w.done: // it had just finished
		return nil
	default:
	}
	return fmt.Errorf("fila: close worker for %q: drain not finished by the deadline: %w", w.queue, ctx.Err())
}

func (w *Worker) force() { w.forceOnce.Do(func() { close(w.forceCh) }) }

// interruptAll runs at the drain deadline. A job whose handler has not
// started goes back to waiting; a running handler's context ends with
// cause ErrShutdown (finish hands its job back if it returns an error).
func (w *Worker) interruptAll() {
	w.mu.Lock()
	var unstarted, running []*activeJob
	for _, aj := range w.active {
		switch {
		case !aj.begun.Load():
			if aj.state.CompareAndSwap(jobRunning, jobReleased) {
				unstarted = append(unstarted, aj)
			}
		case aj.state.Load() == jobRunning:
			running = append(running, aj)
		}
	}
	w.mu.Unlock()
	for _, aj := range unstarted {
		w.release(aj, atShutdown)
	}
	for _, aj := range running {
		aj.cancel(ErrShutdown)
	}
}

// abandonAll runs shutdownGrace after interruptAll. A handler still running
// is abandoned: it leaves the set whose locks are renewed, and a new
// goroutine takes its chain's place so Run need not wait for the handler.
// Its late result is dealt with by finishAbandoned.
func (w *Worker) abandonAll() {
	w.mu.Lock()
	var running []*activeJob
	for id, aj := range w.active {
		if aj.begun.Load() && aj.state.CompareAndSwap(jobRunning, jobAbandoned) {
			delete(w.active, id) // its lock is no longer renewed
			running = append(running, aj)
		}
	}
	w.mu.Unlock()
	for _, aj := range running {
		w.log.Warn("handler still running after the shutdown deadline; abandoned: its lock is no longer renewed", "job", aj.job.ID)
		w.stats.abandoned.Add(1)
		w.freeSlot()
		w.endChain()
		go w.processLoop()
	}
}

// finishAbandoned records the outcome of a handler that returned after the
// drain deadline abandoned it, if the job's lock still holds (the backend
// checks the token and its expiry); otherwise the outcome is dropped. A
// success completes the job. An error means the handler was interrupted
// (its context had ended with ErrShutdown): the job goes back to waiting
// without spending an attempt, as at any shutdown.
func (w *Worker) finishAbandoned(aj *activeJob, val any, err error) {
	if err == nil {
		w.complete(aj, val)
		return
	}
	w.release(aj, interrupted)
}

// Why release hands a job back.
const (
	atShutdown     = "at shutdown"
	afterRateLimit = "unstarted: a handler rate limited the queue" // a prefetched job
	interrupted    = "interrupted by the shutdown deadline"
	heldBack       = "unstarted: it waited for a handler slot longer than PrefetchHold" // a prefetched job
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
		if why == heldBack {
			w.log.Debug("job handed back "+why, "job", aj.job.ID) // routine behind slow handlers
		} else {
			w.log.Info("job handed back "+why, "job", aj.job.ID)
		}
	}
	cause := ErrShutdown
	if why == afterRateLimit || why == heldBack {
		cause = context.Canceled
	}
	aj.cancel(cause)
}
