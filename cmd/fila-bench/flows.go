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
// column; jobs = trees). With spread, each child is in a queue of its own
// (three queues besides the parents'), and each of the four queues has a
// worker at concurrency 12. A backend without flows, or (spread) without
// flows across queues, is skipped.
func (b *bench) flows(ctx context.Context, spread bool) ([]result, error) {
	q := b.queue()
	queues := []*fila.Queue{q}
	childQueue := func(int) string { return "" }
	where := ""
	if spread {
		for i := range 3 {
			queues = append(queues, fila.NewQueue(b.be, q.Name()+"-c"+strconv.Itoa(i+1)))
		}
		childQueue = func(i int) string { return queues[i+1].Name() }
		where = " in 3 other queues"
	}
	defer func() {
		for _, cq := range queues[1:] {
			_ = cq.Obliterate(context.Background(), true)
		}
	}()
	trees := b.cfg.flowTrees
	tree := func(i int) fila.FlowJob {
		keep := &fila.JobOptions{RemoveOnComplete: fila.RemoveJob}
		return fila.FlowJob{Name: "parent", Data: b.payloadFor(i), Options: keep, Children: []fila.FlowJob{
			{Queue: childQueue(0), Name: "child", Data: b.payloadFor(i), Options: keep},
			{Queue: childQueue(1), Name: "child", Data: b.payloadFor(i), Options: keep},
			{Queue: childQueue(2), Name: "child", Data: b.payloadFor(i), Options: keep},
		}}
	}
	// The warm-up tree also tells whether the backend has flows (across
	// queues, with spread).
	if _, err := q.AddFlow(ctx, tree(-1)); errors.Is(err, fila.ErrUnsupported) {
		_ = q.Obliterate(ctx, true)
		return nil, fmt.Errorf("%w: the %s backend has no flows (AddFlow returns ErrUnsupported)", errSkipped, b.name)
	} else if spread && errors.Is(err, fila.ErrInvalid) {
		_ = q.Obliterate(ctx, true)
		return nil, fmt.Errorf("%w: the %s backend does not link these queues: %v", errSkipped, b.name, err)
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
	add := result{Scenario: "flows", Variant: fmt.Sprintf("add 1 parent + 3 children%s, %d producers", where, b.cfg.producers),
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
	opts := fila.WorkerOptions{Concurrency: flowConcurrency / len(queues), OnFinished: func(j *fila.Job, err error) {
		if j.Name == "parent" && parents.Add(1) == int64(trees)+1 {
			close(all)
		}
	}}
	var stops []func()
	for _, wq := range queues {
		stop, err := b.runWorkers(wq, 1, opts, handler)
		if err != nil {
			for _, s := range stops {
				s()
			}
			return nil, err
		}
		stops = append(stops, stop)
	}
	<-all
	z := take(ctx, b.admin)
	for _, s := range stops {
		s()
	}
	if n := wrong.Load(); n > 0 {
		return nil, fmt.Errorf("%d parents ran without their 3 children's values", n)
	}
	run := result{Scenario: "flows", Variant: "run 1 parent + 3 children" + where + ", parents read the values",
		Concurrency: opts.Concurrency * len(queues), Jobs: trees + 1}
	b.finish(ctx, q, &run, m, z)
	run.Extra = map[string]float64{"jobs_per_s": run.JobsPerSec * 4}
	return []result{add, run}, nil
}
