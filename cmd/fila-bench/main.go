// Command fila-bench measures fila's throughput, latency and load on Redis,
// in the scenarios of the BullMQ and asynq programs under bench/peers, so
// the figures compare in one run on one machine.
//
//	fila-bench                               # memory backend only
//	fila-bench -redis redis://127.0.0.1:6390 # memory and Redis
//	fila-bench -redis ... -scenarios process -c 1,10,100 -json
//	go run ./cmd/fila-bench -peers -out run.json -svg chart.svg
//	fila-bench -report run.json -svg chart.svg
//
// -peers is the comparison in one command: it starts a private
// redis-server on a free loopback port and runs fila's add, add-bulk,
// process (concurrency 1, 10, 50) and latency cases beside bench/peers'
// BullMQ program (npm ci first when node_modules is missing) and asynq
// program (built from its own module) in rounds: each round runs every
// group of cases once, fila's and then each peer's, back to back, with the
// round-trip limit (a go-redis loop of sequential EVALSHA calls of an empty
// script) just before the sequential adds; each case keeps the median of
// its rounds (3 unless -runs says). It prints the ratio table, and writes
// the run as JSON (-out) and its chart as SVG (-svg). -report redraws both
// from a saved run.
//
// Scenarios: add (sequential, and -producers concurrent producers), add-bulk
// (bulks of 50 and 1,000), process (pre-added no-op jobs at each -c, with
// RemoveOnComplete and with keep-last-1,000), latency (an idle worker, jobs
// added -lat-gap apart: add-to-start and add-to-completed), delayed (10,000
// jobs due at once: how late they start), limiter (Limit 1000/s over 4
// workers: achieved rate and worst 1-second window), memory (Redis bytes per
// waiting job, 100-byte payload) and idle (commands per minute of an idle
// worker with concurrency 10; opt-in, it takes -idle).
//
// Each result reports jobs/s, Redis commands per job (INFO commandstats,
// including the commands run inside scripts), round trips and script calls
// per job, client and Redis CPU seconds, peak RSS and Go allocations per job.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"runtime/pprof"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"

	"github.com/fila-go/fila"
	"github.com/fila-go/fila/backend"
	"github.com/fila-go/fila/backend/memory"
	redisbackend "github.com/fila-go/fila/backend/redis"
)

// result is one scenario run; the JSON field names are the contract for
// scripts comparing runs.
type result struct {
	Scenario          string             `json:"scenario"`
	Variant           string             `json:"variant,omitempty"`
	Backend           string             `json:"backend"`
	Concurrency       int                `json:"concurrency"`
	Prefetch          int                `json:"prefetch,omitempty"`
	Jobs              int                `json:"jobs"`
	Seconds           float64            `json:"seconds"`
	JobsPerSec        float64            `json:"jobs_per_sec"`
	P50ms             *float64           `json:"p50_ms,omitempty"`
	P95ms             *float64           `json:"p95_ms,omitempty"`
	P99ms             *float64           `json:"p99_ms,omitempty"`
	MaxMs             *float64           `json:"max_ms,omitempty"`
	RedisCmdsPerJob   float64            `json:"redis_cmds_per_job"`
	RoundTripsPerJob  float64            `json:"round_trips_per_job"`
	ScriptCallsPerJob float64            `json:"script_calls_per_job"`
	ClientCPU         float64            `json:"client_cpu_s"`
	RedisCPU          float64            `json:"redis_cpu_s"`
	PeakRSSMB         float64            `json:"peak_rss_mb"`
	AllocsPerJob      float64            `json:"allocs_per_job"`
	AllocBytesPerJob  float64            `json:"alloc_bytes_per_job"`
	Extra             map[string]float64 `json:"extra,omitempty"`
	// Runs is each round's jobs/s in a -peers run (rounds.go), in round
	// order; the rest of the result is the median round's.
	Runs []float64 `json:"runs,omitempty"`
}

type config struct {
	n, producers, runs, payload, latN int
	schedN                            int
	flowTrees                         int
	conc, prefetch                    []int
	pgClaims                          int // the postgres backend's Options.ClaimConcurrency; 0: its default
	latGap, idle                      time.Duration
	scenarios                         map[string]bool
}

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "fila-bench:", err)
		os.Exit(1)
	}
}

