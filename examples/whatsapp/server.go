package main

import (
	"context"
	"encoding/json"
	"net/http"
	"time"

	"github.com/fila-go/fila"
)

// healthTimeout bounds the backend ping of GET /healthz.
const healthTimeout = 2 * time.Second

// routes builds the HTTP routes of the process's role:
//
//	GET  /webhook            Meta's verification handshake   (web role)
//	POST /webhook            Meta's event notifications      (web role)
//	GET  /healthz            200 when the backend answers, 503 otherwise
//	GET  /api/queue/metrics  fila's JSON report of the queues and this process's workers
//	GET  /metrics            Prometheus
//	     /admin/queues/      the queue dashboard, behind basic auth (with DASHBOARD_PASSWORD)
func (a *App) routes() http.Handler {
	mux := http.NewServeMux()
	var wm *webhookMetrics
	if a.cfg.Role.web() {
		wm = newWebhookMetrics()
		wh := &webhook{
			verifyToken: a.cfg.VerifyToken, appSecret: a.cfg.AppSecret, queues: a.queues,
			log: a.log.With("component", "webhook"), metrics: wm,
		}
		mux.HandleFunc("GET /webhook", wh.verify)
		mux.HandleFunc("POST /webhook", wh.receive)
	}
	mux.HandleFunc("GET /healthz", a.health)
	mux.Handle("GET /api/queue/metrics", fila.MetricsHandler(a.queues.all(), a.workers()))
	mux.Handle("GET /metrics", prometheusHandler(a.queues.all(), a.workers(), wm, a.log))
	a.mountDashboard(mux)
	return mux
}

// health answers whether the backend is reachable.
func (a *App) health(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), healthTimeout)
	defer cancel()
	body := map[string]string{"status": "ok", "backend": a.storage.kind, "role": string(a.cfg.Role)}
	code := http.StatusOK
	if err := a.storage.backend.Ping(ctx); err != nil {
		body["status"], body["error"] = "unavailable", err.Error()
		code = http.StatusServiceUnavailable
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(body)
}
