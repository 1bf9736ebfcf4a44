package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"
)

// comparePostgres is -peers with -postgres: fila's cases on the postgres
// backend, then bench/peers/river on the same server, and the ratio table.
// River's program creates and drops a schema of its own; fila's cases run
// in the schema fila (migrated there).
func comparePostgres(ctx context.Context, cfg config, url string, o compareOptions) error {
	if o.peersDir == "" {
		d, err := findPeersDir()
		if err != nil {
			return err
		}
		o.peersDir = d
	}
	run := &benchRun{Started: time.Now().UTC().Format(time.RFC3339), GoVersion: runtime.Version(),
		Host: fmt.Sprintf("%s/%s, %d CPUs", runtime.GOOS, runtime.GOARCH, runtime.NumCPU()),
		N:    cfg.n, Runs: cfg.runs, Peers: map[string]peerOutput{}, Commit: gitCommit(filepath.Dir(filepath.Dir(o.peersDir)))}
	load0 := loadAvg()
	be, pool, closePG, err := openPostgres(ctx, url, cfg.pgClaims)
	if err != nil {
		return err
	}
	_ = pool.QueryRow(ctx, "SHOW server_version").Scan(&run.PostgresVersion)
	fmt.Fprintln(os.Stderr, "fila (postgres): add, add-bulk, process, latency")
	b := &bench{cfg: cfg, be: be, pg: pool, name: "postgres"}
	rs, err := b.runAll(ctx)
	closePG()
	if err != nil {
		return err
	}
	run.Fila = rs
	po, err := runRiver(ctx, o.peersDir, url, cfg)
	if err != nil {
		return err
	}
	run.Peers["river"] = po
	run.Finished = time.Now().UTC().Format(time.RFC3339)
	if l0, l1 := load0, loadAvg(); l0 != "" {
		run.LoadAvg = l0 + " at the start, " + l1 + " at the end"
	}
	if o.out != "" {
		if err := run.save(o.out); err != nil {
			return err
		}
	}
	buildPGTable(run, cfg.conc).write(os.Stdout)
	return nil
}

// runRiver builds bench/peers/river (a module of its own) and runs it on url.
func runRiver(ctx context.Context, peersDir, url string, cfg config) (peerOutput, error) {
	dir := filepath.Join(peersDir, "river")
	tmp, err := os.MkdirTemp("", "fila-bench-river-")
	if err != nil {
		return peerOutput{}, err
	}
	defer os.RemoveAll(tmp)
	bin := filepath.Join(tmp, "riverbench")
	fmt.Fprintf(os.Stderr, "river: %s\n", dir)
	if err := runVisible(exec.CommandContext(ctx, "go", "build", "-o", bin, "."), dir); err != nil {
		return peerOutput{}, fmt.Errorf("river: go build: %w", err)
	}
	var conc []string
	for _, c := range cfg.conc {
		conc = append(conc, strconv.Itoa(c))
	}
	out := filepath.Join(tmp, "out.json")
	cmd := exec.CommandContext(ctx, bin)
	cmd.Env = append(os.Environ(), "PG_URL="+url, "N="+strconv.Itoa(cfg.n), "RUNS="+strconv.Itoa(cfg.runs),
		"CONC="+strings.Join(conc, ","), "LAT_N="+strconv.Itoa(cfg.latN),
		"LAT_GAP_MS="+strconv.Itoa(int(cfg.latGap/time.Millisecond)), "OUT_JSON="+out)
	if err := runVisible(cmd, dir); err != nil {
		return peerOutput{}, fmt.Errorf("river: %w", err)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		return peerOutput{}, fmt.Errorf("river wrote no results: %w", err)
	}
	return parsePeerOutput("river", b)
}

// pgRow is one case of the Postgres comparison: fila's figure and River's
// with its defaults and with FetchCooldown at its 1 ms minimum.
type pgRow struct {
	Case, Unit             string
	Fila, River, RiverFast float64
}

type pgTable struct {
	RiverVersion, PostgresVersion string
	Rows                          []pgRow
}

