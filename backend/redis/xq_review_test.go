package redisbackend

import (
	"context"
	"errors"
	"time"

	"github.com/alicebob/miniredis/v2"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/stretchr/testify/require"

	"github.com/fila-go/fila/backend"
	"github.com/fila-go/fila/internal/redistest"
)

// TestXQReviewReentryStaleMeta: a finish batch in queue B whose second
// item fails child C (B), which fails its parent P (A), which releases
// its own parent G (B, prioritized) under ChildIgnore. in_queue re-enters
// B inside the run on B: the inner run puts G in B's prioritized set
// (raising meta hp), then the outer run gets back its cached switches
// (M, loaded by item 1's claim with hp unset). Item 2's next claim takes
// the last job of wait and feeds nothing (stale hp), so G sits in the
// prioritized set while wait is empty: no claim ever sees it.
func TestXQReviewReentryStaleMeta(t *testing.T) {
	for name, mk := range flowServers(t) {
		t.Run(name, func(t *testing.T) { xqReentry(t, mk, "A") })
	}
}

// TestXQReviewReentryControl is the same tree with P in B too: no
// in_queue, and G is claimable.
func TestXQReviewReentryControl(t *testing.T) {
	for name, mk := range flowServers(t) {
		t.Run(name, func(t *testing.T) { xqReentry(t, mk, "B") })
	}
}

func xqReentry(t *testing.T, mk func(t *testing.T) (*Backend, *redis.Client), pq string) {
	{
		{
			be, rdb := mk(t)
			ctx := context.Background()
			res, err := be.FlowAdd(ctx, &backend.FlowAddParams{Queue: "B", Root: backend.FlowNode{
				Job: backend.JobAddItem{ID: "G", Name: "g", Options: backend.JobOptions{Priority: 5}},
				Children: []backend.FlowNode{{Queue: pq, OnFailure: backend.ChildIgnore,
					Job: backend.JobAddItem{ID: "P", Name: "p"},
					Children: []backend.FlowNode{{Queue: "B",
						Job: backend.JobAddItem{ID: "C", Name: "c"}}}}},
			}})
			require.NoError(t, err)
			require.Len(t, res, 3)
			_, err = be.JobAdd(ctx, &backend.JobAddParams{Queue: "B", Jobs: []backend.JobAddItem{
				{ID: "X1", Name: "x"}, {ID: "X2", Name: "x"}, {ID: "X3", Name: "x"}}})
			require.NoError(t, err)
			claim := func(tok string) string {
				c, err := be.JobClaim(ctx, &backend.JobClaimParams{Queue: "B", Token: tok, LockDuration: 60e9})
				require.NoError(t, err)
				if c.Job == nil {
					return ""
				}
				return c.Job.ID
			}
			require.Equal(t, "C", claim("tc"))
			require.Equal(t, "X1", claim("tx"))
			// One finish.lua call of two items, as the batcher merges them.
			next := func(tok string) *backend.JobClaimParams {
				return &backend.JobClaimParams{Queue: "B", Token: tok, LockDuration: 60e9}
			}
			item1 := finishItemArgs([]any{"c", "X1", "tx", ""}, backend.Retention{}, next("n1"))
			item2 := finishItemArgs([]any{"f", "C", "tc", "boom", "", 10, 0, 0}, backend.Retention{}, next("n2"))
			args := append([]any{2}, item1...)
			args = append(args, item2...)
			_, err = be.run(ctx, be.s.finish, be.queue("B"), args...)
			require.NoError(t, err)
			// X2 and X3 went to the two next claims; G was released.
			p, err := be.JobGet(ctx, &backend.JobGetParams{Queue: pq, ID: "P"})
			require.NoError(t, err)
			require.Equal(t, backend.StateFailed, p.State)
			keys := be.queue("B").keys
			t.Logf("B wait=%v prio=%v", rdb.LRange(ctx, keys[keyWait], 0, -1).Val(),
				rdb.ZRange(ctx, keys[2], 0, -1).Val())
			require.Equal(t, "G", claim("tg"), "G, released and prioritized, must be claimable")
		}
	}
}

