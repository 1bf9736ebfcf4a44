package fila_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/fila-go/fila"
	"github.com/fila-go/fila/backend"
)

// The tests in this file do not call t.Parallel: they end with
// goleak.VerifyNone, which sees every goroutine in the process. Serial
// top-level tests run while the parallel ones wait in t.Parallel (which
// goleak ignores), so a goroutine left here is this test's own.

func TestWorkerClose(t *testing.T) {
	t.Run("FinishesRunningHandlersThenHandsTheRestBackUnspent", func(t *testing.T) {
		b := setup(t)
		spy := newClaimSpy(b.be, 3) // quick, slow, then a claim that finds nothing
		quick := b.add(t, "quick", nil)
		slow := b.add(t, "slow", nil)
		started := make(chan string, 2)
		releaseQuick := make(chan struct{})
		slowCause := make(chan error, 1)
		w := newWorker(t, spy, queueName, func(ctx context.Context, j *fila.Job) (any, error) {
			started <- j.Name
			if j.Name == "quick" {
				<-releaseQuick
				return "quick done", nil
			}
			<-ctx.Done() // slow honors its context but never finishes on its own
			slowCause <- context.Cause(ctx)
			return nil, ctx.Err()
		}, fila.WorkerOptions{Concurrency: 3}) // a third, idle slot blocks in a claim
		runDone := make(chan error, 1)
		go func() { runDone <- w.Run(context.Background()) }()
		for range 2 {
			<-started
		}
		<-spy.idle

		// Long enough that quick finishes within it on a loaded machine;
		// slow never does.
		closeCtx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		defer cancel()
		closeDone := make(chan error, 1)
		go func() { closeDone <- w.Close(closeCtx) }()
		<-spy.stopped                       // the worker has stopped claiming
		pending := b.add(t, "pending", nil) // added during the drain: must not start
		close(releaseQuick)
		require.ErrorIs(t, <-closeDone, context.DeadlineExceeded, "slow was still running at the deadline")
		require.NoError(t, <-runDone)

		require.ErrorIs(t, <-slowCause, fila.ErrShutdown)
		q := b.get(t, quick.ID)
		require.Equal(t, fila.StateCompleted, q.State, "a handler that finished within the deadline completes")
		require.JSONEq(t, `"quick done"`, string(q.ReturnValue))
		// slow's handler returned its context's error after the deadline:
		// interrupted, so its job goes back (Close did not wait for that).
		waitState(t, b, slow.ID, fila.StateWaiting)
		s := b.get(t, slow.ID)
		require.Equal(t, fila.StateWaiting, s.State, "an unfinished job is handed back")
		require.Equal(t, 0, s.AttemptsMade, "no attempt spent")
		require.Equal(t, 1, s.AttemptsStarted)
		p := b.get(t, pending.ID)
		require.Equal(t, fila.StateWaiting, p.State)
		require.Equal(t, 0, p.AttemptsStarted, "no claim after Close began")
		waiting, err := b.queue.Jobs(b.ctx, fila.StateWaiting, 0, 0)
		require.NoError(t, err)
		require.Equal(t, []string{slow.ID, pending.ID}, jobIDs(waiting), "the handed-back job runs first")
		require.Equal(t, fila.Counts{Waiting: 2, Completed: 1}, b.counts(t))
		goleak.VerifyNone(t)
	})

	t.Run("RunReturnsAfterAGracefulDrainWhenItsContextEnds", func(t *testing.T) {
		b := setup(t)
		spy := newClaimSpy(b.be, 2) // the job, then a claim that finds nothing
		job := b.add(t, "send", nil)
		started := make(chan struct{})
		release := make(chan struct{})
		var cause error
		w := newWorker(t, spy, queueName, func(ctx context.Context, j *fila.Job) (any, error) {
			close(started)
			<-release
			cause = context.Cause(ctx)
			return "drained", nil
		}, fila.WorkerOptions{Concurrency: 2, ShutdownTimeout: 5 * time.Second})
		ctx, cancel := context.WithCancel(context.Background())
		runDone := make(chan error, 1)
		go func() { runDone <- w.Run(ctx) }()
		<-started
		<-spy.idle

		cancel()
		<-spy.stopped
		close(release)
		require.NoError(t, <-runDone)

		require.NoError(t, cause, "the handler's context was not cut")
		fin := b.get(t, job.ID)
		require.Equal(t, fila.StateCompleted, fin.State)
		require.JSONEq(t, `"drained"`, string(fin.ReturnValue))
		goleak.VerifyNone(t)
	})

	t.Run("RunHandsJobsBackAtShutdownTimeout", func(t *testing.T) {
		b := setup(t)
		job := b.add(t, "send", nil)
		started := make(chan struct{})
		causes := make(chan error, 1)
		w := newWorker(t, b.be, queueName, func(ctx context.Context, j *fila.Job) (any, error) {
			close(started)
			<-ctx.Done()
			causes <- context.Cause(ctx)
			return nil, ctx.Err()
		}, fila.WorkerOptions{ShutdownTimeout: 100 * time.Millisecond})
		ctx, cancel := context.WithCancel(context.Background())
		runDone := make(chan error, 1)
		go func() { runDone <- w.Run(ctx) }()
		<-started

		cancel()
		require.NoError(t, <-runDone)

		require.ErrorIs(t, <-causes, fila.ErrShutdown)
		waitState(t, b, job.ID, fila.StateWaiting)
		fin := b.get(t, job.ID)
		require.Zero(t, fin.AttemptsMade)
		goleak.VerifyNone(t)
	})

	t.Run("IdleWorkerClosesAtOnce", func(t *testing.T) {
		b := setup(t)
		spy := newClaimSpy(b.be, 1)
		w := newWorker(t, spy, queueName, func(context.Context, *fila.Job) (any, error) { return nil, nil },
			fila.WorkerOptions{Concurrency: 4})
		runDone := make(chan error, 1)
		go func() { runDone <- w.Run(context.Background()) }()
		<-spy.idle

		require.NoError(t, w.Close(context.Background()))
		<-spy.stopped
		require.NoError(t, <-runDone)
		goleak.VerifyNone(t)
	})
}

