package fila_test

import (
	"context"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/fila-go/fila"
	redisbackend "github.com/fila-go/fila/backend/redis"
	"github.com/fila-go/fila/internal/redistest"
)

// Close of an idle Redis worker whose first blocking claim is still
// connecting honors Close's deadline instead of waiting out the whole 30s
// block.
func TestRedisCloseDuringFirstBlockingClaimKeepsItsDeadline(t *testing.T) {
	srv := redistest.Start(t)
	var slow atomic.Bool
	dialing := make(chan struct{}, 100)
	rdb := redis.NewClient(&redis.Options{Addr: srv.Addr, Protocol: 2,
		Dialer: func(ctx context.Context, network, addr string) (net.Conn, error) {
			if slow.Load() {
				dialing <- struct{}{}
				select { // a slow network, or a TLS handshake
				case <-time.After(200 * time.Millisecond):
				case <-ctx.Done():
					return nil, ctx.Err()
				}
			}
			var d net.Dialer
			return d.DialContext(ctx, network, addr)
		}})
	t.Cleanup(func() { _ = rdb.Close() })
	// Warm the pool so the worker's own calls need no new connection.
	var wg sync.WaitGroup
	for range 5 {
		wg.Add(1)
		go func() { defer wg.Done(); rdb.Do(context.Background(), "BLPOP", "warm", "0.1") }()
	}
	wg.Wait()
	slow.Store(true)
	be := redisbackend.New(rdb)
	t.Cleanup(func() { _ = be.Close() })

	w := newWorker(t, be, queueName, func(context.Context, *fila.Job) (any, error) { return nil, nil }, fila.WorkerOptions{})
	runDone := make(chan error, 1)
	go func() { runDone <- w.Run(context.Background()) }()
	<-dialing // the worker's first BLMOVE is connecting its blocker
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	start := time.Now()
	require.NoError(t, w.Close(ctx))
	require.NoError(t, <-runDone)
	// Generous for a loaded machine, and well under the 30s block Close
	// would wait out without its deadline.
	require.Less(t, time.Since(start), 10*time.Second, "Close with a 1s deadline took %s", time.Since(start))
	time.Sleep(300 * time.Millisecond) // go-redis finishes the blocker's dial in the background: let it, before the server stops
}
