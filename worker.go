package fila

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	rand2 "math/rand/v2"
	"runtime/debug"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"

	"github.com/fila-go/fila/backend"
)

// Processor handles one job. Its result is JSON-encoded into the job's
// ReturnValue. An error fails the attempt (retried while attempts remain);
// wrap it with Unrecoverable to fail the job at once, or return
// RateLimited(d) to put it back and stop the queue for d. ctx ends when the
// job's Timeout passes (cause ErrJobTimeout), when its lock is lost (cause
// ErrLockLost) or at the shutdown deadline (cause ErrShutdown); see
// context.Cause.
type Processor func(ctx context.Context, job *Job) (any, error)

// Middleware wraps a Processor to add logging, tracing or recovery.
type Middleware func(next Processor) Processor

// WorkerOptions tunes a Worker. The zero value gives the documented defaults.
type WorkerOptions struct {
	// Concurrency is the number of jobs run at once; default 1.
	Concurrency int
	// Prefetch is how many jobs the worker may claim ahead of a free
	// handler slot; default 0, none. With Prefetch p, up to Concurrency+p
	// jobs are claimed at once and at most Concurrency handlers run: the
	// claim (or the finish that claims the next job) of one job overlaps
	// the handler of another, so short jobs are not held to one round trip
	// each. A prefetched job is claimed like a running one: active, locked
	// (its lock is renewed while it waits), its attempt started, and its
	// ProcessedAt is its claim time; its Timeout counts from when its
	// handler starts. It waits in this process only, where no other worker
	// can take it; when the worker stops, prefetched jobs go back to the
	// front of waiting unstarted, without spending an attempt; so do they
	// when one of the worker's handlers returns RateLimited. Jobs wait
	// for a slot in the order they were claimed, but overlapping finishing
	// calls claim in either order: with Prefetch, even Concurrency 1 does
	// not keep a queue's strict FIFO order. The global Limiter counts
	// claims, so handler starts may bunch up behind a slow job.
	Prefetch int
	// LockDuration is how long a claimed job stays locked without renewal;
	// default 30s. The worker renews every lock at LockDuration/2; a job
	// whose lock expires is recovered by the stalled check.
	LockDuration time.Duration
	// StalledInterval is how often the stalled check runs (once per
	// interval per queue across all processes); default 30s.
	StalledInterval time.Duration
	// MaxStalledCount is how many times a job may be recovered from a
	// worker that lost it before it fails; 0 means 1, negative means none.
	MaxStalledCount int
	// Limiter is a global rate limit shared by every worker of the queue.
	Limiter *Limit
	// LocalLimiter is a token bucket for this worker (share one between
	// workers to limit a process); a token is taken before each claim.
	LocalLimiter *rate.Limiter
	// BackoffStrategy computes retry delays for jobs with BackoffCustom.
	// Without one, such jobs retry after their fixed Backoff.Delay.
	BackoffStrategy BackoffStrategy
	// Middleware wraps the processor; the first is the outermost.
	Middleware []Middleware
	// Logger receives the worker's logs; default: none.
	Logger *slog.Logger
	// ShutdownTimeout bounds the drain when Run's context ends; default 10s.
	// (Close takes its deadline from its own context.)
	ShutdownTimeout time.Duration
	// KeepStacktraces is how many failure stacks a job keeps; default 10.
	KeepStacktraces int
	// OnFinished, when set, is called after each attempt's outcome is
	// recorded: err is nil for a completed job, the attempt's error for a
	// failed or retried one. It runs on the worker's goroutine; keep it short.
	OnFinished func(job *Job, err error)
}

// Defaults of WorkerOptions.
const (
	DefaultLockDuration    = 30 * time.Second
	DefaultStalledInterval = 30 * time.Second
	DefaultShutdownTimeout = 10 * time.Second
)

// claimWait bounds one blocking claim; the worker claims again after it.
const claimWait = 30 * time.Second

// maxReasonLen caps a stored failure reason.
const maxReasonLen = 8 << 10

