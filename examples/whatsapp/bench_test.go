package main

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"
	"time"

	"github.com/fila-go/fila/examples/whatsapp/cloudapi"
	"github.com/fila-go/fila/internal/redistest"
)

// BenchmarkWebhook measures the webhook path alone - read the body, check
// the signature, parse, enqueue with deduplication, answer 200 - on a web
// role app (no workers competing for the CPU), and reports the latency
// percentiles of one POST. The targets: p99 under 5 ms on the memory
// backend, under 10 ms on a local Redis.
//
//	go test -run '^$' -bench Webhook -benchtime 20000x ./examples/whatsapp/
func BenchmarkWebhook(b *testing.B) {
	for _, be := range []string{"memory", "redis"} {
		b.Run(be, func(b *testing.B) { benchmarkWebhook(b, be) })
	}
}

func benchmarkWebhook(b *testing.B, be string) {
	cfg := testConfig()
	cfg.Role = RoleWeb
	cfg.APIURL = "http://127.0.0.1:1"
	if be == "redis" {
		cfg.Storage.RedisURL = "redis://" + redistest.Addr(b)
	}
	app, err := newApp(context.Background(), cfg, slog.New(slog.DiscardHandler), nil)
	if err != nil {
		b.Fatal(err)
	}
	defer app.Close()
	h := app.Handler()
	run := time.Now().UnixNano()
	bodies := make([][]byte, b.N)
	for i := range bodies {
		bodies[i] = mustJSON(b, cloudapi.TextNotification(inbound(fmt.Sprintf("wamid.bench.%d.%d", run, i)), "What are your opening hours?"))
	}
	lat := make([]time.Duration, b.N)
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		req := httptest.NewRequest(http.MethodPost, "/webhook", bytes.NewReader(bodies[i]))
		req.Header.Set(cloudapi.SignatureHeader, cloudapi.Sign(bodies[i], cfg.AppSecret))
		rec := httptest.NewRecorder()
		start := time.Now()
		h.ServeHTTP(rec, req)
		lat[i] = time.Since(start)
		if rec.Code != http.StatusOK {
			b.Fatalf("POST %d: HTTP %d", i, rec.Code)
		}
	}
	b.StopTimer()
	slices.Sort(lat)
	pct := func(q float64) float64 {
		return float64(lat[min(int(q*float64(len(lat))), len(lat)-1)]) / float64(time.Millisecond)
	}
	b.ReportMetric(pct(0.50), "p50-ms")
	b.ReportMetric(pct(0.99), "p99-ms")
	b.ReportMetric(float64(lat[len(lat)-1])/float64(time.Millisecond), "max-ms")
}
