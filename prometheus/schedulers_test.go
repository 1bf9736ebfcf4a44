package filaprom_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/stretchr/testify/require"

	"github.com/fila-go/fila"
	"github.com/fila-go/fila/backend/memory"
	filaprom "github.com/fila-go/fila/prometheus"
)

func TestCollectorSchedulers(t *testing.T) {
	t.Parallel()
	var offset atomic.Int64
	be := memory.New(memory.Options{Now: func() time.Time { return time.Now().Add(time.Duration(offset.Load())) }})
	t.Cleanup(func() { _ = be.Close() })
	ctx := context.Background()
	q := fila.NewQueue(be, "reminders")
	for _, id := range []string{"a", "b"} {
		_, err := q.UpsertScheduler(ctx, id, fila.Schedule{Every: time.Minute}, "remind", nil, nil)
		require.NoError(t, err)
	}
	s, err := q.Scheduler(ctx, "a")
	require.NoError(t, err)
	// No worker runs; the backend's clock moves 90s past the pending tick.
	offset.Store(int64(time.Until(s.Next) + 90*time.Second))

	reg := prometheus.NewRegistry()
	reg.MustRegister(filaprom.NewCollector([]*fila.Queue{q}, nil))
	status, fams := scrape(t, reg, promhttp.HandlerOpts{})
	require.Equal(t, 200, status)
	require.Equal(t, 2.0, gauge(t, fams, "fila_queue_schedulers", map[string]string{"queue": "reminders"}))
	lag := gauge(t, fams, "fila_scheduler_next_job_lag_seconds", map[string]string{"queue": "reminders", "scheduler": "a"})
	require.InDelta(t, 90, lag, 2)

	m, err := q.Metrics(ctx, 1)
	require.NoError(t, err)
	require.Equal(t, 2, m.Schedulers)
	require.InDelta(t, 90000, float64(m.SchedulerLagMS["b"]), 2000)
}
