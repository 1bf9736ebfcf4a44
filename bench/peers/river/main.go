// River throughput/latency bench, the peer fila-bench -peers -postgres runs.
// Talks only to the PostgreSQL server of $PG_URL; it creates a throwaway
// schema there (river_bench_<pid>), migrates River into it and drops it at
// the end.
//
// Usage: go build -o riverbench . && PG_URL=postgres://... ./riverbench [case ...]
// cases: add bulk proc lat (default: all)
// Env: PG_URL (required), N (20000), RUNS (3), CONC (1,10,100), LAT_N (1000),
// LAT_GAP_MS (5), PROC_MAX_S (60: a process case stops there and reports
// the rate of the jobs completed so far), OUT_JSON.
//
// River is run twice for process and latency: with its defaults (a fetch
// at most every FetchCooldown, 100 ms; a poll every FetchPollInterval, 1 s;
// LISTEN/NOTIFY wakes the producer) and tuned (FetchCooldown 1 ms, its
// minimum). Completed jobs stay in River's table (its default retention,
// 24 h, deleted later by its cleaner).
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivermigrate"
)

const riverVersion = "v0.51.2"

var (
	N        = envInt("N", 20000)
	RUNS     = envInt("RUNS", 3)
	LATN     = envInt("LAT_N", 1000)
	LATGAP   = time.Duration(envInt("LAT_GAP_MS", 5)) * time.Millisecond
	PROCMAX  = time.Duration(envInt("PROC_MAX_S", 60)) * time.Second
	schema   = fmt.Sprintf("river_bench_%d", os.Getpid())
	results  = map[string]any{}
	qseq     int
	pool     *pgxpool.Pool
	logger   = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError}))
	configs  = []tuning{{"default", 0}, {"cooldown1ms", time.Millisecond}}
	payloadX = strings.Repeat("x", 80)
)

type tuning struct {
	name     string
	cooldown time.Duration // 0: River's default
}

func envInt(k string, d int) int {
	if v, err := strconv.Atoi(os.Getenv(k)); err == nil {
		return v
	}
	return d
}

// NoopArgs is the job: an index (the latency case's key) and a payload of
// about 100 bytes of JSON, like fila-bench's.
type NoopArgs struct {
	I int    `json:"i"`
	P string `json:"p"`
}

func (NoopArgs) Kind() string { return "noop" }

type noopWorker struct {
	river.WorkerDefaults[NoopArgs]
	onStart func(i int)
}

func (w *noopWorker) Work(ctx context.Context, job *river.Job[NoopArgs]) error {
	if w.onStart != nil {
		w.onStart(job.Args.I)
	}
	return nil
}

func freshQueue(tag string) string {
	qseq++
	return fmt.Sprintf("%s_%d", tag, qseq)
}

func newClient(queue string, conc int, t tuning, onStart func(int)) *river.Client[pgx.Tx] {
	workers := river.NewWorkers()
	river.AddWorker(workers, &noopWorker{onStart: onStart})
	cfg := &river.Config{Schema: schema, Workers: workers, Logger: logger}
	cfg.FetchCooldown = t.cooldown
	if queue != "" {
		cfg.Queues = map[string]river.QueueConfig{queue: {MaxWorkers: conc}}
	}
	c, err := river.NewClient(riverpgxv5.New(pool), cfg)
	if err != nil {
		panic(err)
	}
	return c
}

func args(i int) NoopArgs { return NoopArgs{I: i, P: payloadX} }

func truncate(ctx context.Context) {
	if _, err := pool.Exec(ctx, "TRUNCATE "+schema+".river_job"); err != nil {
		panic(err)
	}
}

// (a) sequential Insert
func caseAdd(ctx context.Context) float64 {
	q := freshQueue("add")
	c := newClient("", 0, tuning{}, nil)
	opts := &river.InsertOpts{Queue: q}
	if _, err := c.Insert(ctx, args(-1), opts); err != nil { // warm-up
		panic(err)
	}
	t0 := time.Now()
	for i := 0; i < N; i++ {
		if _, err := c.Insert(ctx, args(i), opts); err != nil {
			panic(err)
		}
	}
	return float64(N) / time.Since(t0).Seconds()
}

func insertMany(ctx context.Context, c *river.Client[pgx.Tx], q string, n int) {
	for i := 0; i < n; i += 1000 {
		chunk := make([]river.InsertManyParams, 0, 1000)
		for j := i; j < min(i+1000, n); j++ {
			chunk = append(chunk, river.InsertManyParams{Args: args(j), InsertOpts: &river.InsertOpts{Queue: q}})
		}
		if _, err := c.InsertMany(ctx, chunk); err != nil {
			panic(err)
		}
	}
}

