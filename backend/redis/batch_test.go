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
				v, err := bt.do(context.Background(), []any{i}, nil)
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
			_, err := bt.do(context.Background(), []any{1}, nil)
			require.ErrorIs(t, err, boom)
		}()
	}
	wg.Wait()
}

// A caller whose context ends while its batch runs returns at once; the
// others in the batch still get their replies, and the leaving caller's
// item, already sent, has its reply passed to its left function.
func TestBatcherCallerWhoseContextEndsReturnsAtOnce(t *testing.T) {
	release := make(chan struct{})
	bt := &batcher{max: 10, exec: func(_ context.Context, items [][]any) ([]any, error) {
		<-release
		out := make([]any, len(items))
		for i, it := range items {
			out[i] = it[0]
		}
		return out, nil
	}}
	ctx, cancel := context.WithCancel(context.Background())
	leftGot := make(chan any, 1)
	errc := make(chan error, 1)
	go func() {
		_, err := bt.do(ctx, []any{"leaver"}, func(v any, err error) { leftGot <- v })
		errc <- err
	}()
	require.Eventually(t, func() bool {
		bt.mu.Lock()
		defer bt.mu.Unlock()
		return bt.inFlight == 1
	}, 5*time.Second, time.Millisecond)
	cancel()
	require.ErrorIs(t, <-errc, context.Canceled, "the caller waited for its batch")

	stayer := make(chan any, 1)
	go func() {
		v, _ := bt.do(context.Background(), []any{"stayer"}, nil)
		stayer <- v
	}()
	close(release)
	require.Equal(t, "leaver", <-leftGot)
	require.Equal(t, "stayer", <-stayer)
}

// A caller that leaves while its call still waits for a batch is dropped:
// its item is never sent.
func TestBatcherCallerThatLeavesBeforeItsBatchIsNeverSent(t *testing.T) {
	release := make(chan struct{})
	var mu sync.Mutex
	var sent []any
	bt := &batcher{max: 10, exec: func(_ context.Context, items [][]any) ([]any, error) {
		<-release
		mu.Lock()
		defer mu.Unlock()
		out := make([]any, len(items))
		for i, it := range items {
			sent = append(sent, it[0])
			out[i] = it[0]
		}
		return out, nil
	}}
	done := make(chan struct{}, maxInFlight)
	for i := range maxInFlight { // fill every batch slot
		go func() {
			_, _ = bt.do(context.Background(), []any{i}, nil)
			done <- struct{}{}
		}()
	}
	require.Eventually(t, func() bool {
		bt.mu.Lock()
		defer bt.mu.Unlock()
		return bt.inFlight == maxInFlight
	}, 5*time.Second, time.Millisecond)
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() {
		_, err := bt.do(ctx, []any{"dropped"}, func(any, error) { t.Error("a dropped call's left ran") })
		errc <- err
	}()
	require.Eventually(t, func() bool {
		bt.mu.Lock()
		defer bt.mu.Unlock()
		return len(bt.queue) == 1
	}, 5*time.Second, time.Millisecond)
	cancel()
	require.ErrorIs(t, <-errc, context.Canceled)
	close(release)
	for range maxInFlight {
		<-done
	}
	mu.Lock()
	defer mu.Unlock()
	require.NotContains(t, sent, "dropped")
	require.Len(t, sent, maxInFlight)
}

// A call whose context is already done is refused before it is queued.
func TestBatcherRefusesADoneContext(t *testing.T) {
	bt := &batcher{max: 10, exec: func(context.Context, [][]any) ([]any, error) {
		t.Error("a call with a done context ran")
		return nil, nil
	}}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := bt.do(ctx, []any{1}, nil)
	require.ErrorIs(t, err, context.Canceled)
}

// Callers whose contexts can end (but do not) are served like the others,
// whether they arrive first (their batch runs on a goroutine) or wait.
func TestBatcherServesCallersWithContextsThatCanEnd(t *testing.T) {
	bt := &batcher{max: 5, exec: func(_ context.Context, items [][]any) ([]any, error) {
		time.Sleep(100 * time.Microsecond)
		out := make([]any, len(items))
		for i, it := range items {
			out[i] = it[0].(int) + 1
		}
		return out, nil
	}}
	var wg sync.WaitGroup
	for g := range 32 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx := context.Background()
			if g%2 == 1 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithCancel(ctx)
				defer cancel()
			}
			for i := range 200 {
				v, err := bt.do(ctx, []any{g*1000 + i}, nil)
				if err != nil || v.(int) != g*1000+i+1 {
					t.Errorf("call %d/%d got %v, %v", g, i, v, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	require.Eventually(t, func() bool {
		bt.mu.Lock()
		defer bt.mu.Unlock()
		return bt.inFlight == 0 && len(bt.queue) == 0
	}, 5*time.Second, time.Millisecond)
}

// The batcher's own cost for a lone caller (no Redis: exec returns at
// once), with a context that cannot end and with one that can.
func BenchmarkBatcherLoneCall(b *testing.B) {
	bt := &batcher{max: 10, exec: func(_ context.Context, items [][]any) ([]any, error) {
		return []any{items[0][0]}, nil
	}}
	cancellable, cancel := context.WithCancel(context.Background())
	defer cancel()
	for _, c := range []struct {
		name string
		ctx  context.Context
	}{{"background", context.Background()}, {"cancellable", cancellable}} {
		b.Run(c.name, func(b *testing.B) {
			args := []any{1}
			b.ReportAllocs()
			for b.Loop() {
				if _, err := bt.do(c.ctx, args, nil); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
