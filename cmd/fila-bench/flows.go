package main

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"

	"github.com/fila-go/fila"
)

// flowConcurrency is the worker concurrency of the flows scenario.
const flowConcurrency = 50

// errSkipped ends a scenario that cannot run on this backend; runAll
// reports it and goes on with the next one.
var errSkipped = errors.New("skipped")

// flows: cfg.flowTrees trees of one parent and three children, added by
// cfg.producers goroutines (one AddFlow per tree), then run by one worker
// at concurrency 50 whose parents read their children's values. Two rows:
// the adds and the run, each with its Redis commands per tree (the cmds/job
// column; jobs = trees). A backend without flows is skipped.
func (b *bench) flows(ctx context.Context) ([]result, error) {
	q := b.queue()
	trees := b.cfg.flowTrees
	tree := func(i int) fila.FlowJob {
		keep := &fila.JobOptions{RemoveOnComplete: fila.RemoveJob}
		return fila.FlowJob{Name: "parent", Data: b.payloadFor(i), Options: keep, Children: []fila.FlowJob{
			{Name: "child", Data: b.payloadFor(i), Options: keep},
			{Name: "child", Data: b.payloadFor(i), Options: keep},
			{Name: "child", Data: b.payloadFor(i), Options: keep},
		}}
	}
	// The warm-up tree also tells whether the backend has flows.
	if _, err := q.AddFlow(ctx, tree(-1)); errors.Is(err, fila.ErrUnsupported) {
		_ = q.Obliterate(ctx, true)
		return nil, fmt.Errorf("%w: the %s backend has no flows (AddFlow returns ErrUnsupported)", errSkipped, b.name)
	} else if err != nil {
		return nil, err
	}

	a := take(ctx, b.admin)
	var next atomic.Int64
	errc := make(chan error, b.cfg.producers)
	var wg sync.WaitGroup
	for range b.cfg.producers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := int(next.Add(1)) - 1; i < trees; i = int(next.Add(1)) - 1 {
				if _, err := q.AddFlow(ctx, tree(i)); err != nil {
					errc <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	m := take(ctx, b.admin)
	close(errc)
	if err := <-errc; err != nil {
		return nil, err
	}
	add := result{Scenario: "flows", Variant: fmt.Sprintf("add 1 parent + 3 children, %d producers", b.cfg.producers),
		Concurrency: b.cfg.producers, Jobs: trees}
	add.delta(a, m)
	add.JobsPerSec = float64(trees) / add.Seconds

	// Every parent checks that it runs after its three children and sees
	// their values; the run ends at the last parent (the warm-up's too).
	var parents, wrong atomic.Int64
	all := make(chan struct{})
	handler := func(ctx context.Context, j *fila.Job) (any, error) {
		if j.Name != "parent" {
			return strconv.Itoa(indexOf(j)), nil
		}
		vals, err := j.ChildrenValues(ctx)
		if err != nil {
			return nil, err
		}
		if len(vals) != 3 {
			wrong.Add(1)
		}
		return nil, nil
	}
	stop, err := b.runWorkers(q, 1, fila.WorkerOptions{Concurrency: flowConcurrency, OnFinished: func(j *fila.Job, err error) {
		if j.Name == "parent" && parents.Add(1) == int64(trees)+1 {
			close(all)
		}
	}}, handler)
	if err != nil {
		return nil, err
	}
	<-all
	z := take(ctx, b.admin)
	stop()
	if n := wrong.Load(); n > 0 {
		return nil, fmt.Errorf("%d parents ran without their 3 children's values", n)
	}
	run := result{Scenario: "flows", Variant: "run 1 parent + 3 children, parents read the values", Concurrency: flowConcurrency, Jobs: trees + 1}
	b.finish(ctx, q, &run, m, z)
	run.Extra = map[string]float64{"jobs_per_s": run.JobsPerSec * 4}
	return []result{add, run}, nil
}
