package fila_test

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/fila-go/fila"
	"github.com/fila-go/fila/backend"
)

func TestQueueAdd(t *testing.T) {
	t.Parallel()

	t.Run("ReturnsTheStoredJob", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		job, err := b.queue.Add(b.ctx, "send", []byte(`{"to":"+1"}`), &fila.JobOptions{Attempts: 3})
		require.NoError(t, err)
		require.NotEmpty(t, job.ID)
		require.Equal(t, fila.StateWaiting, job.State)
		require.False(t, job.AddedAt.IsZero())
		require.Equal(t, queueName, job.Queue())

		got := b.get(t, job.ID)
		require.Equal(t, job.ID, got.ID)
		require.Equal(t, "send", got.Name)
		require.JSONEq(t, `{"to":"+1"}`, string(got.Data))
		require.Equal(t, 3, got.Options.Attempts)
		require.Equal(t, job.AddedAt, got.AddedAt)
		require.Equal(t, queueName, b.queue.Name())
		require.Same(t, b.be, b.queue.Backend())
	})

	t.Run("SameJobIDTwiceIsOneJobRunOnce", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		first := b.add(t, "send", &fila.JobOptions{JobID: "wamid.1"})
		second := b.add(t, "send-again", &fila.JobOptions{JobID: "wamid.1"})
		require.Equal(t, "wamid.1", first.ID)
		require.False(t, first.Existed)
		require.Equal(t, "wamid.1", second.ID)
		require.True(t, second.Existed)
		require.Equal(t, "send", second.Name, "the existing job, unchanged")
		require.Equal(t, fila.Counts{Waiting: 1}, b.counts(t))
		var runs runLog
		b.startWorker(t, runs.recordOK, fila.WorkerOptions{})

		completed(t, first)
		require.Equal(t, fila.Counts{Completed: 1}, b.counts(t), "no second copy is left to run")
		require.Equal(t, 1, runs.len())
	})

	t.Run("SameJobIDFromTenGoroutinesIsOneJobRunOnce", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		var wg sync.WaitGroup
		jobs := make([]*fila.Job, 10)
		errs := make([]error, 10)
		for i := range jobs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				jobs[i], errs[i] = b.queue.Add(b.ctx, "send", nil, &fila.JobOptions{JobID: "wamid.2"})
			}()
		}
		wg.Wait()
		created := 0
		for i := range jobs {
			require.NoError(t, errs[i])
			require.Equal(t, "wamid.2", jobs[i].ID)
			if !jobs[i].Existed {
				created++
			}
		}
		require.Equal(t, 1, created, "exactly one add created the job")
		require.Equal(t, fila.Counts{Waiting: 1}, b.counts(t))
		var runs runLog
		b.startWorker(t, runs.recordOK, fila.WorkerOptions{})

		completed(t, jobs[0])
		require.Equal(t, fila.Counts{Completed: 1}, b.counts(t))
		require.Equal(t, 1, runs.len())
	})

	t.Run("DedupIDHoldsForItsTTLEvenAfterTheJobWasRemoved", func(t *testing.T) {
		t.Parallel()
		clock := newFakeClock()
		b := setupWith(t, memoryWithClock(clock))
		dedup := &fila.Dedup{ID: "wamid.3", TTL: time.Minute}
		opts := &fila.JobOptions{Dedup: dedup, RemoveOnComplete: fila.RemoveJob}
		first := b.add(t, "send", opts)
		res := b.waitBeforeRun(t, first)
		var runs runLog
		b.startWorker(t, runs.recordOK, fila.WorkerOptions{})
		r := <-res
		require.NoError(t, r.err)
		require.Equal(t, fila.StateCompleted, r.job.State)
		_, err := b.queue.GetJob(b.ctx, first.ID)
		require.ErrorIs(t, err, fila.ErrJobNotFound, "removed on completion")

		clock.Advance(59 * time.Second)
		dup := b.add(t, "send", opts)
		require.True(t, dup.Deduplicated)
		require.Equal(t, first.ID, dup.ID, "the ID of the job that first used the dedup ID")
		require.Equal(t, fila.Counts{}, b.counts(t), "no second job")

		clock.Advance(2 * time.Second) // the TTL has passed
		again := b.add(t, "send", &fila.JobOptions{Dedup: dedup})
		require.False(t, again.Deduplicated)
		require.NotEqual(t, first.ID, again.ID)
		completed(t, again)
		require.Equal(t, 2, runs.len())
	})

	t.Run("AddBulkAddsEveryJobInOrder", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		jobs, err := b.queue.AddBulk(b.ctx, []fila.BulkJob{
			{Name: "a"}, {Name: "b", Options: &fila.JobOptions{Delay: time.Hour}}, {Name: "c", Options: &fila.JobOptions{JobID: "c"}},
		})
		require.NoError(t, err)
		require.Len(t, jobs, 3)
		require.Equal(t, []string{"a", "b", "c"}, []string{jobs[0].Name, jobs[1].Name, jobs[2].Name})
		require.Equal(t, "c", jobs[2].ID)
		require.Equal(t, fila.StateDelayed, jobs[1].State)
		require.Equal(t, jobs[1].AddedAt.Add(time.Hour), jobs[1].DueAt)
		require.Equal(t, fila.Counts{Waiting: 2, Delayed: 1}, b.counts(t))

		none, err := b.queue.AddBulk(b.ctx, nil)
		require.NoError(t, err)
		require.Empty(t, none)
	})
}

