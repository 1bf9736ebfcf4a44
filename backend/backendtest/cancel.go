package backendtest

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/fila-go/fila/backend"
)

func runCancel(t *testing.T, f Factory) {
	// canceller returns the backend's Cancellers, or skips the subtest.
	canceller := func(b *bundle) backend.Cancellers {
		b.t.Helper()
		c, ok := b.be.(backend.Cancellers)
		if !ok {
			b.t.Skip("backend does not implement backend.Cancellers (Queue.Cancel)")
		}
		return c
	}
	cancel := func(b *bundle, c backend.Cancellers, id string) backend.State {
		b.t.Helper()
		was, err := c.JobCancel(b.ctx, &backend.JobCancelParams{Queue: b.queue, ID: id})
		require.NoError(b.t, err)
		return was
	}
	requireCancelled := func(b *bundle, id string, attempts int) {
		b.t.Helper()
		j := b.get(id)
		require.Equal(b.t, backend.StateFailed, j.State)
		require.Equal(b.t, backend.CancelledReason, j.FailedReason)
		require.Equal(b.t, attempts, j.AttemptsMade)
		require.False(b.t, j.FinishedAt.IsZero())
		require.Contains(b.t, b.list(backend.StateFailed), id)
	}

	t.Run("a job that is not running fails at once whatever its state", func(t *testing.T) {
		b := setup(t, f)
		c := canceller(b)
		waiting := b.add("w", backend.JobOptions{})
		prio := b.add("p", backend.JobOptions{Priority: 3})
		prio2 := b.add("p2", backend.JobOptions{Priority: 5})
		delayed := b.add("d", backend.JobOptions{Delay: time.Hour})
		cursor, err := b.be.EventsCursor(b.ctx, &backend.QueueParams{Queue: b.queue})
		require.NoError(t, err)

		require.Equal(t, backend.StateWaiting, cancel(b, c, waiting))
		require.Equal(t, backend.StatePrioritized, cancel(b, c, prio))
		require.Equal(t, backend.StateDelayed, cancel(b, c, delayed))
		for _, id := range []string{waiting, prio, delayed} {
			requireCancelled(b, id, 0)
		}
		require.Equal(t, backend.Counts{Prioritized: 1, Failed: 3}, b.counts())
		j, _ := b.claim()
		require.NotNil(t, j)
		require.Equal(t, prio2, j.ID, "the queue still serves its other jobs")

		evs, err := b.be.EventsRead(b.ctx, &backend.EventsReadParams{Queue: b.queue, After: cursor, Count: 100})
		require.NoError(t, err)
		failed := map[string]string{}
		for _, ev := range evs {
			if ev.Type == backend.EventFailed {
				failed[ev.JobID] = ev.Data
			}
		}
		require.Equal(t, map[string]string{waiting: "cancelled", prio: "cancelled", delayed: "cancelled"}, failed)
	})

	t.Run("a job of a paused queue is cancelled", func(t *testing.T) {
		b := setup(t, f)
		c := canceller(b)
		id := b.add("a", backend.JobOptions{})
		other := b.add("b", backend.JobOptions{})
		require.NoError(t, b.be.QueuePause(b.ctx, &backend.QueuePauseParams{Queue: b.queue, Paused: true}))
		require.Equal(t, backend.StatePaused, cancel(b, c, id))
		requireCancelled(b, id, 0)
		require.NoError(t, b.be.QueuePause(b.ctx, &backend.QueuePauseParams{Queue: b.queue, Paused: false}))
		j, _ := b.claim()
		require.NotNil(t, j)
		require.Equal(t, other, j.ID)
		j, _ = b.claim()
		require.Nil(t, j, "the cancelled job is not claimed")
	})

	t.Run("an active job fails and its worker loses the lock with the reason", func(t *testing.T) {
		b := setup(t, f)
		c := canceller(b)
		id := b.add("a", backend.JobOptions{Attempts: 5})
		other := b.add("b", backend.JobOptions{})
		j, tok := b.mustClaim()
		require.Equal(t, id, j.ID)
		o, otok := b.mustClaim()
		require.Equal(t, other, o.ID)

		require.Equal(t, backend.StateActive, cancel(b, c, id))
		requireCancelled(b, id, 1)
		require.Equal(t, backend.Counts{Active: 1, Failed: 1}, b.counts())
		require.Equal(t, []string{other}, b.list(backend.StateActive))

		locks := []backend.JobLock{{ID: id, Token: tok}, {ID: other, Token: otok}}
		lost, err := b.be.JobExtendLocks(b.ctx, &backend.JobExtendLocksParams{Queue: b.queue, Locks: locks, Duration: lockFor})
		require.NoError(t, err)
		require.Equal(t, []string{id}, lost, "the cancelled job's lock is gone")
		ids, err := c.JobCancelled(b.ctx, &backend.JobCancelledParams{Queue: b.queue, Locks: locks})
		require.NoError(t, err)
		require.Equal(t, []string{id}, ids)

		_, err = b.be.JobComplete(b.ctx, &backend.JobCompleteParams{Queue: b.queue, ID: id, Token: tok})
		require.ErrorIs(t, err, backend.ErrLockLost, "the worker can no longer finish it")
		_, err = b.be.JobFail(b.ctx, &backend.JobFailParams{Queue: b.queue, ID: id, Token: tok, Reason: "x", Retry: true})
		require.ErrorIs(t, err, backend.ErrLockLost)
		requireCancelled(b, id, 1)
		b.complete(other, otok)
	})

	t.Run("JobCancelled lists only locks that a cancel revoked", func(t *testing.T) {
		b := setup(t, f)
		c := canceller(b)
		id := b.add("a", backend.JobOptions{})
		held := b.add("b", backend.JobOptions{})
		_, tok := b.mustClaim()
		_, htok := b.mustClaim()
		cancel(b, c, id)
		ids, err := c.JobCancelled(b.ctx, &backend.JobCancelledParams{Queue: b.queue, Locks: []backend.JobLock{
			{ID: id, Token: "another-attempt"}, {ID: held, Token: htok}, {ID: "missing", Token: "x"}, {ID: id, Token: tok},
		}})
		require.NoError(t, err)
		require.Equal(t, []string{id}, ids)
		ids, err = c.JobCancelled(b.ctx, &backend.JobCancelledParams{Queue: b.queue})
		require.NoError(t, err)
		require.Empty(t, ids)
	})

	t.Run("a cancelled active job is kept even when its retention removes failures", func(t *testing.T) {
		b := setup(t, f)
		c := canceller(b)
		running := b.add("a", backend.JobOptions{RemoveOnFail: backend.Retention{Remove: true}})
		j, tok := b.mustClaim()
		require.Equal(t, running, j.ID)
		waiting := b.add("b", backend.JobOptions{RemoveOnFail: backend.Retention{Remove: true}})
		cancel(b, c, running)
		cancel(b, c, waiting)
		requireCancelled(b, running, 1)
		_, err := b.be.JobGet(b.ctx, &backend.JobGetParams{Queue: b.queue, ID: waiting})
		require.ErrorIs(t, err, backend.ErrJobNotFound, "a job that was not running follows its retention")
		ids, err := c.JobCancelled(b.ctx, &backend.JobCancelledParams{Queue: b.queue, Locks: []backend.JobLock{{ID: running, Token: tok}}})
		require.NoError(t, err)
		require.Equal(t, []string{running}, ids)
	})

	t.Run("a finished or missing job is refused", func(t *testing.T) {
		b := setup(t, f)
		c := canceller(b)
		done := b.add("a", backend.JobOptions{})
		j, tok := b.mustClaim()
		b.complete(j.ID, tok)
		_, err := c.JobCancel(b.ctx, &backend.JobCancelParams{Queue: b.queue, ID: done})
		var se *backend.StateError
		require.ErrorAs(t, err, &se)
		require.Equal(t, backend.StateCompleted, se.State)
		require.Equal(t, done, se.JobID)

		id := b.add("b", backend.JobOptions{})
		cancel(b, c, id)
		_, err = c.JobCancel(b.ctx, &backend.JobCancelParams{Queue: b.queue, ID: id})
		require.ErrorAs(t, err, &se, "cancelling twice")
		require.Equal(t, backend.StateFailed, se.State)

		_, err = c.JobCancel(b.ctx, &backend.JobCancelParams{Queue: b.queue, ID: "missing"})
		require.ErrorIs(t, err, backend.ErrJobNotFound)
	})

	t.Run("a cancelled job can be retried and runs again", func(t *testing.T) {
		b := setup(t, f)
		c := canceller(b)
		id := b.add("a", backend.JobOptions{})
		_, tok := b.mustClaim()
		cancel(b, c, id)
		require.NoError(t, b.be.JobRetry(b.ctx, &backend.JobRetryParams{Queue: b.queue, ID: id}))
		j, tok2 := b.mustClaim()
		require.Equal(t, id, j.ID)
		ids, err := c.JobCancelled(b.ctx, &backend.JobCancelledParams{Queue: b.queue, Locks: []backend.JobLock{{ID: id, Token: tok2}, {ID: id, Token: tok}}})
		require.NoError(t, err)
		require.Empty(t, ids, "the new attempt is not cancelled, and the old token no longer matches a running job")
		b.complete(id, tok2)
	})

	t.Run("a done context changes nothing", func(t *testing.T) {
		b := setup(t, f)
		c := canceller(b)
		id := b.add("a", backend.JobOptions{})
		j, tok := b.mustClaim()
		require.Equal(t, id, j.ID)
		ctx, stop := context.WithCancel(b.ctx)
		stop()
		_, err := c.JobCancel(ctx, &backend.JobCancelParams{Queue: b.queue, ID: id})
		require.ErrorIs(t, err, context.Canceled)
		_, err = c.JobCancelled(ctx, &backend.JobCancelledParams{Queue: b.queue, Locks: []backend.JobLock{{ID: id, Token: tok}}})
		require.ErrorIs(t, err, context.Canceled)
		_, err = c.JobCancelled(ctx, &backend.JobCancelledParams{Queue: b.queue})
		require.ErrorIs(t, err, context.Canceled)
		require.Equal(t, backend.StateActive, b.get(id).State)
		b.complete(id, tok)
	})
}
