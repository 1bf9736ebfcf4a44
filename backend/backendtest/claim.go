package backendtest

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/fila-go/fila/backend"
)

func runClaim(t *testing.T, f Factory) {
	t.Run("FIFO by default", func(t *testing.T) {
		b := setup(t, f)
		for _, n := range []string{"a", "b", "c"} {
			b.add(n, backend.JobOptions{})
		}
		require.Equal(t, []string{"a", "b", "c"}, b.claimOrder())
	})

	t.Run("LIFO jobs go to the front", func(t *testing.T) {
		b := setup(t, f)
		b.add("a", backend.JobOptions{})
		b.add("b", backend.JobOptions{LIFO: true})
		b.add("c", backend.JobOptions{LIFO: true})
		b.add("d", backend.JobOptions{})
		require.Equal(t, []string{"c", "b", "a", "d"}, b.claimOrder())
	})

	t.Run("priority 0 runs first, then lowest priority, FIFO among equals", func(t *testing.T) {
		b := setup(t, f)
		for _, j := range []struct {
			name string
			prio int
		}{{"p3", 3}, {"p1a", 1}, {"n1", 0}, {"p2", 2}, {"p1b", 1}, {"n2", 0}, {"p1000", 1000}} {
			b.add(j.name, backend.JobOptions{Priority: j.prio})
		}
		c := b.counts()
		require.EqualValues(t, 2, c.Waiting)
		require.EqualValues(t, 5, c.Prioritized)
		require.Equal(t, []string{"n1", "n2", "p1a", "p1b", "p2", "p3", "p1000"}, b.claimOrder())
	})

	t.Run("a better priority added later still runs first", func(t *testing.T) {
		b := setup(t, f)
		b.add("p5", backend.JobOptions{Priority: 5})
		b.add("p1", backend.JobOptions{Priority: 1})
		j, _ := b.claim()
		require.Equal(t, "p1", j.Name)
		b.add("p3", backend.JobOptions{Priority: 3})
		b.add("n", backend.JobOptions{})
		require.Equal(t, []string{"n", "p3", "p5"}, b.claimOrder())
	})

	t.Run("a claim takes the lock and counts a started attempt", func(t *testing.T) {
		b := setup(t, f)
		id := b.add("a", backend.JobOptions{})
		j, _ := b.claim()
		require.Equal(t, id, j.ID)
		require.Equal(t, backend.StateActive, j.State)
		require.Equal(t, 1, j.AttemptsStarted)
		require.Zero(t, j.AttemptsMade)
		require.False(t, j.ProcessedAt.IsZero())
		require.Equal(t, []byte(`{"n":"a"}`), j.Data)
		require.Equal(t, backend.Counts{Active: 1}, b.counts())
		require.Equal(t, backend.StateActive, b.get(id).State)
	})

	t.Run("an empty queue gives no job, at once or after the wait", func(t *testing.T) {
		b := setup(t, f)
		j, _ := b.claim()
		require.Nil(t, j)
		start := time.Now()
		p := b.claimParams(b.token())
		p.Wait = 300 * time.Millisecond
		res, err := b.be.JobClaim(b.ctx, p)
		require.NoError(t, err)
		require.Nil(t, res.Job)
		require.GreaterOrEqual(t, time.Since(start), 250*time.Millisecond, "a claim with Wait blocks")
	})

	t.Run("a blocked claim wakes when a job is added", func(t *testing.T) {
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
		time.Sleep(100 * time.Millisecond)
		added := time.Now()
		id := b.add("late", backend.JobOptions{})
		select {
		case j := <-got:
			require.NotNil(t, j)
			require.Equal(t, id, j.ID)
			// Generous for a loaded machine, and well under the 30s the
			// claim would sleep if the add did not wake it.
			require.Less(t, time.Since(added), 10*time.Second)
		case <-time.After(20 * time.Second):
			t.Fatal("blocked claim did not wake on add")
		}
	})

	t.Run("a blocked claim wakes for a prioritized job", func(t *testing.T) {
		b := setup(t, f)
		got := make(chan *backend.Job, 1)
		go func() {
			p := b.claimParams(b.tokenFor("blocked"))
			p.Wait = 10 * time.Second
			res, _ := b.be.JobClaim(b.ctx, p)
			if res == nil {
				got <- nil
				return
			}
			got <- res.Job
		}()
		time.Sleep(100 * time.Millisecond)
		b.add("prio", backend.JobOptions{Priority: 4})
		select {
		case j := <-got:
			require.NotNil(t, j)
			require.Equal(t, "prio", j.Name)
		case <-time.After(8 * time.Second):
			t.Fatal("blocked claim did not wake for a prioritized job")
		}
		require.Equal(t, backend.Counts{Active: 1}, b.counts())
	})

	t.Run("cancelling the context ends a blocked claim at once", func(t *testing.T) {
		b := setup(t, f)
		ctx, cancel := context.WithCancel(b.ctx)
		errc := make(chan error, 1)
		go func() {
			p := b.claimParams(b.tokenFor("blocked"))
			p.Wait = 20 * time.Second
			_, err := b.be.JobClaim(ctx, p)
			errc <- err
		}()
		time.Sleep(100 * time.Millisecond)
		cancel()
		select {
		case err := <-errc:
			require.Error(t, err)
		case <-time.After(10 * time.Second): // generous, and half the claim's 20s wait
			t.Fatal("blocked claim ignored cancellation")
		}
		// The cancelled claim takes nothing added afterwards. (The pause lets a
		// server that can only be interrupted by closing the socket notice
		// the close; a job it hands over in that very instant is covered by
		// the stalled check, and Redis-specific tests cover the instant race
		// on servers with CLIENT UNBLOCK.)
		time.Sleep(200 * time.Millisecond)
		id := b.add("after", backend.JobOptions{})
		j, _ := b.claim()
		require.NotNil(t, j, "counts %+v", b.counts())
		require.Equal(t, id, j.ID)
	})

	t.Run("many blocked claims each get a different job", func(t *testing.T) {
		b := setup(t, f)
		const n = 5
		got := make(chan string, n)
		for i := range n {
			go func() {
				p := b.claimParams(b.tokenFor("c" + string(rune('0'+i))))
				p.Wait = 10 * time.Second
				res, err := b.be.JobClaim(b.ctx, p)
				if err != nil || res.Job == nil {
					got <- ""
					return
				}
				got <- res.Job.ID
			}()
		}
		time.Sleep(100 * time.Millisecond)
		for i := range n {
			b.add("j"+string(rune('0'+i)), backend.JobOptions{})
		}
		seen := map[string]bool{}
		for range n {
			select {
			case id := <-got:
				require.NotEmpty(t, id)
				require.False(t, seen[id], "job %s claimed twice", id)
				seen[id] = true
			case <-time.After(8 * time.Second):
				t.Fatal("a blocked claim did not get a job")
			}
		}
		require.Equal(t, backend.Counts{Active: n}, b.counts())
	})
}

// tokenFor is a token that does not touch the bundle's counter, for
// goroutines.
func (b *bundle) tokenFor(name string) string { return "tok-" + name }
