package fila_test

import (
	"context"
	"fmt"
	"regexp"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/fila-go/fila"
	redisbackend "github.com/fila-go/fila/backend/redis"
	"github.com/fila-go/fila/internal/redistest"
)

// These tests run fila on a private redis-server (see internal/redistest):
// they are skipped without redis-server on PATH unless FILA_REQUIRE_REDIS=1.

type redisBundle struct {
	srv   *redistest.Server
	rdb   *redis.Client // the backend's client
	admin *redis.Client // for INFO and CONFIG, so its calls are easy to tell apart
	be    *redisbackend.Backend
}

func startRedis(t *testing.T, serverArgs []string, opts ...redisbackend.Option) *redisBundle {
	t.Helper()
	srv := redistest.Start(t, serverArgs...)
	b := &redisBundle{
		srv:   srv,
		rdb:   redis.NewClient(&redis.Options{Addr: srv.Addr, Protocol: 2}),
		admin: redis.NewClient(&redis.Options{Addr: srv.Addr, Protocol: 2}),
	}
	b.be = redisbackend.New(b.rdb, opts...)
	t.Cleanup(func() {
		b.be.Close()
		b.rdb.Close()
		b.admin.Close()
	})
	return b
}

var callsRe = regexp.MustCompile(`cmdstat_([a-z|_]+):calls=(\d+)`)

// commandCalls reads INFO commandstats: calls per command since the last
// CONFIG RESETSTAT, leaving out the admin client's own INFO and CONFIG.
func (b *redisBundle) commandCalls(t *testing.T) map[string]int64 {
	t.Helper()
	info, err := b.admin.Info(context.Background(), "commandstats").Result()
	require.NoError(t, err)
	out := map[string]int64{}
	for _, m := range callsRe.FindAllStringSubmatch(info, -1) {
		if m[1] == "info" || m[1] == "config|resetstat" {
			continue
		}
		n, _ := strconv.ParseInt(m[2], 10, 64)
		out[m[1]] = n
	}
	return out
}

func (b *redisBundle) resetStats(t *testing.T) {
	t.Helper()
	require.NoError(t, b.admin.ConfigResetStat(context.Background()).Err())
}

func (b *redisBundle) usedMemory(t *testing.T) int64 {
	t.Helper()
	info, err := b.admin.Info(context.Background(), "memory").Result()
	require.NoError(t, err)
	m := regexp.MustCompile(`used_memory:(\d+)`).FindStringSubmatch(info)
	require.NotNil(t, m)
	n, _ := strconv.ParseInt(m[1], 10, 64)
	return n
}

// runWorker runs a worker until the test ends.
func runWorker(t *testing.T, w *fila.Worker) {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- w.Run(context.Background()) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		require.NoError(t, w.Close(ctx))
		require.NoError(t, <-done)
	})
}

func noop(context.Context, *fila.Job) (any, error) { return nil, nil }

func TestRedisIdleWorkerBlocksInsteadOfPolling(t *testing.T) {
	b := startRedis(t, nil, redisbackend.WithBlockTimeout(time.Second))
	runWorker(t, newWorker(t, b.be, "idle", noop, fila.WorkerOptions{Concurrency: 10, StalledInterval: time.Hour}))
	time.Sleep(1500 * time.Millisecond) // past the first claim script and stalled check
	b.resetStats(t)
	time.Sleep(3 * time.Second)
	calls := b.commandCalls(t)
	t.Logf("idle worker, concurrency 10, 3s, 1s block timeout: %v", calls)
	// One BLMOVE per block timeout, whatever the concurrency, and nothing else.
	require.LessOrEqual(t, calls["blmove"], int64(4))
	require.GreaterOrEqual(t, calls["blmove"], int64(2), "the worker should be blocked in BLMOVE")
	total := int64(0)
	for _, n := range calls {
		total += n
	}
	require.Equal(t, calls["blmove"], total, "an idle worker sends only BLMOVE")
}

