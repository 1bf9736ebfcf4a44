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
// children's progress (a parent). A tree may span queues: the lock of
// each queue guards its own entries, and what a child's finish owes a
// parent in another queue is delivered after the child's queue is
// unlocked (flowMsg).
type flowLink struct {
	parent      string              // "" for a root
	parentQueue string              // the parent's queue
	policy      backend.ChildPolicy // towards parent
	// children lists every child; pending, values and failed go by
	// backend.ChildKey.
	children []flowRef
	pending  map[string]struct{}
	values   map[string][]byte
	failed   map[string]string
}

// flowRef names a job of any queue.
type flowRef struct{ queue, id string }

// newFlowParent returns the link of a job that gets children.
func newFlowParent(l *flowLink) *flowLink {
	if l == nil {
		l = &flowLink{}
	}
	if l.pending == nil {
		l.pending = map[string]struct{}{}
		l.values = map[string][]byte{}
		l.failed = map[string]string{}
	}
	return l
}

// FlowAdd implements backend.Flows: every queue of the tree is locked (in
// name order) while it is checked and stored, so it is stored whole or
// not at all.
func (b *Backend) FlowAdd(ctx context.Context, p *backend.FlowAddParams) ([]backend.JobAddResult, error) {
	if err := backend.CheckFlow(p.Queue, &p.Root); err != nil {
		return nil, err
	}
	t, err := b.lockTree(ctx, []string{p.Queue}, []backend.FlowNode{p.Root})
	if err != nil {
		return nil, err
	}
	defer t.unlock()
	if err := t.checkFree(&p.Root, map[string]int{}); err != nil {
		return nil, err
	}
	var out []backend.JobAddResult
	t.add(&p.Root, flowRef{}, &out)
	return out, nil
}

// flowTree is a tree's queues, locked.
type flowTree struct {
	qs  map[string]*queue
	now time.Time
}

// lockTree locks the queues named and those of the nodes' trees, in name
// order: the only place a goroutine holds two queue locks, so two trees
// never wait for each other.
func (b *Backend) lockTree(ctx context.Context, names []string, nodes []backend.FlowNode) (*flowTree, error) {
	set := map[string]bool{}
	for _, n := range names {
		set[n] = true
	}
	var walk func(f *backend.FlowNode)
	walk = func(f *backend.FlowNode) {
		set[f.Queue] = true
		for i := range f.Children {
			walk(&f.Children[i])
		}
	}
	for i := range nodes {
		walk(&nodes[i])
	}
	sorted := make([]string, 0, len(set))
	for n := range set {
		sorted = append(sorted, n)
	}
	sort.Strings(sorted)
	t := &flowTree{qs: map[string]*queue{}}
	for _, n := range sorted {
		q, err := b.lock(ctx, n)
		if err != nil {
			t.unlock()
			return nil, err
		}
		t.qs[n] = q
	}
	t.now = b.now()
	return t, nil
}

// unlock unlocks every queue of the tree before it delivers what they
// owe other queues, so delivery never waits for a lock while holding one.
func (t *flowTree) unlock() {
	var out []flowMsg
	var be *Backend
	for _, q := range t.qs {
		out = append(out, q.out...)
		q.out = nil
		be = q.be
		q.mu.Unlock()
	}
	if be != nil {
		be.deliver(out)
	}
}

