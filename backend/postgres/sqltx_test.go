package postgres_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/stdlib"
	"github.com/stretchr/testify/require"

	"github.com/fila-go/fila"
	"github.com/fila-go/fila/backend"
	"github.com/fila-go/fila/backend/postgres"
)

func TestAddInTheCallersSQLTransaction(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	be := open(t, postgres.Options{})
	db := stdlib.OpenDBFromPool(be.Pool())
	t.Cleanup(func() { db.Close() })
	q := fila.NewQueue(be, "sqltx")

	t.Run("a rolled-back transaction leaves no job", func(t *testing.T) {
		tx, err := db.BeginTx(ctx, nil)
		require.NoError(t, err)
		_, err = q.Add(postgres.WithSQLTx(ctx, tx), "send", []byte(`{"a":1}`), nil)
		require.NoError(t, err)
		_, err = q.AddBulk(postgres.WithSQLTx(ctx, tx), []fila.BulkJob{{Name: "a"}, {Name: "b", Options: &fila.JobOptions{Dedup: &fila.Dedup{ID: "d1", TTL: time.Minute}}}})
		require.NoError(t, err)
		require.NoError(t, tx.Rollback())
		c, err := q.Counts(ctx)
		require.NoError(t, err)
		require.Equal(t, fila.Counts{}, *c)
	})

	t.Run("a committed job is claimable at once, and wakes a blocked claim on commit", func(t *testing.T) {
		got := make(chan *backend.Job, 1)
		go func() {
			res, err := be.JobClaim(ctx, &backend.JobClaimParams{Queue: "sqltx", Token: "blocked", LockDuration: time.Minute, Wait: 30 * time.Second})
			if err != nil {
				got <- nil
				return
			}
			got <- res.Job
		}()
		time.Sleep(200 * time.Millisecond)
		tx, err := db.BeginTx(ctx, nil)
		require.NoError(t, err)
		_, err = tx.ExecContext(ctx, "CREATE TABLE sql_orders (id text PRIMARY KEY)")
		require.NoError(t, err)
		_, err = tx.ExecContext(ctx, "INSERT INTO sql_orders VALUES ('A-1')")
		require.NoError(t, err)
		job, err := q.Add(postgres.WithSQLTx(ctx, tx), "ship", []byte(`{"order":"A-1"}`), &fila.JobOptions{Priority: 2})
		require.NoError(t, err)
		select {
		case j := <-got:
			t.Fatalf("a job of an open transaction was claimed: %+v", j)
		case <-time.After(300 * time.Millisecond):
		}
		start := time.Now()
		require.NoError(t, tx.Commit())
		select {
		case j := <-got:
			require.NotNil(t, j)
			require.Equal(t, job.ID, j.ID)
			require.Equal(t, `{"order":"A-1"}`, string(j.Data))
			require.Less(t, time.Since(start), 4*time.Second, "woken by the commit, not the 5 s fallback")
		case <-time.After(20 * time.Second):
			t.Fatal("the blocked claim did not get the committed job")
		}
		var n int
		require.NoError(t, db.QueryRowContext(ctx, "SELECT count(*) FROM sql_orders").Scan(&n))
		require.Equal(t, 1, n)
	})
}

// A handler completes its job in its own *sql.Tx: the completion commits
// or rolls back with the handler's write.
func TestCompleteInTheHandlersSQLTransaction(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	be := open(t, postgres.Options{})
	db := stdlib.OpenDBFromPool(be.Pool())
	t.Cleanup(func() { db.Close() })
	_, err := db.ExecContext(ctx, "CREATE TABLE sql_sent (job text PRIMARY KEY)")
	require.NoError(t, err)
	q := fila.NewQueue(be, "handler-sqltx")

	w, err := fila.NewWorker(be, "handler-sqltx", func(ctx context.Context, job *fila.Job) (any, error) {
		tx, err := db.BeginTx(ctx, nil)
		if err != nil {
			return nil, err
		}
		defer tx.Rollback()
		if _, err := tx.ExecContext(ctx, "INSERT INTO sql_sent VALUES ($1)", job.ID); err != nil {
			return nil, err
		}
		if err := be.CompleteSQLTx(ctx, tx, "handler-sqltx", job.ID, []byte(`"sent"`)); err != nil {
			return nil, err
		}
		if job.Name == "rollback" {
			return nil, fila.Unrecoverable(errors.New("rolled back after completing"))
		}
		return "sent", tx.Commit()
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
	require.Equal(t, 1, done.AttemptsMade, "completed once, not twice")
	require.JSONEq(t, `"sent"`, string(done.ReturnValue))
	_, err = bad.WaitUntilFinished(ctx)
	require.ErrorContains(t, err, "rolled back after completing", "the rolled-back completion did not stand")

	var n int
	require.NoError(t, db.QueryRowContext(ctx, "SELECT count(*) FROM sql_sent").Scan(&n))
	require.Equal(t, 1, n, "only the committed handler's write is kept")

	tx, err := db.BeginTx(ctx, nil)
	require.NoError(t, err)
	require.ErrorIs(t, be.CompleteSQLTx(ctx, tx, "handler-sqltx", ok.ID, nil), backend.ErrLockLost)
	require.ErrorIs(t, be.CompleteSQLTx(ctx, tx, "handler-sqltx", "missing", nil), backend.ErrJobNotFound)
	require.NoError(t, tx.Rollback())
	cancel()
	require.NoError(t, <-runErr)
}
