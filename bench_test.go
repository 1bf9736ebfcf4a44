package fila_test

import (
	"context"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/fila-go/fila"
	"github.com/fila-go/fila/backend"
	"github.com/fila-go/fila/backend/memory"
	redisbackend "github.com/fila-go/fila/backend/redis"
	"github.com/fila-go/fila/internal/redistest"
)

// benchPayload is a 100-byte JSON payload.
var benchPayload = []byte(`{"p":"` + strings.Repeat("x", 92) + `"}`)

// benchProcess measures one processed job (claim, run a no-op handler,
// complete) through a Worker: b.N jobs are added first, untimed.
func benchProcess(b *testing.B, be backend.Backend, wo fila.WorkerOptions) {
	ctx := context.Background()
	name := "bench-process-" + strconv.FormatInt(time.Now().UnixNano(), 36)
	q := fila.NewQueue(be, name)
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
	defer func() { _ = q.Obliterate(ctx, true) }()
	wo.StalledInterval = time.Hour
	wo.OnFinished = func(*fila.Job, error) {
		if done.Add(1) == int64(b.N) {
			close(all)
		}
	}
	w := newWorker(b, be, name, func(context.Context, *fila.Job) (any, error) { return nil, nil }, wo)
	b.ReportAllocs()
	b.ResetTimer()
	runErr := make(chan error, 1)
	go func() { runErr <- w.Run(ctx) }()
	<-all
	b.StopTimer()
	if err := w.Close(ctx); err != nil {
		b.Fatal(err)
	}
	if err := <-runErr; err != nil {
		b.Fatal(err)
	}
}

// benchWorkers are the worker shapes benchmarked: one handler claiming no
// job ahead, one with the default Prefetch (1), a hundred.
var benchWorkers = []struct {
	name string
	opts fila.WorkerOptions
}{
	{"concurrency=1,prefetch=none", fila.WorkerOptions{Concurrency: 1, Prefetch: fila.NoPrefetch}},
	{"concurrency=1,prefetch=1", fila.WorkerOptions{Concurrency: 1, Prefetch: 1}},
	{"concurrency=100", fila.WorkerOptions{Concurrency: 100}},
}

func BenchmarkWorkerMemory(b *testing.B) {
	for _, w := range benchWorkers {
		b.Run(w.name, func(b *testing.B) {
			be := memory.New()
			defer be.Close()
			benchProcess(b, be, w.opts)
		})
	}
}

func BenchmarkWorkerRedis(b *testing.B) {
	addr := redistest.Addr(b)
	for _, w := range benchWorkers {
		b.Run(w.name, func(b *testing.B) {
			rdb := redis.NewClient(&redis.Options{Addr: addr, Protocol: 2})
			defer rdb.Close()
			be := redisbackend.New(rdb)
			defer be.Close()
			benchProcess(b, be, w.opts)
		})
	}
}