// TestXQReviewRingSpansShards: New documents a *redis.Ring as a working
// client, and flowSpan treats every client but a *redis.ClusterClient as
// one server (spanAll). A Ring shards keys by hash tag over several
// servers: a tree whose child is in a queue of another shard is accepted,
// and flow_add writes the child into that queue's keys on the root's
// shard, where no claim of the child's queue looks.
func TestXQReviewRingSpansShards(t *testing.T) {
	s1, s2 := redistest.Start(t), redistest.Start(t)
	ring := redis.NewRing(&redis.RingOptions{Addrs: map[string]string{"s1": s1.Addr, "s2": s2.Addr}})
	be := New(ring)
	t.Cleanup(func() { be.Close(); ring.Close() })
	ctx := context.Background()
	direct := redis.NewClient(&redis.Options{Addr: s1.Addr})
	defer direct.Close()
	// Two queue names whose hash tags are on different shards.
	onS1 := func(name string) bool {
		k := "probe{" + name + "}"
		require.NoError(t, ring.Set(ctx, k, "1", 0).Err())
		return direct.Exists(ctx, k).Val() == 1
	}
	var a, b string
	for i := 0; i < 64 && (a == "" || b == ""); i++ {
		name := "q" + string(rune('a'+i%26)) + string(rune('a'+i/26))
		if onS1(name) {
			if a == "" {
				a = name
			}
		} else if b == "" {
			b = name
		}
	}
	require.NotEmpty(t, a)
	require.NotEmpty(t, b)
	if !be.FlowsSpanQueues() {
		t.Skip("refused: fine")
	}
	_, err := be.FlowAdd(ctx, &backend.FlowAddParams{Queue: a, Root: backend.FlowNode{
		Job:      backend.JobAddItem{ID: "P", Name: "p"},
		Children: []backend.FlowNode{{Queue: b, Job: backend.JobAddItem{ID: "C", Name: "c"}}},
	}})
	if err != nil {
		t.Logf("refused: %v", err)
		return
	}
	c, err := be.JobClaim(ctx, &backend.JobClaimParams{Queue: b, Token: "t", LockDuration: 60e9})
	require.NoError(t, err)
	require.NotNil(t, c.Job, "the child, added in queue %s, must be claimable there", b)
}

// xqPollConn is a Conn without Blocker whose scripts may touch undeclared
// keys (as upstash.Conn with GlobalLock): the backend polls and links
// queues.
type xqPollConn struct{ rdb *redis.Client }

func (c xqPollConn) Eval(ctx context.Context, s *Script, keys []string, args ...any) (any, error) {
	v, err := c.rdb.EvalSha(ctx, s.Hash(), keys, args...).Result()
	if err != nil && redis.HasErrorPrefix(err, "NOSCRIPT") {
		v, err = c.rdb.Eval(ctx, s.Source(), keys, args...).Result()
	}
	if errors.Is(err, redis.Nil) {
		return nil, nil
	}
	return v, err
}

func (c xqPollConn) EvalBatch(ctx context.Context, s *Script, keys []string, calls [][]any) ([]any, error) {
	out := make([]any, len(calls))
	for i, args := range calls {
		v, err := c.Eval(ctx, s, keys, args...)
		if err != nil {
			return nil, err
		}
		out[i] = v
	}
	return out, nil
}

func (c xqPollConn) Ping(ctx context.Context) error { return c.rdb.Ping(ctx).Err() }
func (c xqPollConn) UndeclaredKeys() bool           { return true }

// TestXQReviewPollingWakeParentQueue: on a polling transport (Upstash
// with GlobalLock), a child's completion in queue B readies its parent in
// queue A, but runLeft signals only B's local claims (q.signal): this
// process's idle claim of A sleeps out its poll interval (up to the
// maximum) before it sees the parent. A parent in the child's queue is
// seen at once.
func TestXQReviewPollingWakeParentQueue(t *testing.T) {
	for _, pq := range []string{"A", "B"} {
		t.Run("parent in "+pq, func(t *testing.T) {
			mr := miniredis.RunT(t)
			rdb := redis.NewClient(&redis.Options{Addr: mr.Addr()})
			be := NewWithConn(xqPollConn{rdb}, WithPollInterval(20*time.Millisecond, 2*time.Second))
			t.Cleanup(func() { be.Close(); rdb.Close() })
			require.True(t, be.FlowsSpanQueues())
			ctx := context.Background()
			_, err := be.FlowAdd(ctx, &backend.FlowAddParams{Queue: pq, Root: backend.FlowNode{
				Job:      backend.JobAddItem{ID: "P", Name: "p"},
				Children: []backend.FlowNode{{Queue: "B", Job: backend.JobAddItem{ID: "C", Name: "c"}}},
			}})
			require.NoError(t, err)
			c, err := be.JobClaim(ctx, &backend.JobClaimParams{Queue: "B", Token: "tc", LockDuration: 60e9})
			require.NoError(t, err)
			require.NotNil(t, c.Job)
			got := make(chan time.Time, 1)
			go func() {
				r, err := be.JobClaim(ctx, &backend.JobClaimParams{Queue: pq, Token: "tp", LockDuration: 60e9, Wait: 10 * time.Second})
				if err == nil && r.Job != nil && r.Job.ID == "P" {
					got <- time.Now()
				}
				close(got)
			}()
			time.Sleep(2600 * time.Millisecond) // the idle claim's interval grew to the maximum
			done := time.Now()
			_, err = be.JobComplete(ctx, &backend.JobCompleteParams{Queue: "B", ID: "C", Token: "tc"})
			require.NoError(t, err)
			at, ok := <-got
			require.True(t, ok, "the parent was not claimed")
			require.Less(t, at.Sub(done), 500*time.Millisecond, "the ready parent waited out the poll interval")
		})
	}
}
