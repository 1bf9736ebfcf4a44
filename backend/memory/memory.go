// Package memory is fila's in-process backend: the whole job lifecycle in
// memory, for tests, development and as the embedded default.
//
// Jobs do not survive the process. Every transition runs under the queue's
// mutex, so each is atomic. Idle claims block on a channel that adds,
// promotions and resumes close, with a timer only for the next delayed job:
// an idle worker uses no CPU.
package memory

import (
	"container/heap"
	"container/list"
	"context"
	"sort"
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
	name   string
	listed bool // jobs were added since creation or the last obliterate

	jobs        map[string]*entry
	wait        *list.List // of *entry; front is the consuming end
	prioritized *jobHeap
	delayed     *jobHeap
	active      map[string]*entry
	completed   *list.List // of *entry, oldest first
	failed      *list.List

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

	ready   chan struct{} // closed when a job may have become claimable
	changed chan struct{} // closed when an event is recorded
}

func (b *Backend) newQueue(name string) *queue {
	q := &queue{name: name, events: newEventRing(b.opts.EventsMaxLen)}
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
}

// lock returns the named queue, locked, creating it on first use.
func (b *Backend) lock(name string) (*queue, error) {
	b.mu.Lock()
	select {
	case <-b.closed:
		b.mu.Unlock()
		return nil, backend.ErrClosed
	default:
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
		q.wait.Remove(e.elem)
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
	}
	e.elem = nil
	e.token = ""
}

