package faulttest

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/fila-go/fila"
	"github.com/fila-go/fila/backend"
)

// Scenario 8: job schedulers under worker kills and clock skew. Schedulers
// at Every = 1s (10 for 20s at the reduced size, 50 for 2 minutes with
// FILA_SOAK=1) run on three worker processes whose wall clocks are 2s
// ahead, right, and 2s behind (BuildSkewedWorker); every ~5s one is
// SIGKILLed and started again. Then the schedulers are removed and every
// job accounted for by its deterministic ID (sched:<id>:<tick ms>): for
// each scheduler the ticks run are every second from its first to its
// last, none missing and none doubled, each tick's job completed.
func TestScenario8SchedulersKillAndSkewWorkers(t *testing.T) {
	e := NewEnv(t, "s8")
	skewed := BuildSkewedWorker(t)
	ctx := context.Background()
	n, run := Size(10, 50), Size(20*time.Second, 2*time.Minute)
	for i := range n {
		_, err := e.Queue.UpsertScheduler(ctx, fmt.Sprintf("s%02d", i), fila.Schedule{Every: time.Second}, "ok", nil, nil)
		require.NoError(t, err)
	}
	flags := []string{"-concurrency", "10", "-lock", "2s", "-stalled", "500ms"}
	skews := []int{2, 0, -2}
	start := func(k, gen int) *Proc {
		env := []string{fmt.Sprintf("FILA_FAULT_CLOCK_SKEW_SECONDS=%d", skews[k])}
		return e.StartProc(skewed, env, fmt.Sprintf("w%d-%d", k, gen), e.Redis.Addr, flags...)
	}
	var workers [3]*Proc
	for k := range workers {
		workers[k] = start(k, 0)
	}
	began := time.Now()
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 8))
	kills := 0
	for time.Since(began) < run {
		time.Sleep(4*time.Second + rand.N(2*time.Second))
		k := rng.IntN(len(workers))
		workers[k].Kill()
		kills++
		workers[k] = start(k, kills)
	}
	for i := range n {
		_, err := e.Queue.RemoveScheduler(ctx, fmt.Sprintf("s%02d", i))
		require.NoError(t, err)
	}
	e.Until("every tick's job finished", 2*time.Minute, func() bool {
		c := e.Counts()
		return c.Waiting+c.Prioritized+c.Paused+c.Delayed+c.Active == 0
	})
	took := time.Since(began)
	for _, w := range workers {
		_, err := w.Term(20 * time.Second)
		require.NoError(t, err)
	}
	require.Empty(t, e.listIDs(ctx, fila.StateFailed), "no tick's job failed")

	ticks := map[string][]time.Time{}
	var ids []string
	for id := range e.listIDs(ctx, fila.StateCompleted) {
		sid, tick, ok := backend.ParseSchedulerJobID(id)
		require.True(t, ok, "a completed job %q that no scheduler made", id)
		ticks[sid] = append(ticks[sid], tick)
		ids = append(ids, id)
	}
	require.Len(t, ticks, n, "every scheduler ran")
	total := 0
	for sid, ts := range ticks {
		slices.SortFunc(ts, func(a, b time.Time) int { return a.Compare(b) })
		for i := 1; i < len(ts); i++ {
			require.Equal(t, time.Second, ts[i].Sub(ts[i-1]), "scheduler %s: ticks %v and %v", sid, ts[i-1], ts[i])
		}
		require.GreaterOrEqual(t, ts[len(ts)-1].Sub(ts[0]), run-5*time.Second, "scheduler %s ran for the whole run", sid)
		total += len(ts)
	}
	tl := e.Account("8. schedulers, kill and skew workers",
		fmt.Sprintf("%d schedulers at Every=1s, %d SIGKILLs of 3 workers skewed +2s/0/-2s; every tick once, none missing", n, kills),
		ids, nil, took)
	WriteNote(t, "scenario 8: %d ticks of %d schedulers over %s, %d kills, %d handler reruns", total, n, run, kills, tl.Duplicates)
}
