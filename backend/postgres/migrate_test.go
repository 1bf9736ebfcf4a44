package postgres_test

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/fila-go/fila/backend"
	"github.com/fila-go/fila/backend/postgres"
	"github.com/fila-go/fila/internal/pgtest"
)

func TestMigrations(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	url := pgtest.DB(t)
	pool, err := pgxpool.New(ctx, url)
	require.NoError(t, err)
	defer pool.Close()
	be := postgres.New(pool, postgres.Options{Schema: "app_jobs"})
	defer be.Close()

	t.Run("an unmigrated database is refused with a named error", func(t *testing.T) {
		require.ErrorIs(t, be.Check(ctx), postgres.ErrNotMigrated)
		_, err := postgres.Open(ctx, url, postgres.Options{Schema: "app_jobs"})
		require.ErrorIs(t, err, postgres.ErrNotMigrated)
		require.Contains(t, err.Error(), "fila migrate")
		_, err = be.JobAdd(ctx, &backend.JobAddParams{Queue: "q", Jobs: []backend.JobAddItem{{Name: "a"}}})
		require.ErrorIs(t, err, postgres.ErrNotMigrated, "calls name the missing migration too")
		require.True(t, backend.IsPermanent(err), "a worker stops instead of retrying")
	})

	t.Run("Migrate applies each migration once", func(t *testing.T) {
		applied, err := be.Migrate(ctx)
		require.NoError(t, err)
		var all []int
		for v := 1; v <= postgres.SchemaVersion(); v++ {
			all = append(all, v)
		}
		require.Equal(t, all, applied)
		applied, err = be.Migrate(ctx)
		require.NoError(t, err)
		require.Empty(t, applied)
		require.NoError(t, be.Check(ctx))
		o, err := postgres.Open(ctx, url, postgres.Options{Schema: "app_jobs"})
		require.NoError(t, err)
		require.NoError(t, o.Close())
	})

	t.Run("schemas keep apps apart in one database", func(t *testing.T) {
		other := postgres.New(pool, postgres.Options{Schema: "other_app"})
		defer other.Close()
		_, err := other.Migrate(ctx)
		require.NoError(t, err)
		_, err = be.JobAdd(ctx, &backend.JobAddParams{Queue: "shared-name", Jobs: []backend.JobAddItem{{Name: "a"}}})
		require.NoError(t, err)
		c, err := other.QueueCounts(ctx, &backend.QueueParams{Queue: "shared-name"})
		require.NoError(t, err)
		require.Equal(t, backend.Counts{}, *c)
		names, err := other.QueueList(ctx)
		require.NoError(t, err)
		require.Empty(t, names)
	})

	t.Run("a schema newer than the code is refused", func(t *testing.T) {
		_, err := pool.Exec(ctx, `INSERT INTO app_jobs.schema_version (version) VALUES ($1)`, postgres.SchemaVersion()+1)
		require.NoError(t, err)
		require.ErrorIs(t, be.Check(ctx), postgres.ErrSchemaTooNew)
		_, err = be.Migrate(ctx)
		require.ErrorIs(t, err, postgres.ErrSchemaTooNew)
	})
}

func TestOpenUnreachableServer(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err := postgres.Open(ctx, "postgres://fila@127.0.0.1:1/none?sslmode=disable&connect_timeout=2", postgres.Options{})
	require.Error(t, err)
	require.Contains(t, err.Error(), "cannot reach the database")
}

func TestCloseEndsBlockedCalls(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	be := open(t, postgres.Options{})
	errc := make(chan error, 2)
	go func() {
		_, err := be.JobClaim(ctx, &backend.JobClaimParams{Queue: "q", Token: "t", LockDuration: time.Minute, Wait: 30 * time.Second})
		errc <- err
	}()
	go func() {
		_, err := be.EventsRead(ctx, &backend.EventsReadParams{Queue: "q", Wait: 30 * time.Second})
		errc <- err
	}()
	time.Sleep(300 * time.Millisecond)
	require.NoError(t, be.Close())
	for range 2 {
		select {
		case err := <-errc:
			require.ErrorIs(t, err, backend.ErrClosed)
		case <-time.After(10 * time.Second):
			t.Fatal("a blocked call outlived Close")
		}
	}
}

func TestFallbackRecheckFindsAJobWithoutANotification(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	be := open(t, postgres.Options{FallbackRecheck: 200 * time.Millisecond})
	got := make(chan *backend.Job, 1)
	go func() {
		res, err := be.JobClaim(ctx, &backend.JobClaimParams{Queue: "quiet", Token: "t", LockDuration: time.Minute, Wait: 30 * time.Second})
		if err != nil {
			got <- nil
			return
		}
		got <- res.Job
	}()
	time.Sleep(300 * time.Millisecond)
	// A job inserted behind the backend's back: no NOTIFY, as when the
	// listening connection had dropped.
	_, err := be.Pool().Exec(ctx, `INSERT INTO fila.jobs (queue, id, name, options, state, ord, added_at)
		VALUES ('quiet', 'x', 'n', '{}', 'waiting', nextval('fila.job_ord'), clock_timestamp())`)
	require.NoError(t, err)
	select {
	case j := <-got:
		require.NotNil(t, j)
		require.Equal(t, "x", j.ID)
	case <-time.After(10 * time.Second):
		t.Fatal("the re-check did not find the job")
	}
}
