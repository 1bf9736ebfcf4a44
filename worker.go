package fila

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
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
// ErrLockLost), when the job is cancelled (cause ErrCancelled, see
// Queue.Cancel) or at the shutdown deadline (cause ErrShutdown); see
// context.Cause.
type Processor func(ctx context.Context, job *Job) (any, error)

// Middleware wraps a Processor to add logging, tracing or recovery.
type Middleware func(next Processor) Processor

// WorkerOptions tunes a Worker. The zero value gives the documented defaults.
type WorkerOptions struct {
	// Concurrency is the number of jobs run at once; default 1.
	Concurrency int
	// Prefetch is how many jobs the worker may claim ahead of a free
	// handler slot; default 1 (DefaultPrefetch), NoPrefetch for none. With
	// Prefetch p, up to Concurrency+p jobs are claimed at once and at most
	// Concurrency handlers run: the claim (or the finish that claims the
	// next job) of one job overlaps the handler of another, so short jobs
	// are not held to one round trip each. A prefetched job is claimed like
	// a running one: active, locked (its lock is renewed while it waits),
	// its attempt started, and its ProcessedAt is its claim time; its
	// Timeout counts from when its handler starts.
	//
	// A claim ahead of a free slot takes only a job already waiting; it
	// never blocks. A prefetched job waits in this process only, where no
	// other worker can take it, so it waits at most PrefetchHold (20ms) for
	// a slot: when
	// a handler runs longer, the job goes back to the front of waiting,
	// unstarted and without spending an attempt, for an idle worker
	// elsewhere to take, and this worker claims no job ahead again until
	// one of its handlers finishes within PrefetchHold. So prefetching
	// pays where it helps (short jobs) and holds nothing back from other
	// workers behind a slow handler. Prefetched jobs also go back when the
	// worker stops and when one of its handlers returns RateLimited.
	//
	// Order: jobs wait for a slot in the order they were claimed, but
	// overlapping finishing calls claim in either order, so with Prefetch
	// even Concurrency 1 does not keep a queue's strict FIFO order; set
	// NoPrefetch for one job at a time in queue order (or use a group with
	// concurrency 1). The global Limiter counts claims, so handler starts
	// may bunch up behind a slow job.
	Prefetch int
	// PrefetchHold is the longest a prefetched job waits for a handler
	// slot before it goes back to waiting (see Prefetch); default 20ms
	// (DefaultPrefetchHold). Longer holds keep jobs claimed ahead behind
	// handlers that take longer, which no other worker can take meanwhile.
	PrefetchHold time.Duration
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
	// Name labels the worker's metrics (the Prometheus "worker" label, the
	// JSON report) and logs; default the host name. It is stable across
	// restarts, so a restart continues the same series. Further running
	// workers of the same queue and name in one process get -2, -3, ...; a
	// name is free again once its worker has stopped.
	Name string
	// Logger receives the worker's logs; default: none.
	Logger *slog.Logger
	// ShutdownTimeout bounds the drain when Run's context ends; default 10s.
	// (Close takes its deadline from its own context.) Handlers still
	// running then are interrupted, and abandoned if they ignore their
	// context (see Close).
	ShutdownTimeout time.Duration
	// KeepStacktraces is how many failure stacks a job keeps; default 10.
	KeepStacktraces int
	// OnFinished, when set, is called once the backend has recorded an
	// attempt's outcome: err is nil for a completed job, the attempt's
	// error for a failed or retried one (joined with ErrJobTimeout when
	// its Timeout passed). It is not called when no outcome is recorded:
	// a lost lock, a job handed back (shutdown, RateLimited), or a
	// finishing call the backend kept refusing. job is the handler's copy
	// as claimed: State active, AttemptsMade not counting this attempt,
	// no ReturnValue, FailedReason or FinishedAt of this outcome (read
	// the job again with Queue.GetJob for those). It runs on the
	// goroutine that ran the handler (the timeout watchdog's for a timed
	// out job), before that goroutine takes its next job; keep it short.
	// OnFinished is for final outcomes and retries alike; to report
	// failures (to Sentry, to logs) use OnError, which says whether the
	// job will run again.
	OnFinished func(job *Job, err error)
	// OnError, when set, is called for every failed attempt once the
	// backend has recorded it: willRetry is true when the job goes back
	// to delayed or waiting for another attempt, false when it failed for
	// good (attempts spent, Unrecoverable, cancelled). A handler that
	// panicked gives a *PanicError carrying the panic value and the
	// stack (find it with errors.As); a timed out attempt's err matches
	// ErrJobTimeout. Like OnFinished it is not called when no outcome is
	// recorded (a lost lock, a job handed back at shutdown or by
	// RateLimited), runs on the handler's goroutine, before OnFinished,
	// and should be short; job is the handler's copy as claimed.
	OnError func(job *Job, err error, willRetry bool)
}

// Defaults of WorkerOptions.
const (
	DefaultLockDuration    = 30 * time.Second
	DefaultStalledInterval = 30 * time.Second
	DefaultShutdownTimeout = 10 * time.Second
	DefaultPrefetch        = 1
)

// NoPrefetch as WorkerOptions.Prefetch claims no job ahead of a free
// handler slot.
const NoPrefetch = -1

// DefaultPrefetchHold is WorkerOptions.PrefetchHold's default.
const DefaultPrefetchHold = 20 * time.Millisecond

