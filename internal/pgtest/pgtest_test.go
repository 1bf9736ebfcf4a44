package pgtest

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"
)

func TestMain(m *testing.M) { os.Exit(Main(m)) }

func TestDBIsFreshPerTest(t *testing.T) {
	ctx := context.Background()
	a, b := DB(t), DB(t)
	require.NotEqual(t, a, b)
	c, err := pgx.Connect(ctx, a)
	require.NoError(t, err)
	defer c.Close(ctx)
	_, err = c.Exec(ctx, "CREATE TABLE only_here (x int)")
	require.NoError(t, err)
	d, err := pgx.Connect(ctx, b)
	require.NoError(t, err)
	defer d.Close(ctx)
	var n int
	require.NoError(t, d.QueryRow(ctx, "SELECT count(*) FROM pg_tables WHERE tablename = 'only_here'").Scan(&n))
	require.Zero(t, n, "a table of one test's database shows in another's")
	var fsync string
	require.NoError(t, d.QueryRow(ctx, "SHOW fsync").Scan(&fsync))
	require.Equal(t, "off", fsync)
}

func TestStartStopRestart(t *testing.T) {
	ctx := context.Background()
	s := Start(t)
	c, err := pgx.Connect(ctx, s.URL("postgres"))
	require.NoError(t, err)
	_, err = c.Exec(ctx, "CREATE TABLE kept (x int); INSERT INTO kept VALUES (7)")
	require.NoError(t, err)
	c.Close(ctx)

	s.Stop(true)
	cctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	_, err = pgx.Connect(cctx, s.URL("postgres"))
	cancel()
	require.Error(t, err, "a stopped server still answers")

	require.NoError(t, s.Restart())
	c, err = pgx.Connect(ctx, s.URL("postgres"))
	require.NoError(t, err)
	defer c.Close(ctx)
	var x int
	require.NoError(t, c.QueryRow(ctx, "SELECT x FROM kept").Scan(&x))
	require.Equal(t, 7, x, "data survives a fast restart")
}
