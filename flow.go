package fila

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"strings"

	"github.com/fila-go/fila/backend"
)

// StateWaitingChildren is the state of a flow's parent while some of its
// children have not finished (see Queue.AddFlow). Counts, Jobs, the CLI,
// the dashboard and the Prometheus collector show it.
const StateWaitingChildren = backend.StateWaitingChildren

// ChildPolicy says what a child's failure (for good, after its attempts)
// does to its parent.
type ChildPolicy = backend.ChildPolicy

// The child failure policies. The default, FailParent, never leaves a
// parent waiting for a child that will not complete.
const (
	// FailParent fails the parent at once; its FailedReason names the
	// child and the child's failure ("child 7 failed: ..."). The failure
	// climbs further by the parent's own policy.
	FailParent = backend.ChildFailParent
	// IgnoreFailure counts the child as finished and records its failure,
	// which the parent reads in Children's Failed.
	IgnoreFailure = backend.ChildIgnore
	// RemoveDependency counts the child as finished and records nothing.
	RemoveDependency = backend.ChildRemove
	// ContinueParent records the failure, as IgnoreFailure, and makes the
	// parent ready at once (BullMQ's continueParentOnFailure): it runs
	// without waiting for its other children, which still run; their
	// outcomes are recorded as they finish (Children's Pending counts
	// those that have not).
	ContinueParent = backend.ChildContinue
)

// Flow limits: a deeper or larger tree fails AddFlow with ErrInvalid.
const (
	MaxFlowDepth = backend.MaxFlowDepth
	MaxFlowNodes = backend.MaxFlowNodes
)

// FlowJob is one job of a flow: a parent runs only after all its Children
// finished. OnChildFailure is this job's policy towards its own parent
// (unused on the root). Queue puts the job in another queue than its
// parent's (empty: the parent's; the root is always in the queue AddFlow
// is called on): that queue's workers run it, and its parent names it
// "<queue>:<id>" in Children and in the reason it fails with.
type FlowJob struct {
	Queue          string
	Name           string
	Data           []byte
	Options        *JobOptions
	OnChildFailure ChildPolicy
	Children       []FlowJob
}

// AddFlow adds a tree of jobs to the queue in one atomic backend call:
// every job with children waits in StateWaitingChildren, every leaf is
// added as Add would add it. When a child completes, its return value is
// recorded under its parent in the same step; the last child to finish
// makes the parent ready. Jobs return in depth-first order, root first.
//
// The root is in this queue, every other job in its FlowJob.Queue or its
// parent's. The tree is checked before anything is stored, every job with
// this queue's options (sizes, AddHooks): invalid options or queue names,
// Dedup on any job, a JobID used twice in a queue or already there, more
// than MaxFlowDepth levels or MaxFlowNodes jobs, and a tree across queues
// a backend does not link (backend.FlowsAcrossQueues: on Redis Cluster
// queues of different hash tags, on Upstash any without GlobalLock) fail
// with ErrInvalid. A backend without backend.Flows returns ErrUnsupported.
func (q *Queue) AddFlow(ctx context.Context, root FlowJob) (out []*Job, err error) {
	const op = "add flow to"
	if q.nameErr != nil {
		return nil, q.errorf(op, q.nameErr)
	}
	fl, ok := q.be.(backend.Flows)
	if !ok {
		return nil, q.errorf(op, ErrUnsupported)
	}
	var b flowBuilder
	defer func() {
		if len(b.ends) > 0 {
			endAddHooks(b.ends, out, err)
		}
	}()
	if root.Queue != "" && root.Queue != q.name {
		return nil, q.errorf(op, invalid("Queue", "of the root job %q is %q: the root is in the queue AddFlow is called on", root.Name, root.Queue))
	}
	tree, err := b.node(ctx, q, &root, q.name, 0)
	if err != nil {
		return nil, q.errorf(op, err)
	}
	res, err := fl.FlowAdd(ctx, &backend.FlowAddParams{Queue: q.name, Root: tree})
	if errors.Is(err, backend.ErrInvalidFlow) {
		err = invalidFlow(err)
	}
	if err != nil {
		return nil, q.errorf(op, err)
	}
	return b.jobs(q, res), nil
}

// invalidFlow turns a backend's refusal of a tree into ErrInvalid, without
// saying "invalid flow" twice.
func invalidFlow(err error) error {
	return invalid("flow", "%s", strings.TrimPrefix(err.Error(), backend.ErrInvalidFlow.Error()+": "))
}

// flowBuilder converts FlowJobs for the backend, validating each job as
// Add does (AddHooks included) and counting them.
type flowBuilder struct {
	items  []backend.JobAddItem
	queues []string // each item's queue
	ends   []hookEnd
}

