package fila

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"time"

	"github.com/fila-go/fila/backend"
)

// processLoop is one of the Concurrency+Prefetch goroutines that run job
// chains. It takes a job from the dispatcher and keeps going while
// finishing a job hands it the next one. With Prefetch, a chain waits for a
// handler slot before each job and frees it before the finishing call.
func (w *Worker) processLoop() {
	for c := range w.jobs {
		for ok := true; ok; {
			var replaced bool
			c, ok, replaced = w.process(c)
			if replaced {
				return // a new goroutine took this one's place (and its WaitGroup count)
			}
		}
		w.endChain()
	}
	w.procs.Done()
}

// process runs one job and finishes it. It returns the next job when the
// finishing call claimed one, and replaced when the timeout watchdog took
// over this goroutine's slot.
func (w *Worker) process(c claimed) (next claimed, ok, replaced bool) {
	aj := w.begin(c)
	if aj == nil { // handed back: the drain deadline had passed
		if c.ticket != nil {
			w.gate.leave(c.ticket)
		}
		return claimed{}, false, false
	}
	if c.ticket != nil && !w.waitSlot(aj, c.ticket) {
		return claimed{}, false, false
	}
	if until := w.pausedUntil.Load(); until != 0 && time.Now().UnixNano() < until {
		// A handler returned RateLimited: the queue stops, hand it back unstarted.
		if aj.state.CompareAndSwap(jobRunning, jobReleased) {
			w.release(aj, afterRateLimit)
		}
		w.freeSlot()
		w.untrack(aj)
		return claimed{}, false, false
	}
	if !w.start(aj) { // the drain deadline handed it back before it started
		w.freeSlot()
		w.untrack(aj)
		return claimed{}, false, false
	}
	var val any
	var err error
	if skip := w.advanceScheduler(aj.job); skip != nil { // a scheduler's tick job: add the next tick's
		val = skip // SkipIfRunning: the previous tick's job is unfinished
	} else if errors.Is(context.Cause(aj.ctx), ErrCancelled) {
		err = ErrCancelled // cancelled while it waited for a slot (Prefetch)
	} else {
		val, err = w.call(aj)
	}
	took := time.Since(aj.started)
	w.stats.processing.observe(took)
	if took < w.opts.PrefetchHold && w.gate != nil && w.holdBack.Load() {
		w.holdBack.Store(false) // handlers are short again: prefetch
		w.wakeHeld()
	}
	if aj.stopWatch != nil {
		aj.stopWatch()
	}
	if !aj.state.CompareAndSwap(jobRunning, jobFinishing) {
		// jobTimedOut: the watchdog failed it; jobAbandoned: the drain
		// deadline passed. Either way another goroutine has taken this
		// one's place and the slot is free.
		if aj.state.Load() == jobAbandoned {
			w.finishAbandoned(aj, val, err)
			w.untrack(aj)
		}
		return claimed{}, false, true
	}
	limited := false
	if w.gate != nil && err != nil {
		var d time.Duration
		if d, limited = rateLimitOf(err); limited {
			// Keep the slot until the prefetched jobs are handed back, and
			// let none start meanwhile.
			w.pausedUntil.Store(time.Now().Add(handlerLimit(d)).UnixNano())
		}
	}
	if !limited {
		w.freeSlot() // the next handler may start while this job finishes
	}
	defer w.untrack(aj)
	next, ok = w.finish(aj, val, err)
	if limited {
		w.freeSlot()
	}
	if ok {
		w.queueForSlot(&next)
	}
	return next, ok, false
}

func (w *Worker) begin(c claimed) *activeJob {
	bj := c.job
	job := newJob(w.be, w.queue, bj)
	job.token = c.token
	ctx, cancel := context.WithCancelCause(w.jobBase)
	aj := &activeJob{job: job, token: c.token, ctx: ctx, cancel: cancel}
	if c.ticket != nil {
		aj.claimed = time.Now()
	}
	w.mu.Lock()
	select {
	case <-w.forceCh:
		// The drain deadline passed before this job started (a finishing
		// call or the dispatcher claimed it just before): releaseAll did
		// not see it, so hand it back here instead of running it.
		w.mu.Unlock()
		aj.state.Store(jobReleased)
		w.release(aj, atShutdown)
		return nil
	default:
	}
	w.active[bj.ID] = aj
	w.mu.Unlock()
	return aj
}

