package backendtest

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/fila-go/fila/backend"
)

// runJobs adds n jobs and completes (or fails) each with the given
// retention, chaining claims through the finishing calls. It returns the IDs
// in finish order.
func (b *bundle) runJobs(n int, fail bool, r backend.Retention) []string {
	b.t.Helper()
	items := make([]backend.JobAddItem, n)
	for i := range items {
		items[i] = backend.JobAddItem{Name: fmt.Sprint(i), Options: backend.JobOptions{Attempts: 1}}
	}
	for start := 0; start < n; start += 500 {
		b.addItems(items[start:min(start+500, n)]...)
	}
	var ids []string
	j, tok := b.claim()
	for j != nil {
		ids = append(ids, j.ID)
		nextTok := b.token()
		next := b.claimParams(nextTok)
		var res *backend.JobClaimResult
		var err error
		if fail {
			res, err = b.be.JobFail(b.ctx, &backend.JobFailParams{Queue: b.queue, ID: j.ID, Token: tok, Reason: "x", Retention: r, Next: next})
		} else {
			res, err = b.be.JobComplete(b.ctx, &backend.JobCompleteParams{Queue: b.queue, ID: j.ID, Token: tok, Retention: r, Next: next})
		}
		require.NoError(b.t, err)
		j, tok = res.Job, nextTok
	}
	require.Len(b.t, ids, n)
	return ids
}

func runRetention(t *testing.T, f Factory) {
	t.Run("the zero retention keeps the newest DefaultKeepCompleted completed jobs", func(t *testing.T) {
		b := setup(t, f)
		ids := b.runJobs(backend.DefaultKeepCompleted+5, false, backend.Retention{})
		require.Equal(t, backend.Counts{Completed: backend.DefaultKeepCompleted}, b.counts())
		kept := b.list(backend.StateCompleted)
		require.Equal(t, ids[len(ids)-1], kept[0], "the newest is kept")
		require.Equal(t, ids[5], kept[len(kept)-1], "the oldest kept is the 6th to finish")
		_, err := b.be.JobGet(b.ctx, &backend.JobGetParams{Queue: b.queue, ID: ids[4]})
		require.ErrorIs(t, err, backend.ErrJobNotFound, "the 5 oldest are gone")
	})

	t.Run("the zero retention keeps failed jobs past DefaultKeepCompleted, up to DefaultKeepFailed", func(t *testing.T) {
		b := setup(t, f)
		b.runJobs(backend.DefaultKeepCompleted+5, true, backend.Retention{})
		require.Equal(t, backend.Counts{Failed: backend.DefaultKeepCompleted + 5}, b.counts())
	})

	t.Run("KeepAll keeps every finished job past the default", func(t *testing.T) {
		b := setup(t, f)
		b.runJobs(backend.DefaultKeepCompleted+5, false, backend.Retention{KeepAll: true})
		require.Equal(t, backend.Counts{Completed: backend.DefaultKeepCompleted + 5}, b.counts())
	})

	t.Run("Remove deletes the job as it finishes", func(t *testing.T) {
		b := setup(t, f)
		ids := b.runJobs(5, false, backend.Retention{Remove: true})
		require.Equal(t, backend.Counts{}, b.counts())
		_, err := b.be.JobGet(b.ctx, &backend.JobGetParams{Queue: b.queue, ID: ids[0]})
		require.ErrorIs(t, err, backend.ErrJobNotFound)
	})

	t.Run("KeepLast 100 over 1000 jobs keeps exactly the 100 newest", func(t *testing.T) {
		b := setup(t, f)
		ids := b.runJobs(1000, false, backend.Retention{KeepLast: 100})
		require.Equal(t, backend.Counts{Completed: 100}, b.counts())
		kept := b.list(backend.StateCompleted)
		want := make([]string, 100)
		for i := range want {
			want[i] = ids[999-i] // newest first
		}
		require.Equal(t, want, kept)
		_, err := b.be.JobGet(b.ctx, &backend.JobGetParams{Queue: b.queue, ID: ids[899]})
		require.ErrorIs(t, err, backend.ErrJobNotFound, "the 101st newest is gone")
	})

	t.Run("KeepLast applies to failed jobs through RemoveOnFail", func(t *testing.T) {
		b := setup(t, f)
		ids := b.runJobs(20, true, backend.Retention{KeepLast: 3})
		require.Equal(t, backend.Counts{Failed: 3}, b.counts())
		require.Equal(t, []string{ids[19], ids[18], ids[17]}, b.list(backend.StateFailed))
	})

	t.Run("KeepFor drops finished jobs older than the age", func(t *testing.T) {
		b := setup(t, f)
		// KeepFor is long enough that the three old jobs all stay until the
		// sleep, on a loaded machine; the sleep outlasts it.
		const keep = 3 * time.Second
		old := b.runJobs(3, false, backend.Retention{KeepFor: keep})
		require.EqualValues(t, 3, b.counts().Completed)
		time.Sleep(keep + 300*time.Millisecond)
		fresh := b.runJobs(1, false, backend.Retention{KeepFor: keep})
		require.Equal(t, backend.Counts{Completed: 1}, b.counts())
		require.Equal(t, fresh, b.list(backend.StateCompleted))
		_, err := b.be.JobGet(b.ctx, &backend.JobGetParams{Queue: b.queue, ID: old[0]})
		require.ErrorIs(t, err, backend.ErrJobNotFound)
	})

	t.Run("logs go with their job", func(t *testing.T) {
		b := setup(t, f)
		id := b.add("a", backend.JobOptions{})
		_, err := b.be.JobLogAdd(b.ctx, &backend.JobLogAddParams{Queue: b.queue, ID: id, Line: "hello"})
		require.NoError(t, err)
		j, tok := b.claim()
		_, err = b.be.JobComplete(b.ctx, &backend.JobCompleteParams{Queue: b.queue, ID: j.ID, Token: tok, Retention: backend.Retention{Remove: true}})
		require.NoError(t, err)
		_, _, err = b.be.JobLogs(b.ctx, &backend.JobLogsParams{Queue: b.queue, ID: id})
		require.ErrorIs(t, err, backend.ErrJobNotFound)
	})
}
