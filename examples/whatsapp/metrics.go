package main

import (
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/fila-go/fila"
	filaprom "github.com/fila-go/fila/prometheus"
)

// webhookMetrics are the webhook's own Prometheus series, next to fila's:
// answers by status code (a jump in 401/403 means a wrong app secret or a
// probe), time to answer, and items by outcome (duplicates are Meta's
// retries).
type webhookMetrics struct {
	requests *prometheus.CounterVec
	duration prometheus.Histogram
	items    *prometheus.CounterVec
}

func newWebhookMetrics() *webhookMetrics {
	return &webhookMetrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "whatsapp_webhook_requests_total", Help: "Webhook POSTs answered, by HTTP status code.",
		}, []string{"code"}),
		duration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "whatsapp_webhook_duration_seconds", Help: "Time to check, enqueue and answer a webhook POST.",
			Buckets: prometheus.ExponentialBuckets(0.0001, 2, 16),
		}),
		items: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "whatsapp_webhook_items_total",
			Help: "Messages and statuses of accepted webhooks, by outcome: enqueued, duplicate (a redelivery) or invalid (skipped).",
		}, []string{"kind", "outcome"}),
	}
}

func (m *webhookMetrics) observe(code int, d time.Duration) {
	m.requests.WithLabelValues(strconv.Itoa(code)).Inc()
	m.duration.Observe(d.Seconds())
}

func (m *webhookMetrics) count(r enqueueResult) {
	m.items.WithLabelValues("message", "enqueued").Add(float64(r.messages))
	m.items.WithLabelValues("status", "enqueued").Add(float64(r.statuses))
	m.items.WithLabelValues("any", "duplicate").Add(float64(r.duplicates))
	m.items.WithLabelValues("any", "invalid").Add(float64(r.invalid))
}

// prometheusHandler serves GET /metrics: fila's queue and worker series,
// the webhook's series, and the Go runtime's. A queue whose backend does
// not answer is reported as a scrape error while the other series are
// still served.
func prometheusHandler(qs []*fila.Queue, ws []*fila.Worker, wm *webhookMetrics, log *slog.Logger) http.Handler {
	reg := prometheus.NewRegistry()
	reg.MustRegister(
		filaprom.NewCollector(qs, ws),
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	if wm != nil {
		reg.MustRegister(wm.requests, wm.duration, wm.items)
	}
	return promhttp.HandlerFor(reg, promhttp.HandlerOpts{
		ErrorHandling: promhttp.ContinueOnError,
		ErrorLog:      slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	})
}
