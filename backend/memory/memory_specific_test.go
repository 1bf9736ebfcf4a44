package memory_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/fila-go/fila/backend"
	"github.com/fila-go/fila/backend/memory"
)

// TestMain fails the package when a blocked call or anything else leaves a
// goroutine behind.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

const queue = "q"

// fakeClock is a settable clock for Options.Now.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{now: time.Date(2026, 1, 2, 3, 4, 30, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

type bundle struct {
	ctx   context.Context
	be    *memory.Backend
	clock *fakeClock
}

func setup(t *testing.T, opts memory.Options) *bundle {
	t.Helper()
	clock := newFakeClock()
	if opts.Now == nil {
		opts.Now = clock.Now
	}
	be := memory.New(opts)
	t.Cleanup(func() { _ = be.Close() })
	return &bundle{ctx: context.Background(), be: be, clock: clock}
}

func (b *bundle) add(t *testing.T, items ...backend.JobAddItem) []backend.JobAddResult {
	t.Helper()
	for i := range items {
		if items[i].Name == "" {
			items[i].Name = "job"
		}
		if items[i].Options.Attempts == 0 {
			items[i].Options.Attempts = 1
		}
	}
	res, err := b.be.JobAdd(b.ctx, &backend.JobAddParams{Queue: queue, Jobs: items})
	require.NoError(t, err)
	return res
}

func (b *bundle) claim(t *testing.T, token string) *backend.Job {
	t.Helper()
	res, err := b.be.JobClaim(b.ctx, &backend.JobClaimParams{Queue: queue, Token: token, LockDuration: time.Minute})
	require.NoError(t, err)
	return res.Job
}

// finish claims the next job and completes or fails it for good.
func (b *bundle) finish(t *testing.T, fail bool) {
	t.Helper()
	j := b.claim(t, "tok")
	require.NotNil(t, j)
	var err error
	if fail {
		_, err = b.be.JobFail(b.ctx, &backend.JobFailParams{Queue: queue, ID: j.ID, Token: "tok", Reason: "x"})
	} else {
		_, err = b.be.JobComplete(b.ctx, &backend.JobCompleteParams{Queue: queue, ID: j.ID, Token: "tok"})
	}
	require.NoError(t, err)
}

func TestClose(t *testing.T) {
	t.Parallel()

	t.Run("CallsAfterCloseReturnErrClosed", func(t *testing.T) {
		t.Parallel()
		b := setup(t, memory.Options{})
		b.add(t, backend.JobAddItem{})
		require.NoError(t, b.be.Ping(b.ctx))

		require.NoError(t, b.be.Close())
		require.NoError(t, b.be.Close(), "Close is idempotent")
		require.ErrorIs(t, b.be.Ping(b.ctx), backend.ErrClosed)
		_, err := b.be.JobAdd(b.ctx, &backend.JobAddParams{Queue: queue, Jobs: []backend.JobAddItem{{Name: "x"}}})
		require.ErrorIs(t, err, backend.ErrClosed)
		_, err = b.be.JobGet(b.ctx, &backend.JobGetParams{Queue: queue, ID: "1"})
		require.ErrorIs(t, err, backend.ErrClosed)
		_, err = b.be.JobClaim(b.ctx, &backend.JobClaimParams{Queue: queue, Token: "t", LockDuration: time.Second})
		require.ErrorIs(t, err, backend.ErrClosed)
		_, err = b.be.QueueCounts(b.ctx, &backend.QueueParams{Queue: queue})
		require.ErrorIs(t, err, backend.ErrClosed)
		_, err = b.be.EventsRead(b.ctx, &backend.EventsReadParams{Queue: queue})
		require.ErrorIs(t, err, backend.ErrClosed)
		_, err = b.be.StalledCheck(b.ctx, &backend.StalledCheckParams{Queue: queue})
		require.ErrorIs(t, err, backend.ErrClosed)
	})
}

