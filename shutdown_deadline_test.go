package fila_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/fila-go/fila"
	"github.com/fila-go/fila/backend"
)

// slowComplete holds the first JobComplete (which also claims the next job)
// until released: a completion in flight, e.g. a slow network round trip.
type slowComplete struct {
	backend.Backend
	once       sync.Once
	completing chan struct{}
	release    chan struct{}
}

func (s *slowComplete) JobComplete(ctx context.Context, p *backend.JobCompleteParams) (*backend.JobClaimResult, error) {
	first := false
	s.once.Do(func() { first = true })
	if first {
		close(s.completing)
		<-s.release
	}
	return s.Backend.JobComplete(ctx, p)
}

// A job that a finishing call claimed after the shutdown deadline passed
// must not run unbounded: its handler's context must end (ErrShutdown) and
// the job go back to waiting, as for every job running at the deadline,
// and Close must keep its deadline.
func TestJobClaimedAtTheDeadlineIsHandedBack(t *testing.T) {
	b := setup(t)
	be := &slowComplete{Backend: b.be, completing: make(chan struct{}), release: make(chan struct{})}
	first := b.add(t, "first", nil)
	second := b.add(t, "second", nil)

	secondCause := make(chan error, 1)
	w := newWorker(t, be, queueName, func(ctx context.Context, j *fila.Job) (any, error) {
		if j.ID == first.ID {
			return nil, nil
		}
		select {
		case <-ctx.Done(): // an honest handler: stops when told to
			secondCause <- context.Cause(ctx)
			return nil, ctx.Err()
		case <-time.After(time.Minute):
			secondCause <- nil
			return nil, nil
		}
	}, fila.WorkerOptions{})
	runDone := make(chan error, 1)
	go func() { runDone <- w.Run(context.Background()) }()

	<-be.completing // the first job's completion (claiming the second) is in flight
	closeCtx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	closed := make(chan struct{})
	start := time.Now()
	go func() { _ = w.Close(closeCtx); close(closed) }()
	<-closeCtx.Done()
	time.Sleep(50 * time.Millisecond) // the drain deadline has passed
	close(be.release)

	select {
	case <-closed:
	case <-time.After(waitFor):
		t.Fatal("Close did not return")
	}
	require.NoError(t, <-runDone)
	took := time.Since(start)
	waitState(t, b, second.ID, fila.StateWaiting)
	select {
	case cause := <-secondCause:
		require.ErrorIs(t, cause, fila.ErrShutdown, "the second job's handler context did not end at shutdown")
	default: // not run at all: fine
	}
	// Generous for a loaded machine, and well under the minute the second
	// handler runs if nothing ends it.
	require.Less(t, took, 10*time.Second, "Close with a 50ms deadline took %s", took)
}

// A job handed back at the drain deadline no longer counts as running once
// its handler has returned: after Close, Stats shows no running job.
func TestHandedBackJobsStopCountingAsRunning(t *testing.T) {
	b := setup(t)
	job := b.add(t, "slow", nil)
	started := make(chan struct{})
	w := newWorker(t, b.be, queueName, func(ctx context.Context, j *fila.Job) (any, error) {
		close(started)
		<-ctx.Done()
		return nil, context.Cause(ctx)
	}, fila.WorkerOptions{})
	runDone := make(chan error, 1)
	go func() { runDone <- w.Run(context.Background()) }()
	<-started
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	// The handler returns the moment the deadline ends its context, so Run
	// may finish its drain before Close looks again: then Close reports
	// the finished drain (nil) instead of the deadline. Either is right.
	if err := w.Close(ctx); err != nil {
		require.ErrorIs(t, err, context.DeadlineExceeded)
	}
	require.NoError(t, <-runDone)
	require.Equal(t, 0, w.Stats().Running)
	waitState(t, b, job.ID, fila.StateWaiting)
	require.EqualValues(t, 1, w.Stats().Released)
	require.Zero(t, w.Stats().Abandoned, "it honored its context: interrupted, not abandoned")
}
