package redisbackend

import (
	"context"
	"strconv"
	"strings"
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

func benchBackend(b *testing.B, opts ...Option) *Backend {
	b.Helper()
	rdb := redis.NewClient(&redis.Options{Addr: redistest.Addr(b), Protocol: 2})
	be := New(rdb, opts...)
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

// BenchmarkJobAddBuckets32 is BenchmarkJobAdd with upstash's default job
// buckets: every call passes 31 more keys.
func BenchmarkJobAddBuckets32(b *testing.B) { benchJobAdd(b, context.Background(), WithJobBuckets(32)) }

func benchJobAdd(b *testing.B, ctx context.Context, opts ...Option) {
	be := benchBackend(b, opts...)
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

// BenchmarkClaimCompleteBuckets32 is BenchmarkClaimComplete with 32 job
// buckets.
func BenchmarkClaimCompleteBuckets32(b *testing.B) {
	benchClaimComplete(b, context.Background(), WithJobBuckets(32))
}

func benchClaimComplete(b *testing.B, ctx context.Context, opts ...Option) {
	be := benchBackend(b, opts...)
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

// BenchmarkWaitingJobBytes reports the Redis memory (used_memory) per
// waiting job of 100 bytes, added in bulk, with one job hash and with 32.
func BenchmarkWaitingJobBytes(b *testing.B) {
	for _, n := range []int{1, 32} {
		b.Run("buckets="+strconv.Itoa(n), func(b *testing.B) {
			rdb := redis.NewClient(&redis.Options{Addr: redistest.Addr(b), Protocol: 2})
			be := New(rdb, WithJobBuckets(n))
			b.Cleanup(func() { be.Close(); rdb.Close() })
			ctx := context.Background()
			const jobs = 20_000
			items := make([]backend.JobAddItem, jobs)
			for i := range items {
				items[i] = backend.JobAddItem{Name: "send", Data: benchPayload(), Options: benchOpts}
			}
			var perJob float64
			for b.Loop() {
				q := "bench-mem-" + strconv.FormatInt(time.Now().UnixNano(), 36)
				// The queue's first call creates its meta; the jobs come after.
				if _, err := be.JobAdd(ctx, &backend.JobAddParams{Queue: q, Jobs: items[:1]}); err != nil {
					b.Fatal(err)
				}
				m0 := usedMemory(b, rdb)
				if _, err := be.JobAdd(ctx, &backend.JobAddParams{Queue: q, Jobs: items[1:]}); err != nil {
					b.Fatal(err)
				}
				perJob = float64(usedMemory(b, rdb)-m0) / (jobs - 1)
			} // each round's queue stays: deleting one frees memory in the background during the next
			b.ReportMetric(perJob, "B/job")
		})
	}
}

func usedMemory(b *testing.B, rdb *redis.Client) int64 {
	info, err := rdb.Info(context.Background(), "memory").Result()
	if err != nil {
		b.Fatal(err)
	}
	for _, line := range strings.Split(info, "\r\n") {
		if v, ok := strings.CutPrefix(line, "used_memory:"); ok {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				b.Fatal(err)
			}
			return n
		}
	}
	b.Fatal("no used_memory in INFO")
	return 0
}
