package memory

import (
	"context"
	"fmt"
	"sort"
	"time"

	"github.com/fila-go/fila/backend"
)

var _ backend.Flows = (*Backend)(nil)

// flowLink is an entry's place in a flow: its parent (a child), and its
// children's progress (a parent). Every node of a tree is in one queue, so
// the queue's mutex guards the whole tree.
type flowLink struct {
	parent string              // "" for a root
	policy backend.ChildPolicy // towards parent
	// children lists every child ID; pending the unfinished ones.
	children []string
	pending  map[string]struct{}
	values   map[string][]byte
	failed   map[string]string
}

// FlowAdd implements backend.Flows.
func (b *Backend) FlowAdd(ctx context.Context, p *backend.FlowAddParams) ([]backend.JobAddResult, error) {
	if err := backend.CheckFlow(p.Queue, &p.Root); err != nil {
		return nil, err
	}
	if err := backend.OneQueue(&p.Root, "the memory backend links jobs of one queue only"); err != nil {
		return nil, err
	}
	q, err := b.lock(ctx, p.Queue)
	if err != nil {
		return nil, err
	}
	defer q.mu.Unlock()
	if err := q.checkFlowFree(&p.Root, map[string]int{}); err != nil {
		return nil, err
	}
	now := b.now()
	var out []backend.JobAddResult
	q.addFlow(&p.Root, "", now, &out)
	q.listed = true
	return out, nil
}

// checkFlowFree refuses a tree whose IDs exist or whose grouped leaves
// would meet a full group, before anything is stored. added counts the
// tree's leaves that will join each group's line, in add order, as JobAdd
// would add them one by one.
func (q *queue) checkFlowFree(f *backend.FlowNode, added map[string]int) error {
	if f.Job.ID != "" && q.jobs[f.Job.ID] != nil {
		return fmt.Errorf("%w: job ID %q exists", backend.ErrInvalidFlow, f.Job.ID)
	}
	if g := f.Job.Options.Group; g != "" && len(f.Children) == 0 {
		if q.groupFull(g) || (q.groupOpts.MaxSize > 0 && q.groupLen(g)+added[g] >= q.groupOpts.MaxSize) {
			return fmt.Errorf("%w: group %q is full", backend.ErrInvalidFlow, g)
		}
		if f.Job.Options.Delay <= 0 {
			added[g]++
		}
	}
	for i := range f.Children {
		if err := q.checkFlowFree(&f.Children[i], added); err != nil {
			return err
		}
	}
	return nil
}

// groupLen is the number of jobs waiting in a group's line.
func (q *queue) groupLen(name string) int {
	if g := q.groups[name]; g != nil {
		return g.jobs.Len()
	}
	return 0
}

// addFlow stores a node, then its children: a leaf as JobAdd would, a
// node with children parked in waiting-children.
func (q *queue) addFlow(f *backend.FlowNode, parent string, now time.Time, out *[]backend.JobAddResult) string {
	link := &flowLink{parent: parent, policy: f.OnFailure}
	var e *entry
	if len(f.Children) == 0 {
		r := q.add(&f.Job, now)
		*out = append(*out, r)
		e = q.jobs[r.ID]
	} else {
		it := f.Job
		id := it.ID
		for id == "" {
			q.nextID++
			id = formatSeq(q.nextID)
			if q.jobs[id] != nil {
				id = ""
			}
		}
		q.seq++
		e = &entry{seq: q.seq, heapIndex: -1, job: backend.Job{
			ID: id, Name: it.Name, Data: cloneBytes(it.Data), Options: it.Options, AddedAt: now,
			State: backend.StateWaitingChildren,
		}}
		q.jobs[id] = e
		q.waitingChildren[id] = e
		q.emit(backend.EventAdded, id, now, string(backend.StateWaitingChildren))
		*out = append(*out, backend.JobAddResult{Status: backend.AddCreated, ID: id, State: backend.StateWaitingChildren, AddedAt: now})
		link.pending = map[string]struct{}{}
		link.values = map[string][]byte{}
		link.failed = map[string]string{}
	}
	e.flow = link
	for i := range f.Children {
		c := q.addFlow(&f.Children[i], e.job.ID, now, out)
		link.children = append(link.children, c)
		link.pending[c] = struct{}{}
	}
	return e.job.ID
}

