package backendtest

import (
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/fila-go/fila/backend"
)

// schedBundle is a bundle whose backend stores schedulers.
type schedBundle struct {
	*bundle
	s backend.Schedulers
}

func schedSetup(t *testing.T, f Factory) *schedBundle {
	t.Helper()
	b := setup(t, f)
	s, ok := b.be.(backend.Schedulers)
	if !ok {
		t.Skip("the backend does not implement backend.Schedulers")
	}
	return &schedBundle{bundle: b, s: s}
}

// now reads the backend's clock, truncated to the millisecond.
func (b *schedBundle) now() time.Time {
	b.t.Helper()
	res, err := b.s.SchedulerGet(b.ctx, &backend.SchedulerGetParams{Queue: b.queue, ID: "clock"})
	require.NoError(b.t, err)
	require.False(b.t, res.Now.IsZero(), "SchedulerGet returned no clock")
	return time.UnixMilli(res.Now.UnixMilli())
}

func (b *schedBundle) upsert(id, spec, prev string, next time.Time, o backend.JobOptions, limit int) *backend.SchedulerUpsertResult {
	b.t.Helper()
	res, err := b.s.SchedulerUpsert(b.ctx, &backend.SchedulerUpsertParams{Queue: b.queue, ID: id, Spec: spec, Prev: prev,
		Next: next, Limit: limit, Template: backend.SchedulerTemplate{Name: "tick-" + spec, Data: []byte(`{"s":"` + spec + `"}`), Options: o}})
	require.NoError(b.t, err)
	return res
}

func (b *schedBundle) advance(id, spec string, from, next time.Time) backend.SchedulerStatus {
	b.t.Helper()
	st, err := b.s.SchedulerAdvance(b.ctx, &backend.SchedulerAdvanceParams{Queue: b.queue, ID: id, Spec: spec, From: from, Next: next})
	require.NoError(b.t, err)
	return st
}

func (b *schedBundle) sched(id string) *backend.Scheduler {
	b.t.Helper()
	res, err := b.s.SchedulerGet(b.ctx, &backend.SchedulerGetParams{Queue: b.queue, ID: id})
	require.NoError(b.t, err)
	return res.Scheduler
}

// jobIDs lists every job of the queue that has not finished.
func (b *schedBundle) jobIDs() []string {
	b.t.Helper()
	var ids []string
	for _, s := range []backend.State{backend.StateWaiting, backend.StatePrioritized, backend.StatePaused, backend.StateDelayed, backend.StateActive} {
		ids = append(ids, b.list(s)...)
	}
	return ids
}

