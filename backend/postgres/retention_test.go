package postgres_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/fila-go/fila/backend"
	"github.com/fila-go/fila/backend/postgres"
)

// The finished counts keep-last-N reads stay equal to the finished rows,
// whichever path moves a job into or out of a finished state: complete
// (one round trip, with its next claim), fail, retry, remove, clean.
func TestFinishedCountsFollowEveryPath(t *testing.T) {
	ctx := context.Background()
	be := open(t, postgres.Options{})
	const q = "counts"
	items := make([]backend.JobAddItem, 12)
	for i := range items {
		items[i] = backend.JobAddItem{Name: fmt.Sprint(i)}
	}
	_, err := be.JobAdd(ctx, &backend.JobAddParams{Queue: q, Jobs: items})
	require.NoError(t, err)
	claim := func(tok string) *backend.JobClaimParams {
		return &backend.JobClaimParams{Queue: q, Token: tok, LockDuration: time.Minute}
	}
	check := func(completed, failed int) {
		t.Helper()
		for state, want := range map[string]int{"completed": completed, "failed": failed} {
			var rows, counted int
			require.NoError(t, be.Pool().QueryRow(ctx, `SELECT (SELECT count(*) FROM fila.jobs WHERE queue = $1 AND state = $2),
				(SELECT coalesce(sum(n), 0) FROM fila.finished_counts WHERE queue = $1 AND state = $2)`, q, state).Scan(&rows, &counted))
			require.Equal(t, want, rows, state)
			require.Equal(t, rows, counted, state)
		}
	}
	// 8 completes chained claim to claim, keeping the newest 3.
	r, err := be.JobClaim(ctx, claim("t0"))
	require.NoError(t, err)
	job, tok := r.Job, "t0"
	for i := 1; i <= 8; i++ {
		next := fmt.Sprintf("t%d", i)
		r, err = be.JobComplete(ctx, &backend.JobCompleteParams{Queue: q, ID: job.ID, Token: tok,
			Retention: backend.Retention{KeepLast: 3}, Next: claim(next)})
		require.NoError(t, err)
		job, tok = r.Job, next
	}
	check(3, 0)
	// A complete under a token that does not hold the lock changes nothing
	// and names the lost lock.
	_, err = be.JobComplete(ctx, &backend.JobCompleteParams{Queue: q, ID: job.ID, Token: "wrong", Retention: backend.Retention{KeepLast: 3}})
	require.ErrorIs(t, err, backend.ErrLockLost)
	check(3, 0)
	// Two fail for good (kept), one of them is retried, another removed.
	var failed []string
	for i := 0; i < 2; i++ {
		_, err = be.JobFail(ctx, &backend.JobFailParams{Queue: q, ID: job.ID, Token: tok, Reason: "x", Retention: backend.Retention{KeepAll: true}})
		require.NoError(t, err)
		failed = append(failed, job.ID)
		tok = fmt.Sprintf("f%d", i)
		r, err = be.JobClaim(ctx, claim(tok))
		require.NoError(t, err)
		job = r.Job
	}
	check(3, 2)
	require.NoError(t, be.JobRetry(ctx, &backend.JobRetryParams{Queue: q, ID: failed[0]}))
	check(3, 1)
	require.NoError(t, be.JobRemove(ctx, &backend.JobRemoveParams{Queue: q, ID: failed[1]}))
	check(3, 0)
	// Remove on complete leaves no finished row to count.
	_, err = be.JobComplete(ctx, &backend.JobCompleteParams{Queue: q, ID: job.ID, Token: tok, Retention: backend.Retention{Remove: true}})
	require.NoError(t, err)
	check(3, 0)
	_, err = be.QueueClean(ctx, &backend.QueueCleanParams{Queue: q, State: backend.StateCompleted})
	require.NoError(t, err)
	check(0, 0)
}
