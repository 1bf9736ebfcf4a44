package backendtest

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/fila-go/fila/backend"
)

func runLocks(t *testing.T, f Factory) {
	shortClaim := func(b *bundle, lock time.Duration) (*backend.Job, string) {
		b.t.Helper()
		tok := b.token()
		p := b.claimParams(tok)
		p.LockDuration = lock
		res, err := b.be.JobClaim(b.ctx, p)
		require.NoError(b.t, err)
		require.NotNil(b.t, res.Job)
		return res.Job, tok
	}
	check := func(b *bundle, maxStalled int) *backend.StalledCheckResult {
		b.t.Helper()
		res, err := b.be.StalledCheck(b.ctx, &backend.StalledCheckParams{Queue: b.queue, MaxStalledCount: maxStalled})
		require.NoError(b.t, err)
		require.False(b.t, res.Skipped)
		return res
	}

	t.Run("extending keeps held locks and reports lost ones", func(t *testing.T) {
		b := setup(t, f)
		b.add("a", backend.JobOptions{})
		b.add("b", backend.JobOptions{})
		// Locks long enough that the extension reaches them in time on a
		// loaded machine; the sleep outlasts them, the extension does not.
		j1, t1 := shortClaim(b, time.Second)
		j2, _ := shortClaim(b, time.Second)
		lost, err := b.be.JobExtendLocks(b.ctx, &backend.JobExtendLocksParams{Queue: b.queue, Duration: 10 * time.Second,
			Locks: []backend.JobLock{{ID: j1.ID, Token: t1}, {ID: j2.ID, Token: "wrong"}, {ID: "missing", Token: "x"}}})
		require.NoError(t, err)
		require.ElementsMatch(t, []string{j2.ID, "missing"}, lost)
		time.Sleep(1200 * time.Millisecond)
		b.complete(j1.ID, t1) // still held thanks to the extension
	})

	t.Run("an expired lock cannot finish the job", func(t *testing.T) {
		b := setup(t, f)
		b.add("a", backend.JobOptions{})
		j, tok := shortClaim(b, 100*time.Millisecond)
		time.Sleep(250 * time.Millisecond)
		_, err := b.be.JobComplete(b.ctx, &backend.JobCompleteParams{Queue: b.queue, ID: j.ID, Token: tok})
		require.ErrorIs(t, err, backend.ErrLockLost)
		lost, err := b.be.JobExtendLocks(b.ctx, &backend.JobExtendLocksParams{Queue: b.queue, Duration: time.Second,
			Locks: []backend.JobLock{{ID: j.ID, Token: tok}}})
		require.NoError(t, err)
		require.Equal(t, []string{j.ID}, lost, "an expired lock cannot be renewed")
	})

	t.Run("a job whose worker vanished returns to waiting on the second check", func(t *testing.T) {
		b := setup(t, f)
		id := b.add("a", backend.JobOptions{})
		b.add("b", backend.JobOptions{})
		shortClaim(b, 100*time.Millisecond)
		time.Sleep(250 * time.Millisecond)
		res := check(b, 1)
		require.Empty(t, res.Stalled, "the first check only marks")
		require.Equal(t, backend.Counts{Active: 1, Waiting: 1}, b.counts())
		res = check(b, 1)
		require.Equal(t, []string{id}, res.Stalled)
		require.Empty(t, res.Failed)
		j := b.get(id)
		require.Equal(t, backend.StateWaiting, j.State)
		require.Equal(t, 1, j.StalledCount)
		require.Zero(t, j.AttemptsMade, "a stall does not spend an attempt")
		require.Equal(t, backend.Counts{Waiting: 2}, b.counts())
		again, _ := b.claim()
		require.Equal(t, id, again.ID, "a recovered job runs next")
	})

	t.Run("past MaxStalledCount the job fails with a reason that says so", func(t *testing.T) {
		b := setup(t, f)
		id := b.add("a", backend.JobOptions{})
		for round := 0; round < 2; round++ {
			shortClaim(b, 50*time.Millisecond)
			time.Sleep(150 * time.Millisecond)
			check(b, 1)
			res := check(b, 1)
			if round == 0 {
				require.Equal(t, []string{id}, res.Stalled)
			} else {
				require.Equal(t, []string{id}, res.Failed)
			}
		}
		j := b.get(id)
		require.Equal(t, backend.StateFailed, j.State)
		require.Contains(t, strings.ToLower(j.FailedReason), "stalled")
		require.Equal(t, 2, j.StalledCount)
		require.Equal(t, backend.Counts{Failed: 1}, b.counts())
	})

	t.Run("live locks are never recovered", func(t *testing.T) {
		b := setup(t, f)
		b.add("a", backend.JobOptions{})
		j, tok := shortClaim(b, 5*time.Second)
		for range 3 {
			require.Empty(t, check(b, 1).Stalled)
		}
		require.Equal(t, backend.Counts{Active: 1}, b.counts())
		b.complete(j.ID, tok)
	})

	t.Run("one check per interval runs across callers", func(t *testing.T) {
		b := setup(t, f)
		p := &backend.StalledCheckParams{Queue: b.queue, MaxStalledCount: 1, Interval: 10 * time.Second}
		res, err := b.be.StalledCheck(b.ctx, p)
		require.NoError(t, err)
		require.False(t, res.Skipped)
		res, err = b.be.StalledCheck(b.ctx, p)
		require.NoError(t, err)
		require.True(t, res.Skipped)
	})
}
