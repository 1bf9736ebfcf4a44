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

// compare is -peers: on a private redis-server, fila's cases and each peer
// program's in rounds (rounds.go), the round-trip limit in each round just
// before the sequential adds; then the ratio table on stdout, and the run
// and its chart in files.
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

	// Build the peers' programs before the first round, so a build does not
	// load the machine while a round measures.
	var prepared []*preparedPeer
	defer func() {
		for _, pp := range prepared {
			pp.cleanup()
		}
	}()
	for _, p := range o.peers {
		fmt.Fprintf(os.Stderr, "%s: %s\n", p.name, filepath.Join(o.peersDir, p.name))
		pp, err := preparePeer(ctx, p, o.peersDir)
		if err != nil {
			return err
		}
		prepared = append(prepared, pp)
	}
	// Rounds (rounds.go): each group of cases once a round, fila's and then
	// each peer's, one run each.
	one := cfg
	one.runs = 1
	b := &bench{cfg: one, be: be, admin: admin, name: "redis"}
	var filaRounds [][]result
	peerOuts := map[string][]peerOutput{}
	for round := 1; round <= cfg.runs; round++ {
		for _, g := range caseGroups {
			if !cfg.scenarios[g.scenario] {
				continue
			}
			fmt.Fprintf(os.Stderr, "round %d of %d: %s\n", round, cfg.runs, g.scenario)
			if g.limit {
				rates, err := roundTripLimit(ctx, srv.Addr, cfg.n, 1)
				if err != nil {
					return err
				}
				run.RoundTrip = append(run.RoundTrip, rates...)
			}
			if err := admin.FlushAll(ctx).Err(); err != nil {
				return err
			}
			b.cfg.scenarios = map[string]bool{g.scenario: true}
			rs, err := b.runAll(filaCtx)
			if err != nil {
				return err
			}
			filaRounds = append(filaRounds, rs)
			for _, pp := range prepared {
				args := pp.casesIn(g.peer)
				if len(args) == 0 {
					continue
				}
				if err := admin.FlushAll(ctx).Err(); err != nil {
					return err
				}
				po, err := pp.run(ctx, port, cfg.n, 1, args)
				if err != nil {
					return err
				}
				peerOuts[pp.name] = append(peerOuts[pp.name], po)
			}
		}
	}
	run.Fila, run.Rounds = mergeFila(filaRounds), true
	for name, outs := range peerOuts {
		po, err := mergePeer(outs)
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		run.Peers[name] = po
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
