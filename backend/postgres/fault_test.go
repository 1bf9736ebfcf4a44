package postgres_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/fila-go/fila"
	"github.com/fila-go/fila/backend/postgres"
	"github.com/fila-go/fila/internal/pgtest"
)

// TestServerRestartsLoseNoJob restarts the PostgreSQL server (fast
// shutdown) twice while workers run 10,000 jobs: every job runs, none is
// left behind, and the workers resume by themselves.
func TestServerRestartsLoseNoJob(t *testing.T) {
	if testing.Short() {
		t.Skip("10,000 jobs and two server restarts")
	}
	t.Parallel()
	const jobs = 10000
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	srv := pgtest.Start(t)
	pool, err := pgxpool.New(ctx, srv.URL("postgres")+"&pool_max_conns=20")
	require.NoError(t, err)
	defer pool.Close()
	be := postgres.New(pool, postgres.Options{FallbackRecheck: time.Second})
	defer be.Close()
	_, err = be.Migrate(ctx)
	require.NoError(t, err)

	q := fila.NewQueue(be, "restarts")
	for start := 0; start < jobs; start += 1000 {
		batch := make([]fila.BulkJob, 1000)
		for i := range batch {
			batch[i] = fila.BulkJob{Name: fmt.Sprint(start + i), Options: &fila.JobOptions{
				Attempts: 100, Backoff: fila.Backoff{Type: fila.BackoffFixed, Delay: 10 * time.Millisecond},
				RemoveOnComplete: fila.KeepAll,
			}}
		}
		_, err := q.AddBulk(ctx, batch)
		require.NoError(t, err)
	}

	var mu sync.Mutex
	ran := map[string]bool{}
	w, err := fila.NewWorker(be, "restarts", func(ctx context.Context, job *fila.Job) (any, error) {
		mu.Lock()
		ran[job.Name] = true
		mu.Unlock()
		return nil, nil
	}, fila.WorkerOptions{Concurrency: 10, LockDuration: 5 * time.Second, StalledInterval: time.Second})
	require.NoError(t, err)
	runErr := make(chan error, 1)
	go func() { runErr <- w.Run(ctx) }()

	progress := func() int {
		mu.Lock()
		defer mu.Unlock()
		return len(ran)
	}
	for restart, at := range []int{jobs / 4, jobs / 2} {
		require.Eventually(t, func() bool { return progress() >= at }, 2*time.Minute, 10*time.Millisecond, "restart %d", restart)
		srv.Stop(true)
		time.Sleep(500 * time.Millisecond)
		require.NoError(t, srv.Restart())
	}
	require.Eventually(t, func() bool {
		c, err := q.Counts(ctx)
		return err == nil && c.Completed == jobs
	}, 3*time.Minute, 50*time.Millisecond, "workers did not finish every job after the restarts")
	c, err := q.Counts(ctx)
	require.NoError(t, err)
	require.Equal(t, fila.Counts{Completed: jobs}, *c)
	require.Equal(t, jobs, progress(), "every job ran")
	cancel()
	require.NoError(t, <-runErr)
}
