package fila_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/fila-go/fila"
	"github.com/fila-go/fila/backend"
)

// gatedExtend holds the first non-empty lock renewal until released, so a
// job can be retried and claimed again (new token) while the renewal of its
// old token is in flight.
type gatedExtend struct {
	backend.Backend
	once    sync.Once
	started chan struct{}
	release chan struct{}
}

func (g *gatedExtend) JobExtendLocks(ctx context.Context, p *backend.JobExtendLocksParams) ([]string, error) {
	first := false
	if len(p.Locks) > 0 {
		g.once.Do(func() { first = true })
	}
	if first {
		close(g.started)
		<-g.release
	}
	return g.Backend.JobExtendLocks(ctx, p)
}

// A renewal that reports the lock of a job's previous attempt as lost must
// not cancel the job's current attempt, which holds a fresh, valid lock.
func TestRenewalOfAnOldTokenLeavesTheNewAttempt(t *testing.T) {
	b := setup(t)
	g := &gatedExtend{Backend: b.be, started: make(chan struct{}), release: make(chan struct{})}
	job := b.add(t, "send", &fila.JobOptions{Attempts: 3})

	causes := make(chan error, 1)
	startWorkerOn(t, g, queueName, func(ctx context.Context, j *fila.Job) (any, error) {
		if j.AttemptsMade == 0 {
			<-g.started // the renewal has taken this attempt's token
			return nil, errors.New("transient")
		}
		close(g.release) // let the renewal of the old token finish now
		select {
		case <-ctx.Done():
			causes <- context.Cause(ctx)
			return nil, context.Cause(ctx)
		case <-time.After(time.Second):
			causes <- nil
			return "ok", nil
		}
	}, fila.WorkerOptions{LockDuration: 2 * time.Second, StalledInterval: time.Hour}) // the second attempt's second fits in its lock, renewed or not

	select {
	case cause := <-causes:
		require.NoError(t, cause, "second attempt's context was cancelled although its lock is valid")
	case <-time.After(waitFor):
		t.Fatal("second attempt never ran")
	}
	completed(t, job)
}
