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

// benchMeta is a typical traced job's metadata: three entries.
var benchMeta = map[string]string{
	"traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
	"tracestate":  "rojo=00f067aa0ba902b7",
	"tenant":      "acme",
}

// metaCases are the metadata the Meta benchmarks compare: none, three entries.
var metaCases = []struct {
	name string
	meta map[string]string
}{{"meta=none", nil}, {"meta=3", benchMeta}}

// BenchmarkMetaCodec: the cost of metadata in the record's encode and
// decode, and the record's stored bytes (B-record/job).
func BenchmarkMetaCodec(b *testing.B) {
	for _, c := range metaCases {
		o := benchOpts
		o.Meta = c.meta
		body, err := encodeBody("send", benchPayload(), &o)
		if err != nil {
			b.Fatal(err)
		}
		b.Run("encode/"+c.name, func(b *testing.B) {
			data := benchPayload()
			b.ReportAllocs()
			for b.Loop() {
				if _, err := encodeBody("send", data, &o); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(len(body)), "B-record/job")
		})
		b.Run("decode/"+c.name, func(b *testing.B) {
			rec, state := "1764000000000:0:0:"+body, "A 1 0 0 1764000000001 0 0 1764000030001 a1b2c3d4:17"
			reply := "J5:12345" + strconv.Itoa(len(rec)) + ":" + rec + strconv.Itoa(len(state)) + ":" + state + "0:0:0:0:"
			b.ReportAllocs()
			for b.Loop() {
				if _, err := decodeJob(reply); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkMetaJobBytes reports the Redis memory (used_memory) per waiting
// job of 100 bytes, without metadata and with three entries.
func BenchmarkMetaJobBytes(b *testing.B) {
	for _, c := range metaCases {
		b.Run(c.name, func(b *testing.B) {
			rdb := redis.NewClient(&redis.Options{Addr: redistest.Addr(b), Protocol: 2})
			be := New(rdb)
			b.Cleanup(func() { be.Close(); rdb.Close() })
			ctx := context.Background()
			const jobs = 20_000
			o := benchOpts
			o.Meta = c.meta
			items := make([]backend.JobAddItem, jobs)
			for i := range items {
				items[i] = backend.JobAddItem{Name: "send", Data: benchPayload(), Options: o}
			}
			var perJob float64
			for b.Loop() {
				q := "bench-meta-" + strconv.FormatInt(time.Now().UnixNano(), 36)
				if _, err := be.JobAdd(ctx, &backend.JobAddParams{Queue: q, Jobs: items[:1]}); err != nil {
					b.Fatal(err)
				}
				m0 := usedMemory(b, rdb)
				if _, err := be.JobAdd(ctx, &backend.JobAddParams{Queue: q, Jobs: items[1:]}); err != nil {
					b.Fatal(err)
				}
				perJob = float64(usedMemory(b, rdb)-m0) / (jobs - 1)
			}
			b.ReportMetric(perJob, "B/job")
		})
	}
}