// start starts a job's clock: its run time, its wait, its Timeout. It
// returns false for a job the drain deadline handed back first: marking
// the job begun and checking its state under w.mu orders this against
// abandonAll, so a handed-back job never runs.
func (w *Worker) start(aj *activeJob) bool {
	w.mu.Lock()
	if aj.state.Load() != jobRunning {
		w.mu.Unlock()
		return false
	}
	aj.begun.Store(true)
	w.mu.Unlock()
	aj.started = time.Now()
	job := aj.job
	if job.AttemptsStarted == 1 { // first attempts only: a retry's ready time is not stored
		ready := job.AddedAt.Add(job.Options.Delay)
		wait := job.ProcessedAt.Sub(ready)
		if !aj.claimed.IsZero() { // prefetched: add its wait for a slot
			wait += aj.started.Sub(aj.claimed)
		}
		w.stats.waiting.observe(max(wait, 0))
	}
	// aj.cancel is not replaced: other goroutines call it (lock renewal,
	// shutdown), and cancelling aj.ctx's parent ends the timeout context too.
	if t := job.Options.Timeout; t > 0 {
		aj.ctx, aj.stopTimer = context.WithTimeoutCause(aj.ctx, t, ErrJobTimeout)
		aj.stopWatch = context.AfterFunc(aj.ctx, func() { w.watchdog(aj) })
	}
	return true
}

func (w *Worker) untrack(aj *activeJob) {
	aj.cancel(context.Canceled)
	if aj.stopTimer != nil {
		aj.stopTimer()
	}
	w.mu.Lock()
	if w.active[aj.job.ID] == aj {
		delete(w.active, aj.job.ID)
	}
	w.mu.Unlock()
}

// call runs the processor, turning a panic into an error with its stack.
func (w *Worker) call(aj *activeJob) (val any, err error) {
	defer func() {
		if r := recover(); r != nil {
			aj.stack = string(debug.Stack())
			err = &PanicError{Value: r, Stack: aj.stack}
		}
	}()
	return w.proc(aj.ctx, aj.job)
}

// watchdog runs when a job's context ends. On a timeout it fails the job at
// once, whether or not the handler honors its context, frees the slot and
// starts a goroutine in place of the one stuck in the handler.
func (w *Worker) watchdog(aj *activeJob) {
	if !errors.Is(context.Cause(aj.ctx), ErrJobTimeout) || !aj.state.CompareAndSwap(jobRunning, jobTimedOut) {
		return
	}
	w.untrack(aj)
	w.fail(aj, ErrJobTimeout, nil)
	w.freeSlot()
	w.endChain()
	go w.processLoop()
}

// finish records the attempt's outcome and returns the next job, if the
// finishing call claimed one.
func (w *Worker) finish(aj *activeJob, val any, err error) (claimed, bool) {
	cause := context.Cause(aj.ctx)
	if errors.Is(cause, ErrCancelled) {
		w.cancelled(aj)
		return claimed{}, false
	}
	if errors.Is(cause, ErrLockLost) {
		w.log.Warn("job lock lost; its outcome is dropped and it will run again", "job", aj.job.ID, "err", err)
		return claimed{}, false
	}
	if err == nil {
		return w.complete(aj, val)
	}
	if aj.job.moved && errors.Is(err, ErrWaitingChildren) { // WaitForChildren released the job
		w.log.Debug("job waits for its children", "job", aj.job.ID)
		return claimed{}, false
	}
	if errors.Is(context.Cause(aj.ctx), ErrShutdown) {
		// The drain deadline ended its context: an interruption, not a
		// failure of the job.
		w.release(aj, interrupted)
		return claimed{}, false
	}
	if d, ok := rateLimitOf(err); ok {
		w.rateLimited(aj, d)
		return claimed{}, false
	}
	if d, ok := groupLimitOf(err); ok {
		w.groupLimited(aj, d)
		return claimed{}, false
	}
	return w.fail(aj, err, w.nextParams())
}

// handlerLimit is how long a handler's RateLimited(d) stops the queue.
func handlerLimit(d time.Duration) time.Duration { return min(max(d, time.Millisecond), maxRateLimit) }

// rateLimitOf returns the delay of a RateLimited error. (A separate function
// so the variable errors.As needs is allocated only for a failed attempt.)
func rateLimitOf(err error) (time.Duration, bool) {
	var rl *RateLimitError
	if !errors.As(err, &rl) {
		return 0, false
	}
	return rl.Delay, true
}

// nextParams asks a finishing call to claim the next job too, unless the
// worker is stopping or its local limiter has no token right now.
func (w *Worker) nextParams() *backend.JobClaimParams {
	if w.stopping.Load() {
		return nil
	}
	if lim := w.opts.LocalLimiter; lim != nil && !lim.Allow() {
		return nil
	}
	p := w.claimParams(0)
	return p
}

