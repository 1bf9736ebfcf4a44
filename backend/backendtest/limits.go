package backendtest

import (
	"fmt"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/fila-go/fila/backend"
)

func runLimits(t *testing.T, f Factory) {
	t.Run("the limiter allows Max claims per window, then says how long to wait", func(t *testing.T) {
		b := setup(t, f)
		for i := range 8 {
			b.add(fmt.Sprint(i), backend.JobOptions{})
		}
		// Per is long enough that six claims fit in one window even on a
		// loaded machine.
		limit := &backend.Limit{Max: 5, Per: 2 * time.Second}
		claim := func() *backend.JobClaimResult {
			p := b.claimParams(b.token())
			p.Limit = limit
			res, err := b.be.JobClaim(b.ctx, p)
			require.NoError(t, err)
			return res
		}
		for i := range 5 {
			require.NotNil(t, claim().Job, "claim %d", i)
		}
		res := claim()
		require.Nil(t, res.Job, "the sixth claim in the window")
		require.Greater(t, res.RetryAfter, time.Duration(0))
		require.LessOrEqual(t, res.RetryAfter, limit.Per)
		require.Equal(t, backend.Counts{Active: 5, Waiting: 3}, b.counts(), "a limited claim leaves the job waiting")
		time.Sleep(res.RetryAfter + 20*time.Millisecond)
		require.NotNil(t, claim().Job, "a slot frees after RetryAfter")
	})

	t.Run("no window of Per holds more than Max starts across claimers", func(t *testing.T) {
		b := setup(t, f)
		const jobs = 60
		items := make([]backend.JobAddItem, jobs)
		for i := range items {
			items[i] = backend.JobAddItem{Name: fmt.Sprint(i), Options: backend.JobOptions{Attempts: 1}}
		}
		b.addItems(items...)
		limit := &backend.Limit{Max: 10, Per: time.Second}
		var mu sync.Mutex
		var starts []time.Time
		stop := time.Now().Add(2500 * time.Millisecond)
		var wg sync.WaitGroup
		for w := range 3 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for n := 0; time.Now().Before(stop); n++ {
					tok := fmt.Sprintf("w%d-%d", w, n)
					res, err := b.be.JobClaim(b.ctx, &backend.JobClaimParams{Queue: b.queue, Token: tok, LockDuration: lockFor, Limit: limit})
					if err != nil {
						t.Error(err)
						return
					}
					if res.Job == nil {
						time.Sleep(min(res.RetryAfter, time.Until(stop)) + time.Millisecond)
						continue
					}
					mu.Lock()
					starts = append(starts, res.Job.ProcessedAt)
					mu.Unlock()
					if _, err := b.be.JobComplete(b.ctx, &backend.JobCompleteParams{Queue: b.queue, ID: res.Job.ID, Token: tok}); err != nil {
						t.Error(err)
						return
					}
				}
			}()
		}
		wg.Wait()
		sort.Slice(starts, func(i, j int) bool { return starts[i].Before(starts[j]) })
		// At least a second window opened (20 is typical, but a loaded
		// machine may claim slowly); the exact bound is the window check.
		require.Greater(t, len(starts), 10, "the limiter let no second window through in 2.5s")
		require.LessOrEqual(t, len(starts), 30, "more than 10 per second on average")
		for i := range starts {
			in := 0
			for j := i; j < len(starts) && starts[j].Sub(starts[i]) < time.Second; j++ {
				in++
			}
			require.LessOrEqual(t, in, 10, "window starting at start %d holds %d starts", i, in)
		}
	})

	t.Run("an on-demand rate limit stops claims queue-wide for its duration", func(t *testing.T) {
		b := setup(t, f)
		b.add("a", backend.JobOptions{})
		// For is long enough that the calls below all fall inside it even on
		// a loaded machine; what is left of it can only shrink.
		const limitFor = 2 * time.Second
		require.NoError(t, b.be.QueueRateLimit(b.ctx, &backend.QueueRateLimitParams{Queue: b.queue, For: limitFor}))
		info, err := b.be.QueueInfo(b.ctx, &backend.QueueParams{Queue: b.queue})
		require.NoError(t, err)
		require.Greater(t, info.RateLimitedFor, time.Duration(0))
		require.LessOrEqual(t, info.RateLimitedFor, limitFor)
		res, err := b.be.JobClaim(b.ctx, b.claimParams(b.token()))
		require.NoError(t, err)
		require.Nil(t, res.Job)
		require.Greater(t, res.RetryAfter, time.Duration(0))
		require.LessOrEqual(t, res.RetryAfter, info.RateLimitedFor)
		require.Equal(t, backend.Counts{Waiting: 1}, b.counts())
		time.Sleep(res.RetryAfter + 20*time.Millisecond)
		j, _ := b.claim()
		require.NotNil(t, j)
	})
}