// Worker claims jobs of one queue and runs a Processor on them.
type Worker struct {
	be    backend.Backend
	queue string
	proc  Processor
	opts  WorkerOptions
	log   *slog.Logger
	id    string
	err   error // a configuration error, returned by Run

	tokens   atomic.Uint64
	stopping atomic.Bool // no more claims, not even chained ones
	// pausedUntil (Prefetch only, unix ns): a handler of this worker
	// returned RateLimited; no prefetched job starts before then.
	pausedUntil atomic.Int64
	stats       workerCounters

	mu     sync.Mutex
	state  workerState
	active map[string]*activeJob

	sem     chan struct{}   // one token per job chain: Concurrency+Prefetch
	gate    *slotGate       // handler slots in claim order; nil without Prefetch
	jobs    chan claimed    // dispatcher -> processors
	procs   sync.WaitGroup  // processor goroutines
	jobBase context.Context // parent of every handler context
	cancel  context.CancelCauseFunc

	stopReq   chan struct{} // Close asks Run to stop
	stopOnce  sync.Once
	forceCh   chan struct{} // the drain deadline passed
	forceOnce sync.Once
	done      chan struct{} // Run returned
}

// claimed is a job and the lock token its claim used.
type claimed struct {
	job    *backend.Job
	token  string
	ticket *slotTicket // its place at the gate (Prefetch only)
}

type workerState int

const (
	workerIdle workerState = iota
	workerRunning
	workerClosed
)

// Outcomes of an activeJob, decided once by compare-and-swap.
const (
	jobRunning   int32 = iota
	jobFinishing       // the processor finishes it
	jobTimedOut        // the timeout watchdog failed it; its goroutine was replaced
	jobReleased        // shutdown handed it back
)

type activeJob struct {
	job       *Job
	token     string
	ctx       context.Context
	cancel    context.CancelCauseFunc
	stopWatch func() bool // stops the timeout watchdog
	stopTimer func()      // releases the Timeout's timer
	begun     atomic.Bool // its handler started (a prefetched job waits first)
	state     atomic.Int32
	stack     string    // set when the handler panicked
	claimed   time.Time // when a prefetched job was claimed (zero without Prefetch)
	started   time.Time // when its handler started
}

// NewWorker returns a worker for the named queue. A nil backend or
// processor panics; invalid options are returned by Run.
func NewWorker(b backend.Backend, queue string, p Processor, opts WorkerOptions) *Worker {
	if b == nil {
		panic("fila: NewWorker: nil backend")
	}
	if p == nil {
		panic("fila: NewWorker: nil processor")
	}
	for i := len(opts.Middleware) - 1; i >= 0; i-- {
		p = opts.Middleware[i](p)
	}
	w := &Worker{
		be: b, queue: queue, proc: p, opts: opts,
		active:  map[string]*activeJob{},
		stopReq: make(chan struct{}), forceCh: make(chan struct{}), done: make(chan struct{}),
	}
	w.err = w.setDefaults()
	if w.err != nil {
		w.err = fmt.Errorf("fila: worker for %q: %w", queue, w.err)
	}
	w.log = w.opts.Logger
	if w.log == nil {
		w.log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	w.log = w.log.With("queue", queue, "worker", w.id)
	return w
}

func (w *Worker) setDefaults() error {
	var id [4]byte
	_, _ = rand.Read(id[:])
	w.id = hex.EncodeToString(id[:])
	o := &w.opts
	if err := validateQueueName(w.queue); err != nil {
		return err
	}
	checks := []struct {
		field string
		bad   bool
		value any
	}{
		{"Concurrency", o.Concurrency < 0, o.Concurrency},
		{"Prefetch", o.Prefetch < 0, o.Prefetch},
		{"LockDuration", o.LockDuration < 0, o.LockDuration},
		{"StalledInterval", o.StalledInterval < 0, o.StalledInterval},
		{"ShutdownTimeout", o.ShutdownTimeout < 0, o.ShutdownTimeout},
		{"KeepStacktraces", o.KeepStacktraces < 0, o.KeepStacktraces},
	}
	for _, c := range checks {
		if c.bad {
			return invalid(c.field, "must be >= 0, got %v", c.value)
		}
	}
	if err := validateLimit(o.Limiter); err != nil {
		return err
	}
	if l := o.LocalLimiter; l != nil && l.Limit() != rate.Inf && l.Burst() < 1 {
		return invalid("LocalLimiter", "has burst %d: it can never allow a claim; use a burst >= 1", l.Burst())
	}
	if o.Concurrency == 0 {
		o.Concurrency = 1
	}
	if o.LockDuration == 0 {
		o.LockDuration = DefaultLockDuration
	}
	if o.LockDuration < 10*time.Millisecond {
		return invalid("LockDuration", "must be >= 10ms, got %s", o.LockDuration)
	}
	if o.StalledInterval == 0 {
		o.StalledInterval = DefaultStalledInterval
	}
	switch {
	case o.MaxStalledCount == 0:
		o.MaxStalledCount = 1
	case o.MaxStalledCount < 0:
		o.MaxStalledCount = 0
	}
	if o.ShutdownTimeout == 0 {
		o.ShutdownTimeout = DefaultShutdownTimeout
	}
	if o.KeepStacktraces == 0 {
		o.KeepStacktraces = 10
	}
	return nil
}

// ID returns the worker's random identifier, used in lock tokens and logs.
func (w *Worker) ID() string { return w.id }

// RateLimit stops claims on the worker's queue for d, across every worker
// and process, as Queue.RateLimit does.
func (w *Worker) RateLimit(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return fmt.Errorf("fila: rate limit %q: %w", w.queue, invalid("duration", "must be > 0, got %s", d))
	}
	if err := w.be.QueueRateLimit(ctx, &backend.QueueRateLimitParams{Queue: w.queue, For: min(d, maxRateLimit)}); err != nil {
		return fmt.Errorf("fila: rate limit %q: %w", w.queue, err)
	}
	return nil
}