func run() error {
	var (
		redisURL  = flag.String("redis", "", "Redis URL (redis:// or rediss://); empty: memory backend only")
		pgURL     = flag.String("postgres", "", "PostgreSQL URL: also run on the postgres backend (it migrates the schema fila there: give it a database of its own)")
		scenarios = flag.String("scenarios", "add,add-bulk,process,latency,delayed,limiter,memory", "comma-separated scenarios (also: idle, schedulers, groups, flows)")
		n         = flag.Int("n", 20000, "jobs per scenario run")
		conc      = flag.String("c", "1,10,100", "concurrencies for process")
		prefetch  = flag.String("prefetch", "0", "WorkerOptions.Prefetch values for process, each run at every concurrency (0: fila's default, 1; -1: fila.NoPrefetch)")
		producers = flag.Int("producers", 50, "concurrent producers for the second add variant")
		runs      = flag.Int("runs", 1, "runs per scenario; the median by jobs/s is reported (with -peers: rounds, default 3)")
		payload   = flag.Int("payload", 100, "payload size in bytes (JSON)")
		latN      = flag.Int("lat-n", 1000, "jobs in the latency scenario")
		latGap    = flag.Duration("lat-gap", 5*time.Millisecond, "gap between latency jobs")
		idle      = flag.Duration("idle", 60*time.Second, "how long the idle scenario watches")
		schedN    = flag.Int("sched-n", 10000, "schedulers in the schedulers scenario")
		flowTrees = flag.Int("flow-trees", 10000, "trees (1 parent + 3 children) in the flows scenario")
		pgClaims  = flag.Int("pg-claims", 0, "the postgres backend's Options.ClaimConcurrency: how many of its claims talk to the server at once (0: the backend's default, 8)")
		backends  = flag.String("backends", "", "comma-separated backends (memory, redis, postgres); default: memory, plus redis with -redis and postgres with -postgres")
		asJSON    = flag.Bool("json", false, "print one JSON array instead of a table")
		cpuProf   = flag.String("cpuprofile", "", "write a CPU profile of the whole run to this file")
		peersMode = flag.Bool("peers", false, "compare with the peers: start a private redis-server, run fila's cases, bench/peers' BullMQ and asynq programs and the round-trip limit on it, print the ratio table; with -postgres: fila's postgres backend and bench/peers/river on that server")
		peerNames = flag.String("peer", "bullmq,asynq", "with -peers: the peers to run")
		peersDir  = flag.String("peers-dir", "", "with -peers: the bench/peers directory (default: found above the working directory)")
		out       = flag.String("out", "", "with -peers: write the run (fila's results, the peers', the round-trip limit) to this JSON file")
		svgOut    = flag.String("svg", "", "with -peers or -report: draw the run's jobs/s per case as an SVG chart in this file")
		report    = flag.String("report", "", "print the ratio table of a saved -peers run (a JSON file from -out), and draw it with -svg; runs nothing")
	)
	flag.Parse()
	if *cpuProf != "" {
		f, err := os.Create(*cpuProf)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	if *pgClaims < 0 {
		return fmt.Errorf("-pg-claims: %d is not a claim count (0 for the backend's default)", *pgClaims)
	}
	cfg := config{n: *n, schedN: max(*schedN, 1), flowTrees: max(*flowTrees, 1), producers: *producers, runs: max(*runs, 1), payload: *payload, latN: *latN, latGap: *latGap, idle: *idle,
		pgClaims: *pgClaims, scenarios: map[string]bool{}}
	for _, s := range strings.Split(*scenarios, ",") {
		if s = strings.TrimSpace(s); s != "" {
			if !knownScenario[s] {
				return fmt.Errorf("unknown scenario %q", s)
			}
			cfg.scenarios[s] = true
		}
	}
	for _, s := range strings.Split(*conc, ",") {
		c, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || c < 1 {
			return fmt.Errorf("-c: %q is not a concurrency", s)
		}
		cfg.conc = append(cfg.conc, c)
	}
	for _, s := range strings.Split(*prefetch, ",") {
		p, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || p < fila.NoPrefetch {
			return fmt.Errorf("-prefetch: %q is not a prefetch count (0 for the default, -1 for none)", s)
		}
		cfg.prefetch = append(cfg.prefetch, p)
	}
	which := *backends
	if which == "" {
		which = "memory"
		if *redisURL != "" {
			which += ",redis"
		}
		if *pgURL != "" {
			which += ",postgres"
		}
	}
	ctx := context.Background()
	if *report != "" {
		return reportRun(*report, *svgOut)
	}
	if *peersMode {
		if *redisURL != "" || *backends != "" {
			return fmt.Errorf("-peers runs on a private redis-server it starts itself (the peers' programs flush their database), or with -postgres on that server: drop -redis and -backends")
		}
		set := map[string]bool{}
		flag.Visit(func(f *flag.Flag) { set[f.Name] = true })
		if !set["runs"] {
			cfg.runs = 3
		}
		if !set["scenarios"] {
			cfg.scenarios = map[string]bool{"add": true, "add-bulk": true, "process": true, "latency": true}
		}
		if *pgURL != "" {
			// River's program runs on the same server: fila's cases on the
			// postgres backend beside it, at the concurrencies.
			return comparePostgres(ctx, cfg, *pgURL, compareOptions{peersDir: *peersDir, out: *out})
		}
		if !set["c"] {
			cfg.conc = []int{1, 10, 50} // the peers' concurrencies
		}
		ps, err := peerList(*peerNames)
		if err != nil {
			return err
		}
		return compare(ctx, cfg, compareOptions{peers: ps, peersDir: *peersDir, out: *out, svg: *svgOut})
	}
	var all []result
	for _, name := range strings.Split(which, ",") {
		var be backend.Backend
		var admin *redis.Client
		var pg *pgxpool.Pool
		switch strings.TrimSpace(name) {
		case "postgres":
			if *pgURL == "" {
				return fmt.Errorf("-backends postgres needs -postgres")
			}
			pb, pool, closePG, err := openPostgres(ctx, *pgURL, cfg.pgClaims)
			if err != nil {
				return err
			}
			defer closePG()
			be, pg = pb, pool
		case "memory":
			be = memory.New()
		case "redis":
			if *redisURL == "" {
				return fmt.Errorf("-backends redis needs -redis")
			}
			rb, a, closeRedis, err := openRedis(ctx, *redisURL)
			if err != nil {
				return err
			}
			defer closeRedis()
			be, admin = rb, a
		default:
			return fmt.Errorf("unknown backend %q", name)
		}
		b := &bench{cfg: cfg, be: be, admin: admin, pg: pg, name: strings.TrimSpace(name)}
		rs, err := b.runAll(ctx)
		be.Close()
		if err != nil {
			return err
		}
		all = append(all, rs...)
		if !*asJSON {
			fmt.Fprintf(os.Stderr, "%s: done\n", name)
		}
	}
	if *asJSON {
		enc := json.NewEncoder(os.Stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(all)
	}
	printTable(all)
	return nil
}

var knownScenario = map[string]bool{"add": true, "add-bulk": true, "process": true, "latency": true, "delayed": true,
	"limiter": true, "memory": true, "idle": true, "schedulers": true, "groups": true, "flows": true}

// median runs f cfg.runs times and keeps the run with the median jobs/s.
func (b *bench) median(f func() (result, error)) (result, error) {
	var rs []result
	for range b.cfg.runs {
		r, err := f()
		if err != nil {
			return result{}, err
		}
		rs = append(rs, r)
	}
	sort.Slice(rs, func(i, j int) bool { return rs[i].JobsPerSec < rs[j].JobsPerSec })
	return rs[len(rs)/2], nil
}

func printTable(rs []result) {
	tw := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "scenario\tvariant\tbackend\tconc\tjobs\tjobs/s\tp50 ms\tp99 ms\tmax ms\tcmds/job\ttrips/job\tscripts/job\tclient cpu s\tredis cpu s\tpeak rss MB\tallocs/job\tbytes/job\textra\t")
	opt := func(f *float64) string {
		if f == nil {
			return "-"
		}
		return strconv.FormatFloat(*f, 'f', 2, 64)
	}
	for _, r := range rs {
		var extra []string
		for k, v := range r.Extra {
			extra = append(extra, fmt.Sprintf("%s=%.4g", k, v))
		}
		sort.Strings(extra)
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%d\t%.0f\t%s\t%s\t%s\t%.1f\t%.2f\t%.2f\t%.2f\t%.2f\t%.0f\t%.1f\t%.0f\t%s\t\n",
			r.Scenario, r.Variant, r.Backend, r.Concurrency, r.Jobs, r.JobsPerSec, opt(r.P50ms), opt(r.P99ms), opt(r.MaxMs),
			r.RedisCmdsPerJob, r.RoundTripsPerJob, r.ScriptCallsPerJob, r.ClientCPU, r.RedisCPU, r.PeakRSSMB,
			r.AllocsPerJob, r.AllocBytesPerJob, strings.Join(extra, " "))
	}
	tw.Flush()
}

// openRedis connects fila's Redis backend and the bench's admin client (INFO
// snapshots) to url, with the options fila's README advises.
func openRedis(ctx context.Context, url string) (backend.Backend, *redis.Client, func(), error) {
	opt, err := redis.ParseURL(url)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("-redis: %w", err)
	}
	opt.PoolSize = max(opt.PoolSize, 200)
	opt.MaxRetries = -1 // as fila's README advises: a resent script runs twice
	rdb := redis.NewClient(opt)
	admin := redis.NewClient(opt)
	closeAll := func() { rdb.Close(); admin.Close() }
	if err := admin.Ping(ctx).Err(); err != nil {
		closeAll()
		return nil, nil, nil, fmt.Errorf("redis at %s: %w", url, err)
	}
	return redisbackend.New(rdb), admin, closeAll, nil
}
