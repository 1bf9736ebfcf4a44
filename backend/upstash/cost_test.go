package upstash_test

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/fila-go/fila"
	redisbackend "github.com/fila-go/fila/backend/redis"
	"github.com/fila-go/fila/backend/upstash"
)

// Upstash bills per command, so what fila costs is measured here: the
// commands an idle worker sends per hour, and the commands per job under
// load. The emulator counts what arrives on the wire; countingConn splits
// it by script.

// countingConn counts the script calls (each one command on the wire) by
// script name, in front of the REST Conn.
type countingConn struct {
	*upstash.Conn
	mu sync.Mutex
	n  map[string]int64
}

func (c *countingConn) add(name string, n int) {
	c.mu.Lock()
	c.n[name] += int64(n)
	c.mu.Unlock()
}

func (c *countingConn) Eval(ctx context.Context, s *redisbackend.Script, keys []string, args ...any) (any, error) {
	c.add(s.Name(), 1)
	return c.Conn.Eval(ctx, s, keys, args...)
}

func (c *countingConn) EvalBatch(ctx context.Context, s *redisbackend.Script, keys []string, calls [][]any) ([]any, error) {
	c.add(s.Name(), len(calls))
	return c.Conn.EvalBatch(ctx, s, keys, calls)
}

// take returns the counts so far and zeroes them.
func (c *countingConn) take() map[string]int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := c.n
	c.n = map[string]int64{}
	return out
}

func summary(m map[string]int64) string {
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(m)) {
		parts = append(parts, fmt.Sprintf("%s=%d", k, m[k]))
	}
	return strings.Join(parts, " ")
}

// countingBackend is a backend over the REST Conn of cfg with a counter in
// between.
func countingBackend(t testing.TB, cfg upstash.Config, opts ...redisbackend.Option) (*redisbackend.Backend, *countingConn) {
	t.Helper()
	conn, err := upstash.NewConn(cfg)
	require.NoError(t, err)
	cc := &countingConn{Conn: conn, n: map[string]int64{}}
	opts = append([]redisbackend.Option{redisbackend.WithPollInterval(cfg.PollMin, cfg.PollMax)}, opts...)
	be := redisbackend.NewWithConn(cc, opts...)
	t.Cleanup(func() { be.Close(); conn.Close() })
	return be, cc
}

// runWorker runs w until the test ends.
func runWorker(t testing.TB, w *fila.Worker) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		require.NoError(t, <-done)
	})
}

// TestIdleWorkerCommands measures what an idle worker costs. Its claims
// poll at PollMax once idle and its stalled check runs every
// StalledInterval, so the cost scales with 1/PollMax + 1/StalledInterval;
// the test runs the worker with every interval divided by the same factor
// (time runs that many times faster), counts the commands of a few seconds
// and scales the count back to real time. Not parallel: it measures time.
// A loaded machine fires timers late and sends fewer commands, so only the
// upper bound is asserted.
func TestIdleWorkerCommands(t *testing.T) {
	for _, c := range []struct {
		name             string
		pollMax, stalled time.Duration
	}{
		{"default settings", upstash.DefaultPollMax, fila.DefaultStalledInterval},
		{"long PollMax only", 5 * time.Minute, fila.DefaultStalledInterval},
		{"economical settings", 2 * time.Minute, 5 * time.Minute},
		{"backend/redis polling default", 5 * time.Second, fila.DefaultStalledInterval},
	} {
		t.Run(c.name, func(t *testing.T) {
			const scaledPollMax = 100 * time.Millisecond
			scale := c.pollMax / scaledPollMax
			b := miniBundle(t)
			cfg := b.config()
			cfg.PollMin, cfg.PollMax = upstash.DefaultPollMin/scale, scaledPollMax
			be, cc := countingBackend(t, cfg)
			w := mustWorker(t)(fila.NewWorker(be, "idle", func(context.Context, *fila.Job) (any, error) { return nil, nil },
				fila.WorkerOptions{StalledInterval: c.stalled / scale}))
			runWorker(t, w)

			time.Sleep(time.Second) // past the first polls, which start at PollMin
			cc.take()
			b.emu.ResetCounts()
			const window = 3 * time.Second
			time.Sleep(window)
			byScript := cc.take()
			_, wire := b.emu.Commands()

			real := window * scale
			perHour := float64(wire) * float64(time.Hour) / float64(real)
			want := float64(time.Hour/c.pollMax + time.Hour/c.stalled)
			t.Logf("PollMax %v, StalledInterval %v: %d commands in %v scaled to %v (%s): %.0f per hour, %.0f per 30-day month; expected %.0f per hour",
				c.pollMax, c.stalled, wire, window, real, summary(byScript), perHour, perHour*24*30, want)
			require.Less(t, perHour, want*1.25, "more commands than PollMax and StalledInterval allow")
			require.NotZero(t, wire)
			require.Equal(t, []string{"claim", "stalled"}, slices.Sorted(maps.Keys(byScript)), "an idle worker only polls and checks stalls")
		})
	}
}

