package fila_test

import (
	"context"
	"testing"

	"github.com/fila-go/fila"
	"github.com/fila-go/fila/backend/memory"
)

// BenchmarkAddMeta: allocations of Queue.Add (memory backend) and of a
// claimed job's read, without metadata and with three entries.
func BenchmarkAddMeta(b *testing.B) {
	three := map[string]string{
		"traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
		"tracestate":  "rojo=00f067aa0ba902b7",
		"tenant":      "acme",
	}
	for _, c := range []struct {
		name string
		meta map[string]string
	}{{"meta=none", nil}, {"meta=3", three}} {
		b.Run(c.name, func(b *testing.B) {
			be := memory.New()
			defer be.Close()
			q := fila.NewQueue(be, "bench-add-meta")
			opts := &fila.JobOptions{Attempts: 3, Meta: c.meta}
			ctx := context.Background()
			b.ReportAllocs()
			for b.Loop() {
				if _, err := q.Add(ctx, "send", benchPayload, opts); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
