package dashboard

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/fila-go/fila"
	redisbackend "github.com/fila-go/fila/backend/redis"
	"github.com/fila-go/fila/internal/redistest"
)

// BenchmarkDashboardGroupsRedis renders the pages of a queue with groups
// over a real redis-server: queue "tenants" holds
// FILA_DASHBOARD_BENCH_GROUPS groups (default 10,000) of one waiting job
// each, and group "big" of 1,000; queue "plain" holds as many jobs without
// a group. Pages read the shared snapshot, so ns/op is their own reads:
// the queue pages' page of jobs and scheduler list, the groups page's
// group list (every group of the queue is read to pick the busiest), the
// group page's counts and jobs. Queue.Groups and Queue.Jobs alone follow.
//
//	FILA_REQUIRE_REDIS=1 go test -run '^$' -bench BenchmarkDashboardGroupsRedis -benchtime 20x ./dashboard/
func BenchmarkDashboardGroupsRedis(b *testing.B) {
	groups := 10_000
	if v := os.Getenv("FILA_DASHBOARD_BENCH_GROUPS"); v != "" {
		var err error
		groups, err = strconv.Atoi(v)
		require.NoError(b, err)
	}
	srv := redistest.Start(b)
	rdb := redis.NewClient(&redis.Options{Addr: srv.Addr, PoolSize: 8})
	b.Cleanup(func() { _ = rdb.Close() })
	be := redisbackend.New(rdb)
	b.Cleanup(func() { _ = be.Close() })
	ctx := context.Background()
	tenants, plain := fila.NewQueue(be, "tenants"), fila.NewQueue(be, "plain")
	start := time.Now()
	batch := make([]fila.BulkJob, 0, 1000)
	flush := func(q *fila.Queue) {
		_, err := q.AddBulk(ctx, batch)
		require.NoError(b, err)
		batch = batch[:0]
	}
	for i := range groups + 1000 {
		g := "big"
		if i < groups {
			g = "t" + strconv.Itoa(i)
		}
		batch = append(batch, fila.BulkJob{Name: "send", Data: []byte(`{}`), Options: &fila.JobOptions{Group: g}})
		if len(batch) == cap(batch) {
			flush(tenants)
		}
	}
	flush(tenants)
	for range groups + 1000 {
		batch = append(batch, fila.BulkJob{Name: "send", Data: []byte(`{}`)})
		if len(batch) == cap(batch) {
			flush(plain)
		}
	}
	flush(plain)
	b.Logf("loaded %d groups in %s", groups+1, time.Since(start).Round(time.Second))

	h, err := New([]*fila.Queue{tenants, plain}, Options{BasePath: "/", Timeout: time.Minute})
	require.NoError(b, err)
	page := func(b *testing.B, path string) {
		b.Helper()
		for range b.N {
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
			if rec.Code != http.StatusOK {
				b.Fatalf("%s: %d %s", path, rec.Code, rec.Body.String())
			}
		}
	}
	b.Run("queue-without-groups", func(b *testing.B) { page(b, "/queues/plain?state=waiting") })
	b.Run("queue-with-groups", func(b *testing.B) { page(b, "/queues/tenants?state=waiting") })
	b.Run("groups-page", func(b *testing.B) { page(b, "/queues/tenants/groups") })
	b.Run("group-page", func(b *testing.B) { page(b, "/queues/tenants/groups/big") })
	// The two lists, alone.
	b.Run("Queue.Groups", func(b *testing.B) {
		for range b.N {
			_, err := tenants.Groups(ctx, groupLimit)
			require.NoError(b, err)
		}
	})
	b.Run("Queue.Jobs", func(b *testing.B) {
		for range b.N {
			_, err := tenants.Jobs(ctx, fila.StateWaiting, 0, 50)
			require.NoError(b, err)
		}
	})
}