// (b) InsertMany in chunks of 1,000
func caseBulk(ctx context.Context) float64 {
	q := freshQueue("bulk")
	c := newClient("", 0, tuning{}, nil)
	insertMany(ctx, c, "warm", 1)
	t0 := time.Now()
	insertMany(ctx, c, q, N)
	return float64(N) / time.Since(t0).Seconds()
}

// (c) process N pre-inserted no-op jobs at concurrency conc: timed from
// Start to the N-th completion event (River reports a job completed once
// its completer has written the completion). Stops at PROC_MAX_S.
func caseProc(ctx context.Context, conc int, t tuning) (rate float64, done int) {
	q := freshQueue(fmt.Sprintf("proc_c%d", conc))
	ins := newClient("", 0, tuning{}, nil)
	insertMany(ctx, ins, q, N)
	c := newClient(q, conc, t, nil)
	events, cancel := c.SubscribeConfig(&river.SubscribeConfig{ChanSize: N + 1000, Kinds: []river.EventKind{river.EventKindJobCompleted}})
	defer cancel()
	t0 := time.Now()
	if err := c.Start(ctx); err != nil {
		panic(err)
	}
	deadline := time.After(PROCMAX)
loop:
	for done < N {
		select {
		case ev := <-events:
			if ev.Job.Queue == q {
				done++
			}
		case <-deadline:
			break loop
		}
	}
	el := time.Since(t0)
	stopCtx, stop := context.WithTimeout(ctx, 30*time.Second)
	defer stop()
	if err := c.Stop(stopCtx); err != nil {
		panic(err)
	}
	return float64(done) / el.Seconds(), done
}

type latRes struct{ start50, start99, done50, done99 float64 }

// (d) an idle client (concurrency 10); LAT_N jobs inserted LAT_GAP apart;
// insert-call start to Work entry, and to the completion event.
func caseLat(ctx context.Context, t tuning) latRes {
	q := freshQueue("lat")
	sent := make([]time.Time, LATN)
	toStart := make([]float64, LATN)
	toDone := make([]float64, LATN)
	var mu sync.Mutex
	c := newClient(q, 10, t, func(i int) {
		now := time.Now()
		mu.Lock()
		toStart[i] = float64(now.Sub(sent[i]).Microseconds()) / 1000
		mu.Unlock()
	})
	events, cancel := c.SubscribeConfig(&river.SubscribeConfig{ChanSize: LATN + 1000, Kinds: []river.EventKind{river.EventKindJobCompleted}})
	defer cancel()
	if err := c.Start(ctx); err != nil {
		panic(err)
	}
	ins := newClient("", 0, t, nil) // the inserter's FetchCooldown limits its insert notifications too
	if _, err := ins.Insert(ctx, args(0), &river.InsertOpts{Queue: "warm"}); err != nil {
		panic(err)
	}
	time.Sleep(2 * time.Second) // let it go idle
	var failed atomic.Value
	t0 := time.Now()
	for i := 0; i < LATN; i++ {
		if d := time.Until(t0.Add(time.Duration(i) * LATGAP)); d > 0 {
			time.Sleep(d)
		}
		mu.Lock()
		sent[i] = time.Now()
		mu.Unlock()
		go func(i int) { // not awaited: keep the cadence (like the other peers)
			if _, err := ins.Insert(ctx, args(i), &river.InsertOpts{Queue: q}); err != nil {
				failed.Store(err)
			}
		}(i)
	}
	for got := 0; got < LATN; {
		select {
		case ev := <-events:
			now := time.Now()
			if ev.Job.Queue != q {
				continue
			}
			var a NoopArgs
			if err := json.Unmarshal(ev.Job.EncodedArgs, &a); err != nil {
				panic(err)
			}
			mu.Lock()
			toDone[a.I] = float64(now.Sub(sent[a.I]).Microseconds()) / 1000
			mu.Unlock()
			got++
		case <-time.After(60 * time.Second):
			panic(fmt.Sprintf("latency: no completion in 60 s (insert error: %v)", failed.Load()))
		}
	}
	stopCtx, stop := context.WithTimeout(ctx, 30*time.Second)
	defer stop()
	if err := c.Stop(stopCtx); err != nil {
		panic(err)
	}
	mu.Lock()
	defer mu.Unlock()
	return latRes{pct(toStart, 50), pct(toStart, 99), pct(toDone, 50), pct(toDone, 99)}
}

func median(a []float64) float64 {
	s := append([]float64(nil), a...)
	sort.Float64s(s)
	return s[len(s)/2]
}

