package memory

import (
	"container/heap"
	"container/list"
	"context"
	"maps"
	"sort"
	"strconv"
	"time"

	"github.com/fila-go/fila/backend"
)

// JobAdd implements backend.Backend.
func (b *Backend) JobAdd(ctx context.Context, p *backend.JobAddParams) ([]backend.JobAddResult, error) {
	q, err := b.lock(ctx, p.Queue)
	if err != nil {
		return nil, err
	}
	defer q.unlock()
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
	if it.Options.Group != "" && q.groupFull(it.Options.Group) {
		return backend.JobAddResult{Status: backend.AddGroupFull}
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
	e.job.Options.Meta = maps.Clone(it.Options.Meta) // the caller keeps its map
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
	q, err := b.lock(ctx, p.Queue)
	if err != nil {
		return nil, err
	}
	defer q.unlock()
	e := q.jobs[p.ID]
	if e == nil {
		return nil, backend.ErrJobNotFound
	}
	return q.snapshot(e), nil
}

// JobList implements backend.Backend.
func (b *Backend) JobList(ctx context.Context, p *backend.JobListParams) ([]*backend.Job, error) {
	q, err := b.lock(ctx, p.Queue)
	if err != nil {
		return nil, err
	}
	defer q.unlock()
	limit := p.Limit
	if limit <= 0 {
		limit = 100
	}
	var all []*entry
	switch p.State {
	case backend.StateWaiting, backend.StatePaused:
		if q.paused == (p.State == backend.StatePaused) {
			all = q.waitingJobs()
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
	case backend.StateWaitingChildren:
		all = q.waitingChildrenJobs()
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
