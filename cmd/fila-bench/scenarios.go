package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"

	"github.com/fila-go/fila"
	"github.com/fila-go/fila/backend"
)

type bench struct {
	cfg   config
	be    backend.Backend
	admin *redis.Client // nil for the memory and postgres backends
	pg    *pgxpool.Pool // set for the postgres backend
	name  string
	seq   int
}

func (b *bench) queue() *fila.Queue {
	b.seq++
	return fila.NewQueue(b.be, fmt.Sprintf("bench-%d-%d-%d", os.Getpid(), time.Now().UnixNano()%1e9, b.seq),
		fila.QueueOptions{MaxDataSize: -1})
}

// payloadFor is a JSON document of about cfg.payload bytes carrying i.
func (b *bench) payloadFor(i int) []byte {
	head := `{"i":` + strconv.Itoa(i) + `,"p":"`
	pad := max(b.cfg.payload-len(head)-2, 0)
	return []byte(head + strings.Repeat("x", pad) + `"}`)
}

func indexOf(job *fila.Job) int {
	var v struct {
		I int `json:"i"`
	}
	_ = json.Unmarshal(job.Data, &v)
	return v.I
}

func (b *bench) runAll(ctx context.Context) ([]result, error) {
	var out []result
	add := func(r result, err error) error {
		if err != nil {
			return err
		}
		r.Backend = b.name
		out = append(out, r)
		return nil
	}
	type step struct {
		scenario string
		run      func() (result, error)
	}
	var steps []step
	s := b.cfg.scenarios
	if s["add"] {
		steps = append(steps, step{"add", func() (result, error) { return b.median(func() (result, error) { return b.add(ctx, 1) }) }},
			step{"add", func() (result, error) {
				return b.median(func() (result, error) { return b.add(ctx, b.cfg.producers) })
			}})
	}
	if s["add-bulk"] {
		for _, size := range []int{50, 1000} {
			steps = append(steps, step{"add-bulk", func() (result, error) {
				return b.median(func() (result, error) { return b.addBulk(ctx, size) })
			}})
		}
	}
	if s["process"] {
		for _, keep := range []fila.Retention{fila.RemoveJob, fila.KeepLast(1000)} {
			for _, p := range b.cfg.prefetch {
				for _, c := range b.cfg.conc {
					steps = append(steps, step{"process", func() (result, error) {
						return b.median(func() (result, error) { return b.process(ctx, c, p, keep) })
					}})
				}
			}
		}
	}
	if s["latency"] {
		steps = append(steps, step{"latency", func() (result, error) { return b.median(func() (result, error) { return b.latency(ctx) }) }})
	}
	if s["delayed"] {
		steps = append(steps, step{"delayed", func() (result, error) { return b.delayed(ctx) }},
			step{"delayed", func() (result, error) { return b.delayedSpread(ctx) }})
	}
	if s["limiter"] {
		steps = append(steps, step{"limiter", func() (result, error) { return b.limiter(ctx) }})
	}
	if s["groups"] {
		for _, c := range b.cfg.conc {
			steps = append(steps, step{"groups", func() (result, error) {
				return b.median(func() (result, error) { return b.groupsThroughput(ctx, c) })
			}})
		}
		for _, big := range []int{0, b.cfg.n / 2} {
			steps = append(steps, step{"groups", func() (result, error) { return b.groupsFairness(ctx, big) }})
		}
		if b.admin != nil {
			steps = append(steps, step{"groups", func() (result, error) { return b.groupsMemory(ctx) }})
		}
	}
	if s["memory"] && b.pg != nil {
		steps = append(steps, step{"memory", func() (result, error) { return b.pgStorage(ctx) }})
	}
	if s["memory"] && b.admin != nil {
		steps = append(steps, step{"memory", func() (result, error) { return b.memory(ctx) }})
	}
	if s["schedulers"] {
		steps = append(steps, step{"schedulers", func() (result, error) { return b.schedulers(ctx) }})
	}
	if s["idle"] && b.admin != nil {
		steps = append(steps, step{"idle", func() (result, error) { return b.idleCost(ctx) }})
	}
	for _, st := range steps {
		resetPeakRSS()
		if err := add(st.run()); err != nil {
			return nil, fmt.Errorf("%s on %s: %w", st.scenario, b.name, err)
		}
	}
	for _, spread := range []bool{false, true} {
		if !s["flows"] {
			break
		}
		resetPeakRSS()
		rs, err := b.flows(ctx, spread)
		switch {
		case errors.Is(err, errSkipped):
			fmt.Fprintf(os.Stderr, "fila-bench: flows on %s: %v\n", b.name, err)
		case err != nil:
			return nil, fmt.Errorf("flows on %s: %w", b.name, err)
		}
		for _, r := range rs {
			_ = add(r, nil)
		}
	}
	return out, nil
}