// childFinished tells a child's parent that the child completed (ok) or
// failed for good, applying the child's policy. The caller has filed the
// child already.
func (q *queue) childFinished(e *entry, ok bool, now time.Time) {
	if e.flow == nil || e.flow.parent == "" {
		return
	}
	p := q.jobs[e.flow.parent]
	if p == nil || p.job.State != backend.StateWaitingChildren || p.flow == nil {
		return
	}
	id := e.job.ID
	if _, wait := p.flow.pending[id]; !wait {
		return
	}
	delete(p.flow.pending, id)
	switch {
	case ok:
		p.flow.values[id] = cloneBytes(e.job.ReturnValue)
	case e.flow.policy == backend.ChildIgnore:
		p.flow.failed[id] = e.job.FailedReason
	case e.flow.policy == backend.ChildRemove:
	default:
		q.detach(p)
		p.job.FailedReason = fmt.Sprintf("child %s failed: %s", id, e.job.FailedReason)
		q.failJob(p, p.job.Options.RemoveOnFail, now)
		return
	}
	q.releaseParent(p, now)
}

// releaseParent makes a parent ready once no child is pending.
func (q *queue) releaseParent(p *entry, now time.Time) {
	if len(p.flow.pending) > 0 {
		return
	}
	q.detach(p)
	q.requeue(p)
	q.emit(backend.EventWaiting, p.job.ID, now, "")
}

// removeFlow runs when JobRemove deletes e: a parent takes its unfinished
// children (and theirs) with it; a pending child stops being waited for.
func (q *queue) removeFlow(e *entry, now time.Time) {
	if e.flow == nil {
		return
	}
	for _, id := range e.flow.children {
		c := q.jobs[id]
		if c == nil || c.job.State == backend.StateActive || c.job.State == backend.StateCompleted || c.job.State == backend.StateFailed {
			continue
		}
		q.delete(c)
		q.removeFlow(c, now)
	}
	if p := q.jobs[e.flow.parent]; p != nil && p.flow != nil && p.job.State == backend.StateWaitingChildren {
		if _, wait := p.flow.pending[e.job.ID]; wait {
			delete(p.flow.pending, e.job.ID)
			q.releaseParent(p, now)
		}
	}
}

// FlowChildren implements backend.Flows.
func (b *Backend) FlowChildren(ctx context.Context, p *backend.JobGetParams) (*backend.FlowChildren, error) {
	q, err := b.lock(ctx, p.Queue)
	if err != nil {
		return nil, err
	}
	defer q.mu.Unlock()
	e := q.jobs[p.ID]
	if e == nil {
		return nil, backend.ErrJobNotFound
	}
	out := &backend.FlowChildren{Values: map[string][]byte{}, Failed: map[string]string{}}
	if e.flow == nil || e.flow.pending == nil {
		return out, nil
	}
	for id, v := range e.flow.values {
		out.Values[id] = cloneBytes(v)
	}
	for id, r := range e.flow.failed {
		out.Failed[id] = r
	}
	out.Pending = len(e.flow.pending)
	out.Total = len(e.flow.children)
	return out, nil
}

// waitingChildrenJobs returns the parents waiting for children, oldest first.
func (q *queue) waitingChildrenJobs() []*entry {
	out := make([]*entry, 0, len(q.waitingChildren))
	for _, e := range q.waitingChildren {
		out = append(out, e)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].seq < out[j].seq })
	return out
}

// FlowWaitChildren implements backend.Flows.
func (b *Backend) FlowWaitChildren(ctx context.Context, p *backend.FlowWaitChildrenParams) ([]backend.JobAddResult, error) {
	if len(p.Children) == 0 {
		return nil, fmt.Errorf("%w: no children", backend.ErrInvalidFlow)
	}
	root := backend.FlowNode{Queue: p.Queue, Children: p.Children}
	if err := backend.CheckFlow(p.Queue, &root); err != nil {
		return nil, err
	}
	if err := backend.OneQueue(&root, "the memory backend links jobs of one queue only"); err != nil {
		return nil, err
	}
	q, err := b.lock(ctx, p.Queue)
	if err != nil {
		return nil, err
	}
	defer q.mu.Unlock()
	now := b.now()
	e, err := q.held(p.ID, p.Token, now)
	if err != nil {
		return nil, err
	}
	added := map[string]int{}
	for i := range p.Children {
		if err := q.checkFlowFree(&p.Children[i], added); err != nil {
			return nil, err
		}
	}
	q.detach(e)
	q.leaveSlot(e)
	e.job.State = backend.StateWaitingChildren
	q.waitingChildren[e.job.ID] = e
	if e.flow == nil {
		e.flow = &flowLink{}
	}
	if e.flow.pending == nil {
		e.flow.pending = map[string]struct{}{}
		e.flow.values = map[string][]byte{}
		e.flow.failed = map[string]string{}
	}
	var out []backend.JobAddResult
	for i := range p.Children {
		c := q.addFlow(&p.Children[i], e.job.ID, now, &out)
		e.flow.children = append(e.flow.children, c)
		e.flow.pending[c] = struct{}{}
	}
	q.emit(backend.EventWaiting, e.job.ID, now, string(backend.StateWaitingChildren))
	return out, nil
}