func TestInjectedClock(t *testing.T) {
	t.Parallel()

	t.Run("StampsJobsWithTheInjectedTime", func(t *testing.T) {
		t.Parallel()
		b := setup(t, memory.Options{})
		res := b.add(t, backend.JobAddItem{}, backend.JobAddItem{Options: backend.JobOptions{Delay: time.Minute}})
		require.Equal(t, b.clock.Now(), res[0].AddedAt)
		j := b.claim(t, "tok")
		require.Equal(t, b.clock.Now(), j.ProcessedAt)

		b.clock.Advance(59 * time.Second)
		require.Nil(t, b.claim(t, "early"), "the delayed job is not due by the injected clock")
		b.clock.Advance(time.Second)
		late := b.claim(t, "due")
		require.NotNil(t, late)
		require.Equal(t, res[1].ID, late.ID)
	})

	t.Run("MetricsKeepExactlyMetricsMinutesPoints", func(t *testing.T) {
		t.Parallel()
		const minutes = 5
		b := setup(t, memory.Options{MetricsMinutes: minutes})
		// Eight minutes of traffic: minute k completes k+1 jobs and fails one.
		for k := range 8 {
			for range k + 1 {
				b.add(t, backend.JobAddItem{})
				b.finish(t, false)
			}
			b.add(t, backend.JobAddItem{})
			b.finish(t, true)
			if k < 7 {
				b.clock.Advance(time.Minute)
			}
		}

		m, err := b.be.QueueMetrics(b.ctx, &backend.QueueMetricsParams{Queue: queue})
		require.NoError(t, err)
		require.Equal(t, b.clock.Now(), m.At)
		require.Equal(t, []int64{8, 7, 6, 5, 4}, m.Completed, "newest first, the oldest minutes dropped")
		require.Equal(t, []int64{1, 1, 1, 1, 1}, m.Failed)

		m, err = b.be.QueueMetrics(b.ctx, &backend.QueueMetricsParams{Queue: queue, Minutes: 2})
		require.NoError(t, err)
		require.Equal(t, []int64{8, 7}, m.Completed)
		m, err = b.be.QueueMetrics(b.ctx, &backend.QueueMetricsParams{Queue: queue, Minutes: 100})
		require.NoError(t, err)
		require.Len(t, m.Completed, minutes, "never more than MetricsMinutes points")
	})

	t.Run("MetricsShowZeroForQuietMinutes", func(t *testing.T) {
		t.Parallel()
		b := setup(t, memory.Options{MetricsMinutes: 3})
		b.add(t, backend.JobAddItem{})
		b.finish(t, false)
		b.clock.Advance(3 * time.Minute) // the slot of that minute comes round again

		m, err := b.be.QueueMetrics(b.ctx, &backend.QueueMetricsParams{Queue: queue})
		require.NoError(t, err)
		require.Equal(t, []int64{0, 0, 0}, m.Completed, "a count from three minutes ago is not this minute's")
		b.add(t, backend.JobAddItem{})
		b.finish(t, false)
		m, err = b.be.QueueMetrics(b.ctx, &backend.QueueMetricsParams{Queue: queue})
		require.NoError(t, err)
		require.Equal(t, []int64{1, 0, 0}, m.Completed)
	})

	t.Run("DedupIDsExpireInTTLOrder", func(t *testing.T) {
		t.Parallel()
		b := setup(t, memory.Options{})
		dedup := func(id string, ttl time.Duration) backend.JobAddItem {
			return backend.JobAddItem{Dedup: &backend.Dedup{ID: id, TTL: ttl}}
		}
		b.add(t, dedup("long", 2*time.Minute), dedup("short", time.Minute), dedup("mid", 90*time.Second))

		b.clock.Advance(75 * time.Second)
		res := b.add(t, dedup("short", time.Minute), dedup("mid", time.Minute), dedup("long", time.Minute))
		require.Equal(t, backend.AddCreated, res[0].Status, "short expired")
		require.Equal(t, backend.AddDeduplicated, res[1].Status)
		require.Equal(t, backend.AddDeduplicated, res[2].Status)
		b.clock.Advance(30 * time.Second)
		res = b.add(t, dedup("mid", time.Minute), dedup("long", time.Minute))
		require.Equal(t, backend.AddCreated, res[0].Status, "mid expired")
		require.Equal(t, backend.AddDeduplicated, res[1].Status)
	})

	t.Run("CleanByAgeUsesAddTimeForJobsNotFinished", func(t *testing.T) {
		t.Parallel()
		b := setup(t, memory.Options{})
		old := b.add(t, backend.JobAddItem{Name: "old"}, backend.JobAddItem{Name: "old-urgent", Options: backend.JobOptions{Priority: 1}})
		b.clock.Advance(time.Hour)
		young := b.add(t, backend.JobAddItem{Name: "young"})

		ids, err := b.be.QueueClean(b.ctx, &backend.QueueCleanParams{Queue: queue, State: backend.StateWaiting, Age: 30 * time.Minute})
		require.NoError(t, err)
		require.Equal(t, []string{old[0].ID}, ids)
		ids, err = b.be.QueueClean(b.ctx, &backend.QueueCleanParams{Queue: queue, State: backend.StatePrioritized, Age: 30 * time.Minute})
		require.NoError(t, err)
		require.Equal(t, []string{old[1].ID}, ids)
		_, err = b.be.JobGet(b.ctx, &backend.JobGetParams{Queue: queue, ID: young[0].ID})
		require.NoError(t, err)
		_, err = b.be.QueueClean(b.ctx, &backend.QueueCleanParams{Queue: queue, State: backend.StateActive})
		var se *backend.StateError
		require.ErrorAs(t, err, &se)
	})
}

