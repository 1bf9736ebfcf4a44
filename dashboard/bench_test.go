package dashboard

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/fila-go/fila"
	"github.com/fila-go/fila/backend"
	redisbackend "github.com/fila-go/fila/backend/redis"
	"github.com/fila-go/fila/internal/redistest"
)

// countingBackend counts the backend calls the dashboard makes.
type countingBackend struct {
	backend.Backend
	calls atomic.Int64
}

func (c *countingBackend) QueueCounts(ctx context.Context, p *backend.QueueParams) (*backend.Counts, error) {
	c.calls.Add(1)
	return c.Backend.QueueCounts(ctx, p)
}

func (c *countingBackend) QueueInfo(ctx context.Context, p *backend.QueueParams) (*backend.QueueInfo, error) {
	c.calls.Add(1)
	return c.Backend.QueueInfo(ctx, p)
}

func (c *countingBackend) QueueMetrics(ctx context.Context, p *backend.QueueMetricsParams) (*backend.Metrics, error) {
	c.calls.Add(1)
	return c.Backend.QueueMetrics(ctx, p)
}

func (c *countingBackend) JobList(ctx context.Context, p *backend.JobListParams) ([]*backend.Job, error) {
	c.calls.Add(1)
	return c.Backend.JobList(ctx, p)
}

func (c *countingBackend) JobGet(ctx context.Context, p *backend.JobGetParams) (*backend.Job, error) {
	c.calls.Add(1)
	return c.Backend.JobGet(ctx, p)
}

func (c *countingBackend) JobLogs(ctx context.Context, p *backend.JobLogsParams) ([]string, int, error) {
	c.calls.Add(1)
	return c.Backend.JobLogs(ctx, p)
}

// benchJobs is the total number of jobs of BenchmarkDashboardRedis:
// FILA_DASHBOARD_BENCH_JOBS, default 1,000,000.
func benchJobs(b *testing.B) int {
	n := 1_000_000
	if v := os.Getenv("FILA_DASHBOARD_BENCH_JOBS"); v != "" {
		var err error
		n, err = strconv.Atoi(v)
		require.NoError(b, err)
	}
	return n
}

// BenchmarkDashboardRedis renders the dashboard over a real redis-server
// holding 20 queues and over a million jobs: "big-waiting" and
// "big-delayed" hold 500,100 each in one state (so a page at offset
// 500,000 exists), the 18 others at least 10,000 each, waiting. It reports the
// server time of one page (ns/op) and the backend calls it made.
//
//	FILA_REQUIRE_REDIS=1 go test -run '^$' -bench BenchmarkDashboardRedis -benchtime 20x ./dashboard/
func BenchmarkDashboardRedis(b *testing.B) {
	total := benchJobs(b)
	srv := redistest.Start(b)
	rdb := redis.NewClient(&redis.Options{Addr: srv.Addr, PoolSize: 32})
	b.Cleanup(func() { _ = rdb.Close() })
	be := &countingBackend{Backend: redisbackend.New(rdb)}
	b.Cleanup(func() { _ = be.Close() })
	ctx := context.Background()

	big := total * 51 / 100 / 2 // per big queue
	big = max(big, 500_100)
	small := max(10_000, (total-2*big)/18)
	load := func(q *fila.Queue, n int, delay time.Duration) {
		batch := make([]fila.BulkJob, 0, 1000)
		for i := 0; i < n; i++ {
			batch = append(batch, fila.BulkJob{Name: "send", Data: []byte(`{"to":"+15550000000","text":"hello"}`), Options: &fila.JobOptions{Delay: delay}})
			if len(batch) == cap(batch) || i == n-1 {
				_, err := q.AddBulk(ctx, batch)
				require.NoError(b, err)
				batch = batch[:0]
			}
		}
	}
	start := time.Now()
	queues := []*fila.Queue{fila.NewQueue(be, "big-waiting"), fila.NewQueue(be, "big-delayed")}
	load(queues[0], big, 0)
	load(queues[1], big, time.Hour)
	for i := range 18 {
		q := fila.NewQueue(be, fmt.Sprintf("small-%02d", i))
		load(q, small, 0)
		queues = append(queues, q)
	}
	var jobs int64
	for _, q := range queues {
		c, err := q.Counts(ctx)
		require.NoError(b, err)
		jobs += c.Waiting + c.Delayed
	}
	b.Logf("loaded %d jobs in %d queues in %s", jobs, len(queues), time.Since(start).Round(time.Second))

	h, err := New(queues, Options{BasePath: "/", Timeout: time.Minute})
	require.NoError(b, err)
	page := func(b *testing.B, path string, fresh bool) {
		b.Helper()
		be.calls.Store(0)
		b.ResetTimer()
		for range b.N {
			if fresh {
				h.snap.invalidate() // every page reads the backend: no help from the shared snapshot
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
			if rec.Code != http.StatusOK {
				b.Fatalf("%s: %d %s", path, rec.Code, rec.Body.String())
			}
		}
		b.StopTimer()
		b.ReportMetric(float64(be.calls.Load())/float64(b.N), "calls/op")
	}
	b.Run("overview", func(b *testing.B) { page(b, "/", true) })
	b.Run("overview-shared-snapshot", func(b *testing.B) { page(b, "/", false) })
	b.Run("waiting-offset-500000", func(b *testing.B) { page(b, "/queues/big-waiting?state=waiting&offset=500000", true) })
	b.Run("delayed-offset-500000", func(b *testing.B) { page(b, "/queues/big-delayed?state=delayed&offset=500000", true) })
	b.Run("waiting-offset-0", func(b *testing.B) { page(b, "/queues/big-waiting?state=waiting", true) })
}
