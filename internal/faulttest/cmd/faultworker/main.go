// Command faultworker is the worker process of the fault tests in
// internal/faulttest: one fila.Worker on the Redis backend, configured by
// flags, that records every handler start and finish to a file so the test
// can account for each run even when this process is SIGKILLed.
//
// Records are lines appended with one write(2) each, so a line that was
// written survives a SIGKILL of the process:
//
//	S <id> <attempts made> <attempts started> <unix ms>   the handler started
//	E <id> <unix ms>                            the handler returned success (its effect happened)
//	P <id> <pending> <values> <failed> <unix ms> a flow parent's handler read its children
//	X <id> <cause>                              the handler returned because its context ended
//	C <id>                                      the backend recorded the job completed
//	F <id> <reason>                             the backend recorded a failed attempt
//	T <command> <argument>                      an argument that looks like this process' wall clock
//	N <commands checked>                        written at a graceful exit with -clockcheck
//
// The job's name selects what the handler does: "ok" sleeps for the number
// of milliseconds in the job's data (honouring its context) and returns the
// instance name; "hang" blocks ignoring its context; "panic" panics; "fail"
// returns an error; "parent" (a flow's parent) reads its children's
// results (a P record), then does what "ok" does.
//
// SIGTERM or SIGINT ends Run's context: the worker drains for -shutdown and
// the process exits 0.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/fila-go/fila"
	redisbackend "github.com/fila-go/fila/backend/redis"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "faultworker:", err)
		os.Exit(1)
	}
}

type config struct {
	addr, queue, records, instance string
	concurrency                    int
	lock, stalled, shutdown, block time.Duration
	maxStalled                     int
	limitMax                       int
	limitPer                       time.Duration
	sleepCap                       time.Duration
	clockCheck                     bool
	verbose                        bool
}

