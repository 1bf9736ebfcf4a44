package fila_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/fila-go/fila"
	"github.com/fila-go/fila/backend"
)

// retryDelays records the delay of each retry the worker schedules: the
// exact schedule, where the gaps between runs are exact only as lower
// bounds (a delay never fires early, but a loaded machine starts it late).
type retryDelays struct {
	backend.Backend
	mu     sync.Mutex
	delays []time.Duration
}

func (r *retryDelays) JobFail(ctx context.Context, p *backend.JobFailParams) (*backend.JobClaimResult, error) {
	if p.Retry {
		r.mu.Lock()
		r.delays = append(r.delays, p.RetryDelay)
		r.mu.Unlock()
	}
	return r.Backend.JobFail(ctx, p)
}

func (r *retryDelays) all() []time.Duration {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]time.Duration(nil), r.delays...)
}

// startRecording runs a worker on the bundle's queue through a
// retryDelays, until the test ends.
func (b *testBundle) startRecording(t *testing.T, p fila.Processor, opts fila.WorkerOptions) *retryDelays {
	t.Helper()
	r := &retryDelays{Backend: b.be}
	startWorkerOn(t, r, queueName, p, opts)
	return r
}

// failTimes returns a processor that records each run and fails the first n
// attempts of every job with err.
func failTimes(runs *runLog, n int, err error) fila.Processor {
	return func(_ context.Context, j *fila.Job) (any, error) {
		runs.add(j)
		if j.AttemptsMade < n {
			return nil, err
		}
		return "ok", nil
	}
}

// gaps returns the time between consecutive run starts (backend clock).
func gaps(runs []*fila.Job) []time.Duration {
	var out []time.Duration
	for i := 1; i < len(runs); i++ {
		out = append(out, runs[i].ProcessedAt.Sub(runs[i-1].ProcessedAt))
	}
	return out
}

// requireGap checks a run came no sooner than its backoff after the one
// before; retryDelays checks it was not scheduled later.
func requireGap(t *testing.T, got, want time.Duration, what string) {
	t.Helper()
	require.GreaterOrEqual(t, got, want, "%s: never before the backoff", what)
}

