package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"
)

type compareOptions struct {
	peers    []peer
	peersDir string // bench/peers; found from the working directory when empty
	out, svg string // files to write; "" writes none
}

// compare is -peers: on a private redis-server, the round-trip limit, fila's
// cases, each peer's program, and the round-trip limit once more (the
// machine's speed drifts over a run of several minutes); then the ratio
// table on stdout, and the run and its chart in files.
func compare(ctx context.Context, cfg config, o compareOptions) error {
	if o.peersDir == "" && len(o.peers) > 0 {
		d, err := findPeersDir()
		if err != nil {
			return err
		}
		o.peersDir = d
	}
	// fila's cases run with the caller's context, which cannot end
	// (context.Background in main), as the peers' programs take none: with
	// a context that can end, each fila call runs its Redis call on a
	// goroutine so it can return when the context ends, which costs a
	// sequential add about half its rate on a 2-core VM (docs/performance.md).
	// An interrupt exits the process (below), so nothing needs to end them.
	filaCtx := ctx
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	srv, err := startRedis(ctx)
	if err != nil {
		return err
	}
	defer srv.Stop()
	// An interrupt ends the run at once: a scenario waiting for its jobs
	// does not watch ctx, so the peer program (killed by ctx) and the
	// private server are stopped here before exiting.
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	defer func() { signal.Stop(sig); close(sig) }()
	go func() {
		if _, ok := <-sig; ok {
			cancel()
			srv.Stop()
			fmt.Fprintln(os.Stderr, "fila-bench: interrupted")
			os.Exit(130)
		}
	}()
	port, _ := strconv.Atoi(srv.Addr[strings.LastIndexByte(srv.Addr, ':')+1:])
	fmt.Fprintf(os.Stderr, "redis-server on %s\n", srv.Addr)

	run := &benchRun{Started: time.Now().UTC().Format(time.RFC3339), GoVersion: runtime.Version(),
		Host: fmt.Sprintf("%s/%s, %d CPUs", runtime.GOOS, runtime.GOARCH, runtime.NumCPU()),
		N:    cfg.n, Runs: cfg.runs, Peers: map[string]peerOutput{}}
	if o.peersDir != "" {
		run.Commit = gitCommit(filepath.Dir(filepath.Dir(o.peersDir)))
	}
	load0 := loadAvg()
	if v, err := exec.Command("node", "--version").Output(); err == nil {
		run.NodeVersion = strings.TrimSpace(string(v))
	}

	be, admin, closeRedis, err := openRedis(ctx, "redis://"+srv.Addr)
	if err != nil {
		return err
	}
	defer closeRedis()
	defer be.Close()
	run.RedisVersion = redisVersion(ctx, admin)

	limit := func() error {
		fmt.Fprintln(os.Stderr, "round-trip limit: sequential EVALSHA of an empty script")
		rates, err := roundTripLimit(ctx, srv.Addr, cfg.n, cfg.runs)
		run.RoundTrip = append(run.RoundTrip, rates...)
		return err
	}
	if err := limit(); err != nil {
		return err
	}
	fmt.Fprintln(os.Stderr, "fila: add, add-bulk, process, latency")
	b := &bench{cfg: cfg, be: be, admin: admin, name: "redis"}
	rs, err := b.runAll(filaCtx)
	if err != nil {
		return err
	}
	run.Fila = rs
	for _, p := range o.peers {
		if err := admin.FlushAll(ctx).Err(); err != nil {
			return err
		}
		fmt.Fprintf(os.Stderr, "%s: %s\n", p.name, filepath.Join(o.peersDir, p.name))
		po, err := runPeer(ctx, p, o.peersDir, port, cfg.n, cfg.runs)
		if err != nil {
			return err
		}
		run.Peers[p.name] = po
	}
	if err := limit(); err != nil {
		return err
	}
	run.Finished = time.Now().UTC().Format(time.RFC3339)
	if l0, l1 := load0, loadAvg(); l0 != "" {
		run.LoadAvg = l0 + " at the start, " + l1 + " at the end"
	}
	if o.out != "" {
		if err := run.save(o.out); err != nil {
			return err
		}
	}
	buildTable(run).write(os.Stdout)
	return drawTo(o.svg, run)
}

// reportRun is -report: the table and chart of a saved run.
func reportRun(path, svg string) error {
	run, err := loadRun(path)
	if err != nil {
		return err
	}
	if _, ok := run.Peers["river"]; ok {
		buildPGTable(run, pgConcurrencies(run.Fila)).write(os.Stdout)
		return nil
	}
	buildTable(run).write(os.Stdout)
	return drawTo(svg, run)
}

func drawTo(path string, run *benchRun) error {
	if path == "" {
		return nil
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := writeChart(f, run); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// gitCommit names the checkout the run measured: the short commit, with
// "-dirty" when the tree has changes. "" outside a git checkout.
func gitCommit(dir string) string {
	out, err := exec.Command("git", "-C", dir, "rev-parse", "--short", "HEAD").Output()
	if err != nil {
		return ""
	}
	c := strings.TrimSpace(string(out))
	if st, err := exec.Command("git", "-C", dir, "status", "--porcelain", "--untracked-files=no").Output(); err == nil && len(st) > 0 {
		c += "-dirty"
	}
	return c
}

func redisVersion(ctx context.Context, c *redis.Client) string {
	for _, line := range strings.Split(c.Info(ctx, "server").Val(), "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "redis_version:"); ok {
			return v
		}
	}
	return ""
}

// loadAvg is /proc/loadavg's 1, 5 and 15 minute averages (Linux; "" elsewhere).
func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return ""
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return ""
	}
	return strings.Join(f[:3], " ")
}
