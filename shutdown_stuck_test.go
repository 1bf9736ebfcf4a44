package fila_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/fila-go/fila"
	"github.com/fila-go/fila/backend"
)

// A handler that ignores its context (it sleeps on, here until the test
// lets it go) must not hold Close past its deadline, and its job must not
// be handed back to waiting while it still runs: that made it run twice.
// Serial tests: goleak sees the whole process.

// stuckHandler blocks its first job until release is closed, ignoring ctx.
type stuckHandler struct {
	runs     atomic.Int32
	started  chan struct{}
	release  chan struct{}
	returned chan struct{}
}

func newStuckHandler() *stuckHandler {
	return &stuckHandler{started: make(chan struct{}), release: make(chan struct{}), returned: make(chan struct{})}
}

func (h *stuckHandler) handle(_ context.Context, j *fila.Job) (any, error) {
	if h.runs.Add(1) > 1 {
		return "again", nil
	}
	defer close(h.returned)
	close(h.started)
	<-h.release // ignores its context, like a time.Sleep(4 * time.Second)
	return "late", nil
}

// closeStuck closes w with an already short deadline and requires Close to
// return, with the deadline's error, while the handler is still stuck.
func closeStuck(t *testing.T, w *fila.Worker, h *stuckHandler) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	closeDone := make(chan error, 1)
	go func() { closeDone <- w.Close(ctx) }()
	select {
	case err := <-closeDone:
		require.ErrorIs(t, err, context.DeadlineExceeded)
		require.ErrorIs(t, err, ctx.Err())
	case <-h.returned:
		t.Fatal("Close waited for a handler that ignores its context")
	case <-time.After(waitFor):
		t.Fatal("Close did not return while the handler was stuck")
	}
	select {
	case <-h.returned:
		t.Fatal("the handler returned before the test released it")
	default:
	}
}

func TestCloseAbandonsAHandlerThatIgnoresItsContext(t *testing.T) {
	t.Run("ItsLateResultCompletesTheJobWhileTheLockHolds", func(t *testing.T) {
		b := setup(t)
		job := b.add(t, "send", nil)
		h := newStuckHandler()
		var finished atomic.Int32
		w := newWorker(t, b.be, queueName, h.handle, fila.WorkerOptions{
			OnFinished: func(*fila.Job, error) { finished.Add(1) },
		})
		runDone := make(chan error, 1)
		go func() { runDone <- w.Run(context.Background()) }()
		<-h.started

		closeStuck(t, w, h)
		require.NoError(t, <-runDone, "Run returns too, without the handler")
		require.Equal(t, fila.StateActive, b.get(t, job.ID).State, "not handed back while its handler runs")
		require.Equal(t, fila.Counts{Active: 1}, b.counts(t))
		require.Equal(t, 0, w.Stats().Running)
		require.EqualValues(t, 1, w.Stats().Abandoned)

		close(h.release)
		fin := completed(t, job)
		require.JSONEq(t, `"late"`, string(fin.ReturnValue))
		require.Equal(t, 1, fin.AttemptsMade)
		require.EqualValues(t, 1, h.runs.Load(), "the job ran once")
		require.Eventually(t, func() bool { return finished.Load() == 1 }, waitFor, time.Millisecond)
		goleak.VerifyNone(t)
	})

	t.Run("ItsLockIsNotRenewedAndItsResultIsDroppedOnceTheLockIsGone", func(t *testing.T) {
		b := setup(t)
		job := b.add(t, "send", nil)
		h := newStuckHandler()
		spy := &completeSpy{Backend: b.be, lost: make(chan struct{}, 1)}
		var firstFinished atomic.Int32
		w := newWorker(t, spy, queueName, h.handle, fila.WorkerOptions{
			LockDuration: 40 * time.Millisecond, StalledInterval: time.Hour,
			OnFinished: func(*fila.Job, error) { firstFinished.Add(1) },
		})
		runDone := make(chan error, 1)
		go func() { runDone <- w.Run(context.Background()) }()
		<-h.started

		closeStuck(t, w, h)
		require.NoError(t, <-runDone)
		// Nobody renews the lock now: a second worker's stalled check
		// recovers the job once the lock has expired, and runs it.
		startWorker2 := newWorker(t, b.be, queueName, h.handle, fila.WorkerOptions{StalledInterval: 20 * time.Millisecond})
		run2 := make(chan error, 1)
		go func() { run2 <- startWorker2.Run(context.Background()) }()
		fin := completed(t, job)
		require.JSONEq(t, `"again"`, string(fin.ReturnValue))
		require.Equal(t, 1, fin.StalledCount)

		close(h.release)
		<-spy.lost // the late completion was refused: lock lost
		require.NoError(t, startWorker2.Close(context.Background()))
		require.NoError(t, <-run2)
		fin = b.get(t, job.ID)
		require.Equal(t, fila.StateCompleted, fin.State)
		require.JSONEq(t, `"again"`, string(fin.ReturnValue), "the late result does not overwrite the outcome")
		require.Zero(t, firstFinished.Load(), "no outcome for the abandoned attempt")
		goleak.VerifyNone(t)
	})
}

// completeSpy reports a completion the backend refused for a lost lock.
type completeSpy struct {
	backend.Backend
	lost chan struct{}
}

func (s *completeSpy) JobComplete(ctx context.Context, p *backend.JobCompleteParams) (*backend.JobClaimResult, error) {
	res, err := s.Backend.JobComplete(ctx, p)
	if errors.Is(err, backend.ErrLockLost) {
		s.lost <- struct{}{}
	}
	return res, err
}
