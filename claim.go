package fila

import (
	"context"
	"errors"
	"math"
	rand2 "math/rand/v2"
	"strconv"
	"time"

	"github.com/fila-go/fila/backend"
)

func (w *Worker) claimParams(wait time.Duration) *backend.JobClaimParams {
	return &backend.JobClaimParams{
		Queue:        w.queue,
		Token:        w.id + ":" + strconv.FormatUint(w.tokens.Add(1), 10),
		LockDuration: w.opts.LockDuration,
		Limit:        w.opts.Limiter,
		Wait:         wait,
	}
}

// dispatch fills free slots with blocking claims. It is the only goroutine
// that blocks on the backend, so an idle worker holds one waiting call
// whatever its concurrency. A claim ahead of a free handler slot
// (Prefetch) takes only a job already waiting and never blocks: a worker
// whose handlers are all busy holds no blocked claim, which a frozen
// process (a long pause, SIGSTOP) would still serve on the server and keep
// a job from the others until the stalled check. When there is none, the
// dispatcher waits for a chain to end before it claims again.
func (w *Worker) dispatch(ctx context.Context) {
	defer close(w.jobs)
	emptyAhead := false // the last claim ahead found nothing waiting
	for {
		select {
		case w.sem <- struct{}{}:
		case <-ctx.Done():
			return
		}
		if !w.awaitHoldBack(ctx) || (emptyAhead && !w.awaitChainEnd(ctx)) {
			<-w.sem
			return
		}
		wait := claimWait
		ahead := w.gate != nil && len(w.sem) > w.opts.Concurrency
		if ahead {
			wait = 0
		}
		start := time.Now()
		c, ok := w.claim(ctx, wait)
		if !ok {
			<-w.sem
			return
		}
		if emptyAhead = c.job == nil; emptyAhead {
			<-w.sem
			continue
		}
		// A blocking claim that waited for its job found the queue empty;
		// a claim ahead now would find nothing too, so wait for a chain to
		// end instead: a job reaching an idle worker costs no extra call.
		emptyAhead = !ahead && w.gate != nil && time.Since(start) > waitedClaim
		w.queueForSlot(&c)
		w.jobs <- c
	}
}

// waitedClaim is how long a claim takes before the dispatcher takes it for
// one that waited for its job (the queue was empty): a claim that finds a
// job waiting returns in a round trip.
const waitedClaim = 5 * time.Millisecond

// awaitChainEnd waits, after a claim ahead found nothing waiting, until a
// job chain ends (a handler slot's chain found no next job), so the next
// claim can block for a free slot. It returns false when ctx ends.
func (w *Worker) awaitChainEnd(ctx context.Context) bool {
	for len(w.sem) > w.opts.Concurrency {
		select {
		case <-w.heldWake:
		case <-ctx.Done():
			return false
		}
	}
	return true
}

// claim blocks until it claims a job, or returns false when ctx ends or
// the backend failed for good. With wait 0 it does not block: it returns
// a claimed without a job when none is waiting. Transient backend errors are counted,
// logged and retried with backoff (longer for a spent quota): a worker
// never stops because its storage went away for a while. A permanent one
// (backend.IsPermanent) ends Run with that error.
func (w *Worker) claim(ctx context.Context, wait time.Duration) (claimed, bool) {
	failures := 0
	for {
		if lim := w.opts.LocalLimiter; lim != nil {
			if err := lim.Wait(ctx); err != nil {
				if ctx.Err() != nil {
					return claimed{}, false
				}
				// e.g. its burst was set to 0: wait, do not stop claiming for good
				failures++
				wait := errorBackoff(failures)
				w.log.Warn("local limiter refused a claim; retrying", "err", err, "retry_in", wait)
				if !sleep(ctx, wait) {
					return claimed{}, false
				}
				continue
			}
		}
		p := w.claimParams(wait)
		res, err := w.be.JobClaim(ctx, p)
		if ctx.Err() != nil {
			if err == nil && res.Job != nil { // claimed as we stopped: hand it back
				_ = w.retrying(func(ctx context.Context) error {
					return w.be.JobRelease(ctx, &backend.JobReleaseParams{Queue: w.queue, ID: res.Job.ID, Token: p.Token})
				})
			}
			return claimed{}, false
		}
		var pause time.Duration
		switch {
		case err != nil:
			w.stats.backendError(err)
			if backend.IsPermanent(err) {
				w.stop(err)
				return claimed{}, false
			}
			failures++
			pause = backendBackoff(err, failures)
			w.log.Warn("claim failed; retrying", "err", err, "retry_in", pause)
		case res.Job != nil:
			return claimed{job: res.Job, token: p.Token}, true
		default:
			failures = 0
			pause = res.RetryAfter
			if pause > 0 {
				w.stats.rateLimited.Add(1)
			} else if wait == 0 {
				return claimed{}, true // nothing waiting, and the caller does not block
			}
		}
		if pause > 0 && !sleep(ctx, pause) {
			return claimed{}, false
		}
	}
}

// stop ends Run with a permanent backend error (the first one wins).
func (w *Worker) stop(err error) {
	select {
	case w.fatal <- err:
	default:
	}
}

// backendBackoff is the wait before retrying after err: errorBackoff, or
// quotaBackoff when the storage service says a usage quota is spent.
func backendBackoff(err error, failures int) time.Duration {
	if errors.Is(err, backend.ErrQuota) {
		return quotaBackoff(failures)
	}
	return errorBackoff(failures)
}

// quotaBackoff grows from 1s to 1 min, doubling, as quota refusals repeat
// (plus up to 10% jitter): hammering a spent quota only spends more of it.
func quotaBackoff(failures int) time.Duration {
	d := min(time.Second<<min(failures-1, 6), time.Minute)
	return d + time.Duration(rand2.Float64()*float64(d)/10)
}

// errorBackoff grows from 50ms to 5s with jitter as failures repeat.
func errorBackoff(failures int) time.Duration {
	d := float64(50*time.Millisecond) * math.Pow(2, float64(min(failures, 10)-1))
	d = min(d, float64(5*time.Second))
	return time.Duration(d/2 + rand2.Float64()*d/2)
}

func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// retrying runs a finishing call until it succeeds, the backend refuses it
// for good, or LockDuration passes (by then the lock is gone anyway). The
// first try needs no deadline (and so no timer per job); retries get one.
// Failed calls count as backend errors; a permanent one also ends Run.
func (w *Worker) retrying(call func(context.Context) error) error {
	err := call(context.Background())
	if w.final(err) {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), w.opts.LockDuration)
	defer cancel()
	for failures := 1; ; failures++ {
		if !sleep(ctx, backendBackoff(err, failures)) {
			return err
		}
		err = call(ctx)
		if w.final(err) || ctx.Err() != nil {
			return err
		}
	}
}

// final reports whether a finishing call's result ends its retries: a
// success, an answer about the job (lock lost, not found), or a permanent
// failure, which also ends Run. Other errors count and are retried.
func (w *Worker) final(err error) bool {
	switch {
	case err == nil || errors.Is(err, backend.ErrLockLost) || errors.Is(err, backend.ErrJobNotFound):
		return true
	case backend.IsPermanent(err):
		w.stats.backendError(err)
		w.stop(err)
		return true
	}
	w.stats.backendError(err)
	return false
}
