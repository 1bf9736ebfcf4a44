package faulttest

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/fila-go/fila"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// sleepMs spreads handler times over 0-40 ms.
func sleepMs(i int) string { return strconv.Itoa((i % 5) * 10) }

// Scenario 1: three worker processes; every ~2s a random one is SIGKILLed
// and a fresh one started in its place.
func TestScenario1KillWorkers(t *testing.T) {
	e := NewEnv(t, "s1")
	n := Size(8000, 20000)
	flags := []string{"-concurrency", "10", "-lock", "5s", "-stalled", "1s"}
	ids := e.AddJobs(n, "ok", sleepMs, nil)
	start := time.Now()
	var workers [3]*Proc
	for i := range workers {
		workers[i] = e.StartWorker(fmt.Sprintf("w%d-0", i), e.Redis.Addr, flags...)
	}
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 1))
	kills := 0
	deadline := time.Now().Add(3 * time.Minute)
	for {
		time.Sleep(1500*time.Millisecond + rand.N(time.Second))
		// Keep killing while jobs have yet to be claimed a first time.
		if c := e.Counts(); c.Waiting == 0 {
			break
		}
		if time.Now().After(deadline) {
			e.Fatalf("jobs still waiting after 3 minutes")
		}
		k := rng.IntN(len(workers))
		workers[k].Kill()
		kills++
		workers[k] = e.StartWorker(fmt.Sprintf("w%d-%d", k, kills), e.Redis.Addr, flags...)
	}
	e.WaitFinished(n, 3*time.Minute)
	took := time.Since(start)
	for _, w := range workers {
		_, err := w.Term(20 * time.Second)
		require.NoError(t, err)
	}
	require.GreaterOrEqual(t, kills, 2, "the run should see several kills")
	tl := e.Account("1. kill workers", fmt.Sprintf("%d SIGKILLs of 3 workers", kills), ids, nil, took)
	require.LessOrEqual(t, tl.Duplicates, kills*10, "at most one duplicate per job in flight at a kill")
}

// Scenario 2: redis-server with appendonly yes is SIGKILLed and restarted
// twice during the run. It runs with appendfsync always: with everysec,
// Redis itself may lose acknowledged writes at a crash (it postpones the
// AOF write up to 2s while a slow fsync runs, and still replies), and a
// job completed in that window then runs again whatever the queue does.
// That happened once in CI under a busy disk (4 jobs of 8,000); this
// scenario checks fila's side of a crash.
func TestScenario2KillRedis(t *testing.T) {
	e := NewEnv(t, "s2", "--appendonly", "yes", "--appendfsync", "always")
	n := Size(8000, 20000)
	flags := []string{"-concurrency", "10", "-lock", "5s", "-stalled", "1s"}
	ids := e.AddJobs(n, "ok", sleepMs, nil)
	start := time.Now()
	var workers []*Proc
	for i := range 3 {
		workers = append(workers, e.StartWorker(fmt.Sprintf("w%d", i), e.Redis.Addr, flags...))
	}
	for k := 1; k <= 2; k++ {
		e.Until(fmt.Sprintf("%d jobs completed", n*k/3), 2*time.Minute, func() bool { return e.Counts().Completed >= int64(n*k/3) })
		e.Redis.Kill()
		time.Sleep(time.Second)
		e.Redis.Restart()
	}
	e.WaitFinished(n, 3*time.Minute)
	took := time.Since(start)
	for _, w := range workers {
		require.True(t, w.Running(), "a worker exited on a Redis restart")
		_, err := w.Term(20 * time.Second)
		require.NoError(t, err)
	}
	e.Account("2. kill redis-server (AOF)", "2 SIGKILLs of redis-server, 1s down each", ids, nil, took)
}

