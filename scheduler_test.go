package fila_test

import (
	"context"
	"encoding/json"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/fila-go/fila"
	"github.com/fila-go/fila/backend"
	"github.com/fila-go/fila/backend/memory"
)

// clock is a memory backend's clock: the wall clock plus an offset the
// test moves.
type clock struct{ offset atomic.Int64 }

func (c *clock) now() time.Time          { return time.Now().Add(time.Duration(c.offset.Load())) }
func (c *clock) set(d time.Duration)     { c.offset.Store(int64(d)) }
func (c *clock) advance(d time.Duration) { c.offset.Add(int64(d)) }
func setupClock(t *testing.T) (*testBundle, *clock) {
	t.Helper()
	c := &clock{}
	return setupWith(t, memory.Options{Now: c.now}), c
}

func TestUpsertSchedulerValidation(t *testing.T) {
	t.Parallel()
	b := setup(t)
	past := time.Now().Add(-time.Hour)
	for _, c := range []struct {
		name  string
		s     fila.Schedule
		opts  *fila.JobOptions
		id    string
		field string
	}{
		{"neither Every nor Pattern", fila.Schedule{}, nil, "s", "Schedule"},
		{"both Every and Pattern", fila.Schedule{Every: time.Minute, Pattern: "* * * * *"}, nil, "s", "Schedule"},
		{"a bad pattern", fila.Schedule{Pattern: "61 * * * *"}, nil, "s", "Pattern"},
		{"too few fields", fila.Schedule{Pattern: "* * *"}, nil, "s", "Pattern"},
		{"a zone inside the pattern", fila.Schedule{Pattern: "CRON_TZ=UTC 0 9 * * *"}, nil, "s", "Pattern"},
		{"@every instead of Every", fila.Schedule{Pattern: "@every 1m"}, nil, "s", "Pattern"},
		{"an unknown TZ", fila.Schedule{Pattern: "0 9 * * *", TZ: "Mars/Olympus"}, nil, "s", "TZ"},
		{"TZ with Every", fila.Schedule{Every: time.Minute, TZ: "UTC"}, nil, "s", "TZ"},
		{"Every below the minimum", fila.Schedule{Every: 500 * time.Millisecond}, nil, "s", "Every"},
		{"End before Start", fila.Schedule{Every: time.Minute, Start: time.Now().Add(time.Hour), End: time.Now()}, nil, "s", "End"},
		{"End already past", fila.Schedule{Every: time.Minute, End: past}, nil, "s", "End"},
		{"a negative Limit", fila.Schedule{Every: time.Minute, Limit: -1}, nil, "s", "Limit"},
		{"a negative CatchUp", fila.Schedule{Every: time.Minute, CatchUp: -time.Second}, nil, "s", "CatchUp"},
		{"a JobID", fila.Schedule{Every: time.Minute}, &fila.JobOptions{JobID: "x"}, "s", "JobID"},
		{"a Delay", fila.Schedule{Every: time.Minute}, &fila.JobOptions{Delay: time.Second}, "s", "Delay"},
		{"an empty ID", fila.Schedule{Every: time.Minute}, nil, "", "scheduler ID"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := b.queue.UpsertScheduler(b.ctx, c.id, c.s, "tick", nil, c.opts)
			require.ErrorIs(t, err, fila.ErrInvalid)
			var ve *fila.ValidationError
			require.ErrorAs(t, err, &ve)
			require.Equal(t, c.field, ve.Field, err.Error())
		})
	}
	list, err := b.queue.Schedulers(b.ctx)
	require.NoError(t, err)
	require.Empty(t, list, "an invalid upsert stored nothing")
	require.Equal(t, fila.Counts{}, b.counts(t))
}