// node converts f, a job whose parent is in queue parentQueue.
func (b *flowBuilder) node(ctx context.Context, q *Queue, f *FlowJob, parentQueue string, depth int) (backend.FlowNode, error) {
	if depth > MaxFlowDepth {
		return backend.FlowNode{}, invalid("flow", "is deeper than %d levels", MaxFlowDepth)
	}
	if len(b.items) >= MaxFlowNodes {
		return backend.FlowNode{}, invalid("flow", "has more than %d jobs", MaxFlowNodes)
	}
	if !f.OnChildFailure.Valid() {
		return backend.FlowNode{}, invalid("OnChildFailure", "of job %q: unknown policy %q", f.Name, f.OnChildFailure)
	}
	queue := parentQueue
	if f.Queue != "" {
		if err := validateQueueName(f.Queue); err != nil {
			return backend.FlowNode{}, fmt.Errorf("job %q: %w", f.Name, err)
		}
		queue = f.Queue
	}
	it, ends, err := q.item(ctx, len(b.items), &BulkJob{Name: f.Name, Data: f.Data, Options: f.Options}, b.ends)
	b.ends = ends
	if err != nil {
		return backend.FlowNode{}, fmt.Errorf("job %q: %w", f.Name, err)
	}
	if it.Dedup != nil {
		return backend.FlowNode{}, invalid("Dedup", "of job %q: not supported in a flow", f.Name)
	}
	if it.Options.Group != "" {
		if _, err := q.groups("add flow to"); err != nil {
			return backend.FlowNode{}, err
		}
	}
	b.items = append(b.items, it)
	b.queues = append(b.queues, queue)
	n := backend.FlowNode{Queue: queue, Job: it, OnFailure: f.OnChildFailure}
	for i := range f.Children {
		c, err := b.node(ctx, q, &f.Children[i], queue, depth+1)
		if err != nil {
			return backend.FlowNode{}, err
		}
		n.Children = append(n.Children, c)
	}
	return n, nil
}

// jobs returns the added jobs, in the order of the items.
func (b *flowBuilder) jobs(q *Queue, res []backend.JobAddResult) []*Job {
	out := make([]*Job, len(res))
	for i, r := range res {
		it := &b.items[i]
		out[i] = &Job{
			ID: r.ID, Name: it.Name, Data: it.Data, Options: jobOptionsFrom(it.Options), State: r.State,
			AddedAt: r.AddedAt, be: q.be, queue: b.queues[i],
		}
		out[i].Options.Meta = maps.Clone(it.Options.Meta)
		if r.State == StateDelayed {
			out[i].DueAt = r.AddedAt.Add(it.Options.Delay)
		}
	}
	return out
}

// ErrWaitingChildren is what a handler returns after WaitForChildren
// succeeded: the worker then leaves the job to its children instead of
// completing or failing it. Returned without that, it is an ordinary
// failure.
var ErrWaitingChildren = errors.New("fila: job waits for its children")

// WaitForChildren, called from the handler of job (a job of this queue
// the worker holds), adds children (in this queue, or in their
// FlowJob.Queue) to it and moves it to
// StateWaitingChildren in one backend step (BullMQ's
// moveToWaitingChildren): the handler must then return
// ErrWaitingChildren. The job runs again, as a new claim of the same
// attempt count plus one started, when its children finished; its
// handler tells the second run by Children (Total > 0). The children are
// checked as AddFlow checks a tree (their depth counts from 1). A lock
// the worker no longer holds gives an error matching ErrLockLost and
// changes nothing.
func (q *Queue) WaitForChildren(ctx context.Context, job *Job, children ...FlowJob) (out []*Job, err error) {
	const op = "add children in"
	if q.nameErr != nil {
		return nil, q.errorf(op, q.nameErr)
	}
	fl, ok := q.be.(backend.Flows)
	if !ok {
		return nil, q.errorf(op, ErrUnsupported)
	}
	if job.queue != q.name || job.token == "" {
		return nil, q.errorf(op, invalid("job", "%q is not a job this queue's worker is running", job.ID))
	}
	if len(children) == 0 {
		return nil, q.errorf(op, invalid("children", "none given"))
	}
	var b flowBuilder
	defer func() {
		if len(b.ends) > 0 {
			endAddHooks(b.ends, out, err)
		}
	}()
	nodes := make([]backend.FlowNode, len(children))
	for i := range children {
		if nodes[i], err = b.node(ctx, q, &children[i], q.name, 1); err != nil {
			return nil, q.errorf(op, err)
		}
	}
	res, err := fl.FlowWaitChildren(ctx, &backend.FlowWaitChildrenParams{Queue: q.name, ID: job.ID, Token: job.token, Children: nodes})
	if errors.Is(err, backend.ErrInvalidFlow) {
		err = invalidFlow(err)
	}
	if err != nil {
		return nil, q.errorf(op, err)
	}
	job.moved = true
	job.State = StateWaitingChildren
	return b.jobs(q, res), nil
}

// Children is what a flow parent's finished children left, by child: its
// ID, or "<queue>:<id>" for a child in another queue than the parent.
type Children struct {
	Values  map[string]json.RawMessage // completed child -> its return value
	Failed  map[string]string          // failed child -> reason, for IgnoreFailure children
	Pending int                        // children not finished yet (0 once the parent runs)
	Total   int                        // children ever added (0: no flow parent, or a first run)
}

// Children returns the job's finished children's results: call it from
// the parent's handler. A job that is no flow parent has none.
func (j *Job) Children(ctx context.Context) (*Children, error) {
	fl, ok := j.be.(backend.Flows)
	if !ok {
		return nil, fmt.Errorf("fila: children of job %q in %q: %w", j.ID, j.queue, ErrUnsupported)
	}
	c, err := fl.FlowChildren(ctx, &backend.JobGetParams{Queue: j.queue, ID: j.ID})
	if err != nil {
		return nil, fmt.Errorf("fila: children of job %q in %q: %w", j.ID, j.queue, err)
	}
	out := &Children{Values: make(map[string]json.RawMessage, len(c.Values)), Failed: c.Failed, Pending: c.Pending, Total: c.Total}
	for id, v := range c.Values {
		out.Values[id] = v
	}
	return out, nil
}

// ChildrenValues returns the completed children's return values by child
// (see Children for the keys and the failed ones).
func (j *Job) ChildrenValues(ctx context.Context) (map[string]json.RawMessage, error) {
	c, err := j.Children(ctx)
	if err != nil {
		return nil, err
	}
	return c.Values, nil
}