func TestRetry(t *testing.T) {
	t.Parallel()

	t.Run("ExponentialBackoffDoublesTheDelayUntilTheJobSucceeds", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		job := b.add(t, "send", &fila.JobOptions{
			Attempts: 3, Backoff: fila.Backoff{Type: fila.BackoffExponential, Delay: 100 * time.Millisecond},
		})
		var runs runLog
		rec := b.startRecording(t, failTimes(&runs, 2, errors.New("upstream 503")), fila.WorkerOptions{})

		fin := completed(t, job)
		require.Equal(t, 3, fin.AttemptsMade)
		require.Equal(t, 3, fin.AttemptsStarted)
		require.Equal(t, "upstream 503", fin.FailedReason, "the last failure is kept")
		all := runs.all()
		require.Len(t, all, 3)
		for i, r := range all {
			require.Equal(t, i, r.AttemptsMade, "run %d sees the attempts made before it", i)
		}
		g := gaps(all)
		requireGap(t, g[0], 100*time.Millisecond, "first retry")
		requireGap(t, g[1], 200*time.Millisecond, "second retry")
		require.Equal(t, []time.Duration{100 * time.Millisecond, 200 * time.Millisecond}, rec.all(), "scheduled retries")
	})

	t.Run("FixedBackoffWaitsTheSameDelayEachTime", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		job := b.add(t, "send", &fila.JobOptions{
			Attempts: 3, Backoff: fila.Backoff{Type: fila.BackoffFixed, Delay: 150 * time.Millisecond},
		})
		var runs runLog
		rec := b.startRecording(t, failTimes(&runs, 2, errors.New("busy")), fila.WorkerOptions{})

		completed(t, job)
		g := gaps(runs.all())
		require.Len(t, g, 2)
		requireGap(t, g[0], 150*time.Millisecond, "first retry")
		requireGap(t, g[1], 150*time.Millisecond, "second retry")
		require.Equal(t, []time.Duration{150 * time.Millisecond, 150 * time.Millisecond}, rec.all(), "scheduled retries")
	})

	t.Run("JitterShortensTheDelayByUpToItsFraction", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		job := b.add(t, "send", &fila.JobOptions{
			Attempts: 4, Backoff: fila.Backoff{Type: fila.BackoffFixed, Delay: 300 * time.Millisecond, Jitter: 0.5},
		})
		var runs runLog
		rec := b.startRecording(t, failTimes(&runs, 3, errors.New("busy")), fila.WorkerOptions{})

		completed(t, job)
		g := gaps(runs.all())
		require.Len(t, g, 3)
		for i, d := range g {
			require.GreaterOrEqual(t, d, 150*time.Millisecond, "retry %d: at most 50%% shorter", i+1)
		}
		delays := rec.all()
		require.Len(t, delays, 3)
		for i, d := range delays {
			require.GreaterOrEqual(t, d, 150*time.Millisecond, "retry %d: at most 50%% shorter", i+1)
			require.LessOrEqual(t, d, 300*time.Millisecond, "retry %d: never longer", i+1)
		}
	})

	t.Run("ExponentialBackoffWithoutDelayRetriesAtOnce", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		job := b.add(t, "send", &fila.JobOptions{Attempts: 3, Backoff: fila.Backoff{Type: fila.BackoffExponential}})
		var runs runLog
		rec := b.startRecording(t, failTimes(&runs, 2, errors.New("flaky")), fila.WorkerOptions{})

		fin := completed(t, job)
		require.Equal(t, 3, fin.AttemptsMade)
		require.Equal(t, []time.Duration{0, 0}, rec.all(), "each retry was scheduled with no delay")
	})

	t.Run("RetriesAtOnceWithoutBackoff", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		job := b.add(t, "send", &fila.JobOptions{Attempts: 2})
		var runs runLog
		b.startWorker(t, failTimes(&runs, 1, errors.New("flaky")), fila.WorkerOptions{})

		fin := completed(t, job)
		require.Equal(t, 2, fin.AttemptsMade)
	})

	t.Run("JobFailsWhenAttemptsRunOut", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		job := b.add(t, "send", &fila.JobOptions{Attempts: 2})
		var runs runLog
		b.startWorker(t, failTimes(&runs, 5, errors.New("still down")), fila.WorkerOptions{})

		fin, jf := failed(t, job)
		require.Equal(t, "still down", jf.Reason)
		require.Contains(t, jf.Error(), "still down")
		require.Equal(t, 2, fin.AttemptsMade)
		require.Equal(t, 2, runs.len())
	})

	t.Run("UnrecoverableErrorFailsTheJobAfterOneRun", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		job := b.add(t, "send", &fila.JobOptions{Attempts: 3})
		var runs runLog
		b.startWorker(t, failTimes(&runs, 3, fila.Unrecoverable(errors.New("400 bad number"))), fila.WorkerOptions{})

		fin, jf := failed(t, job)
		require.Equal(t, "400 bad number", jf.Reason)
		require.Equal(t, 1, fin.AttemptsMade)
		require.Equal(t, 1, runs.len())
	})

	t.Run("WrappedUnrecoverableErrorIsStillUnrecoverable", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		job := b.add(t, "send", &fila.JobOptions{Attempts: 3})
		var runs runLog
		err := fmt.Errorf("send: %w", fila.Unrecoverable(errors.New("400")))
		b.startWorker(t, failTimes(&runs, 3, err), fila.WorkerOptions{})

		_, jf := failed(t, job)
		require.Equal(t, "send: 400", jf.Reason)
		require.Equal(t, 1, runs.len())
	})

	t.Run("UnrecoverableReportsItselfAndKeepsTheCause", func(t *testing.T) {
		t.Parallel()
		cause := errors.New("400")
		require.True(t, fila.IsUnrecoverable(fila.Unrecoverable(cause)))
		require.ErrorIs(t, fila.Unrecoverable(cause), cause)
		require.True(t, fila.IsUnrecoverable(fila.Unrecoverable(nil)))
		require.Equal(t, "unrecoverable", fila.Unrecoverable(nil).Error())
		require.False(t, fila.IsUnrecoverable(cause))
		require.False(t, fila.IsUnrecoverable(nil))
	})

	t.Run("PanicFailsTheJobKeepsItsStackAndTheWorkerGoesOn", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		bad := b.add(t, "bad", &fila.JobOptions{Attempts: 1})
		good := b.add(t, "good", nil)
		var runs runLog
		b.startWorker(t, func(_ context.Context, j *fila.Job) (any, error) {
			runs.add(j)
			if j.Name == "bad" {
				panic("nil map in template")
			}
			return "ok", nil
		}, fila.WorkerOptions{})

		fin, jf := failed(t, bad)
		require.Equal(t, "panic: nil map in template", jf.Reason)
		require.Len(t, fin.Stacktrace, 1)
		require.Contains(t, fin.Stacktrace[0], "panic")
		require.Contains(t, fin.Stacktrace[0], "TestRetry", "the stack shows the handler that panicked")
		completed(t, good)
		require.Equal(t, []string{"bad", "good"}, runs.names())
	})

	t.Run("KeepsOnlyTheNewestStacktraces", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		job := b.add(t, "send", &fila.JobOptions{Attempts: 4})
		b.startWorker(t, func(_ context.Context, j *fila.Job) (any, error) {
			panic(fmt.Sprint("attempt-", j.AttemptsMade+1))
		}, fila.WorkerOptions{KeepStacktraces: 2})

		fin, jf := failed(t, job)
		require.Equal(t, "panic: attempt-4", jf.Reason)
		require.Len(t, fin.Stacktrace, 2)
	})
}

