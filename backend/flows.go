package backend

import (
	"context"
	"errors"
	"fmt"
)

// StateWaitingChildren is the state of a flow's parent while some of its
// children have not finished: it is not claimable, and moves to waiting
// (or prioritized) when its last child finishes. Only backends that
// implement Flows hold jobs in it.
const StateWaitingChildren State = "waiting-children"

// Limits of one flow: deeper or larger trees are refused with
// ErrInvalidFlow and nothing is stored.
const (
	MaxFlowDepth = 32   // levels below the root
	MaxFlowNodes = 1000 // jobs in one tree, the root included
)

// ErrInvalidFlow: FlowAdd refused a tree (too deep, too large, a node with
// an ID already used, a node in a queue the backend cannot link). Nothing
// was stored.
var ErrInvalidFlow = errors.New("invalid flow")

// ChildPolicy says what a child's failure (for good, after its attempts)
// does to its parent.
type ChildPolicy string

// The child failure policies. The zero value is ChildFailParent, so a
// parent is never left waiting for a child that will not complete.
const (
	// ChildFailParent fails the parent at once, with a reason naming the
	// child and its failure. The parent's other children still run.
	ChildFailParent ChildPolicy = ""
	// ChildIgnore records the failure under the parent (FlowChildren's
	// Failed) and counts the child as finished.
	ChildIgnore ChildPolicy = "ignore"
	// ChildRemove drops the dependency: the child counts as finished and
	// nothing is recorded.
	ChildRemove ChildPolicy = "remove"
	// ChildContinue records the failure under the parent, as ChildIgnore,
	// and makes the parent ready at once (BullMQ's
	// continueParentOnFailure): it runs without waiting for its other
	// children, which still run; their outcomes are recorded as they
	// finish (FlowChildren's Pending counts those that have not).
	ChildContinue ChildPolicy = "continue"
)

// Valid reports whether p is a known policy.
func (p ChildPolicy) Valid() bool {
	return p == ChildFailParent || p == ChildIgnore || p == ChildRemove || p == ChildContinue
}

// Flows is the optional interface of a backend that runs flows: a parent
// job that runs only after its children finished (fila's AddFlow).
// Package fila type-asserts it and returns ErrUnsupported for a backend
// without it.
type Flows interface {
	// FlowAdd adds a tree in one atomic step: every node with children in
	// StateWaitingChildren, every leaf ready (or delayed) as JobAdd would
	// add it. A child's completion records its return value under its
	// parent and, for the last pending child, makes the parent ready, in
	// the same step. Results come back in depth-first order, root first.
	// A node may be in another queue than its parent (FlowNode.Queue);
	// nodes must not set Dedup.
	FlowAdd(ctx context.Context, p *FlowAddParams) ([]JobAddResult, error)

	// FlowChildren returns what a parent's finished children left: the
	// completed ones' return values and, under ChildIgnore, the failed
	// ones' reasons, by ChildKey. ErrJobNotFound for no job.
	FlowChildren(ctx context.Context, p *JobGetParams) (*FlowChildren, error)

	// FlowWaitChildren adds children (each a tree) to an active job held
	// by p.Token and moves the job to StateWaitingChildren, in one step:
	// the lock is released, and the job runs again (a new claim) once the
	// children finished. ErrLockLost when the token does not hold the
	// lock; ErrInvalidFlow, nothing changed, for a bad tree or none.
	FlowWaitChildren(ctx context.Context, p *FlowWaitChildrenParams) ([]JobAddResult, error)
}

// FlowWaitChildrenParams names the running job and its new children.
type FlowWaitChildrenParams struct {
	Queue    string
	ID       string
	Token    string
	Children []FlowNode
}

// FlowNode is one job of a tree.
type FlowNode struct {
	// Queue is the node's queue; "" means its parent's (the root's:
	// FlowAddParams.Queue, a running parent's: its own). CheckFlow fills
	// it in on every node.
	Queue string
	Job   JobAddItem
	// OnFailure is this node's policy towards its parent (ignored on the
	// root).
	OnFailure ChildPolicy
	Children  []FlowNode
}

