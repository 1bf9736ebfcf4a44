package backendtest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/fila-go/fila/backend"
)

// runContexts checks the context rule every call follows: a context already
// done (cancelled, or past its deadline) returns its error and changes
// nothing; one that ends while the call waits returns its error then.
func runContexts(t *testing.T, f Factory) {
	t.Run("a call whose context is already done returns its error and changes nothing", func(t *testing.T) {
		b := setup(t, f)
		failedID := b.add("failed", backend.JobOptions{})
		fj, ftok := b.mustClaim()
		require.Equal(t, failedID, fj.ID)
		_, err := b.be.JobFail(b.ctx, &backend.JobFailParams{Queue: b.queue, ID: fj.ID, Token: ftok, Reason: "boom"})
		require.NoError(t, err)
		activeID := b.add("active", backend.JobOptions{})
		aj, atok := b.mustClaim()
		require.Equal(t, activeID, aj.ID)
		waitingID := b.add("waiting", backend.JobOptions{})
		delayedID := b.add("delayed", backend.JobOptions{Delay: time.Hour})

		before := b.counts()
		require.Equal(t, backend.Counts{Waiting: 1, Delayed: 1, Active: 1, Failed: 1}, before)
		cursor, err := b.be.EventsCursor(b.ctx, &backend.QueueParams{Queue: b.queue})
		require.NoError(t, err)
		activeBefore := b.get(activeID)

		cancelled, cancel := context.WithCancel(context.Background())
		cancel()
		expired, cancel2 := context.WithDeadline(context.Background(), time.Now().Add(-time.Second))
		defer cancel2()
		q := &backend.QueueParams{Queue: b.queue}
		lock := []backend.JobLock{{ID: activeID, Token: atok}}
		next := &backend.JobClaimParams{Queue: b.queue, Token: "next", LockDuration: lockFor}
		calls := map[string]func(ctx context.Context) error{
			"JobAdd": func(ctx context.Context) error {
				_, err := b.be.JobAdd(ctx, &backend.JobAddParams{Queue: b.queue, Jobs: []backend.JobAddItem{{Name: "new", Options: backend.JobOptions{Attempts: 1}}}})
				return err
			},
			"JobAdd bulk": func(ctx context.Context) error {
				it := backend.JobAddItem{Name: "bulk", Options: backend.JobOptions{Attempts: 1}}
				_, err := b.be.JobAdd(ctx, &backend.JobAddParams{Queue: b.queue, Jobs: []backend.JobAddItem{it, it}})
				return err
			},
			"JobGet": func(ctx context.Context) error {
				_, err := b.be.JobGet(ctx, &backend.JobGetParams{Queue: b.queue, ID: waitingID})
				return err
			},
			"JobList": func(ctx context.Context) error {
				_, err := b.be.JobList(ctx, &backend.JobListParams{Queue: b.queue, State: backend.StateWaiting})
				return err
			},
			"JobClaim": func(ctx context.Context) error {
				_, err := b.be.JobClaim(ctx, &backend.JobClaimParams{Queue: b.queue, Token: "c1", LockDuration: lockFor})
				return err
			},
			"JobClaim waiting": func(ctx context.Context) error {
				_, err := b.be.JobClaim(ctx, &backend.JobClaimParams{Queue: b.queue, Token: "c2", LockDuration: lockFor, Wait: time.Second})
				return err
			},
			"JobComplete": func(ctx context.Context) error {
				_, err := b.be.JobComplete(ctx, &backend.JobCompleteParams{Queue: b.queue, ID: activeID, Token: atok, Next: next})
				return err
			},
			"JobFail": func(ctx context.Context) error {
				_, err := b.be.JobFail(ctx, &backend.JobFailParams{Queue: b.queue, ID: activeID, Token: atok, Reason: "x", Next: next})
				return err
			},
			"JobRelease": func(ctx context.Context) error {
				return b.be.JobRelease(ctx, &backend.JobReleaseParams{Queue: b.queue, ID: activeID, Token: atok})
			},
			"JobExtendLocks": func(ctx context.Context) error {
				_, err := b.be.JobExtendLocks(ctx, &backend.JobExtendLocksParams{Queue: b.queue, Locks: lock, Duration: time.Hour})
				return err
			},
			"JobUpdateProgress": func(ctx context.Context) error {
				return b.be.JobUpdateProgress(ctx, &backend.JobUpdateProgressParams{Queue: b.queue, ID: activeID, Progress: []byte(`50`)})
			},
			"JobLogAdd": func(ctx context.Context) error {
				_, err := b.be.JobLogAdd(ctx, &backend.JobLogAddParams{Queue: b.queue, ID: activeID, Line: "line"})
				return err
			},
			"JobLogs": func(ctx context.Context) error {
				_, _, err := b.be.JobLogs(ctx, &backend.JobLogsParams{Queue: b.queue, ID: activeID, Limit: 10})
				return err
			},
			"JobRemove": func(ctx context.Context) error {
				return b.be.JobRemove(ctx, &backend.JobRemoveParams{Queue: b.queue, ID: waitingID})
			},
			"JobRetry": func(ctx context.Context) error {
				return b.be.JobRetry(ctx, &backend.JobRetryParams{Queue: b.queue, ID: failedID})
			},
			"JobPromote": func(ctx context.Context) error {
				return b.be.JobPromote(ctx, &backend.JobPromoteParams{Queue: b.queue, ID: delayedID})
			},
			"QueueCounts": func(ctx context.Context) error {
				_, err := b.be.QueueCounts(ctx, q)
				return err
			},
			"QueueInfo": func(ctx context.Context) error {
				_, err := b.be.QueueInfo(ctx, q)
				return err
			},
			"QueueList": func(ctx context.Context) error {
				_, err := b.be.QueueList(ctx)
				return err
			},
			"QueuePause": func(ctx context.Context) error {
				return b.be.QueuePause(ctx, &backend.QueuePauseParams{Queue: b.queue, Paused: true})
			},
			"QueueRateLimit": func(ctx context.Context) error {
				return b.be.QueueRateLimit(ctx, &backend.QueueRateLimitParams{Queue: b.queue, For: time.Hour})
			},
			"QueueDrain": func(ctx context.Context) error {
				_, err := b.be.QueueDrain(ctx, &backend.QueueDrainParams{Queue: b.queue, Delayed: true})
				return err
			},
			"QueueClean": func(ctx context.Context) error {
				_, err := b.be.QueueClean(ctx, &backend.QueueCleanParams{Queue: b.queue, State: backend.StateFailed})
				return err
			},
			"QueueRetryJobs": func(ctx context.Context) error {
				_, err := b.be.QueueRetryJobs(ctx, &backend.QueueRetryJobsParams{Queue: b.queue, State: backend.StateFailed})
				return err
			},
			"QueueObliterate": func(ctx context.Context) error {
				return b.be.QueueObliterate(ctx, &backend.QueueObliterateParams{Queue: b.queue, Force: true})
			},
			"QueueMetrics": func(ctx context.Context) error {
				_, err := b.be.QueueMetrics(ctx, &backend.QueueMetricsParams{Queue: b.queue, Minutes: 5})
				return err
			},
			"StalledCheck": func(ctx context.Context) error {
				_, err := b.be.StalledCheck(ctx, &backend.StalledCheckParams{Queue: b.queue, Interval: time.Millisecond, MaxStalledCount: 1})
				return err
			},
			"EventsRead": func(ctx context.Context) error {
				_, err := b.be.EventsRead(ctx, &backend.EventsReadParams{Queue: b.queue, After: cursor, Wait: time.Second})
				return err
			},
			"EventsCursor": func(ctx context.Context) error {
				_, err := b.be.EventsCursor(ctx, q)
				return err
			},
			"Ping": func(ctx context.Context) error { return b.be.Ping(ctx) },
		}
		for name, call := range calls {
			require.ErrorIs(t, call(cancelled), context.Canceled, "%s with a cancelled context", name)
			require.ErrorIs(t, call(expired), context.DeadlineExceeded, "%s with an expired deadline", name)
		}

		require.Equal(t, before, b.counts(), "a call with a done context changed the counts")
		after, err := b.be.EventsCursor(b.ctx, q)
		require.NoError(t, err)
		require.Equal(t, cursor, after, "a call with a done context recorded an event")
		info, err := b.be.QueueInfo(b.ctx, q)
		require.NoError(t, err)
		require.Equal(t, backend.QueueInfo{}, *info, "a call with a done context paused or rate limited the queue")
		for id, state := range map[string]backend.State{
			failedID: backend.StateFailed, activeID: backend.StateActive, waitingID: backend.StateWaiting, delayedID: backend.StateDelayed,
		} {
			require.Equal(t, state, b.get(id).State, "job %s", id)
		}
		activeAfter := b.get(activeID)
		require.Equal(t, activeBefore.AttemptsMade, activeAfter.AttemptsMade)
		require.Nil(t, activeAfter.Progress)
		_, total, err := b.be.JobLogs(b.ctx, &backend.JobLogsParams{Queue: b.queue, ID: activeID, Limit: 10})
		require.NoError(t, err)
		require.Zero(t, total, "a log line was added")
		lost, err := b.be.JobExtendLocks(b.ctx, &backend.JobExtendLocksParams{Queue: b.queue, Locks: lock, Duration: lockFor})
		require.NoError(t, err)
		require.Empty(t, lost, "the active job's lock was released or taken")
		b.complete(activeID, atok)
	})

	t.Run("a waiting claim returns its context's error when the context ends", func(t *testing.T) {
		b := setup(t, f)
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		defer cancel()
		p := b.claimParams(b.token())
		p.Wait = time.Minute
		res, err := b.be.JobClaim(ctx, p)
		require.Nil(t, res)
		require.True(t, errors.Is(err, context.DeadlineExceeded), "got %v", err)
		b.add("later", backend.JobOptions{})
		p = b.claimParams(b.token())
		p.Wait = 2 * time.Second
		res, err = b.be.JobClaim(b.ctx, p)
		require.NoError(t, err)
		j := res.Job
		if j == nil {
			// A server without CLIENT UNBLOCK (miniredis) ends the left
			// claim's BLMOVE by closing its socket, and may still hand it
			// the next job: the job is then active without a lock, and the
			// stalled check returns it (backend/redis/blocking.go). It must
			// not be lost.
			require.Equal(t, backend.Counts{Active: 1}, b.counts(), "the job added after the left claim is gone")
			for range 2 {
				time.Sleep(5 * time.Millisecond) // past the check's interval
				_, err := b.be.StalledCheck(b.ctx, &backend.StalledCheckParams{Queue: b.queue, Interval: time.Millisecond, MaxStalledCount: 1})
				require.NoError(t, err)
			}
			j, _ = b.mustClaim()
		}
		require.Equal(t, "later", j.Name)
	})
}