func filaPGRate(rs []result, scenario, variant string, conc int) float64 {
	for _, r := range rs {
		if r.Backend == "postgres" && r.Scenario == scenario && r.Variant == variant && r.Concurrency == conc && r.Prefetch == 0 {
			return r.JobsPerSec
		}
	}
	return 0
}

func filaPGLatency(rs []result, key string) float64 {
	for _, r := range rs {
		if r.Backend == "postgres" && r.Scenario == "latency" {
			switch key {
			case "p50_ms":
				return deref(r.P50ms)
			case "p99_ms":
				return deref(r.P99ms)
			}
			return r.Extra[key]
		}
	}
	return 0
}

func buildPGTable(run *benchRun, conc []int) pgTable {
	rv := run.Peers["river"]
	t := pgTable{RiverVersion: rv.Version, PostgresVersion: run.PostgresVersion}
	both := func(key string) (float64, float64) {
		return rv.median(key + "_default"), rv.median(key + "_cooldown1ms")
	}
	t.Rows = append(t.Rows,
		pgRow{"add, one at a time", "jobs/s", filaPGRate(run.Fila, "add", "sequential", 1), rv.median("a_insert_sequential"), 0},
		pgRow{"bulk add, 1,000 per call", "jobs/s", filaPGRate(run.Fila, "add-bulk", "bulks of 1000", 1), rv.median("b_insertMany_1000"), 0})
	for _, keep := range []string{"remove on complete", "keep last 1000"} {
		for _, c := range conc {
			d, f := both(fmt.Sprintf("c_proc_c%d", c))
			t.Rows = append(t.Rows, pgRow{fmt.Sprintf("process, conc %d, fila %s", c, keep), "jobs/s", filaPGRate(run.Fila, "process", keep, c), d, f})
		}
	}
	for _, l := range []struct{ name, fila, river string }{
		{"idle worker, add to start, p50", "start_p50_ms", "d_latency_p50_start"},
		{"idle worker, add to start, p99", "start_p99_ms", "d_latency_p99_start"},
		{"idle worker, add to completed, p50", "p50_ms", "d_latency_p50_completed"},
		{"idle worker, add to completed, p99", "p99_ms", "d_latency_p99_completed"},
	} {
		d, f := both(l.river)
		t.Rows = append(t.Rows, pgRow{l.name, "ms", filaPGLatency(run.Fila, l.fila), d, f})
	}
	return t
}

func (t pgTable) write(w io.Writer) {
	fmt.Fprintf(w, "| case | fila (postgres) | River %s | River, FetchCooldown 1ms | fila vs River | fila vs River 1ms |\n", t.RiverVersion)
	fmt.Fprintln(w, "|---|---:|---:|---:|---:|---:|")
	for _, r := range t.Rows {
		ratio := func(peer float64) string {
			rr := ratioRow{Unit: r.Unit, Fila: r.Fila}
			return ratioText(rr.ratio(peer))
		}
		fmt.Fprintf(w, "| %s (%s) | %s | %s | %s | %s | %s |\n", r.Case, r.Unit, figure(r.Fila, r.Unit), figure(r.River, r.Unit),
			figure(r.RiverFast, r.Unit), ratio(r.River), ratio(r.RiverFast))
	}
	fmt.Fprintln(w)
	fmt.Fprintf(w, "PostgreSQL %s, one server for both. Ratios above 1.00x: fila ahead.\n", t.PostgresVersion)
	fmt.Fprintln(w, "River keeps completed jobs (its default retention, 24 h) in both process rows; its \"completed\" is its completion event's arrival.")
}

// pgConcurrencies are the process concurrencies of a saved run's fila
// results, in the order run.
func pgConcurrencies(rs []result) []int {
	var cs []int
	seen := map[int]bool{}
	for _, r := range rs {
		if r.Scenario == "process" && !seen[r.Concurrency] {
			seen[r.Concurrency] = true
			cs = append(cs, r.Concurrency)
		}
	}
	return cs
}
