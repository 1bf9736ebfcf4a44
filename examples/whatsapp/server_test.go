package main

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/fila-go/fila"
	"github.com/fila-go/fila/examples/whatsapp/fakegraph"
)

func TestHealthz(t *testing.T) {
	t.Parallel()
	cfg := testConfig()
	cfg.APIURL = "http://127.0.0.1:1"
	app, err := newApp(context.Background(), cfg, slog.New(slog.DiscardHandler), nil)
	require.NoError(t, err)
	health := func() (int, map[string]string) {
		rec := httptest.NewRecorder()
		app.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/healthz", nil))
		var body map[string]string
		require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &body))
		return rec.Code, body
	}

	code, body := health()
	require.Equal(t, http.StatusOK, code)
	require.Equal(t, map[string]string{"status": "ok", "backend": "memory", "role": "all"}, body)

	require.NoError(t, app.Close())
	code, body = health()
	require.Equal(t, http.StatusServiceUnavailable, code)
	require.Equal(t, "unavailable", body["status"])
	require.NotEmpty(t, body["error"])
}

func TestMetricsEndpoints(t *testing.T) {
	t.Parallel()
	b := setup(t, "memory")
	b.postText("wamid.metrics.1", "hi")
	b.waitAccepted(fakegraph.Send, 1)
	b.waitIdle()

	t.Run("the JSON report covers the five queues and this process's workers", func(t *testing.T) {
		code, body := b.get("/api/queue/metrics")
		require.Equal(t, http.StatusOK, code)
		var rep fila.MetricsReport
		require.NoError(t, json.Unmarshal(body, &rep))
		var queues, workers []string
		for _, q := range rep.Queues {
			queues = append(queues, q.Queue)
		}
		for _, w := range rep.Workers {
			workers = append(workers, w.Queue)
		}
		want := []string{queueInbound, queueMedia, queueReply, queueOutbound, queueStatus}
		require.Equal(t, want, queues)
		require.Equal(t, want, workers)
		for _, q := range rep.Queues {
			if q.Queue == queueOutbound {
				require.Equal(t, int64(2), q.Counts.Completed, "a read receipt and a reply")
			}
		}
	})

	t.Run("Prometheus gets fila's series and the webhook's", func(t *testing.T) {
		code, body := b.get("/metrics")
		require.Equal(t, http.StatusOK, code)
		for _, series := range []string{
			`fila_queue_jobs{queue="outbound",state="completed"} 2`,
			`fila_jobs_completed_total{queue="inbound",worker=`,
			`whatsapp_webhook_requests_total{code="200"} 1`,
			`whatsapp_webhook_items_total{kind="message",outcome="enqueued"} 1`,
			`whatsapp_webhook_duration_seconds_count 1`,
			`go_goroutines`,
		} {
			require.Contains(t, string(body), series)
		}
	})
}

func TestWorkerRoleServesNoWebhook(t *testing.T) {
	t.Parallel()
	b := setup(t, "memory", func(c *Config) { c.Role = RoleWorker })
	require.Equal(t, http.StatusNotFound, b.post([]byte(`{}`)))
	code, _ := b.get("/healthz")
	require.Equal(t, http.StatusOK, code)
	code, _ = b.get("/metrics")
	require.Equal(t, http.StatusOK, code)
}