func TestRedisRoundTripsPerJob(t *testing.T) {
	b := startRedis(t, nil)
	q := fila.NewQueue(b.be, "trips")
	ctx := context.Background()

	t.Run("an idle worker takes a new job in 2 script calls and 1 BLMOVE", func(t *testing.T) {
		var done atomic.Int64
		runWorker(t, newWorker(t, b.be, "trips", noop, fila.WorkerOptions{Concurrency: 1, StalledInterval: time.Hour,
			OnFinished: func(*fila.Job, error) { done.Add(1) }}))
		// A first job loads the scripts into the fresh server (EVAL after
		// NOSCRIPT) and registers the queue; count the second.
		for i := int64(1); i <= 2; i++ {
			time.Sleep(300 * time.Millisecond) // the worker is blocked in BLMOVE
			if i == 2 {
				b.resetStats(t)
			}
			_, err := q.Add(ctx, "one", nil, nil)
			require.NoError(t, err)
			require.Eventually(t, func() bool { return done.Load() == i }, 5*time.Second, time.Millisecond)
		}
		time.Sleep(100 * time.Millisecond) // let the worker block again
		calls := b.commandCalls(t)
		t.Logf("one job through an idle worker: %v", calls)
		// add, claim_moved, finish (as FCALL on Redis 7: the function
		// library is loaded); the BLMOVE that took it.
		require.Equal(t, int64(3), calls["fcall"], "script calls run as functions on Redis 7")
		require.Zero(t, calls["evalsha"]+calls["eval"])
		require.LessOrEqual(t, calls["blmove"], int64(2))
	})

	// busy adds 2,000 jobs, runs them through a worker and returns the
	// jobs and the script calls the run made per job.
	busy := func(t *testing.T, p fila.Processor, opts fila.WorkerOptions) ([]*fila.Job, float64) {
		const n = 2000
		jobs := make([]fila.BulkJob, n)
		for i := range jobs {
			jobs[i] = fila.BulkJob{Name: "j", Data: []byte(`{"i":1}`), Options: &fila.JobOptions{RemoveOnComplete: fila.RemoveJob}}
		}
		added, err := q.AddBulk(ctx, jobs)
		require.NoError(t, err)
		b.resetStats(t)
		var done atomic.Int64
		all := make(chan struct{})
		opts.StalledInterval = time.Hour
		opts.OnFinished = func(*fila.Job, error) {
			if done.Add(1) == n {
				close(all)
			}
		}
		runWorker(t, newWorker(t, b.be, "trips", p, opts))
		select {
		case <-all:
		case <-time.After(30 * time.Second):
			t.Fatal("jobs did not finish")
		}
		calls := b.commandCalls(t)
		scripts := calls["evalsha"] + calls["eval"] + calls["fcall"]
		t.Logf("%d jobs, concurrency %d, prefetch %d: %d script calls (%.2f per job), %d BLMOVE", n, opts.Concurrency, opts.Prefetch, scripts, float64(scripts)/n, calls["blmove"])
		return added, float64(scripts) / n
	}

	t.Run("a busy worker needs about one script call per job", func(t *testing.T) {
		_, perJob := busy(t, noop, fila.WorkerOptions{Concurrency: 10})
		require.LessOrEqual(t, perJob, 1.1, "complete-and-claim-next should carry a busy worker")
	})

	t.Run("with Prefetch one handler at a time, each job once, about one script call each", func(t *testing.T) {
		var running peak
		var mu sync.Mutex
		ran := map[string]int{}
		added, perJob := busy(t, func(_ context.Context, j *fila.Job) (any, error) {
			defer running.enter()()
			mu.Lock()
			ran[j.ID]++
			mu.Unlock()
			return nil, nil
		}, fila.WorkerOptions{Concurrency: 1, Prefetch: 1})
		require.Equal(t, int32(1), running.most.Load(), "one handler at a time")
		require.Len(t, ran, len(added))
		for _, j := range added {
			require.Equal(t, 1, ran[j.ID], "job %s", j.ID)
		}
		require.LessOrEqual(t, perJob, 1.1)
	})
}

func TestRedisKillAndRestartLosesNothing(t *testing.T) {
	if testing.Short() {
		t.Skip("kills and restarts redis-server")
	}
	b := startRedis(t, []string{"--appendonly", "yes", "--appendfsync", "everysec"})
	// Every job is kept, to be counted: the default keeps only the newest
	// fila.DefaultKeepCompleted.
	q := fila.NewQueue(b.be, "durable", fila.QueueOptions{Defaults: fila.JobOptions{RemoveOnComplete: fila.KeepAll}})
	ctx := context.Background()
	const n = 10000
	jobs := make([]fila.BulkJob, n)
	for i := range jobs {
		jobs[i] = fila.BulkJob{Name: "j", Data: []byte(strconv.Itoa(i))}
	}
	added, err := q.AddBulk(ctx, jobs)
	require.NoError(t, err)

	var mu sync.Mutex
	runs := map[string]int{}
	var ran atomic.Int64
	runWorker(t, newWorker(t, b.be, "durable", func(ctx context.Context, j *fila.Job) (any, error) {
		mu.Lock()
		runs[j.ID]++
		mu.Unlock()
		ran.Add(1)
		time.Sleep(100 * time.Microsecond)
		return nil, nil
	}, fila.WorkerOptions{Concurrency: 20, LockDuration: 2 * time.Second, StalledInterval: 500 * time.Millisecond}))

	require.Eventually(t, func() bool { return ran.Load() >= 3000 }, 30*time.Second, time.Millisecond)
	b.srv.Kill()
	killedAt := ran.Load()
	time.Sleep(500 * time.Millisecond)
	b.srv.Restart()

	require.Eventually(t, func() bool {
		c, err := q.Counts(ctx)
		return err == nil && c.Completed == n
	}, 90*time.Second, 100*time.Millisecond, "every job completes after the restart")
	c, err := q.Counts(ctx)
	require.NoError(t, err)
	require.Equal(t, fila.Counts{Completed: n}, *c)
	mu.Lock()
	defer mu.Unlock()
	dups := 0
	for _, j := range added {
		require.GreaterOrEqual(t, runs[j.ID], 1, "job %s never ran", j.ID)
		dups += runs[j.ID] - 1
	}
	t.Logf("killed redis-server after %d runs; %d jobs, %d completed, %d ran twice (in flight at the kill), 0 lost", killedAt, n, c.Completed, dups)
	require.LessOrEqual(t, dups, 100, "only jobs in flight around the kill may run twice")
}