// claimWait bounds one blocking claim; the worker claims again after it.
const claimWait = 30 * time.Second

// shutdownGrace is how long Run waits, after the drain deadline ended the
// handlers' contexts, for them to return (and their jobs to be handed back
// unspent) before it abandons those still running.
const shutdownGrace = 100 * time.Millisecond

// maxReasonLen caps a stored failure reason.
const maxReasonLen = 8 << 10

// Worker claims jobs of one queue and runs a Processor on them.
type Worker struct {
	be    backend.Backend
	queue string
	proc  Processor
	opts  WorkerOptions
	log   *slog.Logger
	id    string // random, in lock tokens
	name  string // stable, in metrics labels and logs

	tokens   atomic.Uint64
	stopping atomic.Bool // no more claims, not even chained ones
	// pausedUntil (Prefetch only, unix ns): a handler of this worker
	// returned RateLimited; no prefetched job starts before then.
	pausedUntil atomic.Int64
	// holdBack (Prefetch only): a prefetched job waited PrefetchHold and
	// went back; claim none ahead until a handler is fast again. heldWake
	// (buffered, 1) tells the dispatcher waiting on it to look again.
	holdBack atomic.Bool
	heldWake chan struct{}
	stats    workerCounters

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
	fatal     chan error    // a permanent backend error ends Run (buffered, 1)
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
	jobAbandoned       // still running at the drain deadline: no longer tracked; its goroutine was replaced
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

// NewWorker returns a worker for the named queue, or an error wrapping
// ErrInvalid (a *ValidationError naming the field) when the queue name or
// an option is invalid, or the backend or processor is nil: a mistake
// surfaces where the worker is built, not when it runs.
func NewWorker(b backend.Backend, queue string, p Processor, opts WorkerOptions) (*Worker, error) {
	switch {
	case b == nil:
		return nil, fmt.Errorf("fila: worker for %q: %w", queue, invalid("backend", "is nil"))
	case p == nil:
		return nil, fmt.Errorf("fila: worker for %q: %w", queue, invalid("processor", "is nil"))
	}
	for i := len(opts.Middleware) - 1; i >= 0; i-- {
		p = opts.Middleware[i](p)
	}
	w := &Worker{
		be: b, queue: queue, proc: p, opts: opts,
		active:  map[string]*activeJob{},
		stopReq: make(chan struct{}), forceCh: make(chan struct{}), done: make(chan struct{}),
		fatal: make(chan error, 1),
	}
	if err := w.setDefaults(); err != nil {
		return nil, fmt.Errorf("fila: worker for %q: %w", queue, err)
	}
	w.name = workerNames.take(queue, w.opts.Name)
	w.log = w.opts.Logger
	if w.log == nil {
		w.log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	w.log = w.log.With("queue", queue, "worker", w.name, "worker_id", w.id)
	return w, nil
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
		{"LockDuration", o.LockDuration < 0, o.LockDuration},
		{"StalledInterval", o.StalledInterval < 0, o.StalledInterval},
		{"PrefetchHold", o.PrefetchHold < 0, o.PrefetchHold},
		{"ShutdownTimeout", o.ShutdownTimeout < 0, o.ShutdownTimeout},
		{"KeepStacktraces", o.KeepStacktraces < 0, o.KeepStacktraces},
	}
	for _, c := range checks {
		if c.bad {
			return invalid(c.field, "must be >= 0, got %v", c.value)
		}
	}
	if o.Prefetch < NoPrefetch {
		return invalid("Prefetch", "must be >= 0, or NoPrefetch (-1), got %d", o.Prefetch)
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
	switch o.Prefetch {
	case 0:
		o.Prefetch = DefaultPrefetch
	case NoPrefetch:
		o.Prefetch = 0
	}
	if o.PrefetchHold == 0 {
		o.PrefetchHold = DefaultPrefetchHold
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

// Name returns the worker's name: WorkerOptions.Name, or the host name by
// default, with -2, -3, ... for further running workers of the same queue
// and name in this process. It labels the worker's metrics and logs.
func (w *Worker) Name() string { return w.name }

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

// Run claims and processes jobs until ctx ends, Close is called or the
// backend fails for good, then drains: it stops claiming, hands prefetched
// jobs back, and lets running handlers finish for up to ShutdownTimeout
// (or until Close's context ends). Handlers still running then are
// abandoned, not waited for: their contexts end with cause ErrShutdown,
// their locks are no longer renewed, and a result that comes later is
// recorded only while the job's lock still holds (see Close). Run returns
// nil after a drain that ctx or Close started, and the backend's error
// (matching backend.ErrPermanent or backend.ErrClosed) when a permanent
// failure ended it. A worker runs once.
func (w *Worker) Run(ctx context.Context) error {
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
		w.heldWake = make(chan struct{}, 1)
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
	var runErr error
	select {
	case <-ctx.Done():
		deadline = time.AfterFunc(w.opts.ShutdownTimeout, w.force)
	case runErr = <-w.fatal:
		w.log.Error("backend failed for good; worker stops", "err", runErr)
		runErr = fmt.Errorf("fila: worker for %q: %w", w.queue, runErr)
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
		w.interruptAll()
		grace := time.NewTimer(shutdownGrace)
		select {
		case <-procsDone:
		case <-grace.C:
			w.abandonAll()
			<-procsDone
		}
		grace.Stop()
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
	workerNames.free(w.queue, w.name)
	w.log.Debug("worker stopped")
	return runErr
}
