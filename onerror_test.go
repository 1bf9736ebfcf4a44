package fila_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/fila-go/fila"
)

// hookCall is one call of WorkerOptions.OnError.
type hookCall struct {
	jobID     string
	attempt   int // the attempt that failed, 1-based
	err       error
	willRetry bool
}

// hookLog records OnError calls; its record method is the hook.
type hookLog struct {
	mu    sync.Mutex
	calls []hookCall
}

func (h *hookLog) record(job *fila.Job, err error, willRetry bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.calls = append(h.calls, hookCall{job.ID, job.AttemptsMade + 1, err, willRetry})
}

// wait returns the calls once there are n: the hook runs after the
// backend recorded the failure, so a waiter on the job may see it first.
func (h *hookLog) wait(t *testing.T, n int) []hookCall {
	t.Helper()
	require.Eventually(t, func() bool { return len(h.all()) >= n }, waitFor, time.Millisecond, "%d OnError calls", n)
	return h.all()
}

func (h *hookLog) all() []hookCall {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]hookCall(nil), h.calls...)
}

func TestOnError(t *testing.T) {
	t.Parallel()

	t.Run("CalledOnEveryFailedAttemptWithWillRetry", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		boom := errors.New("carrier down")
		var hooks hookLog
		var finishedCalls int
		var mu sync.Mutex
		b.startWorker(t, func(context.Context, *fila.Job) (any, error) { return nil, boom }, fila.WorkerOptions{
			OnError: hooks.record,
			OnFinished: func(*fila.Job, error) {
				mu.Lock()
				finishedCalls++
				mu.Unlock()
			},
		})
		job := b.add(t, "send", &fila.JobOptions{Attempts: 3})
		failed(t, job)

		calls := hooks.wait(t, 3)
		require.Len(t, calls, 3)
		for i, c := range calls {
			require.Equal(t, job.ID, c.jobID)
			require.Equal(t, i+1, c.attempt)
			require.ErrorIs(t, c.err, boom)
			require.Equal(t, i < 2, c.willRetry, "attempt %d", i+1)
		}
		require.Eventually(t, func() bool {
			mu.Lock()
			defer mu.Unlock()
			return finishedCalls == 3
		}, waitFor, time.Millisecond, "OnFinished sees the same attempts")
	})

	t.Run("UnrecoverableIsReportedAsFinal", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		var hooks hookLog
		b.startWorker(t, func(context.Context, *fila.Job) (any, error) {
			return nil, fila.Unrecoverable(errors.New("bad request"))
		}, fila.WorkerOptions{OnError: hooks.record})
		job := b.add(t, "send", &fila.JobOptions{Attempts: 5})
		failed(t, job)
		calls := hooks.wait(t, 1)
		require.Len(t, calls, 1)
		require.False(t, calls[0].willRetry)
		require.True(t, fila.IsUnrecoverable(calls[0].err))
	})

	t.Run("APanicGivesAPanicErrorWithTheStack", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		sentinel := errors.New("template broke")
		var hooks hookLog
		b.startWorker(t, func(_ context.Context, j *fila.Job) (any, error) {
			if j.Name == "error" {
				panic(sentinel)
			}
			panic("nil map")
		}, fila.WorkerOptions{OnError: hooks.record})
		str := b.add(t, "string", &fila.JobOptions{Attempts: 2})
		failed(t, str)
		errJob := b.add(t, "error", nil)
		failed(t, errJob)

		calls := hooks.wait(t, 3)
		require.Len(t, calls, 3)
		var pe *fila.PanicError
		require.ErrorAs(t, calls[0].err, &pe)
		require.Equal(t, "nil map", pe.Value)
		require.Equal(t, "panic: nil map", pe.Error(), "the message stored as the failed reason")
		require.Contains(t, pe.Stack, "TestOnError", "the stack shows the handler that panicked")
		require.True(t, calls[0].willRetry)
		require.False(t, calls[1].willRetry)
		require.ErrorIs(t, calls[2].err, sentinel, "a panic with an error unwraps to it")
		require.Equal(t, errJob.ID, calls[2].jobID)
	})

	t.Run("ATimeoutMatchesErrJobTimeout", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		var hooks hookLog
		b.startWorker(t, func(ctx context.Context, _ *fila.Job) (any, error) {
			<-ctx.Done()
			return nil, ctx.Err()
		}, fila.WorkerOptions{OnError: hooks.record})
		job := b.add(t, "slow", &fila.JobOptions{Timeout: 20 * time.Millisecond})
		failed(t, job)
		calls := hooks.wait(t, 1)
		require.Len(t, calls, 1)
		require.ErrorIs(t, calls[0].err, fila.ErrJobTimeout)
		require.False(t, calls[0].willRetry)
	})

	t.Run("NotCalledForSuccessOrRateLimited", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		var hooks hookLog
		var once sync.Once
		b.startWorker(t, func(context.Context, *fila.Job) (any, error) {
			var err error
			once.Do(func() { err = fila.RateLimited(10 * time.Millisecond) })
			return "ok", err
		}, fila.WorkerOptions{OnError: hooks.record})
		job := b.add(t, "send", nil)
		fin := completed(t, job)
		require.Equal(t, 2, fin.AttemptsStarted, "handed back once by RateLimited, then completed")
		require.Empty(t, hooks.all())
	})
}