func TestSchedulerUpsertGetListRemove(t *testing.T) {
	t.Parallel()
	b, c := setupClock(t)
	c.set(time.Until(time.Date(2030, 1, 1, 0, 0, 30, 0, time.UTC)))
	s, err := b.queue.UpsertScheduler(b.ctx, "report", fila.Schedule{Every: time.Minute}, "report", []byte(`{"k":1}`),
		&fila.JobOptions{Attempts: 4, Priority: 2})
	require.NoError(t, err)
	tick := time.Date(2030, 1, 1, 0, 1, 0, 0, time.UTC)
	require.Equal(t, tick, s.Next.UTC(), "aligned to the minute of the backend's clock")
	require.Equal(t, backend.SchedulerJobID("report", tick), s.NextJobID)
	require.Equal(t, fila.State("delayed"), s.NextJobState)
	require.Equal(t, 1, s.Iterations)
	require.Equal(t, time.Minute, s.Schedule.Every)
	require.Equal(t, 4, s.Options.Attempts)
	require.Equal(t, 2, s.Options.Priority)
	require.Zero(t, s.Lag)

	again, err := b.queue.UpsertScheduler(b.ctx, "report", fila.Schedule{Every: time.Minute}, "report", []byte(`{"k":1}`),
		&fila.JobOptions{Attempts: 4, Priority: 2})
	require.NoError(t, err)
	require.Equal(t, s.NextJobID, again.NextJobID, "the same spec is a no-op")
	require.Equal(t, 1, again.Iterations)
	require.Equal(t, int64(1), b.counts(t).Delayed)

	changed, err := b.queue.UpsertScheduler(b.ctx, "report", fila.Schedule{Every: time.Minute}, "report", []byte(`{"k":2}`),
		&fila.JobOptions{Attempts: 4, Priority: 2})
	require.NoError(t, err)
	require.Equal(t, `{"k":2}`, string(changed.Data), "a changed job template replaces the scheduler")
	require.Equal(t, int64(1), b.counts(t).Delayed)
	require.Equal(t, `{"k":2}`, string(b.get(t, changed.NextJobID).Data))

	hourly, err := b.queue.UpsertScheduler(b.ctx, "report", fila.Schedule{Pattern: "0 * * * *"}, "report", nil, nil)
	require.NoError(t, err)
	require.Equal(t, time.Date(2030, 1, 1, 1, 0, 0, 0, time.UTC), hourly.Next.UTC())
	require.Equal(t, int64(1), b.counts(t).Delayed, "the new pending job replaced the old one")

	c.advance(2 * time.Hour)
	got, err := b.queue.Scheduler(b.ctx, "report")
	require.NoError(t, err)
	require.InDelta(t, float64(time.Hour+30*time.Second), float64(got.Lag), float64(time.Second), "overdue while no worker runs")

	_, err = b.queue.UpsertScheduler(b.ctx, "daily", fila.Schedule{Pattern: "0 9 * * *", TZ: "Europe/Paris"}, "digest", nil, nil)
	require.NoError(t, err)
	list, err := b.queue.Schedulers(b.ctx)
	require.NoError(t, err)
	require.Len(t, list, 2)
	require.Equal(t, "daily", list[0].ID)
	require.Equal(t, "Europe/Paris", list[0].Schedule.TZ)

	removed, err := b.queue.RemoveScheduler(b.ctx, "report")
	require.NoError(t, err)
	require.True(t, removed)
	_, err = b.queue.Scheduler(b.ctx, "report")
	require.ErrorIs(t, err, fila.ErrSchedulerNotFound)
	_, err = b.queue.GetJob(b.ctx, hourly.NextJobID)
	require.ErrorIs(t, err, fila.ErrJobNotFound, "remove took the pending job away")
}

// onlyBackend hides every optional interface of a backend.
type onlyBackend struct{ backend.Backend }

func TestSchedulerUnsupportedBackend(t *testing.T) {
	t.Parallel()
	b := setup(t)
	q := fila.NewQueue(onlyBackend{b.be}, queueName)
	_, err := q.UpsertScheduler(b.ctx, "s", fila.Schedule{Every: time.Minute}, "t", nil, nil)
	require.ErrorIs(t, err, backend.ErrUnsupported)
	_, err = q.Schedulers(b.ctx)
	require.ErrorIs(t, err, backend.ErrUnsupported)
}

// tickLog records the scheduler jobs a test's handlers ran, by ID.
type tickLog struct {
	mu   sync.Mutex
	runs map[string]int
	late []time.Duration // ProcessedAt - tick, backend clock
}

