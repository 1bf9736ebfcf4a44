package fila_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/time/rate"

	"github.com/fila-go/fila"
)

func TestGlobalLimiter(t *testing.T) {
	t.Parallel()

	t.Run("NoWindowStartsMoreThanMaxJobsAcrossWorkers", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		const jobs = 30
		limit := &fila.Limit{Max: 10, Per: time.Second}
		bulk := make([]fila.BulkJob, jobs)
		for i := range bulk {
			bulk[i] = fila.BulkJob{Name: fmt.Sprint("msg-", i)}
		}
		added, err := b.queue.AddBulk(b.ctx, bulk)
		require.NoError(t, err)
		var runs runLog
		for range 3 {
			b.startWorker(t, runs.recordOK, fila.WorkerOptions{Concurrency: 4, Limiter: limit})
		}
		for _, j := range added {
			completed(t, j)
		}

		starts := runs.starts()
		require.Len(t, starts, jobs, "each job ran once")
		for i := 0; i+limit.Max < len(starts); i++ {
			require.GreaterOrEqual(t, starts[i+limit.Max].Sub(starts[i]), limit.Per,
				"starts %d and %d fall in one window", i, i+limit.Max)
		}
		// Throughput: 30 jobs need three windows, so they all start within
		// about 2s of the first; a limiter that stalls into the worker's 30s
		// blocking claim would take far longer. Generous for a loaded machine.
		require.Less(t, starts[jobs-1].Sub(starts[0]), 10*time.Second)
	})
}

func TestHandlerRateLimited(t *testing.T) {
	t.Parallel()

	t.Run("JobGoesBackUnspentAndNothingIsClaimedDuringTheDelay", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		const d = 300 * time.Millisecond
		sub, err := b.queue.Subscribe(b.ctx)
		require.NoError(t, err)
		defer sub.Close()
		limited := b.add(t, "limited", &fila.JobOptions{Attempts: 1})
		next := b.add(t, "next", nil)
		var runs runLog
		b.startWorker(t, func(_ context.Context, j *fila.Job) (any, error) {
			runs.add(j)
			if j.Name == "limited" && j.AttemptsStarted == 1 {
				return nil, fmt.Errorf("provider said 429: %w", fila.RateLimited(d))
			}
			return "ok", nil
		}, fila.WorkerOptions{Prefetch: fila.NoPrefetch}) // with Prefetch, "next" may be claimed as "limited" fails, and go back ahead of it

		fin := completed(t, limited)
		completed(t, next)
		require.Equal(t, 1, fin.AttemptsMade, "the rate-limited run spent no attempt (Attempts is 1)")
		require.Equal(t, 2, fin.AttemptsStarted)
		require.Equal(t, []string{"limited", "limited", "next"}, runs.names(), "the job went back to the front")

		evs := collect(t, sub, func(evs []fila.Event) bool { return len(ofType(evs, fila.EventActive)) == 3 })
		actives := ofType(evs, fila.EventActive)
		released := ofType(evs, fila.EventReleased)
		require.Len(t, released, 1)
		require.Equal(t, limited.ID, released[0].JobID)
		require.Less(t, indexOf(evs, released[0]), indexOf(evs, actives[1]), "released before the second run")
		for i, ev := range actives[1:] {
			require.GreaterOrEqual(t, ev.Time.Sub(actives[0].Time), d, "claim %d came during the rate limit", i+1)
		}
	})

	t.Run("RateLimitErrorSaysForHowLong", func(t *testing.T) {
		t.Parallel()
		require.Equal(t, "fila: rate limited for 2s", fila.RateLimited(2*time.Second).Error())
	})
}

func TestQueueRateLimit(t *testing.T) {
	t.Parallel()

	t.Run("StopsClaimsForTheDuration", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		job := b.add(t, "send", nil)
		require.NoError(t, b.queue.RateLimit(b.ctx, 300*time.Millisecond))
		var runs runLog
		b.startWorker(t, runs.recordOK, fila.WorkerOptions{})

		fin := completed(t, job)
		require.GreaterOrEqual(t, fin.ProcessedAt.Sub(job.AddedAt), 300*time.Millisecond)
	})

	t.Run("WorkerRateLimitStopsClaimsForTheDuration", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		job := b.add(t, "send", nil)
		w := newWorker(t, b.be, queueName, func(context.Context, *fila.Job) (any, error) { return nil, nil }, fila.WorkerOptions{})
		require.NoError(t, w.RateLimit(b.ctx, 300*time.Millisecond))
		var runs runLog
		b.startWorker(t, runs.recordOK, fila.WorkerOptions{})

		fin := completed(t, job)
		require.GreaterOrEqual(t, fin.ProcessedAt.Sub(job.AddedAt), 300*time.Millisecond)
		require.NoError(t, w.Close(b.ctx))
	})

	t.Run("NonPositiveDurationIsInvalid", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		err := b.queue.RateLimit(b.ctx, 0)
		requireInvalid(t, err, "duration")
		require.Contains(t, err.Error(), `"outbound"`)
		w := newWorker(t, b.be, queueName, func(context.Context, *fila.Job) (any, error) { return nil, nil }, fila.WorkerOptions{})
		err = w.RateLimit(b.ctx, -time.Second)
		requireInvalid(t, err, "duration")
		require.Contains(t, err.Error(), `"outbound"`)
	})
}

func TestLocalLimiter(t *testing.T) {
	t.Parallel()

	t.Run("TakesATokenBeforeEachClaim", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		const every = 100 * time.Millisecond
		var added []*fila.Job
		for i := range 5 {
			added = append(added, b.add(t, fmt.Sprint("job-", i), nil))
		}
		var runs runLog
		b.startWorker(t, runs.recordOK, fila.WorkerOptions{
			Concurrency: 5, LocalLimiter: rate.NewLimiter(rate.Every(every), 1),
		})
		for _, j := range added {
			completed(t, j)
		}

		starts := runs.starts()
		require.Len(t, starts, 5)
		// One token at start, then one per 100ms: the last claim comes at
		// least ~400ms after the first (less a little: the first claim may
		// trail its token).
		require.GreaterOrEqual(t, starts[4].Sub(starts[0]), 4*every-20*time.Millisecond)
	})
}
