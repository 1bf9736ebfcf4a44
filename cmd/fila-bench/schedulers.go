package main

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fila-go/fila"
	"github.com/fila-go/fila/backend"
)

// schedulers: -sched-n (default 10,000) job schedulers on one queue at Every = 1 min,
// anchored (Start) at offsets spread evenly over the minute, so ~167 ticks
// a second come due; one worker at concurrency 20. The scenario measures
// the second round of ticks, whose jobs the worker's advances added (the
// first round was added by the upserts): how late each tick's job started
// after its tick, by the backend's clock (ProcessedAt - tick), and, on
// Redis, the memory one scheduler takes (its record and its pending
// delayed job).
func (b *bench) schedulers(ctx context.Context) (result, error) {
	q := b.queue()
	const every = time.Minute
	n := b.cfg.schedN
	// The worker runs from the start; the first ticks leave the upserts
	// 75s (10,000 took 50s on a loaded 2-core machine).
	base := time.Now().Add(75 * time.Second).Truncate(time.Second)
	round2 := base.Add(every)
	var m0 int64
	if b.admin != nil {
		m0 = usedMemory(ctx, b.admin)
	}
	late := make([]time.Duration, 0, n)
	var mu sync.Mutex
	all := make(chan struct{})
	stop, err := b.runWorkers(q, 1, fila.WorkerOptions{Concurrency: 20}, func(_ context.Context, job *fila.Job) (any, error) {
		_, tick, ok := backend.ParseSchedulerJobID(job.ID)
		if !ok || tick.Before(round2) || !tick.Before(round2.Add(every)) {
			return nil, nil
		}
		mu.Lock()
		late = append(late, job.ProcessedAt.Sub(tick))
		if len(late) == n {
			close(all)
		}
		mu.Unlock()
		return nil, nil
	})
	if err != nil {
		return result{}, err
	}
	upStart := time.Now()
	errs := make(chan error, 16)
	var next atomic.Int64
	var wg sync.WaitGroup
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := int(next.Add(1)) - 1; i < n; i = int(next.Add(1)) - 1 {
				s := fila.Schedule{Every: every, Start: base.Add(time.Duration(i) * every / time.Duration(n))}
				if _, err := q.UpsertScheduler(ctx, fmt.Sprintf("s%05d", i), s, "tick", nil,
					&fila.JobOptions{RemoveOnComplete: fila.RemoveJob}); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	select {
	case err := <-errs:
		stop()
		return result{}, err
	default:
	}
	upsertSecs := time.Since(upStart).Seconds()
	var perScheduler float64
	if b.admin != nil {
		perScheduler = float64(usedMemory(ctx, b.admin)-m0) / float64(n)
	}
	if time.Now().After(base) {
		stop()
		return result{}, fmt.Errorf("upserting %d schedulers took %.1fs, past the first tick", n, upsertSecs)
	}

	a := take(ctx, b.admin)
	select {
	case <-all:
	case <-time.After(time.Until(round2.Add(2 * every))):
		stop()
		mu.Lock()
		defer mu.Unlock()
		return result{}, fmt.Errorf("only %d of %d ticks of the measured minute ran", len(late), n)
	}
	z := take(ctx, b.admin)
	stop()
	r := result{Scenario: "schedulers", Variant: fmt.Sprintf("%d at Every=1m, one minute of ticks", n), Concurrency: 20, Jobs: n}
	mu.Lock()
	r.lateness(late, late)
	mu.Unlock()
	delete(r.Extra, "avg_late_vs_asked_ms")
	r.Extra["upsert_seconds"] = upsertSecs
	if b.admin != nil {
		r.Extra["redis_bytes_per_scheduler"] = perScheduler
	}
	b.finish(ctx, q, &r, a, z) // its Obliterate removes the schedulers too
	r.JobsPerSec = float64(n) / every.Seconds()
	return r, nil
}
