// Package memory is fila's in-process backend: the whole job lifecycle in
// memory, for tests, development and as the embedded default.
//
// Jobs do not survive the process. Every transition runs under the queue's
// mutex, so each is atomic. Idle claims block on a channel that adds,
// promotions and resumes close, with a timer only for the next delayed job:
// an idle worker uses no CPU.
package memory

import (
	"container/list"
	"context"
	"maps"
	"strconv"
	"sync"
	"time"

	"github.com/fila-go/fila/backend"
)

// Options tunes a memory backend. The zero value gives the documented defaults.
type Options struct {
	// Now is the backend's clock; default time.Now. Tests inject one to
	// control timestamps, per-minute metrics and ages. Blocking waits still
	// use real timers.
	Now func() time.Time
	// EventsMaxLen caps each queue's event log; default 10,000.
	EventsMaxLen int
	// MetricsMinutes is how many minutes of per-minute counts are kept;
	// default 60.
	MetricsMinutes int
}

// Backend is the in-process backend. It is safe for concurrent use.
type Backend struct {
	opts Options

	mu     sync.Mutex
	queues map[string]*queue
	closed chan struct{}
	once   sync.Once
}

var _ backend.Backend = (*Backend)(nil)

// New returns an empty in-memory backend.
func New(opts ...Options) *Backend {
	var o Options
	if len(opts) > 0 {
		o = opts[0]
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.EventsMaxLen <= 0 {
		o.EventsMaxLen = 10000
	}
	if o.MetricsMinutes <= 0 {
		o.MetricsMinutes = 60
	}
	return &Backend{opts: o, queues: map[string]*queue{}, closed: make(chan struct{})}
}

// queue is one queue's state. Its mutex guards every field.
type queue struct {
	mu     sync.Mutex
	be     *Backend
	name   string
	listed bool // jobs were added since creation or the last obliterate
	// out holds what the lock holder owes flow jobs of other queues; unlock
	// delivers it (flows.go).
	out []flowMsg

	jobs        map[string]*entry
	wait        *list.List // of *entry; front is the consuming end
	prioritized *jobHeap
	delayed     *jobHeap
	active      map[string]*entry
	// waitingChildren holds flow parents waiting for children (flows.go).
	waitingChildren map[string]*entry
	completed       *list.List // of *entry, oldest first
	failed          *list.List

	paused       bool
	limitedUntil time.Time
	limiter      slidingLog

	nextID uint64
	seq    uint64

	dedup     map[string]*dedupEntry
	dedupHeap dedupHeap

	stalledMarks     map[string]struct{}
	lastStalledCheck time.Time

	metrics *minuteCounts
	events  *eventRing

	schedulers   map[string]*backend.Scheduler // by ID
	groups       map[string]*group
	groupOpts    backend.GroupOptions
	tokens       int // group tokens in wait
	groupWaiting int // jobs waiting in groups
	limited      map[*group]struct{}
	now          func() time.Time

	ready   chan struct{} // closed when a job may have become claimable
	changed chan struct{} // closed when an event is recorded
}

func (b *Backend) newQueue(name string) *queue {
	q := &queue{be: b, name: name, events: newEventRing(b.opts.EventsMaxLen), now: b.now}
	q.reset(b.opts.MetricsMinutes)
	return q
}

// reset empties the queue in place, so callers blocked on it stay valid.
func (q *queue) reset(metricsMinutes int) {
	q.listed = false
	q.jobs = map[string]*entry{}
	q.wait = list.New()
	q.prioritized = &jobHeap{key: func(e *entry) int64 { return int64(e.job.Options.Priority) }}
	// Sub saturates where UnixNano would overflow (due after 2262, as with a
	// Delay of math.MaxInt64): those jobs order last instead of first.
	q.delayed = &jobHeap{key: func(e *entry) int64 { return int64(e.job.DueAt.Sub(time.Unix(0, 0))) }}
	q.active = map[string]*entry{}
	q.waitingChildren = map[string]*entry{}
	q.completed = list.New()
	q.failed = list.New()
	q.paused = false
	q.limitedUntil = time.Time{}
	q.limiter = slidingLog{}
	q.dedup = map[string]*dedupEntry{}
	q.dedupHeap = nil
	q.stalledMarks = map[string]struct{}{}
	q.lastStalledCheck = time.Time{}
	q.metrics = newMinuteCounts(metricsMinutes)
	q.groups = map[string]*group{}
	q.limited = map[*group]struct{}{}
	q.tokens, q.groupWaiting = 0, 0
	q.groupOpts = backend.GroupOptions{}
	q.schedulers = nil
}

// lock returns the named queue, locked, creating it on first use. Every
// call starts here, so a closed backend and a context already done
// (cancelled, or past its deadline) fail every call before it changes
// anything. Nothing in this backend waits on I/O: the calls that wait
// (JobClaim, EventsRead) watch ctx while they wait.
func (b *Backend) lock(ctx context.Context, name string) (*queue, error) {
	b.mu.Lock()
	select {
	case <-b.closed:
		b.mu.Unlock()
		return nil, backend.ErrClosed
	default:
	}
	if err := ctx.Err(); err != nil {
		b.mu.Unlock()
		return nil, err
	}
	q := b.queues[name]
	if q == nil {
		q = b.newQueue(name)
		b.queues[name] = q
	}
	b.mu.Unlock()
	q.mu.Lock()
	return q, nil
}

func (b *Backend) now() time.Time { return b.opts.Now() }

// signalReady wakes blocked claims.
func (q *queue) signalReady() {
	if q.ready != nil {
		close(q.ready)
		q.ready = nil
	}
}

func (q *queue) readyChan() chan struct{} {
	if q.ready == nil {
		q.ready = make(chan struct{})
	}
	return q.ready
}

func (q *queue) emit(typ backend.EventType, jobID string, now time.Time, data string) {
	q.events.add(backend.Event{Type: typ, JobID: jobID, Time: now, Data: data})
	if q.changed != nil {
		close(q.changed)
		q.changed = nil
	}
}

// makeReady puts an entry where claims find it: the prioritized heap, or
// the waiting list at the consuming end (front) or the far end.
func (q *queue) makeReady(e *entry, front bool) {
	e.job.DueAt = time.Time{}
	if e.job.Options.Group != "" {
		q.groupPush(e, front)
		q.signalReady()
		return
	}
	if e.job.Options.Priority > 0 {
		e.job.State = backend.StatePrioritized
		q.prioritized.push(e)
	} else {
		e.job.State = backend.StateWaiting
		if front {
			e.elem = q.wait.PushFront(e)
		} else {
			e.elem = q.wait.PushBack(e)
		}
	}
	q.signalReady()
}

// detach takes an entry out of whatever container holds it.
func (q *queue) detach(e *entry) {
	switch e.job.State {
	case backend.StateWaiting:
		if e.job.Options.Group != "" {
			q.groupDetach(e)
		} else {
			q.wait.Remove(e.elem)
		}
	case backend.StatePrioritized:
		q.prioritized.remove(e)
	case backend.StateDelayed:
		q.delayed.remove(e)
	case backend.StateActive:
		delete(q.active, e.job.ID)
		delete(q.stalledMarks, e.job.ID)
	case backend.StateCompleted:
		q.completed.Remove(e.elem)
	case backend.StateFailed:
		q.failed.Remove(e.elem)
	case backend.StateWaitingChildren:
		delete(q.waitingChildren, e.job.ID)
	}
	e.elem = nil
	e.token = ""
	e.cancelled = ""
}

func (q *queue) delete(e *entry) {
	q.detach(e)
	q.leaveSlot(e)
	delete(q.jobs, e.job.ID)
}

// requeue makes a detached entry ready again at the far end of its
// priority, as a job that just became ready: a prioritized job gets a new
// sequence, so it queues behind the equal-priority jobs already ready (the
// Redis backend draws a new sequence the same way).
func (q *queue) requeue(e *entry) {
	if e.job.Options.Priority > 0 {
		q.seq++
		e.seq = q.seq
	}
	q.makeReady(e, e.job.Options.LIFO)
}

// promoteDue moves delayed jobs whose time has come to waiting.
func (q *queue) promoteDue(now time.Time) {
	for {
		e := q.delayed.peek()
		if e == nil || e.job.DueAt.After(now) {
			return
		}
		q.delayed.pop()
		q.requeue(e)
	}
}

// stateOf reports a job's state as callers see it: waiting jobs of a paused
// queue are paused.
func (q *queue) stateOf(e *entry) backend.State {
	if q.paused && e.job.State == backend.StateWaiting {
		return backend.StatePaused
	}
	return e.job.State
}

// snapshot copies an entry's job so callers cannot alias stored slices.
func (q *queue) snapshot(e *entry) *backend.Job {
	j := e.job
	j.State = q.stateOf(e)
	j.Data = cloneBytes(j.Data)
	j.ReturnValue = cloneBytes(j.ReturnValue)
	j.Progress = cloneBytes(j.Progress)
	j.Options.Meta = maps.Clone(j.Options.Meta) // nil stays nil: no allocation without metadata
	j.Stacktrace = append([]string(nil), j.Stacktrace...)
	return &j
}

func cloneBytes(b []byte) []byte {
	if b == nil {
		return nil
	}
	return append([]byte(nil), b...)
}

func formatSeq(n uint64) string { return strconv.FormatUint(n, 10) }