func (q *queue) delete(e *entry) {
	q.detach(e)
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

// JobAdd implements backend.Backend.
func (b *Backend) JobAdd(ctx context.Context, p *backend.JobAddParams) ([]backend.JobAddResult, error) {
	q, err := b.lock(p.Queue)
	if err != nil {
		return nil, err
	}
	defer q.mu.Unlock()
	now := b.now()
	q.sweepDedup(now)
	out := make([]backend.JobAddResult, len(p.Jobs))
	for i := range p.Jobs {
		out[i] = q.add(&p.Jobs[i], now)
	}
	q.listed = true
	return out, nil
}

func (q *queue) add(it *backend.JobAddItem, now time.Time) backend.JobAddResult {
	if it.ID != "" {
		if e := q.jobs[it.ID]; e != nil {
			return backend.JobAddResult{Status: backend.AddExists, ID: it.ID, State: q.stateOf(e), AddedAt: e.job.AddedAt}
		}
	}
	if it.Dedup != nil {
		if d := q.dedup[it.Dedup.ID]; d != nil && d.expires.After(now) {
			return backend.JobAddResult{Status: backend.AddDeduplicated, ID: d.jobID}
		}
	}
	id := it.ID
	for id == "" {
		q.nextID++
		id = strconv.FormatUint(q.nextID, 10)
		if q.jobs[id] != nil {
			id = ""
		}
	}
	if it.Dedup != nil {
		d := &dedupEntry{id: it.Dedup.ID, jobID: id, expires: now.Add(it.Dedup.TTL)}
		q.dedup[d.id] = d
		heap.Push(&q.dedupHeap, d)
	}
	q.seq++
	e := &entry{seq: q.seq, heapIndex: -1, job: backend.Job{
		ID: id, Name: it.Name, Data: cloneBytes(it.Data), Options: it.Options, AddedAt: now,
	}}
	q.jobs[id] = e
	if it.Options.Delay > 0 {
		e.job.State = backend.StateDelayed
		e.job.DueAt = now.Add(it.Options.Delay)
		q.delayed.push(e)
		q.emit(backend.EventDelayed, id, now, strconv.FormatInt(e.job.DueAt.UnixMilli(), 10))
		q.signalReady() // a blocked claim recomputes its timer
	} else {
		q.makeReady(e, it.Options.LIFO)
		q.emit(backend.EventAdded, id, now, "")
	}
	return backend.JobAddResult{Status: backend.AddCreated, ID: id, State: q.stateOf(e), AddedAt: now}
}

// sweepDedup forgets expired dedup IDs, so the table stays bounded by the
// IDs seen within their TTL.
func (q *queue) sweepDedup(now time.Time) {
	for len(q.dedupHeap) > 0 && !q.dedupHeap[0].expires.After(now) {
		d := heap.Pop(&q.dedupHeap).(*dedupEntry)
		if q.dedup[d.id] == d {
			delete(q.dedup, d.id)
		}
	}
}

// JobGet implements backend.Backend.
func (b *Backend) JobGet(ctx context.Context, p *backend.JobGetParams) (*backend.Job, error) {
	q, err := b.lock(p.Queue)
	if err != nil {
		return nil, err
	}
	defer q.mu.Unlock()
	e := q.jobs[p.ID]
	if e == nil {
		return nil, backend.ErrJobNotFound
	}
	return q.snapshot(e), nil
}

// JobList implements backend.Backend.
func (b *Backend) JobList(ctx context.Context, p *backend.JobListParams) ([]*backend.Job, error) {
	q, err := b.lock(p.Queue)
	if err != nil {
		return nil, err
	}
	defer q.mu.Unlock()
	limit := p.Limit
	if limit <= 0 {
		limit = 100
	}
	var all []*entry
	switch p.State {
	case backend.StateWaiting, backend.StatePaused:
		if q.paused == (p.State == backend.StatePaused) {
			all = listEntries(q.wait, false)
		}
	case backend.StatePrioritized:
		all = q.prioritized.sorted()
	case backend.StateDelayed:
		all = q.delayed.sorted()
	case backend.StateActive:
		for _, e := range q.active {
			all = append(all, e)
		}
		sort.Slice(all, func(i, j int) bool { return all[i].job.ProcessedAt.Before(all[j].job.ProcessedAt) })
	case backend.StateCompleted:
		all = listEntries(q.completed, true)
	case backend.StateFailed:
		all = listEntries(q.failed, true)
	}
	if p.Offset >= len(all) {
		return []*backend.Job{}, nil
	}
	all = all[p.Offset:]
	if len(all) > limit {
		all = all[:limit]
	}
	out := make([]*backend.Job, len(all))
	for i, e := range all {
		out[i] = q.snapshot(e)
	}
	return out, nil
}

func listEntries(l *list.List, newestFirst bool) []*entry {
	out := make([]*entry, 0, l.Len())
	if newestFirst {
		for el := l.Back(); el != nil; el = el.Prev() {
			out = append(out, el.Value.(*entry))
		}
	} else {
		for el := l.Front(); el != nil; el = el.Next() {
			out = append(out, el.Value.(*entry))
		}
	}
	return out
}

// JobClaim implements backend.Backend.
func (b *Backend) JobClaim(ctx context.Context, p *backend.JobClaimParams) (*backend.JobClaimResult, error) {
	var deadline time.Time
	if p.Wait > 0 {
		deadline = time.Now().Add(p.Wait)
	}
	var timer *time.Timer
	defer func() {
		if timer != nil {
			timer.Stop()
		}
	}()
	for {
		q, err := b.lock(p.Queue)
		if err != nil {
			return nil, err
		}
		now := b.now()
		res := q.claim(p, now)
		if res.Job != nil || res.RetryAfter > 0 || p.Wait <= 0 {
			q.mu.Unlock()
			return res, nil
		}
		wait := time.Until(deadline)
		if wait <= 0 {
			q.mu.Unlock()
			return res, nil
		}
		if next := q.delayed.peek(); next != nil && !q.paused {
			wait = min(wait, next.job.DueAt.Sub(now))
		}
		ready := q.readyChan()
		q.mu.Unlock()

		if timer == nil {
			timer = time.NewTimer(wait)
		} else {
			timer.Reset(wait)
		}
		select {
		case <-ready:
		case <-timer.C:
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-b.closed:
			return nil, backend.ErrClosed
		}
	}
}

// claim takes the next ready job, if the queue's switches allow it.
func (q *queue) claim(p *backend.JobClaimParams, now time.Time) *backend.JobClaimResult {
	q.promoteDue(now)
	if q.paused {
		return &backend.JobClaimResult{}
	}
	if d := q.limitedUntil.Sub(now); d > 0 {
		return &backend.JobClaimResult{RetryAfter: d}
	}
	var e *entry
	if front := q.wait.Front(); front != nil {
		e = front.Value.(*entry)
	} else {
		e = q.prioritized.peek()
	}
	if e == nil {
		return &backend.JobClaimResult{}
	}
	if p.Limit != nil && p.Limit.Max > 0 {
		if d := q.limiter.take(p.Limit, now); d > 0 {
			return &backend.JobClaimResult{RetryAfter: d}
		}
	}
	q.detach(e)
	e.job.State = backend.StateActive
	e.job.ProcessedAt = now
	e.job.AttemptsStarted++
	e.token = p.Token
	e.lockUntil = now.Add(p.LockDuration)
	q.active[e.job.ID] = e
	q.emit(backend.EventActive, e.job.ID, now, "")
	return &backend.JobClaimResult{Job: q.snapshot(e)}
}

// held returns the active entry whose lock token holds, or ErrLockLost.
func (q *queue) held(id, token string, now time.Time) (*entry, error) {
	e := q.jobs[id]
	if e == nil {
		return nil, backend.ErrJobNotFound
	}
	if e.job.State != backend.StateActive || e.token != token || !e.lockUntil.After(now) {
		return nil, backend.ErrLockLost
	}
	return e, nil
}

// JobComplete implements backend.Backend.
func (b *Backend) JobComplete(ctx context.Context, p *backend.JobCompleteParams) (*backend.JobClaimResult, error) {
	q, err := b.lock(p.Queue)
	if err != nil {
		return nil, err
	}
	defer q.mu.Unlock()
	now := b.now()
	e, err := q.held(p.ID, p.Token, now)
	if err != nil {
		return nil, err
	}
	q.detach(e)
	e.job.AttemptsMade++
	e.job.ReturnValue = cloneBytes(p.ReturnValue)
	e.job.FinishedAt = now
	e.job.State = backend.StateCompleted
	q.metrics.add(now, false)
	q.emit(backend.EventCompleted, e.job.ID, now, string(p.ReturnValue))
	q.finish(e, q.completed, p.Retention, now)
	return q.next(p.Next, now), nil
}

// JobFail implements backend.Backend.
func (b *Backend) JobFail(ctx context.Context, p *backend.JobFailParams) (*backend.JobClaimResult, error) {
	q, err := b.lock(p.Queue)
	if err != nil {
		return nil, err
	}
	defer q.mu.Unlock()
	now := b.now()
	e, err := q.held(p.ID, p.Token, now)
	if err != nil {
		return nil, err
	}
	q.detach(e)
	e.job.AttemptsMade++
	e.job.FailedReason = p.Reason
	if p.Stacktrace != "" {
		keep := p.KeepStacktraces
		if keep <= 0 {
			keep = 10
		}
		e.job.Stacktrace = append(e.job.Stacktrace, p.Stacktrace)
		if n := len(e.job.Stacktrace); n > keep {
			e.job.Stacktrace = append([]string(nil), e.job.Stacktrace[n-keep:]...)
		}
	}
	switch {
	case p.Retry && p.RetryDelay > 0:
		e.job.State = backend.StateDelayed
		e.job.DueAt = now.Add(p.RetryDelay)
		q.delayed.push(e)
		q.emit(backend.EventRetried, e.job.ID, now, p.Reason)
		q.signalReady()
	case p.Retry:
		q.requeue(e)
		q.emit(backend.EventRetried, e.job.ID, now, p.Reason)
	default:
		q.failJob(e, p.Retention, now)
	}
	return q.next(p.Next, now), nil
}

// failJob moves a detached entry to failed for good.
func (q *queue) failJob(e *entry, r backend.Retention, now time.Time) {
	e.job.FinishedAt = now
	e.job.State = backend.StateFailed
	q.metrics.add(now, true)
	q.emit(backend.EventFailed, e.job.ID, now, e.job.FailedReason)
	q.finish(e, q.failed, r, now)
}

// finish files a finished entry and applies retention to its list.
func (q *queue) finish(e *entry, l *list.List, r backend.Retention, now time.Time) {
	if r.Remove {
		delete(q.jobs, e.job.ID)
		return
	}
	e.elem = l.PushBack(e)
	if r.KeepLast > 0 {
		for l.Len() > r.KeepLast {
			q.delete(l.Front().Value.(*entry))
		}
	}
	if r.KeepFor > 0 {
		cut := now.Add(-r.KeepFor)
		for el := l.Front(); el != nil; el = l.Front() {
			old := el.Value.(*entry)
			if old.job.FinishedAt.After(cut) {
				break
			}
			q.delete(old)
		}
	}
}

func (q *queue) next(p *backend.JobClaimParams, now time.Time) *backend.JobClaimResult {
	if p == nil {
		return &backend.JobClaimResult{}
	}
	return q.claim(p, now)
}

// JobRelease implements backend.Backend.
func (b *Backend) JobRelease(ctx context.Context, p *backend.JobReleaseParams) error {
	q, err := b.lock(p.Queue)
	if err != nil {
		return err
	}
	defer q.mu.Unlock()
	now := b.now()
	e, err := q.held(p.ID, p.Token, now)
	if err != nil {
		return err
	}
	q.detach(e)
	q.makeReady(e, true)
	q.emit(backend.EventReleased, e.job.ID, now, "")
	return nil
}

// JobExtendLocks implements backend.Backend.
func (b *Backend) JobExtendLocks(ctx context.Context, p *backend.JobExtendLocksParams) ([]string, error) {
	q, err := b.lock(p.Queue)
	if err != nil {
		return nil, err
	}
	defer q.mu.Unlock()
	now := b.now()
	var lost []string
	for _, l := range p.Locks {
		e, err := q.held(l.ID, l.Token, now)
		if err != nil {
			lost = append(lost, l.ID)
			continue
		}
		e.lockUntil = now.Add(p.Duration)
		delete(q.stalledMarks, l.ID)
	}
	return lost, nil
}

// JobUpdateProgress implements backend.Backend.
func (b *Backend) JobUpdateProgress(ctx context.Context, p *backend.JobUpdateProgressParams) error {
	q, err := b.lock(p.Queue)
	if err != nil {
		return err
	}
	defer q.mu.Unlock()
	e := q.jobs[p.ID]
	if e == nil {
		return backend.ErrJobNotFound
	}
	e.job.Progress = cloneBytes(p.Progress)
	q.emit(backend.EventProgress, p.ID, b.now(), string(p.Progress))
	return nil
}

// JobLogAdd implements backend.Backend.
func (b *Backend) JobLogAdd(ctx context.Context, p *backend.JobLogAddParams) (int, error) {
	q, err := b.lock(p.Queue)
	if err != nil {
		return 0, err
	}
	defer q.mu.Unlock()
	e := q.jobs[p.ID]
	if e == nil {
		return 0, backend.ErrJobNotFound
	}
	e.logs = append(e.logs, p.Line)
	if p.Keep > 0 && len(e.logs) > p.Keep {
		e.logs = append([]string(nil), e.logs[len(e.logs)-p.Keep:]...)
	}
	return len(e.logs), nil
}

// JobLogs implements backend.Backend.
func (b *Backend) JobLogs(ctx context.Context, p *backend.JobLogsParams) ([]string, int, error) {
	q, err := b.lock(p.Queue)
	if err != nil {
		return nil, 0, err
	}
	defer q.mu.Unlock()
	e := q.jobs[p.ID]
	if e == nil {
		return nil, 0, backend.ErrJobNotFound
	}
	lines := e.logs
	if p.Offset >= len(lines) {
		return []string{}, len(e.logs), nil
	}
	lines = lines[p.Offset:]
	if p.Limit > 0 && len(lines) > p.Limit {
		lines = lines[:p.Limit]
	}
	return append([]string(nil), lines...), len(e.logs), nil
}

// JobRemove implements backend.Backend.
func (b *Backend) JobRemove(ctx context.Context, p *backend.JobRemoveParams) error {
	q, err := b.lock(p.Queue)
	if err != nil {
		return err
	}
	defer q.mu.Unlock()
	e := q.jobs[p.ID]
	if e == nil {
		return backend.ErrJobNotFound
	}
	if e.job.State == backend.StateActive {
		return backend.ErrJobActive
	}
	q.delete(e)
	q.emit(backend.EventRemoved, p.ID, b.now(), "")
	return nil
}

// JobRetry implements backend.Backend.
func (b *Backend) JobRetry(ctx context.Context, p *backend.JobRetryParams) error {
	q, err := b.lock(p.Queue)
	if err != nil {
		return err
	}
	defer q.mu.Unlock()
	e := q.jobs[p.ID]
	if e == nil {
		return backend.ErrJobNotFound
	}
	if e.job.State != backend.StateFailed && e.job.State != backend.StateCompleted {
		return &backend.StateError{JobID: p.ID, State: q.stateOf(e), Want: []backend.State{backend.StateFailed, backend.StateCompleted}}
	}
	q.retry(e, b.now())
	return nil
}

// retry resets a finished entry and makes it ready again.
func (q *queue) retry(e *entry, now time.Time) {
	q.detach(e)
	e.job.AttemptsMade, e.job.AttemptsStarted, e.job.StalledCount = 0, 0, 0
	e.job.FailedReason, e.job.Stacktrace, e.job.ReturnValue = "", nil, nil
	e.job.ProcessedAt, e.job.FinishedAt = time.Time{}, time.Time{}
	q.requeue(e)
	q.emit(backend.EventWaiting, e.job.ID, now, "")
}

// JobPromote implements backend.Backend.
func (b *Backend) JobPromote(ctx context.Context, p *backend.JobPromoteParams) error {
	q, err := b.lock(p.Queue)
	if err != nil {
		return err
	}
	defer q.mu.Unlock()
	e := q.jobs[p.ID]
	if e == nil {
		return backend.ErrJobNotFound
	}
	if e.job.State != backend.StateDelayed {
		return &backend.StateError{JobID: p.ID, State: q.stateOf(e), Want: []backend.State{backend.StateDelayed}}
	}
	q.delayed.remove(e)
	q.requeue(e)
	q.emit(backend.EventPromoted, p.ID, b.now(), "")
	return nil
}

// QueueCounts implements backend.Backend.
func (b *Backend) QueueCounts(ctx context.Context, p *backend.QueueParams) (*backend.Counts, error) {
	q, err := b.lock(p.Queue)
	if err != nil {
		return nil, err
	}
	defer q.mu.Unlock()
	c := &backend.Counts{
		Prioritized: int64(q.prioritized.Len()),
		Delayed:     int64(q.delayed.Len()),
		Active:      int64(len(q.active)),
		Completed:   int64(q.completed.Len()),
		Failed:      int64(q.failed.Len()),
	}
	if q.paused {
		c.Paused = int64(q.wait.Len())
	} else {
		c.Waiting = int64(q.wait.Len())
	}
	return c, nil
}

// QueueInfo implements backend.Backend.
func (b *Backend) QueueInfo(ctx context.Context, p *backend.QueueParams) (*backend.QueueInfo, error) {
	q, err := b.lock(p.Queue)
	if err != nil {
		return nil, err
	}
	defer q.mu.Unlock()
	return &backend.QueueInfo{Paused: q.paused, RateLimitedFor: max(0, q.limitedUntil.Sub(b.now()))}, nil
}

// QueueList implements backend.Backend.
func (b *Backend) QueueList(ctx context.Context) ([]string, error) {
	b.mu.Lock()
	qs := make([]*queue, 0, len(b.queues))
	for _, q := range b.queues {
		qs = append(qs, q)
	}
	b.mu.Unlock()
	var names []string
	for _, q := range qs {
		q.mu.Lock()
		if q.listed {
			names = append(names, q.name)
		}
		q.mu.Unlock()
	}
	sort.Strings(names)
	return names, nil
}

// QueuePause implements backend.Backend.
func (b *Backend) QueuePause(ctx context.Context, p *backend.QueuePauseParams) error {
	q, err := b.lock(p.Queue)
	if err != nil {
		return err
	}
	defer q.mu.Unlock()
	if q.paused == p.Paused {
		return nil
	}
	q.paused = p.Paused
	if p.Paused {
		q.emit(backend.EventPaused, "", b.now(), "")
	} else {
		q.emit(backend.EventResumed, "", b.now(), "")
		q.signalReady()
	}
	return nil
}

// QueueRateLimit implements backend.Backend.
func (b *Backend) QueueRateLimit(ctx context.Context, p *backend.QueueRateLimitParams) error {
	q, err := b.lock(p.Queue)
	if err != nil {
		return err
	}
	defer q.mu.Unlock()
	if until := b.now().Add(p.For); until.After(q.limitedUntil) {
		q.limitedUntil = until
	}
	return nil
}

// QueueDrain implements backend.Backend.
func (b *Backend) QueueDrain(ctx context.Context, p *backend.QueueDrainParams) (int, error) {
	q, err := b.lock(p.Queue)
	if err != nil {
		return 0, err
	}
	defer q.mu.Unlock()
	victims := listEntries(q.wait, false)
	victims = append(victims, q.prioritized.items...)
	if p.Delayed {
		victims = append(victims, q.delayed.items...)
	}
	victims = append([]*entry(nil), victims...) // deleting rewrites the heaps' slices
	for _, e := range victims {
		q.delete(e)
	}
	return len(victims), nil
}

// QueueClean implements backend.Backend.
func (b *Backend) QueueClean(ctx context.Context, p *backend.QueueCleanParams) ([]string, error) {
	q, err := b.lock(p.Queue)
	if err != nil {
		return nil, err
	}
	defer q.mu.Unlock()
	now := b.now()
	cut := now.Add(-p.Age)
	var candidates []*entry
	finished := false
	switch p.State {
	case backend.StateCompleted:
		candidates, finished = listEntries(q.completed, false), true
	case backend.StateFailed:
		candidates, finished = listEntries(q.failed, false), true
	case backend.StateWaiting, backend.StatePaused:
		if q.paused == (p.State == backend.StatePaused) {
			candidates = listEntries(q.wait, false)
		}
	case backend.StatePrioritized:
		candidates = q.prioritized.sorted()
	case backend.StateDelayed:
		candidates = q.delayed.sorted()
	case backend.StateActive:
		return nil, &backend.StateError{State: backend.StateActive, Want: []backend.State{
			backend.StateWaiting, backend.StatePrioritized, backend.StatePaused, backend.StateDelayed, backend.StateCompleted, backend.StateFailed}}
	}
	removed := []string{}
	for _, e := range candidates {
		if p.Limit > 0 && len(removed) >= p.Limit {
			break
		}
		t := e.job.AddedAt
		if finished {
			t = e.job.FinishedAt
		}
		if p.Age > 0 && t.After(cut) {
			if finished {
				break // finished lists are in finish order: the rest are newer
			}
			continue
		}
		removed = append(removed, e.job.ID)
		q.delete(e)
	}
	return removed, nil
}

// QueueRetryJobs implements backend.Backend.
func (b *Backend) QueueRetryJobs(ctx context.Context, p *backend.QueueRetryJobsParams) (int, error) {
	q, err := b.lock(p.Queue)
	if err != nil {
		return 0, err
	}
	defer q.mu.Unlock()
	l := q.failed
	switch p.State {
	case backend.StateFailed:
	case backend.StateCompleted:
		l = q.completed
	default:
		return 0, &backend.StateError{State: p.State, Want: []backend.State{backend.StateFailed, backend.StateCompleted}}
	}
	limit := p.Limit
	if limit <= 0 {
		limit = 1000
	}
	now := b.now()
	n := 0
	for el := l.Front(); el != nil && n < limit; el = l.Front() {
		q.retry(el.Value.(*entry), now)
		n++
	}
	return n, nil
}

// QueueObliterate implements backend.Backend.
func (b *Backend) QueueObliterate(ctx context.Context, p *backend.QueueObliterateParams) error {
	q, err := b.lock(p.Queue)
	if err != nil {
		return err
	}
	defer q.mu.Unlock()
	if len(q.active) > 0 && !p.Force {
		return backend.ErrQueueActive
	}
	q.reset(b.opts.MetricsMinutes)
	q.signalReady()
	return nil
}

// QueueMetrics implements backend.Backend.
func (b *Backend) QueueMetrics(ctx context.Context, p *backend.QueueMetricsParams) (*backend.Metrics, error) {
	q, err := b.lock(p.Queue)
	if err != nil {
		return nil, err
	}
	defer q.mu.Unlock()
	now := b.now()
	c, f := q.metrics.series(now, p.Minutes)
	return &backend.Metrics{At: now, Completed: c, Failed: f}, nil
}

// StalledCheck implements backend.Backend.
func (b *Backend) StalledCheck(ctx context.Context, p *backend.StalledCheckParams) (*backend.StalledCheckResult, error) {
	q, err := b.lock(p.Queue)
	if err != nil {
		return nil, err
	}
	defer q.mu.Unlock()
	now := b.now()
	if !q.lastStalledCheck.IsZero() && now.Sub(q.lastStalledCheck) < p.Interval {
		return &backend.StalledCheckResult{Skipped: true}, nil
	}
	q.lastStalledCheck = now
	maxJobs := p.MaxJobs
	if maxJobs <= 0 {
		maxJobs = 1000
	}
	res := &backend.StalledCheckResult{}
	// Phase two: jobs marked last time and still unlocked are recovered.
	for id := range q.stalledMarks {
		delete(q.stalledMarks, id)
		e := q.active[id]
		if e == nil || e.lockUntil.After(now) {
			continue
		}
		q.detach(e)
		e.job.StalledCount++
		if e.job.StalledCount > p.MaxStalledCount {
			e.job.AttemptsMade++
			e.job.FailedReason = stalledReason(p.MaxStalledCount)
			q.failJob(e, e.job.Options.RemoveOnFail, now)
			res.Failed = append(res.Failed, id)
			continue
		}
		q.makeReady(e, true)
		q.emit(backend.EventStalled, id, now, "")
		res.Stalled = append(res.Stalled, id)
	}
	// Phase one: mark active jobs without a live lock.
	for id, e := range q.active {
		if len(q.stalledMarks) >= maxJobs {
			break
		}
		if !e.lockUntil.After(now) {
			q.stalledMarks[id] = struct{}{}
		}
	}
	return res, nil
}

// stalledReason is the failure reason of a job that stalled too often; every
// backend uses the same words.
func stalledReason(max int) string {
	return "job stalled more than allowable limit (" + strconv.Itoa(max) + ")"
}

// EventsRead implements backend.Backend.
func (b *Backend) EventsRead(ctx context.Context, p *backend.EventsReadParams) ([]backend.Event, error) {
	count := p.Count
	if count <= 0 {
		count = 100
	}
	var after uint64
	fromNow := p.After == ""
	if !fromNow {
		n, err := strconv.ParseUint(p.After, 10, 64)
		if err != nil {
			return nil, &cursorError{p.After}
		}
		after = n
	}
	var timer *time.Timer
	defer func() {
		if timer != nil {
			timer.Stop()
		}
	}()
	deadline := time.Now().Add(p.Wait)
	for {
		q, err := b.lock(p.Queue)
		if err != nil {
			return nil, err
		}
		if fromNow {
			after, fromNow = q.events.last, false
		}
		evs := q.events.after(after, count)
		wait := time.Until(deadline)
		if len(evs) > 0 || wait <= 0 {
			q.mu.Unlock()
			return evs, nil
		}
		if q.changed == nil {
			q.changed = make(chan struct{})
		}
		changed := q.changed
		q.mu.Unlock()
		if timer == nil {
			timer = time.NewTimer(wait)
		} else {
			timer.Reset(wait)
		}
		select {
		case <-changed:
		case <-timer.C:
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-b.closed:
			return nil, backend.ErrClosed
		}
	}
}

type cursorError struct{ cursor string }

func (e *cursorError) Error() string { return "invalid event cursor " + strconv.Quote(e.cursor) }

// EventsCursor implements backend.Backend.
func (b *Backend) EventsCursor(ctx context.Context, p *backend.QueueParams) (string, error) {
	q, err := b.lock(p.Queue)
	if err != nil {
		return "", err
	}
	defer q.mu.Unlock()
	return formatSeq(q.events.last), nil
}

// Ping implements backend.Backend.
func (b *Backend) Ping(ctx context.Context) error {
	select {
	case <-b.closed:
		return backend.ErrClosed
	default:
		return nil
	}
}

// Close implements backend.Backend. Blocked calls return ErrClosed.
func (b *Backend) Close() error {
	b.once.Do(func() { close(b.closed) })
	return nil
}
