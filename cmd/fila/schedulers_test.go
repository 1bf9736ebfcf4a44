package main

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/fila-go/fila"
)

func TestSchedulersCommands(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	out := fila.NewQueue(f.be, "outbound")
	_, err := out.UpsertScheduler(f.ctx, "digest", fila.Schedule{Pattern: "0 9 * * *", TZ: "Europe/Paris"}, "digest", nil, nil)
	require.NoError(t, err)
	_, err = out.UpsertScheduler(f.ctx, "ping", fila.Schedule{Every: time.Minute, Limit: 10}, "ping", nil, nil)
	require.NoError(t, err)

	table := f.ok("schedulers", "outbound")
	golden(t, "schedulers", table)

	var rows []schedulerRow
	require.NoError(t, json.Unmarshal([]byte(f.ok("schedulers", "outbound", "-json")), &rows))
	require.Len(t, rows, 2)
	require.Equal(t, "digest", rows[0].ID)
	require.Equal(t, "0 9 * * *", rows[0].Pattern)
	require.Equal(t, time.Date(2026, 1, 2, 8, 0, 0, 0, time.UTC), rows[0].Next, "09:00 in Paris, by the backend's clock")
	require.Equal(t, "1m0s", rows[1].Every)
	require.Equal(t, fila.State("delayed"), rows[1].NextJobState)

	require.Contains(t, f.ok("schedulers", "inbound"), "no schedulers in inbound")

	require.Equal(t, "removed scheduler ping from outbound\n", f.ok("scheduler", "remove", "outbound", "ping"))
	_, errOut, code := f.fila("scheduler", "remove", "outbound", "ping")
	require.Equal(t, exitFail, code)
	require.Contains(t, errOut, "scheduler not found")
	_, errOut, code = f.fila("scheduler", "delete", "outbound", "digest")
	require.Equal(t, exitUsage, code)
	require.Contains(t, errOut, "unknown scheduler action")
	_, errOut, code = f.fila("schedulers", "outbond")
	require.Equal(t, exitFail, code)
	require.Contains(t, errOut, `no queue "outbond"`)
}