func runSchedulers(t *testing.T, f Factory) {
	attempts := backend.JobOptions{Attempts: 3}

	t.Run("an upsert stores the scheduler and adds the first tick's job with a deterministic ID", func(t *testing.T) {
		b := schedSetup(t, f)
		tick := b.now().Add(time.Hour)
		res := b.upsert("daily", "a", "", tick, attempts, 0)
		require.False(t, res.Conflict)
		require.False(t, res.Replaced)
		id := backend.SchedulerJobID("daily", tick)
		require.Equal(t, []string{id}, b.list(backend.StateDelayed))
		j := b.get(id)
		require.Equal(t, "tick-a", j.Name)
		require.Equal(t, `{"s":"a"}`, string(j.Data))
		require.Equal(t, 3, j.Options.Attempts)
		require.Equal(t, tick.UnixMilli(), j.DueAt.UnixMilli())

		s := b.sched("daily")
		require.NotNil(t, s)
		require.Equal(t, "a", s.Spec)
		require.Equal(t, tick.UnixMilli(), s.Next.UnixMilli())
		require.Equal(t, id, s.NextJobID)
		require.Equal(t, backend.StateDelayed, s.NextJobState)
		require.Equal(t, 1, s.Iterations)
		require.Equal(t, "tick-a", s.Template.Name)
		require.Equal(t, 3, s.Template.Options.Attempts)
		require.Nil(t, b.sched("other"))

		got, tk, ok := backend.ParseSchedulerJobID(id)
		require.True(t, ok)
		require.Equal(t, "daily", got)
		require.Equal(t, tick.UnixMilli(), tk.UnixMilli())
	})

	t.Run("a tick already past adds a job ready to claim", func(t *testing.T) {
		b := schedSetup(t, f)
		tick := b.now().Add(-time.Second)
		b.upsert("late", "a", "", tick, attempts, 0)
		j, _ := b.mustClaim()
		require.Equal(t, backend.SchedulerJobID("late", tick), j.ID)
	})

	t.Run("N concurrent upserts of the same scheduler store one and add one job", func(t *testing.T) {
		b := schedSetup(t, f)
		tick := b.now().Add(time.Minute)
		const n = 8
		var wg sync.WaitGroup
		results := make([]*backend.SchedulerUpsertResult, n)
		errs := make([]error, n)
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				results[i], errs[i] = b.s.SchedulerUpsert(b.ctx, &backend.SchedulerUpsertParams{Queue: b.queue, ID: "s",
					Spec: "a", Next: tick, Template: backend.SchedulerTemplate{Name: "t", Options: attempts}})
			}()
		}
		wg.Wait()
		won := 0
		for i := range n {
			require.NoError(t, errs[i])
			if !results[i].Conflict {
				won++
			}
		}
		require.Equal(t, 1, won, "upserts that stored the scheduler")
		require.Equal(t, []string{backend.SchedulerJobID("s", tick)}, b.jobIDs())
	})

	t.Run("N concurrent advances from one tick add one job for the next", func(t *testing.T) {
		b := schedSetup(t, f)
		t1 := b.now().Add(time.Minute)
		t2 := t1.Add(time.Minute)
		b.upsert("s", "a", "", t1, attempts, 0)
		const n = 8
		var wg sync.WaitGroup
		status := make([]backend.SchedulerStatus, n)
		errs := make([]error, n)
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				status[i], errs[i] = b.s.SchedulerAdvance(b.ctx, &backend.SchedulerAdvanceParams{Queue: b.queue, ID: "s", Spec: "a", From: t1, Next: t2})
			}()
		}
		wg.Wait()
		advanced := 0
		for i := range n {
			require.NoError(t, errs[i])
			if status[i] == backend.SchedulerAdvanced {
				advanced++
			} else {
				require.Equal(t, backend.SchedulerStale, status[i])
			}
		}
		require.Equal(t, 1, advanced)
		require.ElementsMatch(t, []string{backend.SchedulerJobID("s", t1), backend.SchedulerJobID("s", t2)}, b.jobIDs())
		s := b.sched("s")
		require.Equal(t, t2.UnixMilli(), s.Next.UnixMilli())
		require.Equal(t, 2, s.Iterations)
		require.Equal(t, backend.SchedulerJobID("s", t1), s.LastJobID)
	})

	t.Run("an advance from another tick or with another spec changes nothing", func(t *testing.T) {
		b := schedSetup(t, f)
		t1 := b.now().Add(time.Minute)
		b.upsert("s", "a", "", t1, attempts, 0)
		require.Equal(t, backend.SchedulerStale, b.advance("s", "a", t1.Add(-time.Minute), t1.Add(time.Minute)))
		require.Equal(t, backend.SchedulerStale, b.advance("s", "b", t1, t1.Add(time.Minute)))
		require.Equal(t, backend.SchedulerStale, b.advance("missing", "a", t1, t1.Add(time.Minute)))
		require.Equal(t, []string{backend.SchedulerJobID("s", t1)}, b.jobIDs())
		require.Equal(t, 1, b.sched("s").Iterations)
	})

	t.Run("an upsert with a stale Prev conflicts and changes nothing", func(t *testing.T) {
		b := schedSetup(t, f)
		t1 := b.now().Add(time.Minute)
		b.upsert("s", "a", "", t1, attempts, 0)
		require.True(t, b.upsert("s", "b", "", t1.Add(time.Second), attempts, 0).Conflict)
		require.True(t, b.upsert("s", "c", "x", t1.Add(time.Second), attempts, 0).Conflict)
		require.Equal(t, "a", b.sched("s").Spec)
		require.Equal(t, []string{backend.SchedulerJobID("s", t1)}, b.jobIDs())
	})

	for _, c := range []struct {
		state string
		opts  backend.JobOptions
		past  bool
		pause bool
	}{
		{"delayed", attempts, false, false},
		{"waiting", attempts, true, false},
		{"prioritized", backend.JobOptions{Attempts: 1, Priority: 3}, true, false},
		{"paused", attempts, true, true},
	} {
		t.Run("a changed spec replaces the pending job when it is "+c.state, func(t *testing.T) {
			b := schedSetup(t, f)
			if c.pause {
				require.NoError(t, b.be.QueuePause(b.ctx, &backend.QueuePauseParams{Queue: b.queue, Paused: true}))
			}
			t1 := b.now().Add(time.Hour)
			if c.past {
				t1 = b.now().Add(-time.Second)
			}
			b.upsert("s", "a", "", t1, c.opts, 0)
			require.Equal(t, backend.State(c.state), b.sched("s").NextJobState)
			t2 := b.now().Add(2 * time.Hour)
			res := b.upsert("s", "b", "a", t2, c.opts, 0)
			require.False(t, res.Conflict)
			require.True(t, res.Replaced)
			require.Equal(t, []string{backend.SchedulerJobID("s", t2)}, b.jobIDs())
			_, err := b.be.JobGet(b.ctx, &backend.JobGetParams{Queue: b.queue, ID: backend.SchedulerJobID("s", t1)})
			require.ErrorIs(t, err, backend.ErrJobNotFound)
			require.Equal(t, "tick-b", b.get(backend.SchedulerJobID("s", t2)).Name)
		})
	}

	t.Run("a changed spec leaves a running job alone", func(t *testing.T) {
		b := schedSetup(t, f)
		t1 := b.now().Add(-time.Second)
		b.upsert("s", "a", "", t1, attempts, 0)
		j, tok := b.mustClaim()
		t2 := b.now().Add(time.Hour)
		b.upsert("s", "b", "a", t2, attempts, 0)
		require.Equal(t, backend.StateActive, b.get(j.ID).State)
		require.ElementsMatch(t, []string{j.ID, backend.SchedulerJobID("s", t2)}, b.jobIDs())
		b.complete(j.ID, tok)
	})

	t.Run("remove takes the pending job away but not a running one", func(t *testing.T) {
		b := schedSetup(t, f)
		t1 := b.now().Add(-time.Second)
		b.upsert("s", "a", "", t1, attempts, 0)
		j, tok := b.mustClaim()
		t2 := b.now().Add(time.Hour)
		require.Equal(t, backend.SchedulerAdvanced, b.advance("s", "a", t1, t2))
		ok, err := b.s.SchedulerRemove(b.ctx, &backend.SchedulerRemoveParams{Queue: b.queue, ID: "s"})
		require.NoError(t, err)
		require.True(t, ok)
		require.Nil(t, b.sched("s"))
		require.Equal(t, []string{j.ID}, b.jobIDs())
		b.complete(j.ID, tok)
		ok, err = b.s.SchedulerRemove(b.ctx, &backend.SchedulerRemoveParams{Queue: b.queue, ID: "s"})
		require.NoError(t, err)
		require.False(t, ok)
	})

	t.Run("Limit ends the scheduler after that many jobs", func(t *testing.T) {
		b := schedSetup(t, f)
		t1 := b.now().Add(time.Minute)
		b.upsert("s", "a", "", t1, attempts, 2)
		require.Equal(t, backend.SchedulerAdvanced, b.advance("s", "a", t1, t1.Add(time.Minute)))
		require.Equal(t, backend.SchedulerEnded, b.advance("s", "a", t1.Add(time.Minute), t1.Add(2*time.Minute)))
		require.Nil(t, b.sched("s"))
		require.Len(t, b.jobIDs(), 2)
	})

	t.Run("a zero next tick ends the scheduler and keeps its last job", func(t *testing.T) {
		b := schedSetup(t, f)
		t1 := b.now().Add(time.Minute)
		b.upsert("s", "a", "", t1, attempts, 0)
		require.Equal(t, backend.SchedulerEnded, b.advance("s", "a", t1, time.Time{}))
		require.Nil(t, b.sched("s"))
		require.Equal(t, []string{backend.SchedulerJobID("s", t1)}, b.jobIDs())
	})

	t.Run("list returns every scheduler sorted by ID with the backend's clock", func(t *testing.T) {
		b := schedSetup(t, f)
		t1 := b.now().Add(time.Minute)
		for _, id := range []string{"c", "a", "b"} {
			b.upsert(id, "x", "", t1, attempts, 0)
		}
		res, err := b.s.SchedulerList(b.ctx, &backend.QueueParams{Queue: b.queue})
		require.NoError(t, err)
		require.False(t, res.Now.IsZero())
		require.Len(t, res.Schedulers, 3)
		for i, id := range []string{"a", "b", "c"} {
			s := res.Schedulers[i]
			require.Equal(t, id, s.ID)
			require.Equal(t, t1.UnixMilli(), s.Next.UnixMilli())
			require.Equal(t, backend.StateDelayed, s.NextJobState)
		}
		empty, err := b.s.SchedulerList(b.ctx, &backend.QueueParams{Queue: b.queue + "-none"})
		require.NoError(t, err)
		require.Empty(t, empty.Schedulers)
	})

	t.Run("obliterate removes the queue's schedulers", func(t *testing.T) {
		b := schedSetup(t, f)
		b.upsert("s", "a", "", b.now().Add(time.Minute), attempts, 0)
		require.NoError(t, b.be.QueueObliterate(b.ctx, &backend.QueueObliterateParams{Queue: b.queue}))
		require.Nil(t, b.sched("s"))
		require.Empty(t, b.jobIDs())
		res := b.upsert("s", "a", "", b.now().Add(time.Minute), attempts, 0)
		require.False(t, res.Conflict, "upserted afresh")
	})
}
