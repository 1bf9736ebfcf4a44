package memory

import (
	"context"
	"sort"
	"time"

	"github.com/fila-go/fila/backend"
)

var _ backend.Schedulers = (*Backend)(nil)

// SchedulerUpsert implements backend.Schedulers.
func (b *Backend) SchedulerUpsert(ctx context.Context, p *backend.SchedulerUpsertParams) (*backend.SchedulerUpsertResult, error) {
	q, err := b.lock(ctx, p.Queue)
	if err != nil {
		return nil, err
	}
	defer q.unlock()
	old := q.schedulers[p.ID]
	stored := ""
	if old != nil {
		stored = old.Spec
	}
	if stored != p.Prev {
		return &backend.SchedulerUpsertResult{Conflict: true}, nil
	}
	now := b.now()
	s := &backend.Scheduler{ID: p.ID, Spec: p.Spec, Limit: p.Limit, Template: backend.SchedulerTemplate{
		Name: p.Template.Name, Data: cloneBytes(p.Template.Data), Options: p.Template.Options,
	}}
	if old != nil {
		q.dropPending(old, now)
		s.LastJobID = old.LastJobID
	}
	if q.schedulers == nil {
		q.schedulers = map[string]*backend.Scheduler{}
	}
	q.schedulers[p.ID] = s
	q.addTick(s, p.Next, now)
	return &backend.SchedulerUpsertResult{Replaced: old != nil}, nil
}

// SchedulerAdvance implements backend.Schedulers.
func (b *Backend) SchedulerAdvance(ctx context.Context, p *backend.SchedulerAdvanceParams) (backend.SchedulerStatus, error) {
	q, err := b.lock(ctx, p.Queue)
	if err != nil {
		return 0, err
	}
	defer q.unlock()
	s := q.schedulers[p.ID]
	if s == nil || s.Spec != p.Spec || s.Next.UnixMilli() != p.From.UnixMilli() {
		return backend.SchedulerStale, nil
	}
	if p.Next.IsZero() || (s.Limit > 0 && s.Iterations >= s.Limit) {
		delete(q.schedulers, p.ID)
		return backend.SchedulerEnded, nil
	}
	s.LastJobID = s.NextJobID
	q.addTick(s, p.Next, b.now())
	return backend.SchedulerAdvanced, nil
}

// addTick adds the job of s's tick, delayed until the tick, and records it
// as the pending one.
func (q *queue) addTick(s *backend.Scheduler, tick, now time.Time) {
	tick = time.UnixMilli(tick.UnixMilli())
	it := backend.JobAddItem{ID: backend.SchedulerJobID(s.ID, tick), Name: s.Template.Name,
		Data: s.Template.Data, Options: s.Template.Options}
	it.Options.Delay = max(tick.Sub(now), 0)
	q.add(&it, now)
	q.listed = true
	s.Next, s.NextJobID = tick, it.ID
	s.Iterations++
}

// dropPending removes s's pending job unless it started.
func (q *queue) dropPending(s *backend.Scheduler, now time.Time) {
	e := q.jobs[s.NextJobID]
	if e == nil {
		return
	}
	switch e.job.State {
	case backend.StateWaiting, backend.StatePrioritized, backend.StateDelayed:
		q.delete(e)
		q.emit(backend.EventRemoved, e.job.ID, now, "")
	}
}

// SchedulerGet implements backend.Schedulers.
func (b *Backend) SchedulerGet(ctx context.Context, p *backend.SchedulerGetParams) (*backend.SchedulerGetResult, error) {
	q, err := b.lock(ctx, p.Queue)
	if err != nil {
		return nil, err
	}
	defer q.unlock()
	res := &backend.SchedulerGetResult{Now: b.now()}
	if s := q.schedulers[p.ID]; s != nil {
		res.Scheduler = q.schedulerCopy(s)
	}
	return res, nil
}

// SchedulerList implements backend.Schedulers.
func (b *Backend) SchedulerList(ctx context.Context, p *backend.QueueParams) (*backend.SchedulerListResult, error) {
	q, err := b.lock(ctx, p.Queue)
	if err != nil {
		return nil, err
	}
	defer q.unlock()
	res := &backend.SchedulerListResult{Now: b.now(), Schedulers: make([]*backend.Scheduler, 0, len(q.schedulers))}
	for _, s := range q.schedulers {
		res.Schedulers = append(res.Schedulers, q.schedulerCopy(s))
	}
	sort.Slice(res.Schedulers, func(i, j int) bool { return res.Schedulers[i].ID < res.Schedulers[j].ID })
	return res, nil
}

// SchedulerRemove implements backend.Schedulers.
func (b *Backend) SchedulerRemove(ctx context.Context, p *backend.SchedulerRemoveParams) (bool, error) {
	q, err := b.lock(ctx, p.Queue)
	if err != nil {
		return false, err
	}
	defer q.unlock()
	s := q.schedulers[p.ID]
	if s == nil {
		return false, nil
	}
	q.dropPending(s, b.now())
	delete(q.schedulers, p.ID)
	return true, nil
}

func (q *queue) schedulerCopy(s *backend.Scheduler) *backend.Scheduler {
	c := *s
	c.Template.Data = cloneBytes(s.Template.Data)
	if e := q.jobs[s.NextJobID]; e != nil {
		c.NextJobState = q.stateOf(e)
	}
	return &c
}
