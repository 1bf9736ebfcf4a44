package main

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fila-go/fila"
)

// groupsThroughput: n jobs over n/10 groups (10 jobs each, added group by
// group round-robin), group concurrency 1, one worker at concurrency c,
// jobs removed on completion: compare with "process" at the same c.
func (b *bench) groupsThroughput(ctx context.Context, c int) (result, error) {
	q := b.queue()
	n := b.cfg.n
	groups := max(n/10, 1)
	if err := q.SetGroupOptions(ctx, fila.GroupOptions{Concurrency: 1}); err != nil {
		return result{}, err
	}
	if err := b.bulk(ctx, q, n, 1000, func(i int) *fila.JobOptions {
		return &fila.JobOptions{RemoveOnComplete: fila.RemoveJob, Group: fmt.Sprintf("g%d", i%groups)}
	}); err != nil {
		return result{}, err
	}
	a, z, err := b.runNoops(ctx, q, n, fila.WorkerOptions{Concurrency: c})
	if err != nil {
		return result{}, err
	}
	r := result{Scenario: "groups", Variant: fmt.Sprintf("%d groups, group concurrency 1", groups), Concurrency: c, Jobs: n}
	b.finish(ctx, q, &r, a, z)
	return r, nil
}

// groupsFairness: 1,000 one-job groups added after one group holding big
// jobs (0 for the baseline), worker concurrency 50: the wait from the add
// of the small groups' jobs to their start.
func (b *bench) groupsFairness(ctx context.Context, big int) (result, error) {
	q := b.queue()
	const small = 1000
	if err := b.bulk(ctx, q, big, 1000, func(int) *fila.JobOptions {
		return &fila.JobOptions{RemoveOnComplete: fila.RemoveJob, Group: "big"}
	}); err != nil {
		return result{}, err
	}
	var mu sync.Mutex
	waits := make([]time.Duration, 0, small)
	var added time.Time
	all := make(chan struct{})
	var done atomic.Int64
	stop, err := b.runWorkers(q, 1, fila.WorkerOptions{Concurrency: 50}, func(_ context.Context, j *fila.Job) (any, error) {
		if j.Options.Group != "big" {
			mu.Lock()
			waits = append(waits, time.Since(added))
			mu.Unlock()
			if done.Add(1) == small {
				close(all)
			}
		}
		return nil, nil
	})
	if err != nil {
		return result{}, err
	}
	a := take(ctx, b.admin)
	jobs := make([]fila.BulkJob, small)
	for i := range jobs {
		jobs[i] = fila.BulkJob{Name: "job", Data: b.payloadFor(i), Options: &fila.JobOptions{RemoveOnComplete: fila.RemoveJob, Group: fmt.Sprintf("s%d", i)}}
	}
	added = time.Now()
	if _, err := q.AddBulk(ctx, jobs); err != nil {
		stop()
		return result{}, err
	}
	<-all
	z := take(ctx, b.admin)
	stop()
	r := result{Scenario: "groups", Variant: fmt.Sprintf("fairness: 1000 one-job groups beside a group of %d", big), Concurrency: 50, Jobs: small}
	p50, p95, p99, mx := percentiles(waits)
	r.P50ms, r.P95ms, r.P99ms, r.MaxMs = &p50, &p95, &p99, &mx
	b.finish(ctx, q, &r, a, z)
	return r, nil
}

// groupsMemory: Redis memory per group (MEMORY USAGE of the queue's
// keys, which lazy frees elsewhere do not disturb), with one waiting job
// each, beside the same jobs without a group, and after the groups emptied.
func (b *bench) groupsMemory(ctx context.Context) (result, error) {
	const groups = 10000
	usage := func(q *fila.Queue) float64 {
		var n int64
		for _, k := range []string{"wait", "meta", "jobs"} {
			n += b.admin.MemoryUsage(ctx, "fila:{"+q.Name()+"}:"+k, 0).Val()
		}
		return float64(n)
	}
	fill := func(grouped bool) (*fila.Queue, float64, error) {
		q := b.queue()
		if _, err := q.Add(ctx, "warm", nil, &fila.JobOptions{RemoveOnComplete: fila.RemoveJob}); err != nil {
			return nil, 0, err
		}
		base := usage(q)
		err := b.bulk(ctx, q, groups, 1000, func(i int) *fila.JobOptions {
			o := &fila.JobOptions{RemoveOnComplete: fila.RemoveJob}
			if grouped {
				o.Group = fmt.Sprintf("+1555%07d", i)
			}
			return o
		})
		return q, usage(q) - base, err
	}
	plain, plainBytes, err := fill(false)
	if err != nil {
		return result{}, err
	}
	_ = plain.Obliterate(ctx, true)
	q, groupedBytes, err := fill(true)
	if err != nil {
		return result{}, err
	}
	var done atomic.Int64
	all := make(chan struct{})
	stop, err := b.runWorkers(q, 1, fila.WorkerOptions{Concurrency: 50, OnFinished: func(*fila.Job, error) {
		if done.Add(1) == groups+1 {
			close(all)
		}
	}}, func(context.Context, *fila.Job) (any, error) { return nil, nil })
	if err != nil {
		return result{}, err
	}
	<-all
	stop()
	r := result{Scenario: "groups", Variant: "memory per group", Concurrency: 50, Jobs: groups}
	empty := usage(q)
	b.finish(ctx, q, &r, snapshot{}, snapshot{})
	r.Extra = map[string]float64{
		"bytes_per_grouped_waiting_job":   groupedBytes / groups,
		"bytes_per_ungrouped_waiting_job": plainBytes / groups,
		"bytes_left_after_groups_emptied": empty,
	}
	return r, nil
}
