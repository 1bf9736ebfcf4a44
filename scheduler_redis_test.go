package fila_test

import (
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/fila-go/fila"
	redisbackend "github.com/fila-go/fila/backend/redis"
)

// TestRedisSchedulerOneJobPerTickAcrossProcesses runs three "processes" (a
// client and backend each) on one redis-server: each upserts the same
// scheduler at start-up and runs a worker. Every tick runs once, none is
// missing.
func TestRedisSchedulerOneJobPerTickAcrossProcesses(t *testing.T) {
	t.Parallel()
	rb := startRedis(t, nil)
	var log tickLog
	var wg sync.WaitGroup
	for range 3 {
		rdb := redis.NewClient(&redis.Options{Addr: rb.srv.Addr, Protocol: 2})
		be := redisbackend.New(rdb)
		t.Cleanup(func() {
			be.Close()
			rdb.Close()
		})
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := fila.NewQueue(be, "sched").UpsertScheduler(t.Context(), "beat", fila.Schedule{Every: time.Second}, "beat", nil, nil)
			require.NoError(t, err)
		}()
		startWorkerOn(t, be, "sched", log.handler, fila.WorkerOptions{Concurrency: 2})
	}
	wg.Wait()
	require.Eventually(t, func() bool {
		log.mu.Lock()
		defer log.mu.Unlock()
		return len(log.runs) >= 4
	}, waitFor, 20*time.Millisecond)
	q := fila.NewQueue(rb.be, "sched")
	s, err := q.Scheduler(t.Context(), "beat")
	require.NoError(t, err)
	require.GreaterOrEqual(t, s.Iterations, 5)
	removed, err := q.RemoveScheduler(t.Context(), "beat")
	require.NoError(t, err)
	require.True(t, removed)
	ticks := log.ticks(t)
	requireConsecutive(t, ticks, time.Second)
}