func TestRedisMemoryStaysBoundedWithKeepLast(t *testing.T) {
	if testing.Short() {
		t.Skip("pushes 100,000 jobs")
	}
	b := startRedis(t, nil)
	q := fila.NewQueue(b.be, "bounded")
	ctx := context.Background()
	payload := []byte(`{"p":"` + fmt.Sprintf("%092d", 0) + `"}`) // 100 bytes
	before := b.usedMemory(t)

	const n = 100000
	var done atomic.Int64
	all := make(chan struct{})
	runWorker(t, newWorker(t, b.be, "bounded", noop, fila.WorkerOptions{Concurrency: 50, StalledInterval: time.Hour,
		OnFinished: func(*fila.Job, error) {
			if done.Add(1) == n {
				close(all)
			}
		}}))
	stopSampling := make(chan struct{})
	peakc := make(chan int64)
	go func() {
		peak := before
		for {
			select {
			case <-stopSampling:
				peakc <- peak
				return
			case <-time.After(20 * time.Millisecond):
				peak = max(peak, b.usedMemory(t))
			}
		}
	}()
	opts := &fila.JobOptions{RemoveOnComplete: fila.KeepLast(1000)}
	for i := 0; i < n; i += 1000 {
		chunk := make([]fila.BulkJob, 1000)
		for k := range chunk {
			chunk[k] = fila.BulkJob{Name: "j", Data: payload, Options: opts}
		}
		_, err := q.AddBulk(ctx, chunk)
		require.NoError(t, err)
	}
	select {
	case <-all:
	case <-time.After(120 * time.Second):
		t.Fatal("jobs did not finish")
	}
	close(stopSampling)
	peak := <-peakc
	after := b.usedMemory(t)
	c, err := q.Counts(ctx)
	require.NoError(t, err)
	require.Equal(t, fila.Counts{Completed: 1000}, *c)
	t.Logf("100,000 jobs, keep last 1,000: used_memory before %d B, peak %d B, after %d B (+%d B: 1,000 kept jobs, the capped event stream, metrics)",
		before, peak, after, after-before)
	// 1,000 kept jobs (~0.3 MB) and a stream capped near 10,000 events (~1-2 MB).
	require.Less(t, after-before, int64(8<<20), "memory after the run should not grow with the number of jobs")
}

// Regression: with Concurrency > 1 a retry's backoff must fire on time. The
// failing job's own script pushed the wake marker and its chained claim took
// it, so the worker's claim already blocked in BLMOVE slept its whole block
// timeout (30s) before the retry ran.
func TestRedisRetryFiresOnTimeWithConcurrency(t *testing.T) {
	check := func(t *testing.T, be *redisbackend.Backend) {
		q := fila.NewQueue(be, "retry-timing")
		var mu sync.Mutex
		var starts []time.Time
		runWorker(t, newWorker(t, be, "retry-timing", func(ctx context.Context, j *fila.Job) (any, error) {
			mu.Lock()
			starts = append(starts, time.Now())
			mu.Unlock()
			if j.AttemptsMade == 0 {
				return nil, fmt.Errorf("first attempt fails")
			}
			return nil, nil
		}, fila.WorkerOptions{Concurrency: 4, StalledInterval: time.Hour}))
		time.Sleep(300 * time.Millisecond) // every claim slot blocked in BLMOVE
		job, err := q.Add(context.Background(), "j", nil, &fila.JobOptions{Attempts: 2,
			Backoff: fila.Backoff{Type: fila.BackoffFixed, Delay: 200 * time.Millisecond}})
		require.NoError(t, err)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		done, err := job.WaitUntilFinished(ctx)
		require.NoError(t, err)
		require.Equal(t, fila.StateCompleted, done.State)
		mu.Lock()
		defer mu.Unlock()
		require.Len(t, starts, 2)
		gap := starts[1].Sub(starts[0])
		require.GreaterOrEqual(t, gap, 200*time.Millisecond)
		// Generous for a loaded machine, and well under the worker's 30s
		// block timeout.
		require.Less(t, gap, 10*time.Second, "the retry waited for a block timeout instead of its backoff")
	}
	t.Run("miniredis", func(t *testing.T) {
		mr := miniredis.RunT(t)
		rdb := redis.NewClient(&redis.Options{Addr: mr.Addr()})
		be := redisbackend.New(rdb)
		t.Cleanup(func() { be.Close(); rdb.Close() })
		check(t, be)
	})
	t.Run("redis-server", func(t *testing.T) {
		check(t, startRedis(t, nil).be)
	})
}