func run() error {
	var c config
	flag.StringVar(&c.addr, "addr", "127.0.0.1:6379", "Redis address")
	flag.StringVar(&c.queue, "queue", "fault", "queue name")
	flag.StringVar(&c.records, "records", "", "file to append records to (required)")
	flag.StringVar(&c.instance, "instance", "w", "this process' name, returned by every ok job")
	flag.IntVar(&c.concurrency, "concurrency", 10, "WorkerOptions.Concurrency")
	flag.DurationVar(&c.lock, "lock", 5*time.Second, "WorkerOptions.LockDuration")
	flag.DurationVar(&c.stalled, "stalled", time.Second, "WorkerOptions.StalledInterval")
	flag.IntVar(&c.maxStalled, "max-stalled", 1000, "WorkerOptions.MaxStalledCount")
	flag.DurationVar(&c.shutdown, "shutdown", 10*time.Second, "WorkerOptions.ShutdownTimeout")
	flag.DurationVar(&c.block, "block", 5*time.Second, "redisbackend.WithBlockTimeout")
	flag.IntVar(&c.limitMax, "limit-max", 0, "WorkerOptions.Limiter.Max (0: no limiter)")
	flag.DurationVar(&c.limitPer, "limit-per", time.Second, "WorkerOptions.Limiter.Per")
	flag.DurationVar(&c.sleepCap, "sleep-cap", 0, "cap every ok job's sleep (0: none)")
	flag.BoolVar(&c.clockCheck, "clockcheck", false, "record every command argument that looks like this process' wall clock")
	flag.BoolVar(&c.verbose, "v", false, "log the worker at debug level to stderr")
	flag.Parse()
	if c.records == "" {
		return errors.New("-records is required")
	}
	f, err := os.OpenFile(c.records, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return err
	}
	defer f.Close()
	rec := &recorder{f: f}

	rdb := redis.NewClient(&redis.Options{Addr: c.addr, Protocol: 2})
	defer rdb.Close()
	var checked atomic.Int64
	if c.clockCheck {
		rdb.AddHook(&clockHook{rec: rec, checked: &checked})
	}
	be := redisbackend.New(rdb, redisbackend.WithBlockTimeout(c.block))
	defer be.Close()

	level := slog.LevelInfo
	if c.verbose {
		level = slog.LevelDebug
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	opts := fila.WorkerOptions{
		Concurrency: c.concurrency, LockDuration: c.lock, StalledInterval: c.stalled,
		MaxStalledCount: c.maxStalled, ShutdownTimeout: c.shutdown, Logger: logger,
		OnFinished: func(j *fila.Job, err error) {
			if err == nil {
				rec.printf("C %s", j.ID)
			} else {
				rec.printf("F %s %s", j.ID, oneLine(err.Error()))
			}
		},
	}
	if c.limitMax > 0 {
		opts.Limiter = &fila.Limit{Max: c.limitMax, Per: c.limitPer}
	}
	w, err := fila.NewWorker(be, c.queue, handler(&c, rec), opts)
	if err != nil {
		return err
	}

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	rec.printf("READY %d %d", os.Getpid(), time.Now().UnixMilli())
	err = w.Run(ctx)
	if c.clockCheck {
		rec.printf("N %d", checked.Load())
	}
	return err
}

func handler(c *config, rec *recorder) fila.Processor {
	return func(ctx context.Context, j *fila.Job) (any, error) {
		rec.printf("S %s %d %d %d", j.ID, j.AttemptsMade, j.AttemptsStarted, time.Now().UnixMilli())
		switch j.Name {
		case "hang":
			select {} // ignores its context: the worker must abandon it at the timeout
		case "panic":
			panic("faultworker: job " + j.ID + " panics")
		case "fail":
			return nil, errors.New("faultworker: job " + j.ID + " fails")
		case "parent":
			ch, err := j.Children(ctx)
			if err != nil {
				return nil, err
			}
			rec.printf("P %s %d %d %d %d", j.ID, ch.Pending, len(ch.Values), len(ch.Failed), time.Now().UnixMilli())
		}
		ms, _ := strconv.Atoi(string(j.Data))
		d := time.Duration(ms) * time.Millisecond
		if c.sleepCap > 0 {
			d = min(d, c.sleepCap)
		}
		if d > 0 {
			t := time.NewTimer(d)
			select {
			case <-t.C:
			case <-ctx.Done():
				t.Stop()
				rec.printf("X %s %s", j.ID, oneLine(context.Cause(ctx).Error()))
				return nil, context.Cause(ctx)
			}
		}
		rec.printf("E %s %d", j.ID, time.Now().UnixMilli())
		return c.instance, nil
	}
}

// recorder appends lines to the records file, one write(2) per line.
type recorder struct {
	mu sync.Mutex
	f  *os.File
}

func (r *recorder) printf(format string, args ...any) {
	line := fmt.Sprintf(format, args...) + "\n"
	r.mu.Lock()
	defer r.mu.Unlock()
	_, _ = r.f.WriteString(line)
}

func oneLine(s string) string { return strings.ReplaceAll(s, "\n", " ") }

// clockHook looks at every argument of every command this process sends
// and records the ones that read as a time within a day of this process'
// wall clock, in seconds, milliseconds, microseconds or nanoseconds since
// the epoch. fila promises that the backend's clock decides every time, so
// a worker sends durations only, and none should be found.
type clockHook struct {
	rec     *recorder
	checked *atomic.Int64
}

func (h *clockHook) DialHook(next redis.DialHook) redis.DialHook { return next }

func (h *clockHook) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		h.check(cmd)
		return next(ctx, cmd)
	}
}

func (h *clockHook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		for _, cmd := range cmds {
			h.check(cmd)
		}
		return next(ctx, cmds)
	}
}

func (h *clockHook) check(cmd redis.Cmder) {
	h.checked.Add(1)
	now := time.Now()
	for _, a := range cmd.Args()[1:] {
		if looksLikeNow(a, now) {
			h.rec.printf("T %s %v", cmd.Name(), a)
		}
	}
}

// looksLikeNow reports whether a is an integer that reads as a time within
// a day of now at one of the usual epoch resolutions.
func looksLikeNow(a any, now time.Time) bool {
	var n int64
	switch v := a.(type) {
	case int:
		n = int64(v)
	case int64:
		n = v
	case string:
		var err error
		if n, err = strconv.ParseInt(v, 10, 64); err != nil {
			return false
		}
	default:
		return false
	}
	day := int64(24 * time.Hour)
	for _, unit := range []int64{int64(time.Second), int64(time.Millisecond), int64(time.Microsecond), 1} {
		ref := now.UnixNano() / unit
		if d := n - ref; d > -day/unit && d < day/unit {
			return true
		}
	}
	return false
}
