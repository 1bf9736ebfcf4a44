package fila_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/fila-go/fila"
	"github.com/fila-go/fila/backend"
	"github.com/fila-go/fila/backend/memory"
	redisbackend "github.com/fila-go/fila/backend/redis"
	"github.com/fila-go/fila/internal/redistest"
)

// cancelLock is the workers' lock duration in these tests: a cancel reaches
// a running handler at the next renewal, within cancelLock/2.
const cancelLock = 400 * time.Millisecond

// blockingHandler runs until its context ends, reporting the start of each
// attempt and the cause that ended it.
type blockingHandler struct {
	started chan string
	causes  chan error
	calls   atomic.Int32
}

func newBlockingHandler() *blockingHandler {
	return &blockingHandler{started: make(chan string, 10), causes: make(chan error, 10)}
}

func (h *blockingHandler) process(ctx context.Context, j *fila.Job) (any, error) {
	h.calls.Add(1)
	h.started <- j.ID
	<-ctx.Done()
	h.causes <- context.Cause(ctx)
	return nil, ctx.Err()
}

func recv[T any](t *testing.T, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(waitFor):
		t.Fatalf("timed out waiting for %s", what)
		panic("unreachable")
	}
}

// twoProcesses returns two backends over the same storage, as two
// processes would have: each has its own client.
type twoProcesses func(t *testing.T) (one, two backend.Backend)

func cancelBackends(t *testing.T) map[string]twoProcesses {
	t.Helper()
	redisPair := func(addr string) (backend.Backend, backend.Backend) {
		mk := func() backend.Backend {
			rdb := redis.NewClient(&redis.Options{Addr: addr})
			be := redisbackend.New(rdb)
			t.Cleanup(func() { _ = be.Close(); _ = rdb.Close() })
			return be
		}
		return mk(), mk()
	}
	return map[string]twoProcesses{
		"memory": func(t *testing.T) (backend.Backend, backend.Backend) {
			be := memory.New()
			t.Cleanup(func() { _ = be.Close() })
			return be, be
		},
		"miniredis": func(t *testing.T) (backend.Backend, backend.Backend) {
			return redisPair(miniredis.RunT(t).Addr())
		},
		"redis-server": func(t *testing.T) (backend.Backend, backend.Backend) {
			return redisPair(redistest.Start(t).Addr)
		},
	}
}