// Run claims and processes jobs until ctx ends or Close is called, then
// drains: it stops claiming, lets running handlers finish for up to
// ShutdownTimeout (or until Close's context ends), hands the jobs still
// running back to waiting without spending an attempt, waits for their
// handlers to return, and returns nil. A worker runs once.
func (w *Worker) Run(ctx context.Context) error {
	if w.err != nil {
		return w.err
	}
	w.mu.Lock()
	switch w.state {
	case workerRunning:
		w.mu.Unlock()
		return ErrWorkerRunning
	case workerClosed:
		w.mu.Unlock()
		return ErrWorkerClosed
	}
	w.state = workerRunning
	w.mu.Unlock()
	defer close(w.done)

	n := w.opts.Concurrency + w.opts.Prefetch
	w.sem = make(chan struct{}, n)
	if w.opts.Prefetch > 0 {
		w.gate = newSlotGate(w.opts.Concurrency)
	}
	w.jobs = make(chan claimed)
	w.jobBase, w.cancel = context.WithCancelCause(context.Background())
	claimCtx, stopClaims := context.WithCancel(context.Background())
	helperCtx, stopHelpers := context.WithCancel(context.Background())

	var helpers sync.WaitGroup
	helpers.Add(3)
	go func() { defer helpers.Done(); w.dispatch(claimCtx) }()
	go func() { defer helpers.Done(); w.renewLocks(helperCtx) }()
	go func() { defer helpers.Done(); w.checkStalled(helperCtx) }()
	w.procs.Add(n)
	for range n {
		go w.processLoop()
	}
	w.log.Debug("worker started", "concurrency", w.opts.Concurrency, "prefetch", w.opts.Prefetch)

	var deadline *time.Timer
	select {
	case <-ctx.Done():
		deadline = time.AfterFunc(w.opts.ShutdownTimeout, w.force)
	case <-w.stopReq:
	}
	w.stopping.Store(true)
	stopClaims()
	w.handBackPrefetched()
	procsDone := make(chan struct{})
	go func() { w.procs.Wait(); close(procsDone) }()
	select {
	case <-procsDone:
	case <-w.forceCh:
		w.releaseAll()
		<-procsDone
	}
	if deadline != nil {
		deadline.Stop()
	}
	stopHelpers()
	helpers.Wait()
	w.cancel(ErrShutdown)
	w.mu.Lock()
	w.state = workerClosed
	w.mu.Unlock()
	w.log.Debug("worker stopped")
	return nil
}

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
// whatever its concurrency.
func (w *Worker) dispatch(ctx context.Context) {
	defer close(w.jobs)
	for {
		select {
		case w.sem <- struct{}{}:
		case <-ctx.Done():
			return
		}
		c, ok := w.claim(ctx)
		if !ok {
			<-w.sem
			return
		}
		w.queueForSlot(&c)
		w.jobs <- c
	}
}

