package main

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fila-go/fila"
)

// The timing scenarios: how soon a job starts after its add, or after it
// fell due.

// latency: an idle worker (concurrency 10); jobs added lat-gap apart;
// add-call-start to handler start, and to the recorded completion.
func (b *bench) latency(ctx context.Context) (result, error) {
	q := b.queue()
	n := b.cfg.latN
	sent := make([]time.Time, n)
	toStart := make([]time.Duration, n)
	toDone := make([]time.Duration, n)
	var mu sync.Mutex
	var done atomic.Int64
	all := make(chan struct{})
	wopts := fila.WorkerOptions{Concurrency: 10, OnFinished: func(job *fila.Job, _ error) {
		i := indexOf(job)
		mu.Lock()
		toDone[i] = time.Since(sent[i])
		mu.Unlock()
		if done.Add(1) == int64(n) {
			close(all)
		}
	}}
	stop, err := b.runWorkers(q, 1, wopts, func(_ context.Context, job *fila.Job) (any, error) {
		i := indexOf(job)
		mu.Lock()
		toStart[i] = time.Since(sent[i])
		mu.Unlock()
		return nil, nil
	})
	if err != nil {
		return result{}, err
	}
	time.Sleep(500 * time.Millisecond) // let it go idle, blocked in its claim
	a := take(ctx, b.admin)
	t0 := time.Now()
	for i := range n {
		if d := time.Until(t0.Add(time.Duration(i) * b.cfg.latGap)); d > 0 {
			time.Sleep(d)
		}
		mu.Lock()
		sent[i] = time.Now()
		mu.Unlock()
		if _, err := q.Add(ctx, "job", b.payloadFor(i), nil); err != nil {
			stop()
			return result{}, err
		}
	}
	<-all
	z := take(ctx, b.admin)
	stop()
	r := result{Scenario: "latency", Variant: fmt.Sprintf("idle worker, %s apart", b.cfg.latGap), Concurrency: 10, Jobs: n}
	p50, p95, p99, mx := percentiles(toDone)
	r.P50ms, r.P95ms, r.P99ms, r.MaxMs = &p50, &p95, &p99, &mx
	s50, s95, s99, smx := percentiles(toStart)
	r.Extra = map[string]float64{"start_p50_ms": s50, "start_p95_ms": s95, "start_p99_ms": s99, "start_max_ms": smx}
	b.finish(ctx, q, &r, a, z)
	return r, nil
}

// dueOf is when a delayed job became due: its add time, as the backend
// recorded it, plus its delay.
func dueOf(job *fila.Job) time.Time { return job.AddedAt.Add(job.Options.Delay) }

// delayed: 10,000 jobs due at the same moment; how late they start.
func (b *bench) delayed(ctx context.Context) (result, error) {
	q := b.queue()
	const n = 10000
	lead := 3 * time.Second // time to add them all before they are due
	due := time.Now().Add(lead)
	late, asked, all, stop, err := b.lateWorker(q, 100, n, func(int) time.Time { return due })
	if err != nil {
		return result{}, err
	}
	a := take(ctx, b.admin)
	err = b.bulk(ctx, q, n, 1000, func(int) *fila.JobOptions {
		return &fila.JobOptions{Delay: time.Until(due), RemoveOnComplete: fila.RemoveJob}
	})
	if err != nil {
		stop()
		return result{}, err
	}
	if time.Now().After(due) {
		stop()
		return result{}, fmt.Errorf("adding took longer than the %s lead", lead)
	}
	<-all
	z := take(ctx, b.admin)
	stop()
	r := result{Scenario: "delayed", Variant: "10000 due at once", Concurrency: 100, Jobs: n}
	r.lateness(late, asked)
	b.finish(ctx, q, &r, a, z)
	r.JobsPerSec = 0 // the timed span includes the lead; throughput is not this scenario's figure
	return r, nil
}

// delayedSpread: 500 jobs due one by one, 10ms apart, added up front to an
// idle worker: how late each starts. This is the timing of delays and
// retries, without the queueing delay of a flood.
func (b *bench) delayedSpread(ctx context.Context) (result, error) {
	q := b.queue()
	const n = 500
	gap := 10 * time.Millisecond
	first := time.Now().Add(time.Second)
	late, asked, all, stop, err := b.lateWorker(q, 10, n, func(i int) time.Time { return first.Add(time.Duration(i) * gap) })
	if err != nil {
		return result{}, err
	}
	a := take(ctx, b.admin)
	err = b.bulk(ctx, q, n, 500, func(i int) *fila.JobOptions {
		return &fila.JobOptions{Delay: time.Until(first.Add(time.Duration(i) * gap)), RemoveOnComplete: fila.RemoveJob}
	})
	if err != nil {
		stop()
		return result{}, err
	}
	<-all
	z := take(ctx, b.admin)
	stop()
	r := result{Scenario: "delayed", Variant: "500 due 10ms apart", Concurrency: 10, Jobs: n}
	r.lateness(late, asked)
	b.finish(ctx, q, &r, a, z)
	r.JobsPerSec = 0
	return r, nil
}

// lateWorker runs a worker of concurrency c on q for n delayed jobs
// (indexOf 0..n-1) that records how late job i started after its due time
// (late) and after want(i), the time it was asked for (asked); all is
// closed once n jobs ran.
func (b *bench) lateWorker(q *fila.Queue, c, n int, want func(i int) time.Time) (late, asked []time.Duration, all chan struct{}, stop func(), err error) {
	late, asked = make([]time.Duration, n), make([]time.Duration, n)
	var done atomic.Int64
	all = make(chan struct{})
	stop, err = b.runWorkers(q, 1, fila.WorkerOptions{Concurrency: c}, func(_ context.Context, job *fila.Job) (any, error) {
		i := indexOf(job)
		late[i], asked[i] = time.Since(dueOf(job)), time.Since(want(i))
		if done.Add(1) == int64(n) {
			close(all)
		}
		return nil, nil
	})
	return late, asked, all, stop, err
}

// lateness fills the percentiles, the average and the early starts of how
// late each delayed job started after its due time (dueOf), and the
// average against the time the bench asked for (its clock when it built
// the job's Delay), which adds the add's own time: the bulk add of a
// delayed scenario spans several script calls, each reading the server's
// time when it runs, so later jobs become due a few ms after the time
// asked.
func (r *result) lateness(late, asked []time.Duration) {
	early := 0
	for _, l := range late {
		if l < 0 {
			early++
		}
	}
	p50, p95, p99, mx := percentiles(late)
	r.P50ms, r.P95ms, r.P99ms, r.MaxMs = &p50, &p95, &p99, &mx
	r.Extra = map[string]float64{"avg_late_ms": avgMs(late), "avg_late_vs_asked_ms": avgMs(asked), "started_early": float64(early)}
}

func avgMs(ds []time.Duration) float64 {
	var sum time.Duration
	for _, d := range ds {
		sum += d
	}
	return float64(sum) / float64(len(ds)) / float64(time.Millisecond)
}