func TestCancel(t *testing.T) {
	t.Parallel()
	for name, procs := range cancelBackends(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()

			t.Run("ARunningJobsHandlerEndsWithErrCancelledAndTheJobFailsWithoutRetry", func(t *testing.T) {
				t.Parallel()
				one, two := procs(t)
				h := newBlockingHandler()
				var hooks hookLog
				finished := make(chan error, 1)
				startWorkerOn(t, one, queueName, h.process, fila.WorkerOptions{
					LockDuration: cancelLock, OnError: hooks.record,
					OnFinished: func(_ *fila.Job, err error) { finished <- err },
				})
				// Another process adds and cancels.
				q := fila.NewQueue(two, queueName)
				job, err := q.Add(context.Background(), "export", nil, &fila.JobOptions{Attempts: 5})
				require.NoError(t, err)
				require.Equal(t, job.ID, recv(t, h.started, "the handler to start"))

				was, err := q.Cancel(context.Background(), job.ID)
				require.NoError(t, err)
				require.Equal(t, fila.StateActive, was)
				fin, jf := failed(t, job)
				require.Equal(t, "cancelled", jf.Reason)
				require.Equal(t, 1, fin.AttemptsMade)

				cause := recv(t, h.causes, "the handler's context to end")
				require.ErrorIs(t, cause, fila.ErrCancelled)
				require.ErrorIs(t, recv(t, finished, "OnFinished"), fila.ErrCancelled)
				calls := hooks.all()
				require.Len(t, calls, 1)
				require.ErrorIs(t, calls[0].err, fila.ErrCancelled)
				require.False(t, calls[0].willRetry)

				stored, err := q.GetJob(context.Background(), job.ID)
				require.NoError(t, err)
				require.Equal(t, fila.StateFailed, stored.State, "the handler's late return changes nothing")
				require.Equal(t, "cancelled", stored.FailedReason)
				require.Equal(t, int32(1), h.calls.Load(), "no retry")
			})

			t.Run("TheCancelReachesTheHandlerWithinHalfTheLockDuration", func(t *testing.T) {
				t.Parallel()
				one, two := procs(t)
				h := newBlockingHandler()
				const lock = 2 * time.Second
				startWorkerOn(t, one, queueName, h.process, fila.WorkerOptions{LockDuration: lock})
				q := fila.NewQueue(two, queueName)
				job, err := q.Add(context.Background(), "export", nil, nil)
				require.NoError(t, err)
				recv(t, h.started, "the handler to start")
				start := time.Now()
				_, err = q.Cancel(context.Background(), job.ID)
				require.NoError(t, err)
				require.ErrorIs(t, recv(t, h.causes, "the handler's context to end"), fila.ErrCancelled)
				// The bound is the renewal period, lock/2; a loaded machine (the
				// race detector beside other packages' tests) gets slack up to
				// twice the lock: nothing else would end the handler before its
				// lock expired unrenewed.
				require.Less(t, time.Since(start), 2*lock, "learned at the next renewal")
			})

			t.Run("AnotherWorkerKeepsServingTheQueue", func(t *testing.T) {
				t.Parallel()
				one, two := procs(t)
				h := newBlockingHandler()
				startWorkerOn(t, one, queueName, func(ctx context.Context, j *fila.Job) (any, error) {
					if j.Name != "export" {
						return "ok", nil
					}
					return h.process(ctx, j)
				}, fila.WorkerOptions{LockDuration: cancelLock})
				q := fila.NewQueue(two, queueName)
				job, err := q.Add(context.Background(), "export", nil, nil)
				require.NoError(t, err)
				recv(t, h.started, "the handler to start")
				// A second worker, "in the other process".
				var ranCancelled atomic.Int32
				startWorkerOn(t, two, queueName, func(_ context.Context, j *fila.Job) (any, error) {
					if j.ID == job.ID {
						ranCancelled.Add(1)
					}
					return "ok", nil
				}, fila.WorkerOptions{LockDuration: cancelLock})

				_, err = q.Cancel(context.Background(), job.ID)
				require.NoError(t, err)
				require.ErrorIs(t, recv(t, h.causes, "the handler's context to end"), fila.ErrCancelled)
				for range 3 {
					next, err := q.Add(context.Background(), "quick", nil, nil)
					require.NoError(t, err)
					completed(t, next)
				}
				fin, _ := failed(t, job)
				require.Equal(t, "cancelled", fin.FailedReason)
				require.Zero(t, ranCancelled.Load(), "the cancelled job ran nowhere else")
				require.Equal(t, int32(1), h.calls.Load())
			})

			t.Run("AJobThatIsNotRunningNeverRuns", func(t *testing.T) {
				t.Parallel()
				one, two := procs(t)
				q := fila.NewQueue(two, queueName)
				ctx := context.Background()
				waiting, err := q.Add(ctx, "a", nil, nil)
				require.NoError(t, err)
				delayed, err := q.Add(ctx, "b", nil, &fila.JobOptions{Delay: 50 * time.Millisecond})
				require.NoError(t, err)
				was, err := q.Cancel(ctx, waiting.ID)
				require.NoError(t, err)
				require.Equal(t, fila.StateWaiting, was)
				was, err = q.Cancel(ctx, delayed.ID)
				require.NoError(t, err)
				require.Equal(t, fila.StateDelayed, was)

				var ran atomic.Int32
				startWorkerOn(t, one, queueName, func(context.Context, *fila.Job) (any, error) {
					ran.Add(1)
					return nil, nil
				}, fila.WorkerOptions{})
				marker, err := q.Add(ctx, "c", nil, &fila.JobOptions{Delay: 100 * time.Millisecond})
				require.NoError(t, err)
				completed(t, marker)
				require.Equal(t, int32(1), ran.Load(), "only the job added after ran")
				for _, j := range []*fila.Job{waiting, delayed} {
					fin, jf := failed(t, j)
					require.Equal(t, "cancelled", jf.Reason)
					require.Zero(t, fin.AttemptsMade)
				}
			})

			t.Run("AHandlerThatIgnoresItsContextCannotCompleteTheJob", func(t *testing.T) {
				t.Parallel()
				one, two := procs(t)
				started := make(chan string, 1)
				release := make(chan struct{})
				finished := make(chan error, 1)
				startWorkerOn(t, one, queueName, func(_ context.Context, j *fila.Job) (any, error) {
					started <- j.ID
					<-release
					return "done anyway", nil
				}, fila.WorkerOptions{LockDuration: cancelLock, OnFinished: func(_ *fila.Job, err error) { finished <- err }})
				q := fila.NewQueue(two, queueName)
				job, err := q.Add(context.Background(), "a", nil, nil)
				require.NoError(t, err)
				recv(t, started, "the handler to start")
				_, err = q.Cancel(context.Background(), job.ID)
				require.NoError(t, err)
				time.Sleep(cancelLock) // the renewal sees the cancel while the handler runs
				close(release)
				require.ErrorIs(t, recv(t, finished, "OnFinished"), fila.ErrCancelled)
				fin, err := q.GetJob(context.Background(), job.ID)
				require.NoError(t, err)
				require.Equal(t, fila.StateFailed, fin.State)
				require.Empty(t, fin.ReturnValue)
			})

			t.Run("AHandlerThatReturnsBeforeTheRenewalEndsAsCancelled", func(t *testing.T) {
				t.Parallel()
				one, two := procs(t)
				started := make(chan string, 1)
				release := make(chan struct{})
				finished := make(chan error, 1)
				var hooks hookLog
				// A long lock: no renewal comes before the handler returns, so
				// the worker learns of the cancel from its refused completion.
				startWorkerOn(t, one, queueName, func(_ context.Context, j *fila.Job) (any, error) {
					started <- j.ID
					<-release
					return "done anyway", nil
				}, fila.WorkerOptions{LockDuration: time.Minute, OnError: hooks.record,
					OnFinished: func(_ *fila.Job, err error) { finished <- err }})
				q := fila.NewQueue(two, queueName)
				job, err := q.Add(context.Background(), "a", nil, &fila.JobOptions{Attempts: 3})
				require.NoError(t, err)
				recv(t, started, "the handler to start")
				_, err = q.Cancel(context.Background(), job.ID)
				require.NoError(t, err)
				close(release)
				require.ErrorIs(t, recv(t, finished, "OnFinished"), fila.ErrCancelled)
				calls := hooks.all()
				require.Len(t, calls, 1)
				require.ErrorIs(t, calls[0].err, fila.ErrCancelled)
				require.False(t, calls[0].willRetry)
				fin, err := q.GetJob(context.Background(), job.ID)
				require.NoError(t, err)
				require.Equal(t, fila.StateFailed, fin.State)
				require.Equal(t, "cancelled", fin.FailedReason)
				require.Empty(t, fin.ReturnValue)
			})

			t.Run("AFinishedOrMissingJobIsRefused", func(t *testing.T) {
				t.Parallel()
				_, two := procs(t)
				q := fila.NewQueue(two, queueName)
				ctx := context.Background()
				j, err := q.Add(ctx, "a", nil, nil)
				require.NoError(t, err)
				_, err = q.Cancel(ctx, j.ID)
				require.NoError(t, err)
				_, err = q.Cancel(ctx, j.ID)
				var se *fila.StateError
				require.ErrorAs(t, err, &se)
				require.Equal(t, fila.StateFailed, se.State)
				require.Contains(t, err.Error(), `fila: cancel job "`+j.ID+`" in "outbound"`)
				_, err = q.Cancel(ctx, "nope")
				require.ErrorIs(t, err, fila.ErrJobNotFound)

				require.NoError(t, q.RetryJob(ctx, j.ID), "a cancelled job can run again")
				again, err := q.GetJob(ctx, j.ID)
				require.NoError(t, err)
				require.Equal(t, fila.StateWaiting, again.State)
			})
		})
	}
}