func (w *Worker) complete(aj *activeJob, val any) (claimed, bool) {
	rv, err := encodeResult(val)
	if err != nil {
		return w.fail(aj, Unrecoverable(fmt.Errorf("encode return value: %w", err)), w.nextParams())
	}
	next := w.nextParams()
	var res *backend.JobClaimResult
	err = w.retrying(func(ctx context.Context) error {
		var err error
		res, err = w.be.JobComplete(ctx, &backend.JobCompleteParams{
			Queue: w.queue, ID: aj.job.ID, Token: aj.token, ReturnValue: rv,
			Retention: aj.job.Options.RemoveOnComplete, Next: next,
		})
		return err
	})
	if err != nil {
		if w.lostToCancel(aj, err) {
			return claimed{}, false
		}
		w.log.Warn("could not complete job", "job", aj.job.ID, "err", err)
		return claimed{}, false
	}
	if w.log.Enabled(context.Background(), slog.LevelDebug) {
		w.log.Debug("job completed", "job", aj.job.ID, "attempt", aj.job.AttemptsMade+1, "duration", time.Since(aj.started))
	}
	w.stats.completed.Add(1)
	if w.opts.OnFinished != nil {
		w.opts.OnFinished(aj.job, nil)
	}
	return nextOf(next, res)
}

func nextOf(p *backend.JobClaimParams, res *backend.JobClaimResult) (claimed, bool) {
	if p == nil || res == nil || res.Job == nil {
		return claimed{}, false
	}
	return claimed{job: res.Job, token: p.Token}, true
}

func (w *Worker) fail(aj *activeJob, err error, next *backend.JobClaimParams) (claimed, bool) {
	attempt := aj.job.AttemptsMade + 1
	reason := err.Error()
	if errors.Is(err, ErrJobTimeout) || errors.Is(context.Cause(aj.ctx), ErrJobTimeout) {
		reason = fmt.Sprintf("job timed out after %s", aj.job.Options.Timeout)
		err = errors.Join(ErrJobTimeout, err)
	}
	if len(reason) > maxReasonLen {
		reason = reason[:maxReasonLen]
	}
	delay, retry := retryDelay(aj.job, attempt, err, w.opts.BackoffStrategy)
	var res *backend.JobClaimResult
	ferr := w.retrying(func(ctx context.Context) error {
		var err error
		res, err = w.be.JobFail(ctx, &backend.JobFailParams{
			Queue: w.queue, ID: aj.job.ID, Token: aj.token, Reason: reason, Stacktrace: aj.stack,
			KeepStacktraces: w.opts.KeepStacktraces, Retry: retry, RetryDelay: delay,
			Retention: aj.job.Options.RemoveOnFail, Next: next,
		})
		return err
	})
	if ferr != nil {
		if w.lostToCancel(aj, ferr) {
			return claimed{}, false
		}
		w.log.Warn("could not record job failure", "job", aj.job.ID, "err", ferr)
		return claimed{}, false
	}
	if retry {
		w.stats.retried.Add(1)
		w.log.Info("job attempt failed; retrying", "job", aj.job.ID, "attempt", attempt, "err", reason, "retry_in", delay)
	} else {
		w.stats.failed.Add(1)
		w.log.Warn("job failed", "job", aj.job.ID, "attempt", attempt, "err", reason)
	}
	if w.opts.OnError != nil {
		w.opts.OnError(aj.job, err, retry)
	}
	if w.opts.OnFinished != nil {
		w.opts.OnFinished(aj.job, err)
	}
	return nextOf(next, res)
}

// rateLimited stops the queue for d and hands the job back unspent.
func (w *Worker) rateLimited(aj *activeJob, d time.Duration) {
	d = handlerLimit(d)
	err := w.retrying(func(ctx context.Context) error {
		return w.be.QueueRateLimit(ctx, &backend.QueueRateLimitParams{Queue: w.queue, For: d})
	})
	// Prefetched jobs go back first, so that this one ends up in front of them.
	w.handBackWaiting()
	if err == nil {
		err = w.retrying(func(ctx context.Context) error {
			return w.be.JobRelease(ctx, &backend.JobReleaseParams{Queue: w.queue, ID: aj.job.ID, Token: aj.token})
		})
	}
	if err != nil {
		w.log.Warn("could not hand back rate-limited job", "job", aj.job.ID, "err", err)
		return
	}
	w.stats.released.Add(1)
	w.log.Info("queue rate limited by handler", "job", aj.job.ID, "for", d)
}

func encodeResult(v any) ([]byte, error) {
	if v == nil {
		return nil, nil
	}
	return json.Marshal(v)
}
