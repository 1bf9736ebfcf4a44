package redisbackend

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// The batcher must run every call exactly once, hand each its own reply,
// keep at most maxInFlight batches running, and never exceed max per batch.
func TestBatcherRunsEveryCallOnceWithItsReply(t *testing.T) {
	var running, peak, calls atomic.Int64
	var mu sync.Mutex
	seen := map[int]int{}
	bt := &batcher{max: 7, exec: func(ctx context.Context, items [][]any) ([]any, error) {
		r := running.Add(1)
		for {
			p := peak.Load()
			if r <= p || peak.CompareAndSwap(p, r) {
				break
			}
		}
		defer running.Add(-1)
		if len(items) > 7 {
			return nil, errors.New("batch over max")
		}
		calls.Add(1)
		time.Sleep(200 * time.Microsecond) // a round trip
		out := make([]any, len(items))
		mu.Lock()
		for i, it := range items {
			n := it[0].(int)
			seen[n]++
			out[i] = n * 2
		}
		mu.Unlock()
		return out, nil
	}}
	const n = 5000
	var wg sync.WaitGroup
	for g := range 64 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := g; i < n; i += 64 {
				v, err := bt.do(context.Background(), []any{i})
				if err != nil || v.(int) != i*2 {
					t.Errorf("call %d got %v, %v", i, v, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	require.Len(t, seen, n)
	for i, k := range seen {
		require.Equal(t, 1, k, "call %d ran %d times", i, k)
	}
	require.LessOrEqual(t, peak.Load(), int64(maxInFlight))
	require.Less(t, calls.Load(), int64(n), "concurrent calls should share batches")
	require.Zero(t, bt.inFlight)
	require.Empty(t, bt.queue)
}

func TestBatcherErrorReachesEveryCallOfTheBatch(t *testing.T) {
	boom := errors.New("boom")
	bt := &batcher{max: 10, exec: func(context.Context, [][]any) ([]any, error) { return nil, boom }}
	var wg sync.WaitGroup
	for range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := bt.do(context.Background(), []any{1})
			require.ErrorIs(t, err, boom)
		}()
	}
	wg.Wait()
}