func TestQueueOrder(t *testing.T) {
	t.Parallel()

	// runOrder adds jobs with no worker running, then runs them with one
	// handler at a time, claiming none ahead (Prefetch does not keep strict
	// order), and returns the names in run order.
	runOrder := func(t *testing.T, b *testBundle, jobs []fila.BulkJob) []string {
		t.Helper()
		added, err := b.queue.AddBulk(b.ctx, jobs)
		require.NoError(t, err)
		var runs runLog
		b.startWorker(t, runs.recordOK, fila.WorkerOptions{Concurrency: 1, Prefetch: fila.NoPrefetch})
		for _, j := range added {
			completed(t, j)
		}
		return runs.names()
	}

	t.Run("DelayedJobsNeverRunEarlyAndRunByDueTime", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		delays := map[string]time.Duration{"d300": 300 * time.Millisecond, "d100": 100 * time.Millisecond, "d200": 200 * time.Millisecond}
		var added []*fila.Job
		for _, name := range []string{"d300", "d100", "d200"} {
			j := b.add(t, name, &fila.JobOptions{Delay: delays[name]})
			require.Equal(t, fila.StateDelayed, j.State)
			require.Equal(t, j.AddedAt.Add(delays[name]), j.DueAt)
			added = append(added, j)
		}
		var runs runLog
		b.startWorker(t, runs.recordOK, fila.WorkerOptions{Concurrency: 1, Prefetch: fila.NoPrefetch})
		for _, j := range added {
			completed(t, j)
		}

		// By due time, as the backend stamped it: on a loaded machine the
		// adds may lie further apart than the delays differ.
		byDue := slices.Clone(added)
		slices.SortStableFunc(byDue, func(x, y *fila.Job) int { return x.DueAt.Compare(y.DueAt) })
		var want []string
		for _, j := range byDue {
			want = append(want, j.Name)
		}
		require.Equal(t, want, runs.names())
		for i, r := range runs.all() {
			require.GreaterOrEqual(t, r.ProcessedAt.Sub(added[slices.IndexFunc(added, func(j *fila.Job) bool { return j.ID == r.ID })].AddedAt),
				delays[r.Name], "run %d (%s) started early", i, r.Name)
		}
	})

	t.Run("NoPriorityFirstThenLowestNumberFIFOAmongEquals", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		got := runOrder(t, b, []fila.BulkJob{
			{Name: "p3", Options: &fila.JobOptions{Priority: 3}},
			{Name: "p1-a", Options: &fila.JobOptions{Priority: 1}},
			{Name: "p2", Options: &fila.JobOptions{Priority: 2}},
			{Name: "none", Options: nil},
			{Name: "p1-b", Options: &fila.JobOptions{Priority: 1}},
		})
		require.Equal(t, []string{"none", "p1-a", "p1-b", "p2", "p3"}, got)
	})

	t.Run("LIFOJobsRunBeforeFIFOJobsNewestFirst", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		lifo := &fila.JobOptions{LIFO: true}
		got := runOrder(t, b, []fila.BulkJob{
			{Name: "fifo-1"}, {Name: "fifo-2"}, {Name: "lifo-1", Options: lifo}, {Name: "lifo-2", Options: lifo},
		})
		require.Equal(t, []string{"lifo-2", "lifo-1", "fifo-1", "fifo-2"}, got)
	})

	t.Run("PausedQueueTakesAddsAndRunsNothingUntilResume", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		require.NoError(t, b.queue.Pause(b.ctx))
		paused, err := b.queue.IsPaused(b.ctx)
		require.NoError(t, err)
		require.True(t, paused)
		sub, err := b.queue.Subscribe(b.ctx)
		require.NoError(t, err)
		defer sub.Close()
		var runs runLog
		b.startWorker(t, runs.recordOK, fila.WorkerOptions{Concurrency: 2})
		job := b.add(t, "send", nil)
		require.Equal(t, fila.StatePaused, job.State)
		require.Equal(t, fila.Counts{Paused: 1}, b.counts(t))

		require.Never(t, func() bool { return runs.len() > 0 }, 300*time.Millisecond, 10*time.Millisecond, "a paused queue ran a job")
		require.NoError(t, b.queue.Resume(b.ctx))
		paused, err = b.queue.IsPaused(b.ctx)
		require.NoError(t, err)
		require.False(t, paused)

		fin := completed(t, job)
		resumed := ofType(collect(t, sub, has(fila.EventResumed, "")), fila.EventResumed)
		require.Len(t, resumed, 1)
		require.False(t, fin.ProcessedAt.Before(resumed[0].Time), "the job started after Resume")
		require.Equal(t, 1, runs.len())
	})
}

