package fila_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/fila-go/fila"
	"github.com/fila-go/fila/backend"
	"github.com/fila-go/fila/backend/memory"
)

// finishAfterCursor is a backend on which another process's worker
// completes a job just after WaitUntilFinished took its event cursor and
// before it first reads the job: a window of one round trip.
type finishAfterCursor struct {
	backend.Backend
	once   sync.Once
	finish func()
}

func (b *finishAfterCursor) EventsCursor(ctx context.Context, p *backend.QueueParams) (string, error) {
	c, err := b.Backend.EventsCursor(ctx, p)
	b.once.Do(b.finish)
	return c, err
}

// A job that completes, and goes with its retention, between
// WaitUntilFinished taking its cursor and reading the job is reported
// completed, from its event, and not as removed.
func TestWaitUntilFinishedJobCompletedAndRemovedRightAfterTheCursor(t *testing.T) {
	ctx := context.Background()
	mem := memory.New()
	defer mem.Close()
	be := &finishAfterCursor{Backend: mem}
	q := fila.NewQueue(be, "outbound")
	job, err := q.Add(ctx, "send", []byte(`{}`), &fila.JobOptions{RemoveOnComplete: fila.RemoveJob})
	require.NoError(t, err)
	be.finish = func() {
		res, err := mem.JobClaim(ctx, &backend.JobClaimParams{Queue: "outbound", Token: "other", LockDuration: time.Minute})
		require.NoError(t, err)
		require.NotNil(t, res.Job)
		_, err = mem.JobComplete(ctx, &backend.JobCompleteParams{Queue: "outbound", ID: res.Job.ID, Token: "other", ReturnValue: []byte(`"done"`), Retention: res.Job.Options.RemoveOnComplete})
		require.NoError(t, err)
	}

	wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	fin, err := job.WaitUntilFinished(wctx)
	require.NoError(t, err, "the job completed; its completed event follows the cursor")
	require.Equal(t, fila.StateCompleted, fin.State)
	require.JSONEq(t, `"done"`, string(fin.ReturnValue))
}
