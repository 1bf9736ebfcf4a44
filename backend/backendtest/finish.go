package backendtest

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/fila-go/fila/backend"
)

func runFinish(t *testing.T, f Factory) {
	t.Run("complete stores the result and counts the attempt", func(t *testing.T) {
		b := setup(t, f)
		id := b.add("a", backend.JobOptions{})
		j, tok := b.claim()
		res, err := b.be.JobComplete(b.ctx, &backend.JobCompleteParams{Queue: b.queue, ID: j.ID, Token: tok, ReturnValue: []byte(`{"ok":true}`)})
		require.NoError(t, err)
		require.Nil(t, res.Job, "no next job was asked for")
		done := b.get(id)
		require.Equal(t, backend.StateCompleted, done.State)
		require.Equal(t, []byte(`{"ok":true}`), done.ReturnValue)
		require.Equal(t, 1, done.AttemptsMade)
		require.False(t, done.FinishedAt.IsZero())
		require.False(t, done.FinishedAt.Before(done.ProcessedAt))
		require.Equal(t, backend.Counts{Completed: 1}, b.counts())
	})

	t.Run("only the lock holder may finish a job, and only once", func(t *testing.T) {
		b := setup(t, f)
		b.add("a", backend.JobOptions{})
		j, tok := b.claim()
		_, err := b.be.JobComplete(b.ctx, &backend.JobCompleteParams{Queue: b.queue, ID: j.ID, Token: "not-" + tok})
		require.ErrorIs(t, err, backend.ErrLockLost)
		_, err = b.be.JobFail(b.ctx, &backend.JobFailParams{Queue: b.queue, ID: j.ID, Token: "not-" + tok, Reason: "x"})
		require.ErrorIs(t, err, backend.ErrLockLost)
		err = b.be.JobRelease(b.ctx, &backend.JobReleaseParams{Queue: b.queue, ID: j.ID, Token: "not-" + tok})
		require.ErrorIs(t, err, backend.ErrLockLost)
		require.Equal(t, backend.Counts{Active: 1}, b.counts(), "a refused finish changes nothing")

		b.complete(j.ID, tok)
		_, err = b.be.JobComplete(b.ctx, &backend.JobCompleteParams{Queue: b.queue, ID: j.ID, Token: tok})
		require.ErrorIs(t, err, backend.ErrLockLost, "completing twice")
		_, err = b.be.JobFail(b.ctx, &backend.JobFailParams{Queue: b.queue, ID: j.ID, Token: tok, Reason: "late"})
		require.ErrorIs(t, err, backend.ErrLockLost, "failing after completion")
		require.Equal(t, backend.Counts{Completed: 1}, b.counts())
		require.Empty(t, b.get(j.ID).FailedReason)
	})

	t.Run("a failed attempt with a delay is retried after it", func(t *testing.T) {
		b := setup(t, f)
		id := b.add("a", backend.JobOptions{Attempts: 3})
		j, tok := b.claim()
		_, err := b.be.JobFail(b.ctx, &backend.JobFailParams{Queue: b.queue, ID: j.ID, Token: tok,
			Reason: "boom", Stacktrace: "stack 1", Retry: true, RetryDelay: 2 * time.Second}) // the checks below fit in it on a loaded machine
		require.NoError(t, err)
		d := b.get(id)
		require.Equal(t, backend.StateDelayed, d.State)
		require.Equal(t, "boom", d.FailedReason)
		require.Equal(t, []string{"stack 1"}, d.Stacktrace)
		require.Equal(t, 1, d.AttemptsMade)
		require.Equal(t, backend.Counts{Delayed: 1}, b.counts())
		again, _ := b.claim() // whenever a claim gets it, its delay has passed
		if again == nil {
			again, _ = b.mustClaim()
		}
		require.Equal(t, id, again.ID)
		require.Equal(t, 2, again.AttemptsStarted)
		require.Equal(t, 1, again.AttemptsMade)
		require.GreaterOrEqual(t, again.ProcessedAt.Sub(j.ProcessedAt), 2*time.Second, "retried before its delay")
	})

	t.Run("a failed attempt without a delay is ready at once", func(t *testing.T) {
		b := setup(t, f)
		id := b.add("a", backend.JobOptions{Attempts: 2})
		j, tok := b.claim()
		_, err := b.be.JobFail(b.ctx, &backend.JobFailParams{Queue: b.queue, ID: j.ID, Token: tok, Reason: "boom", Retry: true})
		require.NoError(t, err)
		require.Equal(t, backend.Counts{Waiting: 1}, b.counts())
		again, _ := b.claim()
		require.Equal(t, id, again.ID)
	})

	t.Run("a final failure moves the job to failed", func(t *testing.T) {
		b := setup(t, f)
		id := b.add("a", backend.JobOptions{})
		j, tok := b.claim()
		_, err := b.be.JobFail(b.ctx, &backend.JobFailParams{Queue: b.queue, ID: j.ID, Token: tok, Reason: "bad input", Stacktrace: "trace"})
		require.NoError(t, err)
		d := b.get(id)
		require.Equal(t, backend.StateFailed, d.State)
		require.Equal(t, "bad input", d.FailedReason)
		require.Equal(t, []string{"trace"}, d.Stacktrace)
		require.False(t, d.FinishedAt.IsZero())
		require.Equal(t, 1, d.AttemptsMade)
		require.Equal(t, backend.Counts{Failed: 1}, b.counts())
	})

	t.Run("stacks are capped, newest kept", func(t *testing.T) {
		b := setup(t, f)
		id := b.add("a", backend.JobOptions{Attempts: 5})
		for i, st := range []string{"s1", "s2", "s3"} {
			j, tok := b.claim()
			require.NotNil(t, j, "attempt %d", i)
			_, err := b.be.JobFail(b.ctx, &backend.JobFailParams{Queue: b.queue, ID: j.ID, Token: tok, Reason: "r" + st,
				Stacktrace: st, KeepStacktraces: 2, Retry: i < 2})
			require.NoError(t, err)
		}
		d := b.get(id)
		require.Equal(t, []string{"s2", "s3"}, d.Stacktrace)
		require.Equal(t, "rs3", d.FailedReason)
		require.Equal(t, 3, d.AttemptsMade)
	})

	t.Run("finishing can claim the next job in the same step", func(t *testing.T) {
		b := setup(t, f)
		b.add("a", backend.JobOptions{})
		b.add("b", backend.JobOptions{})
		b.add("c", backend.JobOptions{})
		j, tok := b.claim()
		next := b.claimParams("next-1")
		res, err := b.be.JobComplete(b.ctx, &backend.JobCompleteParams{Queue: b.queue, ID: j.ID, Token: tok, Next: next})
		require.NoError(t, err)
		require.NotNil(t, res.Job)
		require.Equal(t, "b", res.Job.Name)
		require.Equal(t, backend.StateActive, res.Job.State)
		require.Equal(t, 1, res.Job.AttemptsStarted)

		res, err = b.be.JobFail(b.ctx, &backend.JobFailParams{Queue: b.queue, ID: res.Job.ID, Token: "next-1", Reason: "x", Next: b.claimParams("next-2")})
		require.NoError(t, err)
		require.Equal(t, "c", res.Job.Name)

		res, err = b.be.JobComplete(b.ctx, &backend.JobCompleteParams{Queue: b.queue, ID: res.Job.ID, Token: "next-2", Next: b.claimParams("next-3")})
		require.NoError(t, err)
		require.Nil(t, res.Job, "nothing left")
		require.Equal(t, backend.Counts{Completed: 2, Failed: 1}, b.counts())
	})

	t.Run("release hands a job back to the front without spending an attempt", func(t *testing.T) {
		b := setup(t, f)
		first := b.add("a", backend.JobOptions{})
		b.add("b", backend.JobOptions{})
		j, tok := b.claim()
		require.Equal(t, first, j.ID)
		require.NoError(t, b.be.JobRelease(b.ctx, &backend.JobReleaseParams{Queue: b.queue, ID: j.ID, Token: tok}))
		r := b.get(first)
		require.Equal(t, backend.StateWaiting, r.State)
		require.Zero(t, r.AttemptsMade)
		require.Equal(t, backend.Counts{Waiting: 2}, b.counts())
		again, tok2 := b.claim()
		require.Equal(t, first, again.ID, "a released job runs next")
		require.ErrorIs(t, b.be.JobRelease(b.ctx, &backend.JobReleaseParams{Queue: b.queue, ID: j.ID, Token: tok}), backend.ErrLockLost,
			"the old token no longer holds the lock")
		b.complete(again.ID, tok2)
		require.Equal(t, 1, b.get(first).AttemptsMade)
	})
}