func pct(a []float64, p float64) float64 {
	s := append([]float64(nil), a...)
	sort.Float64s(s)
	i := int(p / 100 * float64(len(s)))
	if i >= len(s) {
		i = len(s) - 1
	}
	return s[i]
}

func rec(key string, vals []float64, unit string, extra map[string]float64) {
	m := map[string]any{"median": median(vals), "runs": vals, "unit": unit}
	ex := ""
	for k, v := range extra {
		m[k] = v
		ex += fmt.Sprintf(" %s=%.0f", k, v)
	}
	results[key] = m
	fmt.Printf("%-44s median %9.2f %s  runs=%.2f%s\n", key, median(vals), unit, vals, ex)
}

func setup(ctx context.Context) {
	if _, err := pool.Exec(ctx, "CREATE SCHEMA "+schema); err != nil {
		panic(err)
	}
	m, err := rivermigrate.New(riverpgxv5.New(pool), &rivermigrate.Config{Schema: schema, Logger: logger})
	if err != nil {
		panic(err)
	}
	if _, err := m.Migrate(ctx, rivermigrate.DirectionUp, nil); err != nil {
		panic(err)
	}
}

func main() {
	url := os.Getenv("PG_URL")
	if url == "" {
		fmt.Fprintln(os.Stderr, "riverbench: set PG_URL to a PostgreSQL URL (it creates and drops a schema there)")
		os.Exit(2)
	}
	want := func(c string) bool {
		if len(os.Args) == 1 {
			return true
		}
		for _, a := range os.Args[1:] {
			if a == c {
				return true
			}
		}
		return false
	}
	var concs []int
	for _, s := range strings.Split(os.Getenv("CONC"), ",") {
		if c, err := strconv.Atoi(strings.TrimSpace(s)); err == nil && c > 0 {
			concs = append(concs, c)
		}
	}
	if len(concs) == 0 {
		concs = []int{1, 10, 100}
	}
	ctx := context.Background()
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		panic(err)
	}
	if !strings.Contains(url, "pool_max_conns") {
		cfg.MaxConns = 120 // like fila-bench's pool for the postgres backend
	}
	if pool, err = pgxpool.NewWithConfig(ctx, cfg); err != nil {
		panic(err)
	}
	defer pool.Close()
	setup(ctx)
	defer func() {
		if _, err := pool.Exec(context.Background(), "DROP SCHEMA "+schema+" CASCADE"); err != nil {
			fmt.Fprintln(os.Stderr, "riverbench: drop schema:", err)
		}
	}()
	if want("add") {
		var v []float64
		for r := 0; r < RUNS; r++ {
			v = append(v, caseAdd(ctx))
			truncate(ctx)
		}
		rec("a_insert_sequential", v, "jobs/s", nil)
	}
	if want("bulk") {
		var v []float64
		for r := 0; r < RUNS; r++ {
			v = append(v, caseBulk(ctx))
			truncate(ctx)
		}
		rec("b_insertMany_1000", v, "jobs/s", nil)
	}
	if want("proc") {
		for _, t := range configs {
			for _, conc := range concs {
				var v, d []float64
				for r := 0; r < RUNS; r++ {
					rate, done := caseProc(ctx, conc, t)
					v, d = append(v, rate), append(d, float64(done))
					truncate(ctx)
				}
				rec(fmt.Sprintf("c_proc_c%d_%s", conc, t.name), v, "jobs/s", map[string]float64{"jobs_done": median(d)})
			}
		}
	}
	if want("lat") {
		for _, t := range configs {
			var s50, s99, d50, d99 []float64
			for r := 0; r < RUNS; r++ {
				l := caseLat(ctx, t)
				s50, s99, d50, d99 = append(s50, l.start50), append(s99, l.start99), append(d50, l.done50), append(d99, l.done99)
				truncate(ctx)
			}
			rec("d_latency_p50_start_"+t.name, s50, "ms", nil)
			rec("d_latency_p99_start_"+t.name, s99, "ms", nil)
			rec("d_latency_p50_completed_"+t.name, d50, "ms", nil)
			rec("d_latency_p99_completed_"+t.name, d99, "ms", nil)
		}
	}
	out := os.Getenv("OUT_JSON")
	if out == "" {
		out = fmt.Sprintf("results-%d.json", time.Now().Unix())
	}
	b, _ := json.MarshalIndent(map[string]any{"river": riverVersion, "N": N, "RUNS": RUNS, "results": results}, "", "  ")
	if err := os.WriteFile(out, b, 0o644); err != nil {
		panic(err)
	}
	fmt.Println("wrote", out)
}