// claim blocks until it claims a job, or returns false when ctx ends.
// Backend errors are logged and retried with backoff: a worker never stops
// because its storage went away for a while.
func (w *Worker) claim(ctx context.Context) (claimed, bool) {
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
		p := w.claimParams(claimWait)
		res, err := w.be.JobClaim(ctx, p)
		if ctx.Err() != nil {
			if err == nil && res.Job != nil { // claimed as we stopped: hand it back
				_ = w.retrying(func(ctx context.Context) error {
					return w.be.JobRelease(ctx, &backend.JobReleaseParams{Queue: w.queue, ID: res.Job.ID, Token: p.Token})
				})
			}
			return claimed{}, false
		}
		var wait time.Duration
		switch {
		case err != nil:
			failures++
			wait = errorBackoff(failures)
			w.log.Warn("claim failed; retrying", "err", err, "retry_in", wait)
		case res.Job != nil:
			return claimed{job: res.Job, token: p.Token}, true
		default:
			failures = 0
			wait = res.RetryAfter
			if wait > 0 {
				w.stats.rateLimited.Add(1)
			}
		}
		if wait > 0 && !sleep(ctx, wait) {
			return claimed{}, false
		}
	}
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
func (w *Worker) retrying(call func(context.Context) error) error {
	err := call(context.Background())
	if err == nil || errors.Is(err, backend.ErrLockLost) || errors.Is(err, backend.ErrJobNotFound) {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), w.opts.LockDuration)
	defer cancel()
	for failures := 1; ; failures++ {
		if !sleep(ctx, errorBackoff(failures)) {
			return err
		}
		err = call(ctx)
		if err == nil || errors.Is(err, backend.ErrLockLost) || errors.Is(err, backend.ErrJobNotFound) || ctx.Err() != nil {
			return err
		}
	}
}

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
		<-w.sem
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
	w.start(aj)
	val, err := w.call(aj)
	w.stats.processing.observe(time.Since(aj.started))
	if aj.stopWatch != nil {
		aj.stopWatch()
	}
	if !aj.state.CompareAndSwap(jobRunning, jobFinishing) {
		st := aj.state.Load()
		if st == jobReleased {
			w.freeSlot()
			w.untrack(aj) // handed back at the deadline: no longer running
		}
		// jobTimedOut: the watchdog freed the slot
		return claimed{}, false, st == jobTimedOut
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

// start starts a job's clock: its run time, its wait, its Timeout.
func (w *Worker) start(aj *activeJob) {
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
	aj.begun.Store(true)
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
			err = fmt.Errorf("panic: %v", r)
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
	<-w.sem
	go w.processLoop()
}

// finish records the attempt's outcome and returns the next job, if the
// finishing call claimed one.
func (w *Worker) finish(aj *activeJob, val any, err error) (claimed, bool) {
	if cause := context.Cause(aj.ctx); errors.Is(cause, ErrLockLost) {
		w.log.Warn("job lock lost; its outcome is dropped and it will run again", "job", aj.job.ID, "err", err)
		return claimed{}, false
	}
	if err == nil {
		return w.complete(aj, val)
	}
	if d, ok := rateLimitOf(err); ok {
		w.rateLimited(aj, d)
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
			w.log.Warn("lock renewal failed", "jobs", len(locks), "err", err)
			continue
		}
		sent := make(map[string]string, len(locks))
		for _, l := range locks {
			sent[l.ID] = l.Token
		}
		for _, id := range lost {
			w.mu.Lock()
			aj := w.active[id]
			w.mu.Unlock()
			// The job may have been retried and claimed again meanwhile: only
			// the attempt whose token was renewed has lost its lock.
			if aj != nil && aj.token == sent[id] && aj.state.Load() == jobRunning {
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
			w.log.Warn("stalled check failed", "err", err)
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
