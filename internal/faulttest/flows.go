package faulttest

import (
	"context"
	"errors"
	"fmt"

	"github.com/fila-go/fila"
)

// Tree is one flow the test added: a parent and its children's IDs, and
// the children's queue when it is not the parent's.
type Tree struct {
	Parent     string
	Children   []string
	ChildQueue *fila.Queue
}

// ErrNoFlows is returned by AddTrees when the backend has no flows.
var ErrNoFlows = errors.New("faulttest: the backend has no flows")

// AddTrees adds n flows, each a job named "parent" with children children
// named "ok"; every job's data is data(i) of its tree. It returns the trees
// in order, or ErrNoFlows (wrapping fila.ErrUnsupported) when the first add
// says the backend has no flows.
func (e *Env) AddTrees(n, children int, data func(i int) string) ([]Tree, error) {
	e.T.Helper()
	return e.AddTreesIn(nil, n, children, data)
}

// AddTreesIn is AddTrees with the children in queue kids (nil: the
// parent's), with IDs "k<tree>-<child>" that no generated ID takes.
func (e *Env) AddTreesIn(kids *fila.Queue, n, children int, data func(i int) string) ([]Tree, error) {
	e.T.Helper()
	ctx := context.Background()
	trees := make([]Tree, 0, n)
	for i := range n {
		d := []byte(data(i))
		root := fila.FlowJob{Name: "parent", Data: d}
		for k := range children {
			c := fila.FlowJob{Name: "ok", Data: d}
			if kids != nil {
				c.Queue, c.Options = kids.Name(), &fila.JobOptions{JobID: fmt.Sprintf("k%d-%d", i, k)}
			}
			root.Children = append(root.Children, c)
		}
		jobs, err := e.Queue.AddFlow(ctx, root)
		if errors.Is(err, fila.ErrUnsupported) {
			return nil, fmt.Errorf("%w: %w", ErrNoFlows, err)
		}
		if err != nil {
			e.T.Fatalf("faulttest: add flow %d: %v", i, err)
		}
		t := Tree{Parent: jobs[0].ID, ChildQueue: kids}
		for _, j := range jobs[1:] {
			t.Children = append(t.Children, j.ID)
		}
		trees = append(trees, t)
	}
	return trees, nil
}
