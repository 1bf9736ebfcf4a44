package postgres_test

import (
	"context"
	"os"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/fila-go/fila/backend"
	"github.com/fila-go/fila/backend/backendtest"
	"github.com/fila-go/fila/backend/postgres"
	"github.com/fila-go/fila/internal/pgtest"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

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
