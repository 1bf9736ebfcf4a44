package otelfila_test

import (
	"context"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/fila-go/fila"
	"github.com/fila-go/fila/backend"
	"github.com/fila-go/fila/backend/memory"
	redisbackend "github.com/fila-go/fila/backend/redis"
	"github.com/fila-go/fila/internal/redistest"
	"github.com/fila-go/fila/otelfila"
)

// The overhead of the instrumentation: the same jobs added and processed
// (a no-op handler, concurrency 50) with and without otelfila, its spans
// sampled and batched to a discarding exporter and its metrics aggregated
// by the SDK (a ManualReader nobody collects from), as in production.

var benchPayload = []byte(`{"p":"` + strings.Repeat("x", 92) + `"}`)

// benchTelemetry returns a Telemetry on SDK providers, shut down at the end.
func benchTelemetry(b *testing.B) *otelfila.Telemetry {
	tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(tracetest.NewNoopExporter()))
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(sdkmetric.NewManualReader()))
	b.Cleanup(func() { _ = tp.Shutdown(context.Background()); _ = mp.Shutdown(context.Background()) })
	tel, err := otelfila.New(otelfila.Config{TracerProvider: tp, MeterProvider: mp})
	if err != nil {
		b.Fatal(err)
	}
	return tel
}

// benchModes: without otelfila, and with it.
var benchModes = []string{"plain", "otel"}

// benchWorker adds b.N jobs (untimed, inside a span when traced) and
// measures processing them with concurrency 50.
func benchWorker(b *testing.B, be backend.Backend, mode string) {
	ctx := context.Background()
	name := "bench-otel-" + strconv.FormatInt(time.Now().UnixNano(), 36)
	var qo fila.QueueOptions
	var wo fila.WorkerOptions
	if mode == "otel" {
		tel := benchTelemetry(b)
		qo.AddHooks = []fila.AddHook{tel.AddHook}
		wo.Middleware = []fila.Middleware{tel.Middleware}
	}
	q := fila.NewQueue(be, name, qo)
	defer func() { _ = q.Obliterate(ctx, true) }()
	opts := &fila.JobOptions{RemoveOnComplete: fila.RemoveJob}
	for i := 0; i < b.N; i += 1000 {
		chunk := make([]fila.BulkJob, min(1000, b.N-i))
		for k := range chunk {
			chunk[k] = fila.BulkJob{Name: "job", Data: benchPayload, Options: opts}
		}
		if _, err := q.AddBulk(ctx, chunk); err != nil {
			b.Fatal(err)
		}
	}
	var done atomic.Int64
	all := make(chan struct{})
	wo.Concurrency, wo.StalledInterval = 50, time.Hour
	wo.OnFinished = func(*fila.Job, error) {
		if done.Add(1) == int64(b.N) {
			close(all)
		}
	}
	w, err := fila.NewWorker(be, name, func(context.Context, *fila.Job) (any, error) { return nil, nil }, wo)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	runErr := make(chan error, 1)
	go func() { runErr <- w.Run(ctx) }()
	<-all
	b.StopTimer()
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "jobs/s")
	if err := w.Close(ctx); err != nil {
		b.Fatal(err)
	}
	if err := <-runErr; err != nil {
		b.Fatal(err)
	}
}

func BenchmarkWorkerMemory(b *testing.B) {
	for _, mode := range benchModes {
		b.Run(mode, func(b *testing.B) {
			be := memory.New()
			defer be.Close()
			benchWorker(b, be, mode)
		})
	}
}

// BenchmarkWorkerRedis needs redis-server (skipped without it unless
// FILA_REQUIRE_REDIS=1).
func BenchmarkWorkerRedis(b *testing.B) {
	addr := redistest.Addr(b)
	for _, mode := range benchModes {
		b.Run(mode, func(b *testing.B) {
			rdb := redis.NewClient(&redis.Options{Addr: addr, Protocol: 2})
			defer rdb.Close()
			be := redisbackend.New(rdb)
			defer be.Close()
			benchWorker(b, be, mode)
		})
	}
}

// BenchmarkAdd: one Queue.Add (memory backend) inside a span, with and
// without the AddHook.
func BenchmarkAdd(b *testing.B) {
	for _, mode := range benchModes {
		b.Run(mode, func(b *testing.B) {
			be := memory.New()
			defer be.Close()
			var qo fila.QueueOptions
			if mode == "otel" {
				qo.AddHooks = []fila.AddHook{benchTelemetry(b).AddHook}
			}
			q := fila.NewQueue(be, "bench-add", qo)
			ctx := context.Background()
			opts := &fila.JobOptions{RemoveOnComplete: fila.RemoveJob}
			b.ReportAllocs()
			for b.Loop() {
				if _, err := q.Add(ctx, "job", benchPayload, opts); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
