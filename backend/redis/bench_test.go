package redisbackend

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/fila-go/fila/backend"
	"github.com/fila-go/fila/internal/redistest"
)

// Hot-path benchmarks. The codec ones run anywhere; the Redis ones start a
// private redis-server (skipped without one unless FILA_REQUIRE_REDIS=1).

var benchOpts = backend.JobOptions{Attempts: 3, Backoff: backend.Backoff{Type: backend.BackoffExponential, Delay: time.Second},
	RemoveOnComplete: backend.Retention{KeepLast: 1000}}

func benchPayload() []byte { return []byte(`{"p":"` + string(make100()) + `"}`) }

func make100() []byte {
	b := make([]byte, 92)
	for i := range b {
		b[i] = 'x'
	}
	return b
}

func BenchmarkEncodeBody(b *testing.B) {
	data := benchPayload()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := encodeBody("send", data, &benchOpts); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecodeJob(b *testing.B) {
	body, _ := encodeBody("send", benchPayload(), &benchOpts)
	rec, state := "1764000000000:0:0:"+body, "A 1 0 0 1764000000001 0 0 1764000030001 a1b2c3d4:17"
	reply := "J5:12345" + strconv.Itoa(len(rec)) + ":" + rec + strconv.Itoa(len(state)) + ":" + state + "0:0:0:0:"
	b.ReportAllocs()
	for b.Loop() {
		if _, err := decodeJob(reply); err != nil {
			b.Fatal(err)
		}
	}
}

func benchBackend(b *testing.B) *Backend {
	b.Helper()
	rdb := redis.NewClient(&redis.Options{Addr: redistest.Addr(b), Protocol: 2})
	be := New(rdb)
	b.Cleanup(func() { be.Close(); rdb.Close() })
	return be
}

// BenchmarkJobAdd: one job per call, sequential (a round trip each).
func BenchmarkJobAdd(b *testing.B) { benchJobAdd(b, context.Background()) }

// BenchmarkJobAddCancellable is BenchmarkJobAdd with a context that can end
// (an HTTP request's), which the backend must watch while the call waits.
func BenchmarkJobAddCancellable(b *testing.B) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	benchJobAdd(b, ctx)
}

func benchJobAdd(b *testing.B, ctx context.Context) {
	be := benchBackend(b)
	q := "bench-add-" + strconv.FormatInt(time.Now().UnixNano(), 36)
	p := &backend.JobAddParams{Queue: q, Jobs: []backend.JobAddItem{{Name: "send", Data: benchPayload(), Options: benchOpts}}}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := be.JobAdd(ctx, p); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkClaimComplete: the busy-worker round trip, completing one job and
// claiming the next in the same script call.
func BenchmarkClaimComplete(b *testing.B) { benchClaimComplete(b, context.Background()) }

// BenchmarkClaimCompleteCancellable is BenchmarkClaimComplete with a context
// that can end.
func BenchmarkClaimCompleteCancellable(b *testing.B) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	benchClaimComplete(b, ctx)
}

func benchClaimComplete(b *testing.B, ctx context.Context) {
	be := benchBackend(b)
	q := "bench-cc-" + strconv.FormatInt(time.Now().UnixNano(), 36)
	items := make([]backend.JobAddItem, 1000)
	for i := range items {
		items[i] = backend.JobAddItem{Name: "send", Data: benchPayload(), Options: benchOpts}
	}
	start := func() (*backend.Job, string) {
		if _, err := be.JobAdd(ctx, &backend.JobAddParams{Queue: q, Jobs: items}); err != nil {
			b.Fatal(err)
		}
		res, err := be.JobClaim(ctx, &backend.JobClaimParams{Queue: q, Token: "t0", LockDuration: time.Minute})
		if err != nil || res.Job == nil {
			b.Fatal("no job to start with", err)
		}
		return res.Job, "t0"
	}
	job, tok := start()
	next := &backend.JobClaimParams{Queue: q, LockDuration: time.Minute}
	p := &backend.JobCompleteParams{Queue: q, Retention: backend.Retention{Remove: true}, Next: next}
	b.ReportAllocs()
	n := 0
	for b.Loop() {
		n++
		next.Token = "t" + strconv.Itoa(n)
		p.ID, p.Token = job.ID, tok
		res, err := be.JobComplete(ctx, p)
		if err != nil {
			b.Fatal(err)
		}
		if res.Job == nil { // the queue ran dry: refill, untimed
			b.StopTimer()
			job, tok = start()
			b.StartTimer()
			continue
		}
		job, tok = res.Job, next.Token
	}
}