func TestCustomBackoff(t *testing.T) {
	t.Parallel()

	t.Run("WorkerStrategyComputesTheDelay", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		job := b.add(t, "send", &fila.JobOptions{Attempts: 3, Backoff: fila.Backoff{Type: fila.BackoffCustom}})
		type call struct {
			attempt int
			err     string
			jobID   string
		}
		var mu sync.Mutex
		var calls []call
		strategy := func(attempt int, err error, j *fila.Job) time.Duration {
			mu.Lock()
			calls = append(calls, call{attempt, err.Error(), j.ID})
			mu.Unlock()
			return time.Duration(attempt) * 150 * time.Millisecond
		}
		var runs runLog
		rec := b.startRecording(t, failTimes(&runs, 2, errors.New("429")), fila.WorkerOptions{BackoffStrategy: strategy})

		fin := completed(t, job)
		require.Equal(t, 3, fin.AttemptsMade)
		mu.Lock()
		require.Equal(t, []call{{1, "429", job.ID}, {2, "429", job.ID}}, calls)
		mu.Unlock()
		g := gaps(runs.all())
		requireGap(t, g[0], 150*time.Millisecond, "first retry")
		requireGap(t, g[1], 300*time.Millisecond, "second retry")
		require.Equal(t, []time.Duration{150 * time.Millisecond, 300 * time.Millisecond}, rec.all(), "the strategy's delays")
	})

	t.Run("NegativeDelayFailsTheJobAtOnce", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		job := b.add(t, "send", &fila.JobOptions{Attempts: 5, Backoff: fila.Backoff{Type: fila.BackoffCustom}})
		var runs runLog
		b.startWorker(t, failTimes(&runs, 5, errors.New("gone")), fila.WorkerOptions{
			BackoffStrategy: func(int, error, *fila.Job) time.Duration { return -1 },
		})

		fin, _ := failed(t, job)
		require.Equal(t, 1, fin.AttemptsMade)
		require.Equal(t, 1, runs.len())
	})

	t.Run("WithoutAStrategyTheFixedDelayIsUsed", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		job := b.add(t, "send", &fila.JobOptions{
			Attempts: 2, Backoff: fila.Backoff{Type: fila.BackoffCustom, Delay: 150 * time.Millisecond},
		})
		var runs runLog
		rec := b.startRecording(t, failTimes(&runs, 1, errors.New("once")), fila.WorkerOptions{})

		completed(t, job)
		g := gaps(runs.all())
		require.Len(t, g, 1)
		requireGap(t, g[0], 150*time.Millisecond, "retry")
		require.Equal(t, []time.Duration{150 * time.Millisecond}, rec.all(), "scheduled retry")
	})
}