// Scenario 3: every connection between the workers and Redis goes through
// a proxy that drops them all for 3s, several times, resets them once and
// stalls them once; the workers recover on their own, busy or idle.
func TestScenario3DropConnections(t *testing.T) {
	e := NewEnv(t, "s3")
	proxy := StartProxy(t, e.Redis.Addr)
	outages := Size(3, 6)
	wave := Size(1500, 4000)
	// A lock longer than an outage plus the reconnect backoff: a complete
	// held up by an outage must still find its lock.
	flags := []string{"-concurrency", "10", "-lock", "15s", "-stalled", "1s"}
	var workers []*Proc
	for i := range 3 {
		workers = append(workers, e.StartWorker(fmt.Sprintf("w%d", i), proxy.Addr, flags...))
	}
	start := time.Now()
	var ids []string
	faults := 0
	for k := range outages {
		ids = append(ids, e.AddJobs(wave, "ok", sleepMs, nil)...)
		time.Sleep(500 * time.Millisecond) // jobs are in flight
		conns := proxy.Conns()
		proxy.Down(3 * time.Second)
		faults++
		t.Logf("outage %d: dropped %d connections for 3s", k+1, conns)
		time.Sleep(time.Second)
	}
	// A reset (RST) and a 4s stall, longer than go-redis' 3s read timeout.
	ids = append(ids, e.AddJobs(wave, "ok", sleepMs, nil)...)
	time.Sleep(500 * time.Millisecond)
	t.Logf("reset %d connections", proxy.Reset())
	time.Sleep(time.Second)
	proxy.Stall()
	time.Sleep(4 * time.Second)
	proxy.Unstall()
	e.WaitFinished(len(ids), 3*time.Minute)

	// Idle workers blocked in BLMOVE lose their connections and must still
	// serve jobs added after the outage.
	time.Sleep(time.Second)
	proxy.Down(3 * time.Second)
	idleStart := time.Now()
	ids = append(ids, e.AddJobs(100, "ok", sleepMs, nil)...)
	e.WaitFinished(len(ids), 2*time.Minute)
	t.Logf("idle workers served jobs added after an outage in %s", time.Since(idleStart).Round(time.Millisecond))
	took := time.Since(start)
	for _, w := range workers {
		require.True(t, w.Running())
		_, err := w.Term(20 * time.Second)
		require.NoError(t, err)
	}
	tl := e.Account("3. drop connections", fmt.Sprintf("%d+1 outages of 3s, 1 reset, 1 stall of 4s", faults), ids, nil, took)
	require.Zero(t, tl.Duplicates, "no worker was interrupted, so no job may run twice")
}

// Scenario 4: a handler that hangs past its timeout, one that panics, and a
// worker that loses a lock (SIGSTOPped longer than LockDuration): the
// outcome is right and the worker keeps serving.
func TestScenario4BadHandlers(t *testing.T) {
	t.Run("a hanging and a panicking handler fail their jobs and the worker keeps serving", func(t *testing.T) {
		e := NewEnv(t, "s4")
		ctx := context.Background()
		start := time.Now()
		w := e.StartWorker("w", e.Redis.Addr, "-concurrency", "2", "-lock", "5s")
		opts := &fila.JobOptions{Attempts: 2, Timeout: time.Second}
		hang := e.AddJobs(3, "hang", func(int) string { return "" }, opts)
		panics := e.AddJobs(3, "panic", func(int) string { return "" }, opts)
		ok := e.AddJobs(50, "ok", func(int) string { return "10" }, nil)
		all := append(append(append([]string{}, hang...), panics...), ok...)
		e.WaitFinished(len(all), 2*time.Minute)
		require.True(t, w.Running())
		for _, id := range hang {
			j, err := e.Queue.GetJob(ctx, id)
			require.NoError(t, err)
			require.Equal(t, fila.StateFailed, j.State)
			require.Equal(t, "job timed out after 1s", j.FailedReason)
			require.Equal(t, 2, j.AttemptsMade)
		}
		for _, id := range panics {
			j, err := e.Queue.GetJob(ctx, id)
			require.NoError(t, err)
			require.Equal(t, fila.StateFailed, j.State)
			require.True(t, strings.HasPrefix(j.FailedReason, "panic: faultworker: job"), j.FailedReason)
			require.Len(t, j.Stacktrace, 2)
			require.Equal(t, 2, j.AttemptsMade)
		}
		for _, id := range ok {
			j, err := e.Queue.GetJob(ctx, id)
			require.NoError(t, err)
			require.JSONEq(t, `"w"`, string(j.ReturnValue))
		}
		// 6 handlers are hung forever by now; the worker still has its 2 slots.
		more := e.AddJobs(20, "ok", func(int) string { return "1" }, nil)
		all = append(all, more...)
		e.WaitFinished(len(all), time.Minute)
		_, err := w.Term(5 * time.Second)
		require.NoError(t, err, "a worker with abandoned handlers still shuts down")
		failed := map[string]bool{}
		for _, id := range append(hang, panics...) {
			failed[id] = true
		}
		e.Account("4a. hang past timeout, panic", "3 hung and 3 panicking jobs, 2 attempts each", all,
			func(id string) bool { return failed[id] }, time.Since(start))
	})

	t.Run("a worker frozen past its lock loses the job to another and keeps serving", func(t *testing.T) {
		e := NewEnv(t, "s4-lock")
		ctx := context.Background()
		start := time.Now()
		flags := []string{"-concurrency", "1", "-lock", "2s", "-stalled", "500ms"}
		a := e.StartWorker("A", e.Redis.Addr, flags...)
		ids := e.AddJobs(1, "ok", func(int) string { return "3000" }, nil)
		require.Eventually(t, func() bool { return countPrefix(a.Records, "S "+ids[0]+" ") == 1 }, 10*time.Second, 10*time.Millisecond)
		a.Stop()
		stoppedAt := time.Now()
		b := e.StartWorker("B", e.Redis.Addr, flags...)
		require.Eventually(t, func() bool {
			j, err := e.Queue.GetJob(ctx, ids[0])
			return err == nil && j.State == fila.StateCompleted
		}, 30*time.Second, 50*time.Millisecond, "B recovers the stalled job and completes it")
		a.Cont()
		frozen := time.Since(stoppedAt)
		time.Sleep(2 * time.Second) // A wakes up, finds its lock gone, drops its outcome
		j, err := e.Queue.GetJob(ctx, ids[0])
		require.NoError(t, err)
		require.JSONEq(t, `"B"`, string(j.ReturnValue), "A's late outcome must not overwrite B's")
		require.Equal(t, 1, j.AttemptsMade)
		require.Equal(t, 1, j.StalledCount)
		require.Zero(t, ReadRecords(a).Completes[ids[0]], "A's completion was refused")

		_, err = b.Term(10 * time.Second)
		require.NoError(t, err)
		more := e.AddJobs(20, "ok", func(int) string { return "5" }, nil)
		e.WaitFinished(21, time.Minute)
		for _, id := range more {
			j, err := e.Queue.GetJob(ctx, id)
			require.NoError(t, err)
			require.JSONEq(t, `"A"`, string(j.ReturnValue), "A keeps serving after losing a lock")
		}
		require.True(t, a.Running())
		_, err = a.Term(10 * time.Second)
		require.NoError(t, err)
		e.Account("4b. lock lost (SIGSTOP past LockDuration)", fmt.Sprintf("worker SIGSTOPped %.1fs with a 2s lock, then SIGCONTed", frozen.Seconds()), append(ids, more...), nil, time.Since(start))
	})
}

