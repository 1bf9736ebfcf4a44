package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/fila-go/fila"
	"github.com/fila-go/fila/backend/postgres"
	"github.com/fila-go/fila/internal/pgtest"
)

func TestPostgres(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	url := pgtest.Start(t).URL("postgres")
	env := func(k string) string {
		if k == envPostgresURL {
			return url
		}
		return ""
	}

	_, errOut, code := filaWith(noEnv, "-postgres", url, "stats")
	require.Equal(t, exitFail, code)
	require.Contains(t, errOut, "fila migrate", "an unmigrated database names the fix")

	out, errOut, code := filaWith(noEnv, "migrate", "-postgres", url)
	require.Equal(t, exitOK, code, errOut)
	require.Contains(t, out, fmt.Sprintf(`schema "fila" migrated to version %d`, postgres.SchemaVersion()))
	out, errOut, code = filaWith(env, "migrate")
	require.Equal(t, exitOK, code, errOut)
	require.Contains(t, out, "up to date")

	_, errOut, code = filaWith(noEnv, "migrate", "-redis", "redis://127.0.0.1:1")
	require.Equal(t, exitFail, code)
	require.NotEmpty(t, errOut)
	_, errOut, code = filaWith(noEnv, "-redis", "redis://127.0.0.1:1", "-postgres", url, "stats")
	require.Equal(t, exitFail, code)
	require.Contains(t, errOut, "not both")

	pool, err := pgxpool.New(ctx, url)
	require.NoError(t, err)
	defer pool.Close()
	be := postgres.New(pool, postgres.Options{})
	defer be.Close()
	q := fila.NewQueue(be, "outbound")
	_, err = q.Add(ctx, "send", []byte(`{"to":"+15550001"}`), nil)
	require.NoError(t, err)
	_, err = q.Add(ctx, "later", nil, &fila.JobOptions{Delay: 3600e9})
	require.NoError(t, err)

	out, errOut, code = filaWith(env, "stats", "-json")
	require.Equal(t, exitOK, code, errOut)
	var rows []queueStats
	require.NoError(t, json.Unmarshal([]byte(out), &rows))
	require.Len(t, rows, 1)
	require.Equal(t, "outbound", rows[0].Queue)
	require.Equal(t, fila.Counts{Waiting: 1, Delayed: 1}, rows[0].Counts)

	out, errOut, code = filaWith(env, "list", "outbound", "waiting")
	require.Equal(t, exitOK, code, errOut)
	require.Contains(t, out, "send")
	_, errOut, code = filaWith(env, "pause", "outbound")
	require.Equal(t, exitOK, code, errOut)
	paused, err := q.IsPaused(ctx)
	require.NoError(t, err)
	require.True(t, paused)

	d := serveDashboard(t, servingHome, []string{"dashboard", "-addr", "127.0.0.1:0"}, env, openStore)
	status, body := getPage(t, d.url+"queues/outbound")
	require.Equal(t, http.StatusOK, status, body)
	require.Contains(t, body, "outbound")
	require.Equal(t, exitOK, d.stop(t), d.errOut.String())
}
