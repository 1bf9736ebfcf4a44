package backendtest

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/fila-go/fila/backend"
)

// runOrder: where a job that moves (retried, promoted, claimed) stands
// among the others, for claims and for listing.
func runOrder(t *testing.T, f Factory) {
	t.Run("a prioritized job retried at once queues behind its priority", func(t *testing.T) {
		b := setup(t, f)
		b.add("a", backend.JobOptions{Priority: 1, Attempts: 2})
		b.add("b", backend.JobOptions{Priority: 1})
		j, tok := b.claim()
		require.Equal(t, "a", j.Name)
		_, err := b.be.JobFail(b.ctx, &backend.JobFailParams{Queue: b.queue, ID: j.ID, Token: tok, Reason: "x", Retry: true})
		require.NoError(t, err)
		require.Equal(t, []string{"b", "a"}, b.claimOrder())
	})

	// The delayed jobs became due while "1" ran: they were ready first, so
	// an immediate retry of "1" queues behind them, whether or not the fail
	// claims the next job in the same call.
	for _, chained := range []bool{false, true} {
		name := "an immediate retry queues behind delayed jobs that became due before it"
		if chained {
			name += ", with the next claim chained"
		}
		t.Run(name, func(t *testing.T) {
			b := setup(t, f)
			b.add("1", backend.JobOptions{Attempts: 2})
			j, tok := b.claim()
			require.Equal(t, "1", j.Name)
			for i, n := range []string{"2", "3", "4"} {
				b.add(n, backend.JobOptions{Delay: time.Duration(50+10*i) * time.Millisecond})
			}
			time.Sleep(300 * time.Millisecond) // all three are due now
			p := &backend.JobFailParams{Queue: b.queue, ID: j.ID, Token: tok, Reason: "x", Retry: true}
			var order []string
			if chained {
				p.Next = b.claimParams(b.token())
			}
			res, err := b.be.JobFail(b.ctx, p)
			require.NoError(t, err)
			if chained {
				require.NotNil(t, res.Job, "the chained claim took nothing")
				order = append(order, res.Job.Name)
			}
			order = append(order, b.claimOrder()...)
			require.Equal(t, []string{"2", "3", "4", "1"}, order)
		})
	}

	t.Run("a promoted prioritized job queues behind its priority", func(t *testing.T) {
		b := setup(t, f)
		d := b.add("d", backend.JobOptions{Priority: 1, Delay: time.Hour})
		b.add("x", backend.JobOptions{Priority: 1})
		require.NoError(t, b.be.JobPromote(b.ctx, &backend.JobPromoteParams{Queue: b.queue, ID: d}))
		require.Equal(t, []string{"x", "d"}, b.claimOrder())
	})

	t.Run("a retried prioritized job queues behind its priority", func(t *testing.T) {
		b := setup(t, f)
		a := b.add("a", backend.JobOptions{Priority: 1})
		j, tok := b.claim()
		b.complete(j.ID, tok)
		b.add("b", backend.JobOptions{Priority: 1})
		require.NoError(t, b.be.JobRetry(b.ctx, &backend.JobRetryParams{Queue: b.queue, ID: a}))
		require.Equal(t, []string{"b", "a"}, b.claimOrder())
	})

	t.Run("active jobs list in claim order, oldest first, and page", func(t *testing.T) {
		b := setup(t, f)
		var ids []string
		for _, n := range []string{"x", "y", "z"} {
			b.add(n, backend.JobOptions{})
			j, _ := b.claim()
			ids = append(ids, j.ID)
			time.Sleep(2 * time.Millisecond)
		}
		require.Equal(t, ids, b.list(backend.StateActive))
		js, err := b.be.JobList(b.ctx, &backend.JobListParams{Queue: b.queue, State: backend.StateActive, Offset: 1, Limit: 1})
		require.NoError(t, err)
		require.Len(t, js, 1)
		require.Equal(t, ids[1], js[0].ID)
	})

}