// Scenario 6: SIGTERM to a worker with ~50 jobs in flight: jobs that finish
// within ShutdownTimeout complete; the others go back to waiting without
// spending an attempt, and run later.
func TestScenario6GracefulShutdown(t *testing.T) {
	e := NewEnv(t, "s6")
	ctx := context.Background()
	start := time.Now()
	const n = 200
	// Even jobs take 300ms, odd ones 20s: at the SIGTERM some finish within
	// the 2s drain and some cannot.
	ids := e.AddJobs(n, "ok", func(i int) string {
		if i%2 == 0 {
			return "300"
		}
		return "20000"
	}, nil)
	w := e.StartWorker("w", e.Redis.Addr, "-concurrency", "50", "-lock", "10s", "-shutdown", "2s")
	require.Eventually(t, func() bool { return countPrefix(w.Records, "S ") >= 80 }, 30*time.Second, 10*time.Millisecond)
	time.Sleep(200 * time.Millisecond)
	r := ReadRecords(w)
	inFlight := 0
	for id := range r.Starts {
		if r.Effects[id] == 0 {
			inFlight++
		}
	}
	took, err := w.Term(15 * time.Second)
	require.NoError(t, err, "a SIGTERMed worker exits cleanly")
	// Generous for a loaded machine over the 2s ShutdownTimeout, and well
	// under the 20s the handlers would run.
	require.Less(t, took, 10*time.Second, "the drain is bounded by ShutdownTimeout")

	r = ReadRecords(w)
	completed, released := 0, 0
	for _, id := range ids {
		j, err := e.Queue.GetJob(ctx, id)
		require.NoError(t, err)
		switch {
		case r.Effects[id] > 0:
			require.Equal(t, fila.StateCompleted, j.State, "job %s finished before the deadline", id)
			require.Equal(t, 1, j.AttemptsMade)
			completed++
		case r.Starts[id] > 0:
			require.Equal(t, fila.StateWaiting, j.State, "job %s was handed back", id)
			require.Equal(t, 0, j.AttemptsMade, "a handed-back job spends no attempt")
			require.Equal(t, 1, j.AttemptsStarted)
			require.Len(t, r.Interrupts[id], 1)
			require.Contains(t, r.Interrupts[id][0], fila.ErrShutdown.Error())
			released++
		default:
			require.Equal(t, fila.StateWaiting, j.State)
			require.Equal(t, 0, j.AttemptsStarted)
		}
	}
	require.Greater(t, released, 0)
	WriteNote(t, "scenario 6: SIGTERM with %d jobs in flight: exit in %s, %d jobs completed in all, %d handed back to waiting with AttemptsMade 0",
		inFlight, took.Round(time.Millisecond), completed, released)

	// A second worker (handlers capped at 10ms) runs what was handed back.
	w2 := e.StartWorker("w2", e.Redis.Addr, "-concurrency", "50", "-sleep-cap", "10ms")
	e.WaitFinished(n, time.Minute)
	for _, id := range ids {
		j, err := e.Queue.GetJob(ctx, id)
		require.NoError(t, err)
		require.Equal(t, 1, j.AttemptsMade, "job %s: the handed-back attempt was not counted", id)
	}
	_, err = w2.Term(10 * time.Second)
	require.NoError(t, err)
	e.Account("6. SIGTERM under load", fmt.Sprintf("SIGTERM with %d in flight, 2s drain", inFlight), ids, nil, time.Since(start))
}