// FlowAddParams is a tree whose root is in Queue.
type FlowAddParams struct {
	Queue string
	Root  FlowNode
}

// FlowsAcrossQueues is an optional interface of a Flows backend.
// FlowsSpanQueues reports whether a tree's jobs may be in different
// queues; a backend that says no (Upstash under key locking, whose
// scripts may touch only their declared keys; Redis Cluster without a
// shared hash tag) refuses such a tree with ErrInvalidFlow. A Flows
// backend without the method must accept them.
type FlowsAcrossQueues interface {
	FlowsSpanQueues() bool
}

// ChildKey is how a parent names its child in FlowChildren and in the
// reason it fails with: the child's ID when both are in one queue, else
// "<child queue>:<child ID>" (queue names hold no ':').
func ChildKey(parentQueue, childQueue, childID string) string {
	if childQueue == parentQueue {
		return childID
	}
	return childQueue + ":" + childID
}

// FlowChildren is what a parent's children left, by ChildKey.
type FlowChildren struct {
	Values  map[string][]byte // completed child -> return value (JSON)
	Failed  map[string]string // failed child -> reason (ChildIgnore)
	Pending int               // children not finished yet
	Total   int               // children ever added to the job
}

// CheckFlow validates a tree whose root is in queue: depth, size,
// policies, no Dedup and no ID used twice in one queue. It sets every
// node's Queue ("" becomes its parent's). Backends call it before storing
// anything. For FlowWaitChildren's children, root is a node without a Job
// standing for the running parent.
func CheckFlow(queue string, root *FlowNode) error {
	ids := map[string]bool{} // queue + "\x00" + ID
	n := 0
	if root.Queue == "" {
		root.Queue = queue
	}
	var walk func(f *FlowNode, depth int) error
	walk = func(f *FlowNode, depth int) error {
		n++
		for i := range f.Children {
			if f.Children[i].Queue == "" {
				f.Children[i].Queue = f.Queue
			}
		}
		id := f.Queue + "\x00" + f.Job.ID
		switch {
		case depth > MaxFlowDepth:
			return fmt.Errorf("%w: deeper than %d levels", ErrInvalidFlow, MaxFlowDepth)
		case n > MaxFlowNodes:
			return fmt.Errorf("%w: more than %d jobs", ErrInvalidFlow, MaxFlowNodes)
		case !f.OnFailure.Valid():
			return fmt.Errorf("%w: unknown child policy %q", ErrInvalidFlow, f.OnFailure)
		case f.Job.Dedup != nil:
			return fmt.Errorf("%w: job %q: dedup is not supported in a flow", ErrInvalidFlow, f.Job.Name)
		case f.Job.ID != "" && ids[id]:
			return fmt.Errorf("%w: job ID %q used twice in queue %q", ErrInvalidFlow, f.Job.ID, f.Queue)
		}
		if f.Job.ID != "" {
			ids[id] = true
		}
		for i := range f.Children {
			if err := walk(&f.Children[i], depth+1); err != nil {
				return err
			}
		}
		return nil
	}
	return walk(root, 0)
}

// OneQueue refuses (ErrInvalidFlow) a checked tree with a node outside
// the root's queue, for a backend that links jobs of one queue only; why
// names the reason the error gives.
func OneQueue(root *FlowNode, why string) error {
	var walk func(f *FlowNode) error
	walk = func(f *FlowNode) error {
		for i := range f.Children {
			c := &f.Children[i]
			if c.Queue != root.Queue {
				return fmt.Errorf("%w: job %q is in queue %q and its flow's root in %q: %s", ErrInvalidFlow, c.Job.Name, c.Queue, root.Queue, why)
			}
			if err := walk(c); err != nil {
				return err
			}
		}
		return nil
	}
	return walk(root)
}
