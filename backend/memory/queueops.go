package memory

import (
	"context"
	"sort"

	"github.com/fila-go/fila/backend"
)

// QueueCounts implements backend.Backend.
func (b *Backend) QueueCounts(ctx context.Context, p *backend.QueueParams) (*backend.Counts, error) {
	q, err := b.lock(ctx, p.Queue)
	if err != nil {
		return nil, err
	}
	defer q.unlock()
	c := &backend.Counts{
		Prioritized: int64(q.prioritized.Len()),
		Delayed:     int64(q.delayed.Len()),
		Active:      int64(len(q.active)),
		Completed:   int64(q.completed.Len()),
		Failed:      int64(q.failed.Len()),

		WaitingChildren: int64(len(q.waitingChildren)),
	}
	if q.paused {
		c.Paused = int64(q.wait.Len() - q.tokens + q.groupWaiting)
	} else {
		c.Waiting = int64(q.wait.Len() - q.tokens + q.groupWaiting)
	}
	return c, nil
}

// QueueInfo implements backend.Backend.
func (b *Backend) QueueInfo(ctx context.Context, p *backend.QueueParams) (*backend.QueueInfo, error) {
	q, err := b.lock(ctx, p.Queue)
	if err != nil {
		return nil, err
	}
	defer q.unlock()
	return &backend.QueueInfo{Paused: q.paused, RateLimitedFor: max(0, q.limitedUntil.Sub(b.now()))}, nil
}

// QueueList implements backend.Backend.
func (b *Backend) QueueList(ctx context.Context) ([]string, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
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
		q.unlock()
	}
	sort.Strings(names)
	return names, nil
}

// QueuePause implements backend.Backend.
func (b *Backend) QueuePause(ctx context.Context, p *backend.QueuePauseParams) error {
	q, err := b.lock(ctx, p.Queue)
	if err != nil {
		return err
	}
	defer q.unlock()
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
	q, err := b.lock(ctx, p.Queue)
	if err != nil {
		return err
	}
	defer q.unlock()
	if until := b.now().Add(p.For); until.After(q.limitedUntil) {
		q.limitedUntil = until
	}
	return nil
}

// QueueDrain implements backend.Backend.
func (b *Backend) QueueDrain(ctx context.Context, p *backend.QueueDrainParams) (int, error) {
	q, err := b.lock(ctx, p.Queue)
	if err != nil {
		return 0, err
	}
	defer q.unlock()
	victims := q.waitingJobs()
	victims = append(victims, q.prioritized.items...)
	if p.Delayed {
		victims = append(victims, q.delayed.items...)
	}
	victims = append(victims, q.waitingChildrenJobs()...)
	victims = append([]*entry(nil), victims...) // deleting rewrites the heaps' slices
	now := b.now()
	for _, e := range victims {
		if q.jobs[e.job.ID] == e { // else a parent drained before took it
			q.delete(e)
			q.removeFlow(e, now, false)
		}
	}
	return len(victims), nil
}

// QueueClean implements backend.Backend.
func (b *Backend) QueueClean(ctx context.Context, p *backend.QueueCleanParams) ([]string, error) {
	q, err := b.lock(ctx, p.Queue)
	if err != nil {
		return nil, err
	}
	defer q.unlock()
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
			candidates = q.waitingJobs()
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
		q.removeFlow(e, now, false)
	}
	return removed, nil
}

// QueueRetryJobs implements backend.Backend.
func (b *Backend) QueueRetryJobs(ctx context.Context, p *backend.QueueRetryJobsParams) (int, error) {
	q, err := b.lock(ctx, p.Queue)
	if err != nil {
		return 0, err
	}
	defer q.unlock()
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
	q, err := b.lock(ctx, p.Queue)
	if err != nil {
		return err
	}
	defer q.unlock()
	if len(q.active) > 0 && !p.Force {
		return backend.ErrQueueActive
	}
	q.obliterated()
	q.reset(b.opts.MetricsMinutes)
	q.signalReady()
	return nil
}

// QueueMetrics implements backend.Backend.
func (b *Backend) QueueMetrics(ctx context.Context, p *backend.QueueMetricsParams) (*backend.Metrics, error) {
	q, err := b.lock(ctx, p.Queue)
	if err != nil {
		return nil, err
	}
	defer q.unlock()
	now := b.now()
	c, f := q.metrics.series(now, p.Minutes)
	return &backend.Metrics{At: now, Completed: c, Failed: f}, nil
}
