package faulttest

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/fila-go/fila"
)

// flowSleepMs spreads a flow job's handler time over 50-150 ms, so a run
// lasts long enough for several kills.
func flowSleepMs(i int) string { return strconv.Itoa(50 + (i%11)*10) }

// Scenario 9 (issue 21): flows under worker kills. Trees of one parent and
// three children; three worker processes, a random one SIGKILLed every ~2 s
// and replaced, until every job finished. Every job completes, and is
// completed once by the backend (Account); every parent ran only after all
// its children completed: each run of its handler read 0 pending children
// and 3 values, each child's FinishedAt is not after the parent's
// ProcessedAt (the backend's clock), and each child's first success came
// before the parent's first start (the workers' clock); no parent is left
// in waiting-children.
func TestScenario9FlowsKillWorkers(t *testing.T) {
	e := NewEnv(t, "s9")
	runScenario9(t, e, nil, "9. flows, kill workers")
}

// Scenario 9b: scenario 9 with every tree's children in another queue,
// each queue with its own workers (two of the three run the children's),
// so a child's finish in one queue's script moves its parent in the
// other's while workers are killed.
func TestScenario9bFlowsAcrossQueuesKillWorkers(t *testing.T) {
	e := NewEnv(t, "s9b")
	runScenario9(t, e, e.AddQueue("s9b-kids"), "9b. flows across queues, kill workers")
}

// runScenario9 adds the trees (children in kids, nil for the parents'
// queue) and runs them under kills.
func runScenario9(t *testing.T, e *Env, kids *fila.Queue, scenario string) {
	n := Size(500, 2000)
	trees, err := e.AddTreesIn(kids, n, 3, flowSleepMs)
	if errors.Is(err, ErrNoFlows) {
		t.Skipf("%v: this build has no flows on Redis", err)
	}
	require.NoError(t, err)
	var ids []string
	for _, tr := range trees {
		ids = append(ids, tr.Parent)
		ids = append(ids, tr.Children...)
	}
	flags := []string{"-concurrency", "10", "-lock", "5s", "-stalled", "1s"}
	// queueOf is worker i's queue: with kids, workers 1 and 2 run the
	// children.
	queueOf := func(i int) []string {
		if kids != nil && i > 0 {
			return []string{"-queue", kids.Name()}
		}
		return nil
	}
	start := time.Now()
	var workers [3]*Proc
	for i := range workers {
		workers[i] = e.StartWorker(fmt.Sprintf("w%d-0", i), e.Redis.Addr, append(queueOf(i), flags...)...)
	}
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 9))
	kills := 0
	deadline := time.Now().Add(4 * time.Minute)
	for {
		time.Sleep(1500*time.Millisecond + rand.N(time.Second))
		if c := e.Counts(); int(c.Completed+c.Failed) >= len(ids) {
			break
		}
		if time.Now().After(deadline) {
			e.Fatalf("jobs still unfinished after 4 minutes")
		}
		k := rng.IntN(len(workers))
		workers[k].Kill()
		kills++
		workers[k] = e.StartWorker(fmt.Sprintf("w%d-%d", k, kills), e.Redis.Addr, append(queueOf(k), flags...)...)
	}
	c := e.WaitFinished(len(ids), 3*time.Minute)
	took := time.Since(start)
	for _, w := range workers {
		_, err := w.Term(20 * time.Second)
		require.NoError(t, err)
	}
	require.Zero(t, c.WaitingChildren, "parents stuck in waiting-children: %+v", *c)
	require.GreaterOrEqual(t, kills, 2, "the run should see several kills")
	tl := e.Account(scenario, fmt.Sprintf("%d trees of 1+3, %d SIGKILLs of 3 workers", n, kills), ids, nil, took)
	require.LessOrEqual(t, tl.Duplicates, kills*10, "at most one duplicate per job in flight at a kill")
	checkTrees(t, e, trees)
}

// checkTrees fails the test for a parent that ran before all its children
// completed, or that does not hold their three values.
func checkTrees(t *testing.T, e *Env, trees []Tree) {
	t.Helper()
	ctx := context.Background()
	reads := map[string][]ParentRead{}
	firstStart := map[string]int64{}
	firstEffect := map[string]int64{}
	earliest := func(m map[string]int64, id string, ts []int64) {
		for _, at := range ts {
			if old, ok := m[id]; !ok || at < old {
				m[id] = at
			}
		}
	}
	for _, r := range e.AllRecords() {
		for id, rs := range r.ParentReads {
			reads[id] = append(reads[id], rs...)
		}
		for id, ts := range r.StartTimes {
			earliest(firstStart, id, ts)
		}
		for id, ts := range r.EffectTimes {
			earliest(firstEffect, id, ts)
		}
	}
	var problems []string
	for _, tr := range trees {
		if len(reads[tr.Parent]) == 0 {
			problems = append(problems, fmt.Sprintf("parent %s completed without a recorded run", tr.Parent))
		}
		for _, rd := range reads[tr.Parent] {
			if rd.Pending != 0 || rd.Values != len(tr.Children) || rd.Failed != 0 {
				problems = append(problems, fmt.Sprintf("parent %s ran with %d children pending, %d values, %d failed", tr.Parent, rd.Pending, rd.Values, rd.Failed))
			}
		}
		p, err := e.Queue.GetJob(ctx, tr.Parent)
		require.NoError(t, err)
		ch, err := p.Children(ctx)
		require.NoError(t, err)
		if ch.Pending != 0 || len(ch.Values) != len(tr.Children) {
			problems = append(problems, fmt.Sprintf("parent %s holds %d values, %d pending", tr.Parent, len(ch.Values), ch.Pending))
		}
		kq, key := e.Queue, func(id string) string { return id }
		if tr.ChildQueue != nil {
			kq = tr.ChildQueue
			key = func(id string) string { return kq.Name() + ":" + id }
		}
		for _, id := range tr.Children {
			c, err := kq.GetJob(ctx, id)
			require.NoError(t, err)
			switch {
			case c.State != fila.StateCompleted:
				problems = append(problems, fmt.Sprintf("child %s of %s is %s", id, tr.Parent, c.State))
			case c.FinishedAt.After(p.ProcessedAt):
				problems = append(problems, fmt.Sprintf("parent %s started at %s, before its child %s finished at %s", tr.Parent,
					p.ProcessedAt.Format(time.StampMilli), id, c.FinishedAt.Format(time.StampMilli)))
			}
			if _, ok := ch.Values[key(id)]; !ok {
				problems = append(problems, fmt.Sprintf("parent %s has no value of child %s", tr.Parent, id))
			}
			if eff, ok := firstEffect[id]; !ok || eff > firstStart[tr.Parent] {
				problems = append(problems, fmt.Sprintf("parent %s first started at %d ms, child %s first succeeded at %d ms", tr.Parent, firstStart[tr.Parent], id, eff))
			}
		}
	}
	if len(problems) > 0 {
		if len(problems) > 20 {
			problems = append(problems[:20], fmt.Sprintf("... and %d more", len(problems)-20))
		}
		e.Fatalf("faulttest: flows: %d problems:\n%s", len(problems), strings.Join(problems, "\n"))
	}
	WriteNote(t, "scenario 9: %d trees checked: every parent ran after its %d children completed and read their values", len(trees), len(trees[0].Children))
}
