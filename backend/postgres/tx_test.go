package postgres_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/fila-go/fila"
	"github.com/fila-go/fila/backend"
	"github.com/fila-go/fila/backend/postgres"
)

func TestAddInTheCallersTransaction(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	be := open(t, postgres.Options{})
	q := fila.NewQueue(be, "tx")

	t.Run("a rolled-back transaction leaves no job", func(t *testing.T) {
		tx, err := be.Pool().Begin(ctx)
		require.NoError(t, err)
		_, err = q.Add(postgres.WithTx(ctx, tx), "send", []byte(`{}`), nil)
		require.NoError(t, err)
		_, err = q.AddBulk(postgres.WithTx(ctx, tx), []fila.BulkJob{{Name: "a"}, {Name: "b"}})
		require.NoError(t, err)
		require.NoError(t, tx.Rollback(ctx))
		c, err := q.Counts(ctx)
		require.NoError(t, err)
		require.Equal(t, fila.Counts{}, *c)
		res, err := be.JobClaim(ctx, &backend.JobClaimParams{Queue: "tx", Token: "t", LockDuration: time.Minute})
		require.NoError(t, err)
		require.Nil(t, res.Job)
	})

	t.Run("a committed job is claimable at once, and wakes a blocked claim on commit", func(t *testing.T) {
		got := make(chan *backend.Job, 1)
		go func() {
			res, err := be.JobClaim(ctx, &backend.JobClaimParams{Queue: "tx", Token: "blocked", LockDuration: time.Minute, Wait: 30 * time.Second})
			if err != nil {
				got <- nil
				return
			}
			got <- res.Job
		}()
		time.Sleep(200 * time.Millisecond)
		tx, err := be.Pool().Begin(ctx)
		require.NoError(t, err)
		_, err = tx.Exec(ctx, "CREATE TABLE orders (id text PRIMARY KEY)")
		require.NoError(t, err)
		_, err = tx.Exec(ctx, "INSERT INTO orders VALUES ('A-1')")
		require.NoError(t, err)
		job, err := q.Add(postgres.WithTx(ctx, tx), "ship", []byte(`{"order":"A-1"}`), nil)
		require.NoError(t, err)
		select {
		case j := <-got:
			t.Fatalf("a job of an open transaction was claimed: %+v", j)
		case <-time.After(300 * time.Millisecond):
		}
		committed := time.Now()
		require.NoError(t, tx.Commit(ctx))
		select {
		case j := <-got:
			require.NotNil(t, j)
			require.Equal(t, job.ID, j.ID)
			// NOTIFY on commit, not the 5s re-check: generous for a loaded machine.
			require.Less(t, time.Since(committed), 3*time.Second)
		case <-time.After(10 * time.Second):
			t.Fatal("the commit did not wake the blocked claim")
		}
	})
}

func TestCompleteInTheHandlersTransaction(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	be := open(t, postgres.Options{})
	_, err := be.Pool().Exec(ctx, "CREATE TABLE sent (job text PRIMARY KEY)")
	require.NoError(t, err)
	q := fila.NewQueue(be, "handler-tx")

	w, err := fila.NewWorker(be, "handler-tx", func(ctx context.Context, job *fila.Job) (any, error) {
		tx, err := be.Pool().Begin(ctx)
		if err != nil {
			return nil, err
		}
		defer tx.Rollback(ctx)
		if _, err := tx.Exec(ctx, "INSERT INTO sent VALUES ($1)", job.ID); err != nil {
			return nil, err
		}
		if job.Name == "rollback" {
			return nil, fila.Unrecoverable(errors.New("rolled back"))
		}
		if err := be.CompleteTx(ctx, tx, "handler-tx", job.ID, []byte(`"ok"`)); err != nil {
			return nil, err
		}
		return "ok", tx.Commit(ctx)
	}, fila.WorkerOptions{})
	require.NoError(t, err)
	runErr := make(chan error, 1)
	go func() { runErr <- w.Run(ctx) }()

	ok, err := q.Add(ctx, "commit", nil, nil)
	require.NoError(t, err)
	bad, err := q.Add(ctx, "rollback", nil, nil)
	require.NoError(t, err)
	done, err := ok.WaitUntilFinished(ctx)
	require.NoError(t, err)
	require.Equal(t, fila.StateCompleted, done.State)
	require.Equal(t, 1, done.AttemptsMade, "completed once, not twice")
	require.JSONEq(t, `"ok"`, string(done.ReturnValue), "the return value given to CompleteTx")
	_, err = bad.WaitUntilFinished(ctx)
	require.ErrorContains(t, err, "rolled back", "the handler whose transaction rolled back failed")

	var rows []string
	r, err := be.Pool().Query(ctx, "SELECT job FROM sent ORDER BY job")
	require.NoError(t, err)
	rows, err = pgx.CollectRows(r, pgx.RowTo[string])
	require.NoError(t, err)
	require.Equal(t, []string{ok.ID}, rows, "only the committed handler's write is kept")
	c, err := q.Counts(ctx)
	require.NoError(t, err)
	require.Equal(t, fila.Counts{Completed: 1, Failed: 1}, *c)

	// Outside a handler the job is no longer active: CompleteTx refuses.
	tx, err := be.Pool().Begin(ctx)
	require.NoError(t, err)
	require.ErrorIs(t, be.CompleteTx(ctx, tx, "handler-tx", ok.ID, nil), backend.ErrLockLost)
	require.ErrorIs(t, be.CompleteTx(ctx, tx, "handler-tx", "missing", nil), backend.ErrJobNotFound)
	require.NoError(t, tx.Rollback(ctx))
	cancel()
	require.NoError(t, <-runErr)
}
