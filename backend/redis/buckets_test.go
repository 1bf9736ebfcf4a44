package redisbackend_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/fila-go/fila/backend"
	"github.com/fila-go/fila/backend/backendtest"
	redisbackend "github.com/fila-go/fila/backend/redis"
	"github.com/fila-go/fila/internal/redistest"
)

// The whole contract holds with the job fields spread over buckets.
func TestConformanceJobBuckets(t *testing.T) {
	mr := miniredis.RunT(t)
	be := newBackend(t, testClient(mr.Addr()), redisbackend.WithJobBuckets(5))
	backendtest.Run(t, func(t *testing.T) backend.Backend { return be })
}

func TestConformanceJobBucketsRedisServer(t *testing.T) {
	be := newBackend(t, testClient(redistest.Addr(t)), redisbackend.WithJobBuckets(7))
	backendtest.Run(t, func(t *testing.T) backend.Backend { return be })
}

func addN(t *testing.T, be backend.Backend, queue string, n int) []backend.JobAddResult {
	t.Helper()
	items := make([]backend.JobAddItem, n)
	for i := range items {
		items[i] = backend.JobAddItem{Name: "n", Data: []byte(fmt.Sprint(i)), Options: backend.JobOptions{Attempts: 1}}
	}
	res, err := be.JobAdd(context.Background(), &backend.JobAddParams{Queue: queue, Jobs: items})
	require.NoError(t, err)
	return res
}

func TestJobBuckets(t *testing.T) {
	t.Parallel()
	setup := func(t *testing.T) (*miniredis.Miniredis, func(opts ...redisbackend.Option) *redisbackend.Backend) {
		mr := miniredis.RunT(t)
		return mr, func(opts ...redisbackend.Option) *redisbackend.Backend {
			return newBackend(t, redis.NewClient(&redis.Options{Addr: mr.Addr()}), opts...)
		}
	}

	t.Run("jobs spread over every bucket and no other key", func(t *testing.T) {
		t.Parallel()
		mr, open := setup(t)
		addN(t, open(redisbackend.WithJobBuckets(4)), "q", 400)
		for i, k := range []string{"fila:{q}:jobs", "fila:{q}:jobs:1", "fila:{q}:jobs:2", "fila:{q}:jobs:3"} {
			require.True(t, mr.Exists(k), k)
			fields, err := mr.HKeys(k)
			require.NoError(t, err)
			n := len(fields)
			require.Greater(t, n, 50, "bucket %d holds %d of 400 jobs' fields", i, n)
		}
		require.False(t, mr.Exists("fila:{q}:jobs:0"))
		require.False(t, mr.Exists("fila:{q}:jobs:4"))
	})

	t.Run("one bucket keeps the one jobs hash", func(t *testing.T) {
		t.Parallel()
		mr, open := setup(t)
		addN(t, open(), "q", 10)
		fields, err := mr.HKeys("fila:{q}:jobs")
		require.NoError(t, err)
		require.Len(t, fields, 10)
		require.False(t, mr.Exists("fila:{q}:jobs:0"))
		require.Equal(t, "1", mr.HGet("fila:{q}:meta", "nb"))
	})

	t.Run("another bucket count fails with ErrLayout before touching the queue", func(t *testing.T) {
		t.Parallel()
		mr, open := setup(t)
		addN(t, open(redisbackend.WithJobBuckets(4)), "q", 10)
		before := mr.Dump()
		for _, n := range []int{1, 8} {
			other := open(redisbackend.WithJobBuckets(n))
			_, err := other.JobAdd(context.Background(), &backend.JobAddParams{Queue: "q", Jobs: []backend.JobAddItem{{Name: "n"}}})
			require.ErrorIs(t, err, redisbackend.ErrLayout)
			require.ErrorIs(t, err, backend.ErrPermanent)
			require.ErrorContains(t, err, `queue "q" keeps its jobs in 4 bucket(s), this backend in `+fmt.Sprint(n))
			_, err = other.QueueCounts(context.Background(), &backend.QueueParams{Queue: "q"})
			require.ErrorIs(t, err, redisbackend.ErrLayout)
		}
		require.Equal(t, before, mr.Dump(), "a refused call changed nothing")
	})

	t.Run("a flow reaching a queue of another bucket count stores no job", func(t *testing.T) {
		t.Parallel()
		_, open := setup(t)
		addN(t, open(redisbackend.WithJobBuckets(4)), "kids", 1)
		other := open(redisbackend.WithJobBuckets(2))
		node := func(queue, name string, kids ...backend.FlowNode) backend.FlowNode {
			return backend.FlowNode{Queue: queue, Job: backend.JobAddItem{Name: name, Options: backend.JobOptions{Attempts: 1}}, Children: kids}
		}
		_, err := other.FlowAdd(context.Background(), &backend.FlowAddParams{Queue: "root",
			Root: node("", "p", node("", "a"), node("kids", "b"))})
		require.ErrorIs(t, err, redisbackend.ErrLayout)
		require.ErrorContains(t, err, `queue "kids" keeps its jobs in 4 bucket(s), this backend in 2`)
		for q, want := range map[string]backend.Counts{"root": {}, "kids": {Waiting: 1}} {
			c, err := open(redisbackend.WithJobBuckets(map[string]int{"root": 2, "kids": 4}[q])).QueueCounts(context.Background(), &backend.QueueParams{Queue: q})
			require.NoError(t, err)
			require.Equal(t, want, *c, q)
		}
	})

	t.Run("a queue made before buckets refuses a bucketed backend", func(t *testing.T) {
		t.Parallel()
		mr, open := setup(t)
		addN(t, open(), "q", 3)
		mr.HDel("fila:{q}:meta", "nb") // as a queue made by a version without layout.lua
		_, err := open(redisbackend.WithJobBuckets(32)).QueueCounts(context.Background(), &backend.QueueParams{Queue: "q"})
		require.ErrorIs(t, err, redisbackend.ErrLayout)
		c, err := open().QueueCounts(context.Background(), &backend.QueueParams{Queue: "q"})
		require.NoError(t, err)
		require.Equal(t, int64(3), c.Waiting)
	})

	t.Run("obliterate keeps the bucket count", func(t *testing.T) {
		t.Parallel()
		_, open := setup(t)
		be := open(redisbackend.WithJobBuckets(4))
		addN(t, be, "q", 3)
		require.NoError(t, be.QueueObliterate(context.Background(), &backend.QueueObliterateParams{Queue: "q"}))
		_, err := open().QueueCounts(context.Background(), &backend.QueueParams{Queue: "q"})
		require.ErrorIs(t, err, redisbackend.ErrLayout)
	})
}