func (b *bench) finish(ctx context.Context, q *fila.Queue, r *result, a, z snapshot) {
	r.delta(a, z)
	if r.Seconds > 0 {
		r.JobsPerSec = float64(r.Jobs) / r.Seconds
	}
	_ = q.Obliterate(ctx, true)
}

// add: N single adds, sequential (producers 1) or from that many goroutines.
func (b *bench) add(ctx context.Context, producers int) (result, error) {
	q := b.queue()
	if _, err := q.Add(ctx, "warm", b.payloadFor(-1), nil); err != nil {
		return result{}, err
	}
	n := b.cfg.n
	var next atomic.Int64
	errc := make(chan error, producers)
	a := take(ctx, b.admin)
	var wg sync.WaitGroup
	for range producers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := int(next.Add(1)) - 1; i < n; i = int(next.Add(1)) - 1 {
				if _, err := q.Add(ctx, "job", b.payloadFor(i), nil); err != nil {
					errc <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	z := take(ctx, b.admin)
	close(errc)
	if err := <-errc; err != nil {
		return result{}, err
	}
	r := result{Scenario: "add", Variant: "sequential", Concurrency: producers, Jobs: n}
	if producers > 1 {
		r.Variant = fmt.Sprintf("%d producers", producers)
	}
	b.finish(ctx, q, &r, a, z)
	return r, nil
}

// addBulk: N jobs in bulks of size.
func (b *bench) addBulk(ctx context.Context, size int) (result, error) {
	q := b.queue()
	if _, err := q.Add(ctx, "warm", b.payloadFor(-1), nil); err != nil {
		return result{}, err
	}
	n := b.cfg.n
	a := take(ctx, b.admin)
	if err := b.bulk(ctx, q, n, size, nil); err != nil {
		return result{}, err
	}
	z := take(ctx, b.admin)
	r := result{Scenario: "add-bulk", Variant: fmt.Sprintf("bulks of %d", size), Concurrency: 1, Jobs: n}
	b.finish(ctx, q, &r, a, z)
	return r, nil
}

func (b *bench) bulk(ctx context.Context, q *fila.Queue, n, size int, opts func(i int) *fila.JobOptions) error {
	for i := 0; i < n; i += size {
		chunk := make([]fila.BulkJob, 0, size)
		for j := i; j < min(n, i+size); j++ {
			var o *fila.JobOptions
			if opts != nil {
				o = opts(j)
			}
			chunk = append(chunk, fila.BulkJob{Name: "job", Data: b.payloadFor(j), Options: o})
		}
		if _, err := q.AddBulk(ctx, chunk); err != nil {
			return err
		}
	}
	return nil
}

// runWorkers starts count workers on q with handler and returns a stop
// function that closes them all. A worker that stops on its own (its
// backend failed for good) ends the benchmark: the scenario would wait
// forever for jobs nobody runs.
// runNoops runs n jobs already in q through one worker with no-op handlers
// (wopts' OnFinished is set here) and returns the server's stats before and
// after.
func (b *bench) runNoops(ctx context.Context, q *fila.Queue, n int, wopts fila.WorkerOptions) (a, z snapshot, err error) {
	var done atomic.Int64
	all := make(chan struct{})
	wopts.OnFinished = func(*fila.Job, error) {
		if done.Add(1) == int64(n) {
			close(all)
		}
	}
	a = take(ctx, b.admin)
	stop, err := b.runWorkers(q, 1, wopts, func(context.Context, *fila.Job) (any, error) { return nil, nil })
	if err != nil {
		return a, z, err
	}
	<-all
	z = take(ctx, b.admin)
	stop()
	return a, z, nil
}

func (b *bench) runWorkers(q *fila.Queue, count int, opts fila.WorkerOptions, h fila.Processor) (func(), error) {
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	var ws []*fila.Worker
	for range count {
		w, err := fila.NewWorker(b.be, q.Name(), h, opts)
		if err != nil {
			cancel()
			return nil, err
		}
		ws = append(ws, w)
	}
	for _, w := range ws {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := w.Run(ctx); err != nil {
				fmt.Fprintln(os.Stderr, "fila-bench: worker stopped:", err)
				os.Exit(1)
			}
		}()
	}
	return func() {
		cctx, ccancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer ccancel()
		for _, w := range ws {
			_ = w.Close(cctx)
		}
		cancel()
		wg.Wait()
	}, nil
}

// process: N pre-added no-op jobs at concurrency c (and prefetch p), timed
// from the worker's start to the N-th completion.
func (b *bench) process(ctx context.Context, c, p int, keep fila.Retention) (result, error) {
	q := b.queue()
	n := b.cfg.n
	opts := &fila.JobOptions{RemoveOnComplete: keep}
	if err := b.bulk(ctx, q, n, 1000, func(int) *fila.JobOptions { return opts }); err != nil {
		return result{}, err
	}
	a, z, err := b.runNoops(ctx, q, n, fila.WorkerOptions{Concurrency: c, Prefetch: p})
	if err != nil {
		return result{}, err
	}
	variant := "remove on complete"
	if !keep.Remove {
		variant = fmt.Sprintf("keep last %d", keep.KeepLast)
	}
	switch {
	case p > 0:
		variant += fmt.Sprintf(", prefetch %d", p)
	case p == fila.NoPrefetch:
		variant += ", no prefetch"
	}
	r := result{Scenario: "process", Variant: variant, Concurrency: c, Prefetch: p, Jobs: n}
	b.finish(ctx, q, &r, a, z)
	return r, nil
}

// limiter: Limit{1000, 1s} over 4 workers; the achieved rate and the most
// starts in any 1-second window, by the backend's start times.
func (b *bench) limiter(ctx context.Context) (result, error) {
	q := b.queue()
	n := min(b.cfg.n, 5000)
	if err := b.bulk(ctx, q, n, 1000, func(int) *fila.JobOptions { return &fila.JobOptions{RemoveOnComplete: fila.RemoveJob} }); err != nil {
		return result{}, err
	}
	var mu sync.Mutex
	starts := make([]time.Time, 0, n)
	var done atomic.Int64
	all := make(chan struct{})
	a := take(ctx, b.admin)
	stop, err := b.runWorkers(q, 4, fila.WorkerOptions{Concurrency: 25, Limiter: &fila.Limit{Max: 1000, Per: time.Second}},
		func(_ context.Context, job *fila.Job) (any, error) {
			mu.Lock()
			starts = append(starts, job.ProcessedAt)
			mu.Unlock()
			if done.Add(1) == int64(n) {
				close(all)
			}
			return nil, nil
		})
	if err != nil {
		return result{}, err
	}
	<-all
	z := take(ctx, b.admin)
	stop()
	sort.Slice(starts, func(i, j int) bool { return starts[i].Before(starts[j]) })
	worst := 0
	for i, j := 0, 0; i < len(starts); i++ {
		for j < len(starts) && starts[j].Sub(starts[i]) < time.Second {
			j++
		}
		worst = max(worst, j-i)
	}
	r := result{Scenario: "limiter", Variant: "1000/s, 4 workers", Concurrency: 100, Jobs: n}
	b.finish(ctx, q, &r, a, z)
	span := starts[len(starts)-1].Sub(starts[0]).Seconds()
	r.Extra = map[string]float64{"achieved_per_s": float64(n-1) / span, "worst_1s_window": float64(worst)}
	return r, nil
}

// memory: Redis bytes per waiting job with a 100-byte JSON payload.
func (b *bench) memory(ctx context.Context) (result, error) {
	q := b.queue()
	if _, err := q.Add(ctx, "warm", b.payloadFor(-1), nil); err != nil {
		return result{}, err
	}
	if _, err := q.Drain(ctx, true); err != nil {
		return result{}, err
	}
	const n = 20000
	payload := []byte(`{"p":"` + strings.Repeat("x", 92) + `"}`) // the JSON mem_idle.js stores
	m0 := usedMemory(ctx, b.admin)
	a := take(ctx, b.admin)
	for i := 0; i < n; i += 1000 {
		chunk := make([]fila.BulkJob, 1000)
		for j := range chunk {
			chunk[j] = fila.BulkJob{Name: "job", Data: payload}
		}
		if _, err := q.AddBulk(ctx, chunk); err != nil {
			return result{}, err
		}
	}
	z := take(ctx, b.admin)
	m1 := usedMemory(ctx, b.admin)
	r := result{Scenario: "memory", Variant: "waiting jobs, 100-byte payload", Concurrency: 1, Jobs: n}
	b.finish(ctx, q, &r, a, z)
	r.Extra = map[string]float64{"redis_bytes_per_job": float64(m1-m0) / n}
	return r, nil
}

// idleCost: commands per minute sent by one idle worker with concurrency 10,
// counted like bench/peers/bullmq/mem_idle.js (every commandstats call,
// minus the bench's own INFO).
func (b *bench) idleCost(ctx context.Context) (result, error) {
	q := b.queue()
	stop, err := b.runWorkers(q, 1, fila.WorkerOptions{Concurrency: 10}, func(context.Context, *fila.Job) (any, error) { return nil, nil })
	if err != nil {
		return result{}, err
	}
	time.Sleep(2 * time.Second)
	a := take(ctx, b.admin)
	time.Sleep(b.cfg.idle)
	z := take(ctx, b.admin)
	stop()
	r := result{Scenario: "idle", Variant: fmt.Sprintf("concurrency 10, %s", b.cfg.idle), Concurrency: 10, Jobs: 1}
	b.finish(ctx, q, &r, a, z)
	r.Extra = map[string]float64{"commands_per_min": r.RedisCmdsPerJob * 60 / b.cfg.idle.Seconds()}
	r.JobsPerSec = 0
	return r, nil
}