// plainBackend hides every optional interface of a backend (Cancellers,
// Groups, Schedulers), as a backend without them would.
type plainBackend struct{ backend.Backend }

func TestCancelUnsupportedBackend(t *testing.T) {
	t.Parallel()
	b := setup(t)
	j := b.add(t, "a", nil)
	_, err := fila.NewQueue(plainBackend{b.be}, queueName).Cancel(b.ctx, j.ID)
	require.ErrorIs(t, err, fila.ErrUnsupported)
	require.True(t, errors.Is(err, backend.ErrUnsupported))
	require.Equal(t, fila.StateWaiting, b.get(t, j.ID).State, "nothing changed")
}

func TestCancelPrefetchedJobNeverStarts(t *testing.T) {
	t.Parallel()
	b := setup(t)
	h := newBlockingHandler()
	// Both wait before the worker starts: a claim ahead of a free slot takes
	// only a job already waiting.
	first := b.add(t, "first", nil)
	second := b.add(t, "second", nil)
	startWorkerOn(t, b.be, queueName, h.process, fila.WorkerOptions{LockDuration: cancelLock, Prefetch: 1, PrefetchHold: time.Hour})
	require.Equal(t, first.ID, recv(t, h.started, "the first handler"))
	require.Eventually(t, func() bool { return b.get(t, second.ID).State == fila.StateActive }, waitFor, 5*time.Millisecond,
		"the second job is prefetched")
	_, err := b.queue.Cancel(b.ctx, second.ID)
	require.NoError(t, err)
	time.Sleep(cancelLock) // a renewal passes: the prefetched job learns it
	_, err = b.queue.Cancel(b.ctx, first.ID)
	require.NoError(t, err)
	require.ErrorIs(t, recv(t, h.causes, "the first handler to end"), fila.ErrCancelled)
	failed(t, second)
	time.Sleep(50 * time.Millisecond)
	require.Equal(t, int32(1), h.calls.Load(), "the cancelled prefetched job's handler never ran")
}

