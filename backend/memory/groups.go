package memory

import (
	"container/list"
	"context"
	"sort"
	"time"

	"github.com/fila-go/fila/backend"
)

// group is one job group of a queue: its waiting jobs in run order (front
// first), its used slots, and its token: the entry that stands for the
// group in the queue's waiting line while the group can run a job.
type group struct {
	name   string
	jobs   *list.List // of *entry; front is the consuming end
	active int        // slots in use: active jobs and retries keeping theirs
	token  *entry     // in q.wait while set
	// until: no job starts before it (the group's Rate, GroupRateLimit);
	// while it is ahead the group is in q.limited.
	until  time.Time
	paused bool
}

// isToken reports whether a wait entry stands for a group.
func (e *entry) isToken() bool { return e.grp != nil }

func (q *queue) group(name string) *group {
	g := q.groups[name]
	if g == nil {
		g = &group{name: name, jobs: list.New()}
		q.groups[name] = g
	}
	return g
}

func (q *queue) groupConcurrency() int { return max(q.groupOpts.Concurrency, 1) }

// syncGroup puts the group's token at the far end of the waiting line when
// the group has a waiting job and a free slot and no token out, and
// forgets a group with nothing left.
func (q *queue) syncGroup(g *group) {
	if g.until.After(q.now()) {
		q.limited[g] = struct{}{}
		return
	}
	if g.token == nil && g.jobs.Len() > 0 && g.active < q.groupConcurrency() && !g.paused {
		g.token = &entry{grp: g, heapIndex: -1}
		g.token.elem = q.wait.PushBack(g.token)
		q.tokens++
		q.signalReady()
	}
	if g.token == nil && g.jobs.Len() == 0 && g.active == 0 && !g.paused {
		delete(q.groups, g.name)
	}
}

// dropToken takes a group's token out of the waiting line.
func (q *queue) dropToken(g *group) {
	if g.token != nil {
		q.wait.Remove(g.token.elem)
		g.token = nil
		q.tokens--
	}
}

// groupPush makes a grouped entry ready in its group. A job that holds a
// slot (it was active, or is a retry that waited out its backoff) gives
// the slot back and goes to the front, so the group's order is kept.
func (q *queue) groupPush(e *entry, front bool) {
	g := q.group(e.job.Options.Group)
	if e.slot {
		e.slot = false
		g.active--
		front = true
	}
	e.job.State = backend.StateWaiting
	if front {
		e.elem = g.jobs.PushFront(e)
	} else {
		e.elem = g.jobs.PushBack(e)
	}
	q.groupWaiting++
	q.syncGroup(g)
}

// groupDetach takes a waiting grouped entry out of its group's line.
func (q *queue) groupDetach(e *entry) {
	g := q.groups[e.job.Options.Group]
	g.jobs.Remove(e.elem)
	q.groupWaiting--
	q.syncGroup(g)
}

// leaveSlot frees the slot of a grouped job that finished for good or was
// removed.
func (q *queue) leaveSlot(e *entry) {
	if !e.slot {
		return
	}
	e.slot = false
	g := q.group(e.job.Options.Group)
	g.active--
	q.syncGroup(g)
}

// groupReady reports whether a group can run a job now.
func (q *queue) groupReady(g *group) bool {
	return g.jobs.Len() > 0 && g.active < q.groupConcurrency() && !g.until.After(q.now()) && !g.paused
}

// wakeGroups brings back the groups whose limit has passed and returns
// the earliest limit still ahead (zero when none).
func (q *queue) wakeGroups(now time.Time) time.Time {
	var next time.Time
	for g := range q.limited {
		if !g.until.After(now) {
			delete(q.limited, g)
			q.syncGroup(g)
		} else if next.IsZero() || g.until.Before(next) {
			next = g.until
		}
	}
	return next
}

// groupTake claims for the token of a ready group: the group's next job,
// which takes a slot; the token goes to the far end of the line if the
// group can run another.
func (q *queue) groupTake(tok *entry) *entry {
	g := tok.grp
	q.dropToken(g)
	e := g.jobs.Front().Value.(*entry)
	g.jobs.Remove(e.elem)
	e.elem = nil
	q.groupWaiting--
	g.active++
	e.slot = true
	if r := q.groupOpts.Rate; r.Max > 0 && r.Per > 0 {
		g.until = q.now().Add(max(r.Per/time.Duration(r.Max), time.Millisecond))
	}
	q.syncGroup(g)
	return e
}

// groupFull reports whether an add to the named group must be refused.
func (q *queue) groupFull(name string) bool {
	if q.groupOpts.MaxSize <= 0 {
		return false
	}
	g := q.groups[name]
	return g != nil && g.jobs.Len() >= q.groupOpts.MaxSize
}

var _ backend.Groups = (*Backend)(nil)

// GroupOptionsSet implements backend.Groups.
func (b *Backend) GroupOptionsSet(ctx context.Context, p *backend.GroupOptionsParams) error {
	q, err := b.lock(ctx, p.Queue)
	if err != nil {
		return err
	}
	defer q.unlock()
	q.groupOpts = p.Options
	for _, g := range q.groups {
		q.syncGroup(g) // a raised concurrency frees slots now
	}
	return nil
}