func TestQueueRetention(t *testing.T) {
	t.Parallel()

	t.Run("KeepLastKeepsExactlyTheNewestCompletedJobs", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		const total, keep = 1000, 100
		bulk := make([]fila.BulkJob, total)
		for i := range bulk {
			bulk[i] = fila.BulkJob{Name: fmt.Sprint("job-", i), Options: &fila.JobOptions{RemoveOnComplete: fila.KeepLast(keep)}}
		}
		added, err := b.queue.AddBulk(b.ctx, bulk)
		require.NoError(t, err)
		var runs runLog
		b.startWorker(t, runs.recordOK, fila.WorkerOptions{Concurrency: 1, Prefetch: fila.NoPrefetch}) // finish order is add order
		completed(t, added[total-1])

		require.Equal(t, fila.Counts{Completed: keep}, b.counts(t))
		kept, err := b.queue.Jobs(b.ctx, fila.StateCompleted, 0, 1000)
		require.NoError(t, err)
		var want []string
		for i := total - 1; i >= total-keep; i-- { // newest first
			want = append(want, added[i].ID)
		}
		require.Equal(t, want, jobIDs(kept))
		require.Equal(t, total, runs.len())
	})

	t.Run("RemoveOnFailRemovesTheFailedJob", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		job := b.add(t, "send", &fila.JobOptions{RemoveOnFail: fila.RemoveJob})
		res := b.waitBeforeRun(t, job)
		b.startWorker(t, func(context.Context, *fila.Job) (any, error) {
			return nil, fmt.Errorf("no")
		}, fila.WorkerOptions{})

		r := <-res
		var jf *fila.JobFailedError
		require.ErrorAs(t, r.err, &jf)
		require.Equal(t, fila.Counts{}, b.counts(t), "the failed job was removed")
	})

	t.Run("KeepForRemovesJobsOlderThanTheAge", func(t *testing.T) {
		t.Parallel()
		clock := newFakeClock()
		b := setupWith(t, memoryWithClock(clock))
		opts := &fila.JobOptions{RemoveOnComplete: fila.KeepFor(time.Hour)}
		var runs runLog
		b.startWorker(t, runs.recordOK, fila.WorkerOptions{})
		old := completed(t, b.add(t, "old", opts))
		clock.Advance(2 * time.Hour)
		fresh := completed(t, b.add(t, "fresh", opts))

		kept, err := b.queue.Jobs(b.ctx, fila.StateCompleted, 0, 0)
		require.NoError(t, err)
		require.Equal(t, []string{fresh.ID}, jobIDs(kept))
		_, err = b.queue.GetJob(b.ctx, old.ID)
		require.ErrorIs(t, err, fila.ErrJobNotFound)
	})
}

func TestQueueOnAClosedBackend(t *testing.T) {
	t.Parallel()
	b := setup(t)
	job := b.add(t, "send", nil)
	require.NoError(t, b.be.Close())
	ctx := b.ctx
	q := b.queue

	calls := map[string]func() error{
		"Add":         func() error { _, err := q.Add(ctx, "x", nil, nil); return err },
		"GetJob":      func() error { _, err := q.GetJob(ctx, job.ID); return err },
		"Jobs":        func() error { _, err := q.Jobs(ctx, fila.StateWaiting, 0, 0); return err },
		"Logs":        func() error { _, _, err := q.Logs(ctx, job.ID, 0, 0); return err },
		"Counts":      func() error { _, err := q.Counts(ctx); return err },
		"Pause":       func() error { return q.Pause(ctx) },
		"IsPaused":    func() error { _, err := q.IsPaused(ctx); return err },
		"RateLimit":   func() error { return q.RateLimit(ctx, time.Second) },
		"Drain":       func() error { _, err := q.Drain(ctx, true); return err },
		"Clean":       func() error { _, err := q.Clean(ctx, fila.StateFailed, 0, 0); return err },
		"Obliterate":  func() error { return q.Obliterate(ctx, true) },
		"RetryJob":    func() error { return q.RetryJob(ctx, job.ID) },
		"RetryFailed": func() error { _, err := q.RetryFailed(ctx); return err },
		"Subscribe":   func() error { _, err := q.Subscribe(ctx); return err },
		"Wait":        func() error { _, err := job.WaitUntilFinished(ctx); return err },
	}
	for name, call := range calls {
		err := call()
		require.ErrorIs(t, err, backend.ErrClosed, name)
		require.Contains(t, err.Error(), `"outbound"`, name)
	}
}
