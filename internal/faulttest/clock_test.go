package faulttest

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/fila-go/fila"
)

// Scenario 5: clock skew. fila's claim is that the backend's clock decides
// every time (Redis TIME inside the scripts), so the clocks of the worker
// machines do not matter. Two halves prove it:
//
//   - No worker sends a time. Every command of every worker process, over a
//     run that uses delays, retries with backoff, lock renewal, the stalled
//     check and the global limiter, is checked for an argument that reads
//     as the worker's wall clock (s, ms, µs or ns since the epoch, within a
//     day): there must be none. So a worker's clock cannot reach Redis, and
//     skew between workers cannot matter. (The worker's own clock is only
//     used for durations - timers, tickers, the block bound of a claim.)
//   - Skewed workers work: two worker processes whose wall clocks are set
//     10s ahead and 10s behind (the helper built against a time package whose
//     time.Now is offset, see BuildSkewedWorker; libfaketime cannot skew a
//     Go process, which reads the clock through the vDSO) share a queue,
//     and delays fire after their delay and not much later, jobs longer
//     than LockDuration keep their renewed locks, and the global limiter
//     holds 10 starts per second across both.

func TestScenario5WorkersSendNoClock(t *testing.T) {
	e := NewEnv(t, "s5")
	flags := []string{"-clockcheck", "-concurrency", "5", "-lock", "2s", "-stalled", "500ms", "-limit-max", "20", "-limit-per", "1s"}
	w1 := e.StartWorker("w1", e.Redis.Addr, flags...)
	w2 := e.StartWorker("w2", e.Redis.Addr, flags...)
	start := time.Now()
	var ids []string
	ids = append(ids, e.AddJobs(20, "ok", func(i int) string { return "5" }, &fila.JobOptions{Delay: 500 * time.Millisecond})...)
	failing := e.AddJobs(10, "fail", func(int) string { return "" }, &fila.JobOptions{Attempts: 3, Backoff: fila.Backoff{Type: fila.BackoffExponential, Delay: 100 * time.Millisecond}})
	ids = append(ids, failing...)
	ids = append(ids, e.AddJobs(4, "ok", func(int) string { return "3000" }, nil)...) // renewed locks
	ids = append(ids, e.AddJobs(60, "ok", func(int) string { return "1" }, &fila.JobOptions{Priority: 3})...)
	e.WaitFinished(len(ids), 2*time.Minute)
	for _, w := range []*Proc{w1, w2} {
		_, err := w.Term(10 * time.Second)
		require.NoError(t, err)
	}
	checked := int64(0)
	for _, r := range e.AllRecords() {
		require.Empty(t, r.ClockArgs, "%s sent arguments that read as its wall clock", r.Proc.Name)
		require.Positive(t, r.Checked, "%s checked no command", r.Proc.Name)
		checked += r.Checked
	}
	isFailing := map[string]bool{}
	for _, id := range failing {
		isFailing[id] = true
	}
	e.Account("5a. workers send no time", fmt.Sprintf("%d commands checked, 0 carried a wall-clock time", checked), ids,
		func(id string) bool { return isFailing[id] }, time.Since(start))
}

