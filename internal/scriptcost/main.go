// Command scriptcost counts the instructions redis-server executes per
// call of fila's hot scripts: a single add, and a complete that claims the
// next job (removing the finished job, and keeping the last 1,000). It
// drives a redis-server running under valgrind's callgrind, zeroing the
// counters before each case and dumping them after, so the figure is
// repeatable where wall time on a shared VM is not. scripts/script-cost.sh
// starts the server and runs it.
//
// With -floor it also counts, after the add, scripts that do only what an
// add must do in Redis (floor.go): the floor under fila's add with its
// promises kept, and what dropping two of them would save.
//
//	scriptcost -addr 127.0.0.1:PORT -pid VALGRIND_PID -dumps DIR [-n 1000] [-buckets 1] [-add | -floor]
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/fila-go/fila/backend"
	redisbackend "github.com/fila-go/fila/backend/redis"
)

func main() {
	addr := flag.String("addr", "", "address of the redis-server running under callgrind")
	pid := flag.String("pid", "", "pid of the valgrind process")
	dumps := flag.String("dumps", "", "directory of callgrind's dump files (--callgrind-out-file's directory)")
	n := flag.Int("n", 1000, "calls per case")
	buckets := flag.Int("buckets", 1, "job buckets (redisbackend.WithJobBuckets)")
	addOnly := flag.Bool("add", false, "count the add case only")
	floor := flag.Bool("floor", false, "count the add case, then the floor scripts beside it (floor.go)")
	flag.Parse()
	if *addr == "" || *pid == "" || *dumps == "" {
		flag.Usage()
		os.Exit(2)
	}
	if *floor && *buckets != 1 {
		fmt.Fprintln(os.Stderr, "scriptcost: -floor compares with one job bucket only (the floor scripts write one jobs hash); drop -buckets")
		os.Exit(2)
	}
	if err := run(*addr, *pid, *dumps, *n, *buckets, *addOnly || *floor, *floor); err != nil {
		fmt.Fprintln(os.Stderr, "scriptcost:", err)
		os.Exit(1)
	}
}

// counter zeroes and reads callgrind's instruction count.
type counter struct{ pid, dumps string }

func (c counter) zero() error { return exec.Command("callgrind_control", "-z", c.pid).Run() }

// dump writes the counts since the last zero and returns their total.
func (c counter) dump() (int64, error) {
	if err := exec.Command("callgrind_control", "-d", c.pid).Run(); err != nil {
		return 0, err
	}
	files, _ := filepath.Glob(filepath.Join(c.dumps, "*"))
	var newest string
	var at time.Time
	for _, f := range files {
		if st, err := os.Stat(f); err == nil && st.ModTime().After(at) {
			newest, at = f, st.ModTime()
		}
	}
	data, err := os.ReadFile(newest)
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, "summary: "); ok {
			return strconv.ParseInt(strings.TrimSpace(v), 10, 64)
		}
		if v, ok := strings.CutPrefix(line, "totals: "); ok {
			return strconv.ParseInt(strings.TrimSpace(v), 10, 64)
		}
	}
	return 0, fmt.Errorf("no total in %s", newest)
}

func run(addr, pid, dumps string, n, buckets int, addOnly, floor bool) error {
	ctx := context.Background()
	rdb := redis.NewClient(&redis.Options{Addr: addr, Protocol: 2})
	defer rdb.Close()
	if err := rdb.FlushAll(ctx).Err(); err != nil {
		return err
	}
	be := redisbackend.New(rdb, redisbackend.WithJobBuckets(buckets))
	defer be.Close()
	c := counter{pid, dumps}
	data := []byte(`{"p":"` + strings.Repeat("x", 92) + `"}`) // 100 bytes
	opts := backend.JobOptions{Attempts: 3, Backoff: backend.Backoff{Type: backend.BackoffExponential, Delay: time.Second}}

	// add: one job per call; the first call (loading the library) is not counted.
	p := &backend.JobAddParams{Queue: "add", Jobs: []backend.JobAddItem{{Name: "send", Data: data, Options: opts}}}
	if _, err := be.JobAdd(ctx, p); err != nil {
		return err
	}
	if err := c.zero(); err != nil {
		return fmt.Errorf("callgrind_control: %w", err)
	}
	for range n {
		if _, err := be.JobAdd(ctx, p); err != nil {
			return err
		}
	}
	total, err := c.dump()
	if err != nil {
		return err
	}
	fmt.Printf("%-40s %8d instructions per call\n", "add (one job)", total/int64(n))
	if floor {
		return countFloor(ctx, rdb, c, n)
	}
	if addOnly {
		return nil
	}

	for _, r := range []struct {
		name string
		ret  backend.Retention
	}{{"complete + claim next, remove", backend.Retention{Remove: true}}, {"complete + claim next, keep last 1000", backend.Retention{KeepLast: 1000}}} {
		q := "cc-" + strconv.Itoa(len(r.name))
		items := make([]backend.JobAddItem, n+1)
		for i := range items {
			items[i] = backend.JobAddItem{Name: "send", Data: data, Options: opts}
		}
		if _, err := be.JobAdd(ctx, &backend.JobAddParams{Queue: q, Jobs: items}); err != nil {
			return err
		}
		res, err := be.JobClaim(ctx, &backend.JobClaimParams{Queue: q, Token: "t0", LockDuration: time.Minute})
		if err != nil || res.Job == nil {
			return fmt.Errorf("first claim: %v", err)
		}
		job, tok := res.Job, "t0"
		next := &backend.JobClaimParams{Queue: q, LockDuration: time.Minute}
		cp := &backend.JobCompleteParams{Queue: q, Retention: r.ret, Next: next}
		if err := c.zero(); err != nil {
			return err
		}
		for i := range n {
			next.Token = "t" + strconv.Itoa(i+1)
			cp.ID, cp.Token = job.ID, tok
			out, err := be.JobComplete(ctx, cp)
			if err != nil {
				return err
			}
			if out.Job == nil {
				return fmt.Errorf("the queue ran dry after %d calls", i)
			}
			job, tok = out.Job, next.Token
		}
		total, err := c.dump()
		if err != nil {
			return err
		}
		fmt.Printf("%-40s %8d instructions per call\n", r.name, total/int64(n))
	}
	return nil
}
