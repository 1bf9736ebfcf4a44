package fila_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/fila-go/fila"
	"github.com/fila-go/fila/backend"
)

func TestQueueOperations(t *testing.T) {
	t.Parallel()

	t.Run("GetJobOfAMissingJobIsErrJobNotFound", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		_, err := b.queue.GetJob(b.ctx, "nope")
		require.ErrorIs(t, err, fila.ErrJobNotFound)
		require.ErrorContains(t, err, `"nope"`)
		require.ErrorContains(t, err, `"outbound"`)
	})

	t.Run("JobsListsOneStateInRunOrderWithPaging", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		var ids []string
		for i := range 5 {
			ids = append(ids, b.add(t, fmt.Sprint("job-", i), nil).ID)
		}
		b.add(t, "later", &fila.JobOptions{Delay: time.Hour})

		all, err := b.queue.Jobs(b.ctx, fila.StateWaiting, 0, 0)
		require.NoError(t, err)
		require.Equal(t, ids, jobIDs(all))
		page, err := b.queue.Jobs(b.ctx, fila.StateWaiting, 1, 2)
		require.NoError(t, err)
		require.Equal(t, ids[1:3], jobIDs(page))
		past, err := b.queue.Jobs(b.ctx, fila.StateWaiting, 10, 0)
		require.NoError(t, err)
		require.Empty(t, past)
		delayed, err := b.queue.Jobs(b.ctx, fila.StateDelayed, 0, 0)
		require.NoError(t, err)
		require.Len(t, delayed, 1)
		require.Equal(t, fila.StateDelayed, delayed[0].State)
	})

	t.Run("JobsRejectsBadArguments", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		_, err := b.queue.Jobs(b.ctx, "done", 0, 0)
		requireInvalid(t, err, "state")
		_, err = b.queue.Jobs(b.ctx, fila.StateWaiting, -1, 0)
		requireInvalid(t, err, "offset")
		_, err = b.queue.Jobs(b.ctx, fila.StateWaiting, 0, -1)
		requireInvalid(t, err, "limit")
	})

	t.Run("CountsEveryState", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		b.add(t, "done", nil)
		b.add(t, "broken", nil)
		b.add(t, "running", nil)
		b.add(t, "waiting", nil)
		b.add(t, "urgent", &fila.JobOptions{Priority: 1})
		b.add(t, "later", &fila.JobOptions{Delay: time.Hour})
		done := b.claimRaw(t, "t1", time.Minute)
		_, err := b.be.JobComplete(b.ctx, &backend.JobCompleteParams{Queue: queueName, ID: done.ID, Token: "t1"})
		require.NoError(t, err)
		broken := b.claimRaw(t, "t2", time.Minute)
		_, err = b.be.JobFail(b.ctx, &backend.JobFailParams{Queue: queueName, ID: broken.ID, Token: "t2", Reason: "x"})
		require.NoError(t, err)
		b.claimRaw(t, "t3", time.Minute)

		require.Equal(t, fila.Counts{Waiting: 1, Prioritized: 1, Delayed: 1, Active: 1, Completed: 1, Failed: 1}, b.counts(t))
		require.NoError(t, b.queue.Pause(b.ctx))
		require.Equal(t, fila.Counts{Paused: 1, Prioritized: 1, Delayed: 1, Active: 1, Completed: 1, Failed: 1}, b.counts(t))
	})

	t.Run("DrainRemovesJobsNotStartedAndDelayedOnRequest", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		b.add(t, "a", nil)
		b.add(t, "b", &fila.JobOptions{Priority: 2})
		b.add(t, "later", &fila.JobOptions{Delay: time.Hour})
		b.add(t, "running", nil)
		b.claimRaw(t, "t", time.Minute)

		n, err := b.queue.Drain(b.ctx, false)
		require.NoError(t, err)
		require.Equal(t, 2, n)
		require.Equal(t, fila.Counts{Delayed: 1, Active: 1}, b.counts(t))
		n, err = b.queue.Drain(b.ctx, true)
		require.NoError(t, err)
		require.Equal(t, 1, n)
		require.Equal(t, fila.Counts{Active: 1}, b.counts(t), "active jobs stay")
	})

	t.Run("CleanRemovesFinishedJobsOlderThanTheAge", func(t *testing.T) {
		t.Parallel()
		clock := newFakeClock()
		b := setupWith(t, memoryWithClock(clock))
		var runs runLog
		b.startWorker(t, runs.recordOK, fila.WorkerOptions{})
		old1 := completed(t, b.add(t, "old-1", nil))
		old2 := completed(t, b.add(t, "old-2", nil))
		clock.Advance(2 * time.Hour)
		fresh := completed(t, b.add(t, "fresh", nil))

		ids, err := b.queue.Clean(b.ctx, fila.StateCompleted, time.Hour, 1)
		require.NoError(t, err)
		require.Equal(t, []string{old1.ID}, ids, "limit 1: the oldest first")
		ids, err = b.queue.Clean(b.ctx, fila.StateCompleted, time.Hour, 0)
		require.NoError(t, err)
		require.Equal(t, []string{old2.ID}, ids)
		require.Equal(t, fila.Counts{Completed: 1}, b.counts(t))
		ids, err = b.queue.Clean(b.ctx, fila.StateCompleted, 0, 0)
		require.NoError(t, err)
		require.Equal(t, []string{fresh.ID}, ids, "age 0 cleans every job")
	})

	t.Run("CleanRejectsActiveAndNegativeAge", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		_, err := b.queue.Clean(b.ctx, fila.StateActive, 0, 0)
		requireInvalid(t, err, "state")
		_, err = b.queue.Clean(b.ctx, fila.StateFailed, -time.Second, 0)
		requireInvalid(t, err, "olderThan")
		_, err = b.queue.Clean(b.ctx, fila.StateFailed, 0, -1)
		requireInvalid(t, err, "limit")
	})

	t.Run("ObliterateRefusesActiveJobsUnlessForced", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		b.add(t, "running", nil)
		b.add(t, "waiting", nil)
		b.claimRaw(t, "t", time.Minute)

		err := b.queue.Obliterate(b.ctx, false)
		require.ErrorIs(t, err, fila.ErrQueueActive)
		require.Equal(t, fila.Counts{Waiting: 1, Active: 1}, b.counts(t), "a refused obliterate changes nothing")
		require.NoError(t, b.queue.Obliterate(b.ctx, true))
		require.Equal(t, fila.Counts{}, b.counts(t))
	})

	t.Run("RetryJobRunsAFailedJobAgainWithAttemptsReset", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		var fail sync.Once
		job := b.add(t, "send", nil)
		b.startWorker(t, func(context.Context, *fila.Job) (any, error) {
			var err error
			fail.Do(func() { err = fmt.Errorf("first time") })
			return "ok", err
		}, fila.WorkerOptions{})
		failed(t, job)

		require.NoError(t, b.queue.RetryJob(b.ctx, job.ID))
		fin := completed(t, job)
		require.Equal(t, 1, fin.AttemptsMade, "attempts were reset")
		require.Empty(t, fin.FailedReason)
	})

	t.Run("RetryJobRefusesAJobThatHasNotFinished", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		job := b.add(t, "send", nil)
		err := b.queue.RetryJob(b.ctx, job.ID)
		var se *fila.StateError
		require.ErrorAs(t, err, &se)
		require.Equal(t, fila.StateWaiting, se.State)
		require.ErrorIs(t, b.queue.RetryJob(b.ctx, "nope"), fila.ErrJobNotFound)
	})

	t.Run("RetryFailedMovesEveryFailedJobBack", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		for i := range 3 {
			b.add(t, fmt.Sprint("job-", i), nil)
			j := b.claimRaw(t, fmt.Sprint("t", i), time.Minute)
			_, err := b.be.JobFail(b.ctx, &backend.JobFailParams{Queue: queueName, ID: j.ID, Token: fmt.Sprint("t", i), Reason: "x"})
			require.NoError(t, err)
		}
		require.Equal(t, fila.Counts{Failed: 3}, b.counts(t))

		n, err := b.queue.RetryFailed(b.ctx)
		require.NoError(t, err)
		require.Equal(t, 3, n)
		require.Equal(t, fila.Counts{Waiting: 3}, b.counts(t))
		n, err = b.queue.RetryFailed(b.ctx)
		require.NoError(t, err)
		require.Zero(t, n)
	})

	t.Run("RemoveDeletesAJobButNotAnActiveOne", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		running := b.add(t, "running", nil)
		b.claimRaw(t, "t", time.Minute)
		waiting := b.add(t, "waiting", nil)

		err := b.queue.Remove(b.ctx, running.ID)
		require.ErrorIs(t, err, fila.ErrJobActive)
		require.ErrorContains(t, err, `"`+running.ID+`"`)
		require.NoError(t, b.queue.Remove(b.ctx, waiting.ID))
		_, err = b.queue.GetJob(b.ctx, waiting.ID)
		require.ErrorIs(t, err, fila.ErrJobNotFound)
		require.ErrorIs(t, b.queue.Remove(b.ctx, waiting.ID), fila.ErrJobNotFound)
	})

	t.Run("PromoteRunsADelayedJobNow", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		later := b.add(t, "later", &fila.JobOptions{Delay: time.Hour})
		now := b.add(t, "now", nil)
		var se *fila.StateError
		require.ErrorAs(t, b.queue.Promote(b.ctx, now.ID), &se, "only delayed jobs can be promoted")

		require.NoError(t, b.queue.Promote(b.ctx, later.ID))
		require.Equal(t, fila.StateWaiting, b.get(t, later.ID).State)
		var runs runLog
		b.startWorker(t, runs.recordOK, fila.WorkerOptions{})
		completed(t, later)
	})

	t.Run("HandlerLogsAndProgressAreKeptWithTheJob", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		job := b.add(t, "send", &fila.JobOptions{KeepLogs: 3})
		b.startWorker(t, func(ctx context.Context, j *fila.Job) (any, error) {
			for i := 1; i <= 4; i++ {
				if err := j.Log(ctx, "step %d of %d", i, 4); err != nil {
					return nil, err
				}
			}
			if err := j.Log(ctx, "done"); err != nil {
				return nil, err
			}
			return nil, j.UpdateProgress(ctx, 100)
		}, fila.WorkerOptions{})

		fin := completed(t, job)
		require.JSONEq(t, `100`, string(fin.Progress))
		lines, total, err := b.queue.Logs(b.ctx, job.ID, 0, 0)
		require.NoError(t, err)
		require.Equal(t, 3, total, "KeepLogs keeps the newest lines")
		require.Equal(t, []string{"step 3 of 4", "step 4 of 4", "done"}, lines)
		lines, total, err = b.queue.Logs(b.ctx, job.ID, 1, 1)
		require.NoError(t, err)
		require.Equal(t, 3, total)
		require.Equal(t, []string{"step 4 of 4"}, lines)
		_, _, err = b.queue.Logs(b.ctx, "nope", 0, 0)
		require.ErrorIs(t, err, fila.ErrJobNotFound)
		_, _, err = b.queue.Logs(b.ctx, job.ID, -1, 0)
		requireInvalid(t, err, "offset")
	})

	t.Run("UpdateProgressAndLogOnAMissingJobFail", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		job := b.add(t, "send", nil)
		require.NoError(t, job.UpdateProgress(b.ctx, map[string]int{"pct": 10}))
		require.JSONEq(t, `{"pct":10}`, string(job.Progress))
		require.JSONEq(t, `{"pct":10}`, string(b.get(t, job.ID).Progress))
		require.Error(t, job.UpdateProgress(b.ctx, make(chan int)), "progress must encode")
		require.NoError(t, b.queue.Remove(b.ctx, job.ID))

		require.ErrorIs(t, job.UpdateProgress(b.ctx, 1), fila.ErrJobNotFound)
		require.ErrorIs(t, job.Log(b.ctx, "x"), fila.ErrJobNotFound)
	})

	t.Run("EveryCallOnABadQueueNameIsInvalid", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		q := fila.NewQueue(b.be, "bad name")
		ctx := b.ctx
		calls := map[string]func() error{
			"Add":        func() error { _, err := q.Add(ctx, "x", nil, nil); return err },
			"AddBulk":    func() error { _, err := q.AddBulk(ctx, []fila.BulkJob{{Name: "x"}}); return err },
			"GetJob":     func() error { _, err := q.GetJob(ctx, "1"); return err },
			"Jobs":       func() error { _, err := q.Jobs(ctx, fila.StateWaiting, 0, 0); return err },
			"Logs":       func() error { _, _, err := q.Logs(ctx, "1", 0, 0); return err },
			"Counts":     func() error { _, err := q.Counts(ctx); return err },
			"Pause":      func() error { return q.Pause(ctx) },
			"Resume":     func() error { return q.Resume(ctx) },
			"IsPaused":   func() error { _, err := q.IsPaused(ctx); return err },
			"RateLimit":  func() error { return q.RateLimit(ctx, time.Second) },
			"Drain":      func() error { _, err := q.Drain(ctx, true); return err },
			"Clean":      func() error { _, err := q.Clean(ctx, fila.StateFailed, 0, 0); return err },
			"Obliterate": func() error { return q.Obliterate(ctx, true) },
			"RetryJob":   func() error { return q.RetryJob(ctx, "1") },
			"Remove":     func() error { return q.Remove(ctx, "1") },
			"Promote":    func() error { return q.Promote(ctx, "1") },
			"RetryFailed": func() error {
				_, err := q.RetryFailed(ctx)
				return err
			},
			"Subscribe": func() error { _, err := q.Subscribe(ctx); return err },
		}
		for name, call := range calls {
			err := call()
			requireInvalid(t, err, "queue name")
			require.Contains(t, err.Error(), `"bad name"`, name)
		}
		names, err := b.be.QueueList(ctx)
		require.NoError(t, err)
		require.Empty(t, names, "nothing reached the backend")
	})
}
