package backendtest

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/fila-go/fila/backend"
)

func runDelayed(t *testing.T, f Factory) {
	t.Run("a delayed job never runs early", func(t *testing.T) {
		b := setup(t, f)
		// An hour: it cannot become due while the test looks, however slow.
		id := b.add("later", backend.JobOptions{Delay: time.Hour})
		d := b.get(id)
		require.Equal(t, backend.StateDelayed, d.State)
		require.Equal(t, time.Hour, d.DueAt.Sub(d.AddedAt).Round(time.Millisecond))
		require.Equal(t, backend.Counts{Delayed: 1}, b.counts())
		j, _ := b.claim()
		require.Nil(t, j, "not yet due")

		// A short delay, on a queue of its own: whenever a claim gets the
		// job, its delay has passed.
		soon := *b
		soon.queue += "-soon"
		id = soon.add("soon", backend.JobOptions{Delay: 400 * time.Millisecond})
		j, _ = soon.mustClaim()
		require.Equal(t, id, j.ID)
		require.GreaterOrEqual(t, j.ProcessedAt.Sub(j.AddedAt), 400*time.Millisecond, "ran early")
	})

	t.Run("a claim blocked before a delayed add wakes when it is due", func(t *testing.T) {
		b := setup(t, f)
		got := make(chan *backend.Job, 1)
		go func() {
			p := b.claimParams(b.tokenFor("blocked"))
			p.Wait = 30 * time.Second
			res, err := b.be.JobClaim(b.ctx, p)
			if err != nil {
				got <- nil
				return
			}
			got <- res.Job
		}()
		time.Sleep(150 * time.Millisecond)
		b.add("soon", backend.JobOptions{Delay: 300 * time.Millisecond})
		select {
		case j := <-got:
			require.NotNil(t, j, "the claim should return the delayed job, not time out")
			require.Equal(t, "soon", j.Name)
			require.GreaterOrEqual(t, j.ProcessedAt.Sub(j.AddedAt), 300*time.Millisecond)
			// Generous for a loaded machine, and well under the 30s the
			// claim would sleep if the due time did not wake it.
			require.Less(t, j.ProcessedAt.Sub(j.AddedAt), 10*time.Second, "the blocked claim slept past the due time")
		case <-time.After(20 * time.Second):
			t.Fatal("blocked claim did not pick up the delayed job")
		}
	})

	t.Run("delayed jobs become ready in due order", func(t *testing.T) {
		b := setup(t, f)
		// Hours: none becomes due while the list is read, however slow.
		b.add("3h", backend.JobOptions{Delay: 3 * time.Hour})
		b.add("1h", backend.JobOptions{Delay: time.Hour})
		b.add("2h", backend.JobOptions{Delay: 2 * time.Hour})
		jobs, err := b.be.JobList(b.ctx, &backend.JobListParams{Queue: b.queue, State: backend.StateDelayed})
		require.NoError(t, err)
		var names []string
		for _, j := range jobs {
			names = append(names, j.Name)
		}
		require.Equal(t, []string{"1h", "2h", "3h"}, names, "delayed jobs list in due order")

		// One JobAdd, so the delays count from one instant however slowly
		// the test runs, on a queue of their own.
		due := *b
		due.queue += "-due"
		o := func(d time.Duration) backend.JobOptions { return backend.JobOptions{Attempts: 1, Delay: d} }
		due.addItems(backend.JobAddItem{Name: "300", Options: o(300 * time.Millisecond)},
			backend.JobAddItem{Name: "100", Options: o(100 * time.Millisecond)},
			backend.JobAddItem{Name: "200", Options: o(200 * time.Millisecond)})
		time.Sleep(400 * time.Millisecond)
		require.Equal(t, []string{"100", "200", "300"}, due.claimOrder())
	})

	t.Run("promote makes a delayed job ready now", func(t *testing.T) {
		b := setup(t, f)
		id := b.add("later", backend.JobOptions{Delay: time.Hour})
		require.NoError(t, b.be.JobPromote(b.ctx, &backend.JobPromoteParams{Queue: b.queue, ID: id}))
		require.Equal(t, backend.Counts{Waiting: 1}, b.counts())
		j, _ := b.claim()
		require.Equal(t, id, j.ID)

		err := b.be.JobPromote(b.ctx, &backend.JobPromoteParams{Queue: b.queue, ID: id})
		var se *backend.StateError
		require.ErrorAs(t, err, &se)
		require.Equal(t, backend.StateActive, se.State)
	})

	t.Run("a delayed prioritized job keeps its priority", func(t *testing.T) {
		b := setup(t, f)
		b.add("p2", backend.JobOptions{Priority: 2})
		b.add("p1-delayed", backend.JobOptions{Priority: 1, Delay: 200 * time.Millisecond})
		time.Sleep(300 * time.Millisecond)
		require.Equal(t, []string{"p1-delayed", "p2"}, b.claimOrder())
	})
}
