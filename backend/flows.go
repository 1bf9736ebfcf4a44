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
// an ID already used, a node in another queue). Nothing was stored.
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
)

// Valid reports whether p is a known policy.
func (p ChildPolicy) Valid() bool {
	return p == ChildFailParent || p == ChildIgnore || p == ChildRemove
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
	// Every node of this version is in p.Queue; nodes must not set Dedup.
	FlowAdd(ctx context.Context, p *FlowAddParams) ([]JobAddResult, error)

	// FlowChildren returns what a parent's finished children left: the
	// completed ones' return values and, under ChildIgnore, the failed
	// ones' reasons, by child ID. ErrJobNotFound for no job.
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
	Job JobAddItem
	// OnFailure is this node's policy towards its parent (ignored on the
	// root).
	OnFailure ChildPolicy
	Children  []FlowNode
}

// FlowAddParams is a tree to add to one queue.
type FlowAddParams struct {
	Queue string
	Root  FlowNode
}

// FlowChildren is what a parent's children left.
type FlowChildren struct {
	Values  map[string][]byte // completed child ID -> return value (JSON)
	Failed  map[string]string // failed child ID -> reason (ChildIgnore)
	Pending int               // children not finished yet
	Total   int               // children ever added to the job
}

// CheckFlow validates a tree's shape: depth, size, policies, no Dedup and
// no ID used twice. Backends call it before storing anything.
func CheckFlow(root *FlowNode) error {
	ids := map[string]bool{}
	n := 0
	var walk func(f *FlowNode, depth int) error
	walk = func(f *FlowNode, depth int) error {
		n++
		switch {
		case depth > MaxFlowDepth:
			return fmt.Errorf("%w: deeper than %d levels", ErrInvalidFlow, MaxFlowDepth)
		case n > MaxFlowNodes:
			return fmt.Errorf("%w: more than %d jobs", ErrInvalidFlow, MaxFlowNodes)
		case !f.OnFailure.Valid():
			return fmt.Errorf("%w: unknown child policy %q", ErrInvalidFlow, f.OnFailure)
		case f.Job.Dedup != nil:
			return fmt.Errorf("%w: job %q: dedup is not supported in a flow", ErrInvalidFlow, f.Job.Name)
		case f.Job.ID != "" && ids[f.Job.ID]:
			return fmt.Errorf("%w: job ID %q used twice", ErrInvalidFlow, f.Job.ID)
		}
		if f.Job.ID != "" {
			ids[f.Job.ID] = true
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