// TestSporadicJobCommands measures the cost of a job that arrives at an
// idle worker (one every five minutes), scaled like TestIdleWorkerCommands:
// besides its add, claim and finish, each such job restarts the idle poll
// ramp from PollMin, which costs a few polls more than idling. Not
// parallel: it measures time.
func TestSporadicJobCommands(t *testing.T) {
	const scaledPollMax = 100 * time.Millisecond
	scale := upstash.DefaultPollMax / scaledPollMax
	every := 5 * time.Minute / scale
	b := miniBundle(t)
	cfg := b.config()
	cfg.PollMin, cfg.PollMax = upstash.DefaultPollMin/scale, scaledPollMax
	be, cc := countingBackend(t, cfg)
	var finished atomic.Int64
	w := mustWorker(t)(fila.NewWorker(be, "sporadic", func(context.Context, *fila.Job) (any, error) { return nil, nil },
		fila.WorkerOptions{StalledInterval: fila.DefaultStalledInterval / scale, OnFinished: func(*fila.Job, error) { finished.Add(1) }}))
	runWorker(t, w)
	q := fila.NewQueue(be, "sporadic")
	_, err := q.Add(context.Background(), "warm", nil, nil) // registers the queue
	require.NoError(t, err)
	time.Sleep(time.Second)
	cc.take()
	b.emu.ResetCounts()

	const jobs = 5
	for range jobs {
		_, err := q.Add(context.Background(), "send", []byte(`{}`), nil)
		require.NoError(t, err)
		time.Sleep(every)
	}
	require.EqualValues(t, jobs+1, finished.Load())
	_, wire := b.emu.Commands()
	window := jobs * every
	idle := float64(window/scaledPollMax) + float64(window/(fila.DefaultStalledInterval/scale))
	perJob := (float64(wire) - idle) / jobs
	t.Logf("a job every %v: %d commands for %d jobs (%s); %.1f per job above the idle cost of %.0f",
		every*scale, wire, jobs, summary(cc.take()), perJob, idle)
	require.Less(t, perJob, 15.0, "each job restarts the poll ramp once, about log2(PollMax/PollMin) polls")
}

// BenchmarkCommandsPerJob reports the commands fila sends per job under
// load: "backlog" processes b.N jobs added beforehand with AddBulk (the add
// cost is reported on its own), "stream" adds jobs one by one while a
// worker runs and counts everything.
func BenchmarkCommandsPerJob(b *testing.B) {
	b.Run("backlog", func(b *testing.B) {
		bd := miniBundle(b)
		be, cc := countingBackend(b, upstash.Config{URL: bd.srv.URL, Token: testToken})
		q := fila.NewQueue(be, "backlog")
		ctx := context.Background()
		jobs := make([]fila.BulkJob, b.N)
		for i := range jobs {
			jobs[i] = fila.BulkJob{Name: "send", Data: []byte(`{"to":"+15550001111","text":"hello"}`)}
		}
		bd.emu.ResetCounts()
		_, err := q.AddBulk(ctx, jobs)
		require.NoError(b, err)
		_, addCmds := bd.emu.Commands()
		cc.take()
		bd.emu.ResetCounts()

		var finished atomic.Int64
		done := make(chan struct{})
		b.ResetTimer()
		w := mustWorker(b)(fila.NewWorker(be, "backlog", func(context.Context, *fila.Job) (any, error) { return nil, nil },
			fila.WorkerOptions{Concurrency: 8, OnFinished: func(*fila.Job, error) {
				if finished.Add(1) == int64(b.N) {
					close(done)
				}
			}}))
		runWorker(b, w)
		<-done
		b.StopTimer()
		_, cmds := bd.emu.Commands()
		b.ReportMetric(float64(cmds)/float64(b.N), "cmds/job")
		b.ReportMetric(float64(addCmds)/float64(b.N), "add-cmds/job")
		b.Logf("N=%d: processing %s; AddBulk %d commands", b.N, summary(cc.take()), addCmds)
	})

	b.Run("stream", func(b *testing.B) {
		bd := miniBundle(b)
		be, cc := countingBackend(b, upstash.Config{URL: bd.srv.URL, Token: testToken})
		q := fila.NewQueue(be, "stream")
		ctx := context.Background()
		var finished atomic.Int64
		done := make(chan struct{})
		w := mustWorker(b)(fila.NewWorker(be, "stream", func(context.Context, *fila.Job) (any, error) { return nil, nil },
			fila.WorkerOptions{Concurrency: 8, OnFinished: func(*fila.Job, error) {
				if finished.Add(1) == int64(b.N) {
					close(done)
				}
			}}))
		runWorker(b, w)
		time.Sleep(100 * time.Millisecond) // the worker is polling
		cc.take()
		bd.emu.ResetCounts()
		b.ResetTimer()
		for range b.N {
			_, err := q.Add(ctx, "send", []byte(`{"to":"+15550001111","text":"hello"}`), nil)
			require.NoError(b, err)
		}
		<-done
		b.StopTimer()
		_, cmds := bd.emu.Commands()
		b.ReportMetric(float64(cmds)/float64(b.N), "cmds/job")
		b.Logf("N=%d: %s", b.N, summary(cc.take()))
	})
}