func TestScenario5SkewedWorkers(t *testing.T) {
	e := NewEnv(t, "s5-skew")
	bin := BuildSkewedWorker(t)
	ctx := context.Background()
	start := time.Now()
	flags := []string{"-clockcheck", "-concurrency", "5", "-lock", "2s", "-stalled", "500ms", "-limit-max", "10", "-limit-per", "1s"}
	// Skews far larger than a loaded machine's latencies, so that the
	// bounds below, generous for such a machine, still catch a worker
	// that acts on its own clock.
	skews := map[string]time.Duration{"ahead": 10 * time.Second, "behind": -10 * time.Second}
	var procs []*Proc
	for _, name := range []string{"ahead", "behind"} {
		p := e.StartProc(bin, []string{fmt.Sprintf("FILA_FAULT_CLOCK_SKEW_SECONDS=%d", int(skews[name].Seconds()))}, name, e.Redis.Addr, flags...)
		procs = append(procs, p)
		off := time.UnixMilli(ReadRecords(p).ReadyAt).Sub(time.Now())
		require.InDelta(t, skews[name].Seconds(), off.Seconds(), 3, "%s's clock is off by %s", name, off)
	}

	// Delays: by the test's clock, each job starts no sooner than its delay
	// after its add, and not much later, whichever worker runs it.
	const delay = 1500 * time.Millisecond
	addedAt := time.Now()
	delayed := e.AddJobs(10, "ok", func(int) string { return "1" }, &fila.JobOptions{Delay: delay})
	e.WaitFinished(len(delayed), time.Minute)
	var lates []time.Duration
	ranOn := map[string]int{}
	for _, r := range e.AllRecords() {
		for _, id := range delayed {
			for _, at := range r.StartTimes[id] {
				late := time.UnixMilli(at).Add(-skews[r.Proc.Name]).Sub(addedAt) - delay
				lates = append(lates, late)
				ranOn[r.Proc.Name]++
				require.GreaterOrEqual(t, late, -100*time.Millisecond, "job %s ran on %s before its delay", id, r.Proc.Name)
				require.Less(t, late, 5*time.Second, "job %s ran on %s long after its delay (by its own clock it would be 10s)", id, r.Proc.Name)
			}
		}
	}
	require.Len(t, lates, len(delayed))

	// Locks: jobs that run 3s with a 2s lock keep it by renewal.
	long := e.AddJobs(6, "ok", func(int) string { return "3000" }, nil)
	e.WaitFinished(len(delayed)+len(long), time.Minute)
	for _, id := range long {
		j, err := e.Queue.GetJob(ctx, id)
		require.NoError(t, err)
		require.Equal(t, fila.StateCompleted, j.State)
		// A lost lock shows as a stall and a second attempt. (AttemptsStarted
		// counts claims: a job claimed ahead of a free slot, Prefetch, and
		// handed back after PrefetchHold counts one more.)
		require.Equal(t, 1, j.AttemptsMade, "job %s ran more than once", id)
		require.Zero(t, j.StalledCount, "job %s lost its lock", id)
	}

	// The limiter: 10 starts per second across both processes, by the
	// server's clock (ProcessedAt), and it does let them run.
	limited := e.AddJobs(40, "ok", func(int) string { return "0" }, nil)
	limStart := time.Now()
	e.WaitFinished(len(delayed)+len(long)+len(limited), time.Minute)
	limTook := time.Since(limStart)
	var starts []time.Time
	for _, id := range limited {
		j, err := e.Queue.GetJob(ctx, id)
		require.NoError(t, err)
		starts = append(starts, j.ProcessedAt)
	}
	slices.SortFunc(starts, func(a, b time.Time) int { return a.Compare(b) })
	maxInWindow := 0
	for i := range starts {
		n := 0
		for k := i; k < len(starts) && starts[k].Sub(starts[i]) < time.Second; k++ {
			n++
		}
		maxInWindow = max(maxInWindow, n)
	}
	require.LessOrEqual(t, maxInWindow, 10, "the limiter let more than 10 start in one second")
	require.GreaterOrEqual(t, limTook, 2500*time.Millisecond, "40 jobs at 10/s take at least 3s")

	for _, p := range procs {
		_, err := p.Term(10 * time.Second)
		require.NoError(t, err)
	}
	checked := int64(0)
	for _, r := range e.AllRecords() {
		require.Empty(t, r.ClockArgs, "%s sent arguments that read as its wall clock", r.Proc.Name)
		checked += r.Checked
	}
	all := append(append(append([]string{}, delayed...), long...), limited...)
	slices.Sort(lates)
	e.Account("5b. worker clocks +2s and -2s", fmt.Sprintf(
		"delayed jobs (ahead %d, behind %d) started %s..%s after their delay; 6 jobs of 3s kept a 2s lock; limiter max %d starts in 1s (limit 10); %d commands, 0 with a time",
		ranOn["ahead"], ranOn["behind"], lates[0].Round(time.Millisecond), lates[len(lates)-1].Round(time.Millisecond), maxInWindow, checked),
		all, nil, time.Since(start))
}