// checkFree refuses a tree whose IDs exist or whose grouped leaves would
// meet a full group, before anything is stored. added counts the tree's
// leaves that will join each group's line (by queue and group), in add
// order, as JobAdd would add them one by one.
func (t *flowTree) checkFree(f *backend.FlowNode, added map[string]int) error {
	q := t.qs[f.Queue]
	if f.Job.ID != "" && q.jobs[f.Job.ID] != nil {
		return fmt.Errorf("%w: job ID %q exists in queue %q", backend.ErrInvalidFlow, f.Job.ID, f.Queue)
	}
	if g := f.Job.Options.Group; g != "" && len(f.Children) == 0 {
		k := f.Queue + "\x00" + g
		if q.groupFull(g) || (q.groupOpts.MaxSize > 0 && q.groupLen(g)+added[k] >= q.groupOpts.MaxSize) {
			return fmt.Errorf("%w: group %q is full", backend.ErrInvalidFlow, g)
		}
		if f.Job.Options.Delay <= 0 {
			added[k]++
		}
	}
	for i := range f.Children {
		if err := t.checkFree(&f.Children[i], added); err != nil {
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

// add stores a node, then its children: a leaf as JobAdd would, a node
// with children parked in waiting-children. parent is the node's parent
// (zero for a root).
func (t *flowTree) add(f *backend.FlowNode, parent flowRef, out *[]backend.JobAddResult) string {
	q := t.qs[f.Queue]
	q.listed = true
	link := &flowLink{parent: parent.id, parentQueue: parent.queue, policy: f.OnFailure}
	var e *entry
	if len(f.Children) == 0 {
		r := q.add(&f.Job, t.now)
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
			ID: id, Name: it.Name, Data: cloneBytes(it.Data), Options: it.Options, AddedAt: t.now,
			State: backend.StateWaitingChildren,
		}}
		q.jobs[id] = e
		q.waitingChildren[id] = e
		q.emit(backend.EventAdded, id, t.now, string(backend.StateWaitingChildren))
		*out = append(*out, backend.JobAddResult{Status: backend.AddCreated, ID: id, State: backend.StateWaitingChildren, AddedAt: t.now})
		link = newFlowParent(link)
	}
	e.flow = link
	t.addChildren(e, f.Queue, f.Children, out)
	return e.job.ID
}

// addChildren stores the children of e, a parent in queue.
func (t *flowTree) addChildren(e *entry, queue string, children []backend.FlowNode, out *[]backend.JobAddResult) {
	for i := range children {
		c := &children[i]
		id := t.add(c, flowRef{queue: queue, id: e.job.ID}, out)
		e.flow.children = append(e.flow.children, flowRef{queue: c.Queue, id: id})
		e.flow.pending[backend.ChildKey(queue, c.Queue, id)] = struct{}{}
	}
}

// flowMsg is what a job owes a flow job of another queue: its parent
// (childDone, childGone) or its child (removeChild).
type flowMsg struct {
	kind   flowMsgKind
	queue  string // the queue of the job told
	id     string // the job told
	key    string // the child, as its parent names it (childDone, childGone)
	parent string // the removed parent (removeChild)
	from   string // the removed parent's queue (removeChild)
	ok     bool   // childDone: completed, else failed for good
	value  []byte // childDone: the return value
	reason string // childDone: the failure
	policy backend.ChildPolicy
}

type flowMsgKind int

const (
	childDone   flowMsgKind = iota // a child finished for good
	childGone                      // a pending child was removed
	removeChild                    // the parent was removed
)

// unlock unlocks q, then delivers what the holder owed other queues,
// each under its queue's lock (which may owe more in turn).
func (q *queue) unlock() {
	out := q.out
	q.out = nil
	q.mu.Unlock()
	q.be.deliver(out)
}

// deliver applies each message under its queue's lock; the caller holds
// no queue lock.
func (b *Backend) deliver(out []flowMsg) {
	for _, m := range out {
		o, err := b.lock(context.Background(), m.queue)
		if err != nil {
			return // closed: nothing is left to tell
		}
		o.receive(m, b.now())
		o.unlock()
	}
}

// tell delivers m now when it is for q, else after q is unlocked.
func (q *queue) tell(m flowMsg, now time.Time) {
	if m.queue == q.name {
		q.receive(m, now)
		return
	}
	q.out = append(q.out, m)
}

func (q *queue) receive(m flowMsg, now time.Time) {
	switch m.kind {
	case childDone:
		q.childDone(m, now)
	case childGone:
		if p := q.pendingParent(m.id, m.key); p != nil {
			delete(p.flow.pending, m.key)
			q.releaseParent(p, now)
		}
	case removeChild:
		c := q.jobs[m.id]
		if c == nil || c.flow == nil || c.flow.parent != m.parent || c.flow.parentQueue != m.from || c.job.State == backend.StateActive ||
			c.job.State == backend.StateCompleted || c.job.State == backend.StateFailed {
			return
		}
		q.delete(c)
		q.removeFlow(c, now, true)
		q.emit(backend.EventRemoved, c.job.ID, now, "")
	}
}

// pendingParent returns parent id if child key is pending for it, in
// whatever state the parent is: a parent released (ContinueParent) or
// failed by another child still records its children's outcomes, so that
// it does not wait for them again if it fans out anew.
func (q *queue) pendingParent(id, key string) *entry {
	p := q.jobs[id]
	if p == nil || p.flow == nil {
		return nil
	}
	if _, wait := p.flow.pending[key]; !wait {
		return nil
	}
	return p
}

// childFinished tells a child's parent that the child completed (ok) or
// failed for good. The caller has filed the child already.
func (q *queue) childFinished(e *entry, ok bool, now time.Time) {
	if e.flow == nil || e.flow.parent == "" {
		return
	}
	q.tell(flowMsg{
		kind: childDone, queue: e.flow.parentQueue, id: e.flow.parent,
		key: backend.ChildKey(e.flow.parentQueue, q.name, e.job.ID),
		ok:  ok, value: cloneBytes(e.job.ReturnValue), reason: e.job.FailedReason, policy: e.flow.policy,
	}, now)
}

// childDone applies a child's final outcome to its parent, by the child's
// policy. A child counts once. A parent that does not wait for children
// any more (released by ContinueParent, failed by another child) records
// the outcome and nothing else.
func (q *queue) childDone(m flowMsg, now time.Time) {
	p := q.pendingParent(m.id, m.key)
	if p == nil {
		return
	}
	delete(p.flow.pending, m.key)
	switch {
	case m.ok:
		p.flow.values[m.key] = m.value
	case m.policy == backend.ChildIgnore:
		p.flow.failed[m.key] = m.reason
	case m.policy == backend.ChildRemove:
	case m.policy == backend.ChildContinue:
		p.flow.failed[m.key] = m.reason
		q.release(p, now)
		return
	case p.job.State != backend.StateWaitingChildren: // no longer waits: the child is only no longer pending
	default:
		q.detach(p)
		p.job.FailedReason = fmt.Sprintf("child %s failed: %s", m.key, m.reason)
		q.failJob(p, p.job.Options.RemoveOnFail, now)
		return
	}
	q.releaseParent(p, now)
}

// releaseParent makes a parent ready once no child is pending.
func (q *queue) releaseParent(p *entry, now time.Time) {
	if len(p.flow.pending) == 0 {
		q.release(p, now)
	}
}

// release makes a parent waiting for children ready now; a parent that
// no longer waits (released by ContinueParent, failed by another child)
// stays as it is.
func (q *queue) release(p *entry, now time.Time) {
	if p.job.State != backend.StateWaitingChildren {
		return
	}
	q.detach(p)
	q.requeue(p)
	q.emit(backend.EventWaiting, p.job.ID, now, "")
}

// removeFlow runs when e is deleted (JobRemove, or its parent's removal:
// under): a parent takes its unfinished children (and theirs) with it; a
// pending child stops being waited for, unless its parent is the one
// being removed.
func (q *queue) removeFlow(e *entry, now time.Time, under bool) {
	if e.flow == nil {
		return
	}
	for _, c := range e.flow.children {
		q.tell(flowMsg{kind: removeChild, queue: c.queue, id: c.id, parent: e.job.ID, from: q.name}, now)
	}
	if e.flow.parent != "" && !under {
		q.tell(flowMsg{kind: childGone, queue: e.flow.parentQueue, id: e.flow.parent,
			key: backend.ChildKey(e.flow.parentQueue, q.name, e.job.ID)}, now)
	}
}

// obliterated tells the flow jobs of other queues that q's jobs are gone,
// as removals would: parents stop waiting for q's children, and q's
// parents take their unfinished children in other queues with them.
// Links within q go with it.
func (q *queue) obliterated() {
	for _, e := range q.jobs {
		if e.flow == nil {
			continue
		}
		for _, c := range e.flow.children {
			if c.queue != q.name {
				q.out = append(q.out, flowMsg{kind: removeChild, queue: c.queue, id: c.id, parent: e.job.ID, from: q.name})
			}
		}
		if e.flow.parent != "" && e.flow.parentQueue != q.name {
			q.out = append(q.out, flowMsg{kind: childGone, queue: e.flow.parentQueue, id: e.flow.parent,
				key: backend.ChildKey(e.flow.parentQueue, q.name, e.job.ID)})
		}
	}
}

// FlowChildren implements backend.Flows.
func (b *Backend) FlowChildren(ctx context.Context, p *backend.JobGetParams) (*backend.FlowChildren, error) {
	q, err := b.lock(ctx, p.Queue)
	if err != nil {
		return nil, err
	}
	defer q.unlock()
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
	t, err := b.lockTree(ctx, []string{p.Queue}, root.Children)
	if err != nil {
		return nil, err
	}
	defer t.unlock()
	q := t.qs[p.Queue]
	e, err := q.held(p.ID, p.Token, t.now)
	if err != nil {
		return nil, err
	}
	added := map[string]int{}
	for i := range root.Children {
		if err := t.checkFree(&root.Children[i], added); err != nil {
			return nil, err
		}
	}
	q.detach(e)
	q.leaveSlot(e)
	e.job.State = backend.StateWaitingChildren
	q.waitingChildren[e.job.ID] = e
	e.flow = newFlowParent(e.flow)
	var out []backend.JobAddResult
	t.addChildren(e, p.Queue, root.Children, &out)
	q.emit(backend.EventWaiting, e.job.ID, t.now, string(backend.StateWaitingChildren))
	return out, nil
}
