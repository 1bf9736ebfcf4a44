package postgres_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/fila-go/fila"
	"github.com/fila-go/fila/backend/postgres"
)

// runWorker runs a fila Worker on be until the test ends.
func runWorker(t *testing.T, be *postgres.Backend, queue string, p fila.Processor, o fila.WorkerOptions) {
	t.Helper()
	w, err := fila.NewWorker(be, queue, p, o)
	require.NoError(t, err)
	done := make(chan error, 1)
	go func() { done <- w.Run(context.Background()) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		require.NoError(t, w.Close(ctx))
		require.NoError(t, <-done)
	})
}

// TestWorkersOnPostgresCancelAndGroups runs fila's own Worker on the
// backend: Queue.Cancel reaches a running handler through its lock
// renewal (ErrCancelled), and workers with claims ahead (Prefetch, the
// default) keep every group to one job at a time.
func TestWorkersOnPostgresCancelAndGroups(t *testing.T) {
	t.Parallel()
	ctx := context.Background()

	t.Run("Queue.Cancel ends a running handler with ErrCancelled", func(t *testing.T) {
		t.Parallel()
		be := open(t, postgres.Options{})
		started, causes := make(chan string, 1), make(chan error, 1)
		runWorker(t, be, "cancel", func(ctx context.Context, j *fila.Job) (any, error) {
			started <- j.ID
			<-ctx.Done()
			causes <- context.Cause(ctx)
			return nil, ctx.Err()
		}, fila.WorkerOptions{LockDuration: 400 * time.Millisecond})
		q := fila.NewQueue(be, "cancel")
		job, err := q.Add(ctx, "export", nil, &fila.JobOptions{Attempts: 5})
		require.NoError(t, err)
		select {
		case id := <-started:
			require.Equal(t, job.ID, id)
		case <-time.After(20 * time.Second):
			t.Fatal("the handler did not start")
		}
		was, err := q.Cancel(ctx, job.ID)
		require.NoError(t, err)
		require.Equal(t, fila.StateActive, was)
		select {
		case cause := <-causes:
			require.True(t, errors.Is(cause, fila.ErrCancelled), "cause %v", cause)
		case <-time.After(20 * time.Second):
			t.Fatal("the handler's context did not end")
		}
		stored, err := q.GetJob(ctx, job.ID)
		require.NoError(t, err)
		require.Equal(t, fila.StateFailed, stored.State)
		require.Equal(t, "cancelled", stored.FailedReason)
		require.Equal(t, 1, stored.AttemptsMade, "no retry")
	})

	t.Run("workers keep each group to its concurrency", func(t *testing.T) {
		t.Parallel()
		be := open(t, postgres.Options{})
		q := fila.NewQueue(be, "groups")
		require.NoError(t, q.SetGroupOptions(ctx, fila.GroupOptions{Concurrency: 1}))
		const groups, per = 3, 6
		var mu sync.Mutex
		running, most := map[string]int{}, map[string]int{}
		order := map[string][]string{}
		var wg sync.WaitGroup
		wg.Add(groups * per)
		runWorker(t, be, "groups", func(ctx context.Context, j *fila.Job) (any, error) {
			g := j.Options.Group
			mu.Lock()
			running[g]++
			most[g] = max(most[g], running[g])
			order[g] = append(order[g], j.Name)
			mu.Unlock()
			time.Sleep(10 * time.Millisecond)
			mu.Lock()
			running[g]--
			mu.Unlock()
			wg.Done()
			return nil, nil
		}, fila.WorkerOptions{Concurrency: 6})
		want := map[string][]string{}
		for i := range per {
			for g := range groups {
				name := fmt.Sprintf("g%d", g)
				_, err := q.Add(ctx, fmt.Sprintf("%s-%d", name, i), nil, &fila.JobOptions{Group: name})
				require.NoError(t, err)
				want[name] = append(want[name], fmt.Sprintf("%s-%d", name, i))
			}
		}
		done := make(chan struct{})
		go func() { wg.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(60 * time.Second):
			t.Fatal("the grouped jobs did not all run")
		}
		mu.Lock()
		defer mu.Unlock()
		for g, n := range most {
			require.Equal(t, 1, n, "group %s ran more than one job at a time", g)
		}
		require.Equal(t, want, order, "each group in FIFO order")
	})
}