func TestRetryJobs(t *testing.T) {
	t.Parallel()

	t.Run("MovesCompletedJobsBackUpToTheLimit", func(t *testing.T) {
		t.Parallel()
		b := setup(t, memory.Options{})
		for range 3 {
			b.add(t, backend.JobAddItem{})
			b.finish(t, false)
		}
		n, err := b.be.QueueRetryJobs(b.ctx, &backend.QueueRetryJobsParams{Queue: queue, State: backend.StateCompleted, Limit: 2})
		require.NoError(t, err)
		require.Equal(t, 2, n)
		c, err := b.be.QueueCounts(b.ctx, &backend.QueueParams{Queue: queue})
		require.NoError(t, err)
		require.Equal(t, backend.Counts{Waiting: 2, Completed: 1}, *c)
	})

	t.Run("RefusesAStateThatIsNotFinished", func(t *testing.T) {
		t.Parallel()
		b := setup(t, memory.Options{})
		_, err := b.be.QueueRetryJobs(b.ctx, &backend.QueueRetryJobsParams{Queue: queue, State: backend.StateWaiting})
		var se *backend.StateError
		require.ErrorAs(t, err, &se)
	})
}

func TestEventLog(t *testing.T) {
	t.Parallel()

	t.Run("KeepsTheNewestEventsMaxLen", func(t *testing.T) {
		t.Parallel()
		b := setup(t, memory.Options{EventsMaxLen: 3})
		cursor, err := b.be.EventsCursor(b.ctx, &backend.QueueParams{Queue: queue})
		require.NoError(t, err)
		res := b.add(t, make([]backend.JobAddItem, 5)...)

		evs, err := b.be.EventsRead(b.ctx, &backend.EventsReadParams{Queue: queue, After: cursor})
		require.NoError(t, err)
		require.Len(t, evs, 3)
		for i, ev := range evs {
			require.Equal(t, res[i+2].ID, ev.JobID, "the oldest two were dropped")
		}
		evs, err = b.be.EventsRead(b.ctx, &backend.EventsReadParams{Queue: queue, After: cursor, Count: 1})
		require.NoError(t, err)
		require.Len(t, evs, 1)
	})

	t.Run("RejectsAMalformedCursor", func(t *testing.T) {
		t.Parallel()
		b := setup(t, memory.Options{})
		_, err := b.be.EventsRead(b.ctx, &backend.EventsReadParams{Queue: queue, After: "abc"})
		require.ErrorContains(t, err, `"abc"`)
	})
}

func TestQueueList(t *testing.T) {
	t.Parallel()
	b := setup(t, memory.Options{})
	for _, name := range []string{"zeta", "alpha", "mid"} {
		_, err := b.be.JobAdd(b.ctx, &backend.JobAddParams{Queue: name, Jobs: []backend.JobAddItem{{Name: "x", Options: backend.JobOptions{Attempts: 1}}}})
		require.NoError(t, err)
	}
	_, err := b.be.QueueCounts(b.ctx, &backend.QueueParams{Queue: "only-read"})
	require.NoError(t, err)
	require.NoError(t, b.be.QueueObliterate(b.ctx, &backend.QueueObliterateParams{Queue: "mid"}))

	names, err := b.be.QueueList(b.ctx)
	require.NoError(t, err)
	require.Equal(t, []string{"alpha", "zeta"}, names, "sorted; queues never added to or obliterated are not listed")
}