// countingCanceller counts lock renewals and JobCancelled calls.
type countingCanceller struct {
	*memory.Backend
	renewals, asked atomic.Int32
}

func (c *countingCanceller) JobExtendLocks(ctx context.Context, p *backend.JobExtendLocksParams) ([]string, error) {
	c.renewals.Add(1)
	return c.Backend.JobExtendLocks(ctx, p)
}

func (c *countingCanceller) JobCancelled(ctx context.Context, p *backend.JobCancelledParams) ([]string, error) {
	c.asked.Add(1)
	return c.Backend.JobCancelled(ctx, p)
}

func TestCancelCostsRenewalsNothingUntilALockIsLost(t *testing.T) {
	t.Parallel()
	be := &countingCanceller{Backend: memory.New()}
	t.Cleanup(func() { _ = be.Close() })
	h := newBlockingHandler()
	// A lock of a second: a renewal late past the lock's end (a loaded
	// machine delaying the ticker by 50ms did it with 100ms) loses the
	// lock, asks JobCancelled and stops the renewals this test counts.
	startWorkerOn(t, be, queueName, h.process, fila.WorkerOptions{LockDuration: time.Second})
	q := fila.NewQueue(be, queueName)
	job, err := q.Add(context.Background(), "a", nil, nil)
	require.NoError(t, err)
	recv(t, h.started, "the handler to start")
	require.Eventually(t, func() bool { return be.renewals.Load() >= 3 }, waitFor, 5*time.Millisecond)
	require.Zero(t, be.asked.Load(), "renewals that lose no lock ask nothing more")
	_, err = q.Cancel(context.Background(), job.ID)
	require.NoError(t, err)
	require.ErrorIs(t, recv(t, h.causes, "the handler's context to end"), fila.ErrCancelled)
	require.Equal(t, int32(1), be.asked.Load(), "one question for the renewal that lost the lock")
}