func TestWorkerTimeoutOfAStuckHandler(t *testing.T) {
	t.Run("JobFailsAtTheTimeoutAndTheWorkerServesOthersMeanwhile", func(t *testing.T) {
		b := setup(t)
		stuck := b.add(t, "stuck", &fila.JobOptions{Timeout: 100 * time.Millisecond})
		other := b.add(t, "other", nil)
		release := make(chan struct{})
		returned := make(chan struct{})
		var runs runLog
		w := newWorker(t, b.be, queueName, func(ctx context.Context, j *fila.Job) (any, error) {
			runs.add(j)
			if j.Name == "stuck" {
				defer close(returned)
				<-release // ignores ctx
				return "too late", nil
			}
			return "ok", nil
		}, fila.WorkerOptions{Concurrency: 1})
		runDone := make(chan error, 1)
		go func() { runDone <- w.Run(context.Background()) }()

		fin, jf := failed(t, stuck)
		require.Contains(t, jf.Reason, "timed out")
		require.GreaterOrEqual(t, fin.FinishedAt.Sub(fin.ProcessedAt), 100*time.Millisecond)
		completed(t, other)
		select {
		case <-returned:
			t.Fatal("the stuck handler returned before it was released")
		default:
		}
		require.Equal(t, []string{"stuck", "other"}, runs.names())

		close(release)
		<-returned
		require.NoError(t, w.Close(context.Background()))
		require.NoError(t, <-runDone)
		require.Equal(t, fila.StateFailed, b.get(t, stuck.ID).State, "the late result does not overwrite the failure")
		goleak.VerifyNone(t)
	})
}

// waitState waits until the job is in state want.
func waitState(t *testing.T, b *testBundle, id string, want fila.State) {
	t.Helper()
	require.Eventually(t, func() bool { return b.get(t, id).State == want }, waitFor, time.Millisecond,
		"job %s never reached %s", id, want)
}

// claimSpy reports when the worker has started its nth claim (the first
// that finds nothing, in these tests, so the worker then blocks in it) and
// when a claim ends because the worker stops claiming.
type claimSpy struct {
	backend.Backend
	nth                int32
	calls              atomic.Int32
	idle, stopped      chan struct{}
	idleOnce, stopOnce sync.Once
}

func newClaimSpy(be backend.Backend, nth int32) *claimSpy {
	return &claimSpy{Backend: be, nth: nth, idle: make(chan struct{}), stopped: make(chan struct{})}
}

func (s *claimSpy) JobClaim(ctx context.Context, p *backend.JobClaimParams) (*backend.JobClaimResult, error) {
	if s.calls.Add(1) == s.nth {
		s.idleOnce.Do(func() { close(s.idle) })
	}
	res, err := s.Backend.JobClaim(ctx, p)
	if errors.Is(err, context.Canceled) {
		s.stopOnce.Do(func() { close(s.stopped) })
	}
	return res, err
}

func jobIDs(jobs []*fila.Job) []string {
	ids := make([]string, len(jobs))
	for i, j := range jobs {
		ids[i] = j.ID
	}
	return ids
}
