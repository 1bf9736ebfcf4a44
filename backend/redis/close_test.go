package redisbackend

import (
	"context"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/fila-go/fila/backend"
	"github.com/fila-go/fila/internal/redistest"
)

// Close ends a claim blocked in BLMOVE with ErrClosed, as the memory
// backend does, not with a network error the worker would retry.
func TestCloseEndsABlockedClaimWithErrClosed(t *testing.T) {
	addr := redistest.Addr(t)
	rdb := redis.NewClient(&redis.Options{Addr: addr})
	t.Cleanup(func() { _ = rdb.Close() })
	for i := 0; i < 20; i++ {
		be := New(rdb, WithBlockTimeout(10*time.Millisecond))
		done := make(chan error, 1)
		go func() {
			_, err := be.JobClaim(context.Background(), &backend.JobClaimParams{Queue: "q", Token: "t", LockDuration: time.Second, Wait: 30 * time.Second})
			done <- err
		}()
		time.Sleep(time.Duration(50+i*7) * time.Millisecond)
		start := time.Now()
		require.NoError(t, be.Close())
		err := <-done
		t.Logf("trial %d: returned %v after %s", i, err, time.Since(start))
		// Generous for a loaded machine, well under the claim's 30s wait.
		require.Less(t, time.Since(start), 10*time.Second)
		require.ErrorIs(t, err, backend.ErrClosed)
	}
}

// A claim on a closed backend must fail with ErrClosed at once, not open a
// new blocking connection and block for its whole wait.
func TestClaimAfterCloseReturnsErrClosed(t *testing.T) {
	rdb := redis.NewClient(&redis.Options{Addr: redistest.Addr(t)})
	t.Cleanup(func() { _ = rdb.Close() })
	be := New(rdb)
	ctx := context.Background()
	p := &backend.JobClaimParams{Queue: "q", Token: "t", LockDuration: time.Second}
	_, err := be.JobClaim(ctx, p) // learns the queue has no delayed job
	require.NoError(t, err)
	require.NoError(t, be.Close())

	p.Wait = 30 * time.Second
	start := time.Now()
	_, err = be.JobClaim(ctx, p)
	require.ErrorIs(t, err, backend.ErrClosed)
	require.Less(t, time.Since(start), 10*time.Second, "generous for a loaded machine, well under the 30s wait")
}