func (l *tickLog) handler(ctx context.Context, j *fila.Job) (any, error) {
	_, tick, ok := backend.ParseSchedulerJobID(j.ID)
	if !ok {
		return nil, nil
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.runs == nil {
		l.runs = map[string]int{}
	}
	l.runs[j.ID]++
	l.late = append(l.late, j.ProcessedAt.Sub(tick))
	return nil, nil
}

// ticks returns the ticks run, in order, and fails on a tick run twice.
func (l *tickLog) ticks(t *testing.T) []time.Time {
	t.Helper()
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []time.Time
	for id, n := range l.runs {
		require.Equal(t, 1, n, "job %s ran %d times", id, n)
		_, tick, _ := backend.ParseSchedulerJobID(id)
		out = append(out, tick)
	}
	sortTimes(out)
	return out
}

func sortTimes(ts []time.Time) {
	for i := 1; i < len(ts); i++ {
		for j := i; j > 0 && ts[j].Before(ts[j-1]); j-- {
			ts[j], ts[j-1] = ts[j-1], ts[j]
		}
	}
}

// requireConsecutive checks that ticks are every apart, none missing.
func requireConsecutive(t *testing.T, ticks []time.Time, every time.Duration) {
	t.Helper()
	for i := 1; i < len(ticks); i++ {
		require.Equal(t, every, ticks[i].Sub(ticks[i-1]), "ticks %v and %v", ticks[i-1], ticks[i])
	}
}

func TestSchedulerExactlyOneJobPerTick(t *testing.T) {
	t.Parallel()
	b := setup(t)
	var log tickLog
	const processes = 3
	var wg sync.WaitGroup
	for range processes { // every process upserts its schedulers at start-up
		wg.Add(1)
		go func() {
			defer wg.Done()
			q := fila.NewQueue(b.be, queueName)
			_, err := q.UpsertScheduler(b.ctx, "heartbeat", fila.Schedule{Every: time.Second}, "beat", nil, nil)
			require.NoError(t, err)
		}()
	}
	wg.Wait()
	for range processes {
		startWorkerOn(t, b.be, queueName, log.handler, fila.WorkerOptions{Concurrency: 2})
	}
	require.Eventually(t, func() bool {
		log.mu.Lock()
		defer log.mu.Unlock()
		return len(log.runs) >= 4
	}, waitFor, 20*time.Millisecond)
	removed, err := b.queue.RemoveScheduler(b.ctx, "heartbeat")
	require.NoError(t, err)
	require.True(t, removed)
	ticks := log.ticks(t)
	require.GreaterOrEqual(t, len(ticks), 4)
	requireConsecutive(t, ticks, time.Second)
	for _, tk := range ticks {
		require.Equal(t, tk.Truncate(time.Second), tk, "Every ticks are aligned")
	}
}

// TestSchedulerFollowsBackendClock shows that a process's own clock never
// decides a tick: the memory backend's clock is set 2.25s ahead of and
// behind the wall clock every process reads, and the ticks still fall on
// whole seconds of the backend's clock, each job starting no earlier than
// its tick by that clock, none missing, none doubled.
func TestSchedulerFollowsBackendClock(t *testing.T) {
	t.Parallel()
	for _, skew := range []time.Duration{2250 * time.Millisecond, -2250 * time.Millisecond} {
		t.Run(skew.String(), func(t *testing.T) {
			t.Parallel()
			b, c := setupClock(t)
			c.set(skew)
			var log tickLog
			_, err := b.queue.UpsertScheduler(b.ctx, "s", fila.Schedule{Every: time.Second}, "beat", nil, nil)
			require.NoError(t, err)
			startWorkerOn(t, b.be, queueName, log.handler, fila.WorkerOptions{Concurrency: 2})
			startWorkerOn(t, b.be, queueName, log.handler, fila.WorkerOptions{Concurrency: 2})
			require.Eventually(t, func() bool {
				log.mu.Lock()
				defer log.mu.Unlock()
				return len(log.runs) >= 3
			}, waitFor, 20*time.Millisecond)
			_, err = b.queue.RemoveScheduler(b.ctx, "s")
			require.NoError(t, err)
			ticks := log.ticks(t)
			requireConsecutive(t, ticks, time.Second)
			for _, tk := range ticks {
				require.Equal(t, tk.Truncate(time.Second), tk)
			}
			log.mu.Lock()
			defer log.mu.Unlock()
			for _, late := range log.late {
				require.GreaterOrEqual(t, late, time.Duration(0), "a job ran before its tick by the backend's clock")
			}
		})
	}
}

func TestSchedulerLimitEndsIt(t *testing.T) {
	t.Parallel()
	b := setup(t)
	var log tickLog
	_, err := b.queue.UpsertScheduler(b.ctx, "twice", fila.Schedule{Every: time.Second, Limit: 2, Immediately: true}, "beat", nil, nil)
	require.NoError(t, err)
	startWorkerOn(t, b.be, queueName, log.handler, fila.WorkerOptions{})
	require.Eventually(t, func() bool {
		_, err := b.queue.Scheduler(b.ctx, "twice")
		return err != nil
	}, waitFor, 20*time.Millisecond, "the scheduler ends after Limit jobs")
	require.Eventually(t, func() bool { return b.counts(t).Completed == 2 }, waitFor, 20*time.Millisecond)
	time.Sleep(1500 * time.Millisecond)
	require.Equal(t, int64(2), b.counts(t).Completed, "no job after the Limit")
	require.Len(t, log.ticks(t), 2)
}

func TestSchedulerCatchUpAfterDowntime(t *testing.T) {
	t.Parallel()
	b, c := setupClock(t)
	_, err := b.queue.UpsertScheduler(b.ctx, "s", fila.Schedule{Every: time.Minute}, "beat", nil, nil)
	require.NoError(t, err)
	c.advance(10 * time.Minute) // no worker ran for ten ticks
	var log tickLog
	startWorkerOn(t, b.be, queueName, log.handler, fila.WorkerOptions{})
	require.Eventually(t, func() bool { return b.counts(t).Completed == 1 }, waitFor, 20*time.Millisecond)
	s, err := b.queue.Scheduler(b.ctx, "s")
	require.NoError(t, err)
	now := c.now()
	require.True(t, s.Next.After(now), "the next tick %v is after now %v: one catch-up job, not a burst", s.Next, now)
	require.Less(t, s.Next.Sub(now), time.Minute+time.Second)
	require.Equal(t, int64(1), b.counts(t).Delayed)
}

// TestSchedulerAdvancesAfterAWorkerDiedBeforeAdvancing claims a tick's job
// the way a worker that then dies would (no advance, lock left to
// expire): the stalled check returns it, a live worker claims it again and
// advances the scheduler, so the schedule goes on.
func TestSchedulerAdvancesAfterAWorkerDiedBeforeAdvancing(t *testing.T) {
	t.Parallel()
	b := setup(t)
	_, err := b.queue.UpsertScheduler(b.ctx, "s", fila.Schedule{Every: time.Hour, Immediately: true}, "beat", nil, nil)
	require.NoError(t, err)
	dead := b.claimRaw(t, "dead-worker", 300*time.Millisecond)
	require.NotNil(t, dead)
	_, first, ok := backend.ParseSchedulerJobID(dead.ID)
	require.True(t, ok)
	var log tickLog
	startWorkerOn(t, b.be, queueName, log.handler, fila.WorkerOptions{StalledInterval: 200 * time.Millisecond})
	require.Eventually(t, func() bool {
		s, err := b.queue.Scheduler(b.ctx, "s")
		return err == nil && s.Next.After(first)
	}, waitFor, 20*time.Millisecond, "the scheduler moved on after the recovered job was claimed")
	s, err := b.queue.Scheduler(b.ctx, "s")
	require.NoError(t, err)
	require.Equal(t, dead.ID, s.LastJobID)
	require.Equal(t, 2, s.Iterations)
}

func TestSchedulerSkipIfRunning(t *testing.T) {
	t.Parallel()
	for _, skipIf := range []bool{false, true} {
		t.Run(map[bool]string{false: "by default ticks overlap", true: "SkipIfRunning skips ticks while the previous runs"}[skipIf], func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			release := make(chan struct{})
			var ran atomic.Int32
			var first atomic.Value
			h := func(ctx context.Context, j *fila.Job) (any, error) {
				if ran.Add(1) == 1 {
					first.Store(j.ID)
					select { // the first tick's job outlasts the next ticks
					case <-release:
					case <-ctx.Done():
					}
				}
				return "ran", nil
			}
			_, err := b.queue.UpsertScheduler(b.ctx, "s", fila.Schedule{Every: time.Second, SkipIfRunning: skipIf, Immediately: true}, "t", nil, nil)
			require.NoError(t, err)
			startWorkerOn(t, b.be, queueName, h, fila.WorkerOptions{Concurrency: 4})
			require.Eventually(t, func() bool { return b.counts(t).Completed >= 2 }, waitFor, 20*time.Millisecond)
			close(release)
			require.Eventually(t, func() bool {
				j, err := b.queue.GetJob(b.ctx, first.Load().(string))
				return err == nil && j.State == fila.StateCompleted
			}, waitFor, 20*time.Millisecond)
			_, err = b.queue.RemoveScheduler(b.ctx, "s")
			require.NoError(t, err)
			require.Eventually(t, func() bool {
				c := b.counts(t)
				return c.Active+c.Waiting == 0
			}, waitFor, 20*time.Millisecond, "the last tick's job finished")
			done, err := b.queue.Jobs(b.ctx, fila.StateCompleted, 0, 100)
			require.NoError(t, err)
			skipped := 0
			for _, j := range done {
				var st fila.SkippedTick
				if json.Unmarshal(j.ReturnValue, &st) == nil && st.Skipped {
					skipped++
					require.Equal(t, first.Load(), st.Previous, "skipped for the job still running")
				}
			}
			if skipIf {
				require.GreaterOrEqual(t, skipped, 2, "ticks during the first job's run were skipped")
				require.Equal(t, int32(len(done)-skipped), ran.Load(), "skipped ticks did not run the handler")
			} else {
				require.Zero(t, skipped)
				require.GreaterOrEqual(t, ran.Load(), int32(3), "ticks ran while the first still ran")
			}
		})
	}
}