// GroupOptionsGet implements backend.Groups.
func (b *Backend) GroupOptionsGet(ctx context.Context, p *backend.QueueParams) (*backend.GroupOptions, error) {
	q, err := b.lock(ctx, p.Queue)
	if err != nil {
		return nil, err
	}
	defer q.unlock()
	o := q.groupOpts
	o.Concurrency = q.groupConcurrency()
	return &o, nil
}

// GroupCounts implements backend.Groups.
func (b *Backend) GroupCounts(ctx context.Context, p *backend.GroupParams) (*backend.GroupCounts, error) {
	q, err := b.lock(ctx, p.Queue)
	if err != nil {
		return nil, err
	}
	defer q.unlock()
	c := &backend.GroupCounts{}
	if g := q.groups[p.Group]; g != nil {
		*c = g.counts(b.now())
	}
	return c, nil
}

// waitingJobs lists the waiting jobs: the ungrouped ones in line order,
// then each group's, its jobs in order, groups in the order of their
// tokens and then the groups without one.
func (q *queue) waitingJobs() []*entry {
	var out []*entry
	seen := map[*group]bool{}
	for el := q.wait.Front(); el != nil; el = el.Next() {
		if e := el.Value.(*entry); !e.isToken() {
			out = append(out, e)
		}
	}
	add := func(g *group) {
		if seen[g] {
			return
		}
		seen[g] = true
		for el := g.jobs.Front(); el != nil; el = el.Next() {
			out = append(out, el.Value.(*entry))
		}
	}
	for el := q.wait.Front(); el != nil; el = el.Next() {
		if e := el.Value.(*entry); e.isToken() {
			add(e.grp)
		}
	}
	for _, g := range q.groups {
		add(g)
	}
	return out
}

// GroupRateLimit implements backend.Groups.
func (b *Backend) GroupRateLimit(ctx context.Context, p *backend.GroupRateLimitParams) error {
	q, err := b.lock(ctx, p.Queue)
	if err != nil {
		return err
	}
	defer q.unlock()
	g := q.group(p.Group)
	if until := b.now().Add(p.For); until.After(g.until) {
		g.until = until
	}
	q.syncGroup(g)
	q.signalReady() // blocked claims recompute their timers
	return nil
}

func (g *group) counts(now time.Time) backend.GroupCounts {
	return backend.GroupCounts{Waiting: int64(g.jobs.Len()), Active: int64(g.active), LimitedFor: max(g.until.Sub(now), 0), Paused: g.paused}
}

// GroupPause implements backend.Groups.
func (b *Backend) GroupPause(ctx context.Context, p *backend.GroupPauseParams) error {
	q, err := b.lock(ctx, p.Queue)
	if err != nil {
		return err
	}
	defer q.unlock()
	g := q.group(p.Group)
	g.paused = p.Paused
	q.syncGroup(g)
	return nil
}

// GroupList implements backend.Groups.
func (b *Backend) GroupList(ctx context.Context, p *backend.GroupListParams) ([]backend.GroupInfo, error) {
	q, err := b.lock(ctx, p.Queue)
	if err != nil {
		return nil, err
	}
	defer q.unlock()
	now := b.now()
	out := make([]backend.GroupInfo, 0, len(q.groups))
	for _, g := range q.groups {
		out = append(out, backend.GroupInfo{Group: g.name, GroupCounts: g.counts(now)})
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Waiting != out[j].Waiting {
			return out[i].Waiting > out[j].Waiting
		}
		return out[i].Group < out[j].Group
	})
	limit := p.Limit
	if limit <= 0 {
		limit = 100
	}
	return out[:min(limit, len(out))], nil
}

// GroupJobs implements backend.Groups.
func (b *Backend) GroupJobs(ctx context.Context, p *backend.GroupJobsParams) ([]*backend.Job, error) {
	q, err := b.lock(ctx, p.Queue)
	if err != nil {
		return nil, err
	}
	defer q.unlock()
	limit := p.Limit
	if limit <= 0 {
		limit = 100
	}
	out := []*backend.Job{}
	g := q.groups[p.Group]
	if g == nil {
		return out, nil
	}
	i := 0
	for el := g.jobs.Front(); el != nil && len(out) < limit; el = el.Next() {
		if i >= p.Offset {
			out = append(out, q.snapshot(el.Value.(*entry)))
		}
		i++
	}
	return out, nil
}

// GroupDrain implements backend.Groups.
func (b *Backend) GroupDrain(ctx context.Context, p *backend.GroupParams) (int, error) {
	q, err := b.lock(ctx, p.Queue)
	if err != nil {
		return 0, err
	}
	defer q.unlock()
	g := q.groups[p.Group]
	if g == nil {
		return 0, nil
	}
	var victims []*entry
	for el := g.jobs.Front(); el != nil; el = el.Next() {
		victims = append(victims, el.Value.(*entry))
	}
	now := b.now()
	for _, e := range victims {
		q.delete(e)
		q.removeFlow(e, now, false)
		q.emit(backend.EventRemoved, e.job.ID, now, "")
	}
	return len(victims), nil
}
