package postgres_test

import (
	"context"
	"fmt"
	"os"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/fila-go/fila/backend"
	"github.com/fila-go/fila/backend/backendtest"
	"github.com/fila-go/fila/backend/postgres"
	"github.com/fila-go/fila/internal/pgtest"
)

// TestMain runs the tests on one private server and checks that no
// goroutine (listener, pool) outlives them.
func TestMain(m *testing.M) {
	code := pgtest.Main(m)
	if code == 0 {
		// pgconn's context watcher may finish a moment after its
		// connection closed.
		if err := goleak.Find(goleak.IgnoreAnyFunction("github.com/jackc/pgx/v5/pgconn/ctxwatch.(*ContextWatcher).Watch.func1")); err != nil {
			fmt.Fprintln(os.Stderr, "leaked goroutines:", err)
			code = 1
		}
	}
	os.Exit(code)
}

// open returns a migrated backend on a fresh database, closed at the end.
func open(t *testing.T, o postgres.Options) *postgres.Backend {
	t.Helper()
	ctx := context.Background()
	pool, err := pgxpool.New(ctx, pgtest.DB(t)+"&pool_max_conns=40")
	require.NoError(t, err)
	be := postgres.New(pool, o)
	_, err = be.Migrate(ctx)
	require.NoError(t, err)
	require.NoError(t, be.Check(ctx))
	t.Cleanup(func() { be.Close(); pool.Close() })
	return be
}

func TestConformance(t *testing.T) {
	be := open(t, postgres.Options{})
	backendtest.Run(t, func(t *testing.T) backend.Backend { return be })
}
