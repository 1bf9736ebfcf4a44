package redisbackend

import (
	"context"
	"testing"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/fila-go/fila/backend"
	"github.com/fila-go/fila/internal/redistest"
)

// A finish batch on queue B whose second item fails child C (in B), which
// fails its parent P (in A, or in B for the control), which releases its
// own parent G (in B, prioritized, ChildIgnore): the script reaches A and
// comes back into B, its own queue. The run on B must go on with what the
// run on B did meanwhile (G in the prioritized set), not with its cached
// switches from before: item 2's next claim takes the last waiting job and
// must feed G, which the next claim then gets.
func TestFlowComingBackIntoItsQueueKeepsItsState(t *testing.T) {
	for name, mk := range flowServers(t) {
		for _, pq := range []string{"A", "B"} {
			t.Run(name+"/parent in "+pq, func(t *testing.T) {
				be, _ := mk(t)
				ctx := context.Background()
				res, err := be.FlowAdd(ctx, &backend.FlowAddParams{Queue: "B", Root: backend.FlowNode{
					Job: backend.JobAddItem{ID: "G", Name: "g", Options: backend.JobOptions{Priority: 5}},
					Children: []backend.FlowNode{{Queue: pq, OnFailure: backend.ChildIgnore,
						Job:      backend.JobAddItem{ID: "P", Name: "p"},
						Children: []backend.FlowNode{{Queue: "B", Job: backend.JobAddItem{ID: "C", Name: "c"}}}}},
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
				// One finish.lua call of two items, as the batcher merges them;
				// each claims the next job (X2, X3).
				next := func(tok string) *backend.JobClaimParams {
					return &backend.JobClaimParams{Queue: "B", Token: tok, LockDuration: 60e9}
				}
				args := append([]any{2}, finishItemArgs([]any{"c", "X1", "tx", ""}, backend.Retention{}, next("n1"))...)
				args = append(args, finishItemArgs([]any{"f", "C", "tc", "boom", "", 10, 0, 0}, backend.Retention{}, next("n2"))...)
				_, err = be.run(ctx, be.s.finish, be.queue("B"), args...)
				require.NoError(t, err)
				p, err := be.JobGet(ctx, &backend.JobGetParams{Queue: pq, ID: "P"})
				require.NoError(t, err)
				require.Equal(t, backend.StateFailed, p.State)
				require.Equal(t, "G", claim("tg"), "G, released and prioritized, is claimable")
			})
		}
	}
}

// A Ring shards keys by hash tag over several servers: a tree whose
// queues' keys have different tags is refused (the child's keys would be
// written on the root's server, where its queue's claims do not look);
// with one tag it runs.
func TestRingLinksTheQueuesOfOneHashTag(t *testing.T) {
	s1, s2 := redistest.Start(t), redistest.Start(t)
	ctx := context.Background()
	ring := redis.NewRing(&redis.RingOptions{Addrs: map[string]string{"s1": s1.Addr, "s2": s2.Addr}})
	t.Cleanup(func() { ring.Close() })
	tree := func(root, child string) *backend.FlowAddParams {
		return &backend.FlowAddParams{Queue: root, Root: backend.FlowNode{Job: backend.JobAddItem{ID: "P", Name: "p"},
			Children: []backend.FlowNode{{Queue: child, Job: backend.JobAddItem{ID: "C", Name: "c"}}}}}
	}

	be := New(ring)
	t.Cleanup(func() { be.Close() })
	require.False(t, be.FlowsSpanQueues())
	_, err := be.FlowAdd(ctx, tree("media", "scan"))
	require.ErrorIs(t, err, backend.ErrInvalidFlow)
	require.ErrorContains(t, err, `queue "scan", hash tag "scan"`)
	require.ErrorContains(t, err, "WithHashTag")

	tagged := New(ring, WithHashTag(func(string) string { return "app" }))
	t.Cleanup(func() { tagged.Close() })
	require.True(t, tagged.FlowsSpanQueues())
	_, err = tagged.FlowAdd(ctx, tree("media", "scan"))
	require.NoError(t, err)
	c, err := tagged.JobClaim(ctx, &backend.JobClaimParams{Queue: "scan", Token: "t", LockDuration: 60e9})
	require.NoError(t, err)
	require.NotNil(t, c.Job)
	require.Equal(t, "C", c.Job.ID)
	_, err = tagged.JobComplete(ctx, &backend.JobCompleteParams{Queue: "scan", ID: "C", Token: "t"})
	require.NoError(t, err)
	p, err := tagged.JobClaim(ctx, &backend.JobClaimParams{Queue: "media", Token: "t2", LockDuration: 60e9})
	require.NoError(t, err)
	require.NotNil(t, p.Job, "the child released its parent in the other queue")
	require.Equal(t, "P", p.Job.ID)
}

// A backend with WithHashTag marks the queue's default layout when it
// registers the queue; a backend without the tag then refuses the queue
// (ErrHashTag, permanent) instead of reading and writing empty keys.
func TestABackendWithoutTheHashTagRefusesATaggedQueue(t *testing.T) {
	mr := miniredis.RunT(t)
	open := func(opts ...Option) *Backend {
		rdb := redis.NewClient(&redis.Options{Addr: mr.Addr()})
		be := New(rdb, opts...)
		t.Cleanup(func() { be.Close(); rdb.Close() })
		return be
	}
	ctx := context.Background()
	tagged := open(WithHashTag(func(string) string { return "app" }))
	_, err := tagged.JobAdd(ctx, &backend.JobAddParams{Queue: "media", Jobs: []backend.JobAddItem{{Name: "n"}}})
	require.NoError(t, err)
	require.Equal(t, "app", mr.HGet("fila:{media}:meta", "tg"))

	_, err = open().QueueCounts(ctx, &backend.QueueParams{Queue: "media"})
	require.ErrorIs(t, err, ErrHashTag)
	require.ErrorIs(t, err, backend.ErrPermanent)
	require.ErrorContains(t, err, `queue "media" is kept under hash tag "app"`)
	fields, err := mr.HKeys("fila:{media}:meta")
	require.NoError(t, err)
	require.Equal(t, []string{"tg"}, fields, "nothing written under the default keys")

	c, err := open(WithHashTag(func(string) string { return "app" })).QueueCounts(ctx, &backend.QueueParams{Queue: "media"})
	require.NoError(t, err)
	require.EqualValues(t, 1, c.Waiting)
	require.Equal(t, "fila:{app}:media:", tagged.queue("media").base())
	_, err = open(WithHashTag(func(string) string { return "other" })).QueueCounts(ctx, &backend.QueueParams{Queue: "media"})
	require.NoError(t, err, "another tag finds other (empty) keys: the marker is on the default layout only")
}

// A tree reaching a queue that another backend keeps under a hash tag
// fails naming that queue, and stores nothing.
func TestAFlowReachingATaggedQueueNamesIt(t *testing.T) {
	mr := miniredis.RunT(t)
	rdb := redis.NewClient(&redis.Options{Addr: mr.Addr()})
	t.Cleanup(func() { rdb.Close() })
	ctx := context.Background()
	tagged := New(rdb, WithHashTag(func(string) string { return "app" }))
	t.Cleanup(func() { tagged.Close() })
	_, err := tagged.JobAdd(ctx, &backend.JobAddParams{Queue: "scan", Jobs: []backend.JobAddItem{{Name: "n"}}})
	require.NoError(t, err)
	plain := New(rdb)
	t.Cleanup(func() { plain.Close() })
	_, err = plain.FlowAdd(ctx, &backend.FlowAddParams{Queue: "media", Root: backend.FlowNode{Job: backend.JobAddItem{Name: "p"},
		Children: []backend.FlowNode{{Queue: "scan", Job: backend.JobAddItem{Name: "c"}}}}})
	require.ErrorIs(t, err, ErrHashTag)
	require.ErrorContains(t, err, `queue "scan" is kept under hash tag "app"`)
	c, err := plain.QueueCounts(ctx, &backend.QueueParams{Queue: "media"})
	require.NoError(t, err)
	require.Equal(t, backend.Counts{}, *c)
}

// Obliterating a queue whose parent's child elsewhere has a child back in
// the obliterated queue (grouped: its removal changes the queue's group
// counts) removes them all and leaves nothing of the obliterated queue but
// its id sequence and layout.
func TestObliterateLeavesNoKeyBehindAcrossQueues(t *testing.T) {
	mr := miniredis.RunT(t)
	rdb := redis.NewClient(&redis.Options{Addr: mr.Addr()})
	be := New(rdb)
	t.Cleanup(func() { be.Close(); rdb.Close() })
	ctx := context.Background()
	_, err := be.EventsCursor(ctx, &backend.QueueParams{Queue: "B"}) // a reader of B's events
	require.NoError(t, err)
	_, err = be.FlowAdd(ctx, &backend.FlowAddParams{Queue: "B", Root: backend.FlowNode{Job: backend.JobAddItem{Name: "p"},
		Children: []backend.FlowNode{{Queue: "C", Job: backend.JobAddItem{Name: "k"},
			Children: []backend.FlowNode{{Queue: "B", Job: backend.JobAddItem{Name: "l", Options: backend.JobOptions{Group: "g1"}}}}}}}})
	require.NoError(t, err)
	require.NoError(t, be.QueueObliterate(ctx, &backend.QueueObliterateParams{Queue: "B", Force: true}))
	for _, k := range mr.Keys() {
		if k != "fila:{B}:meta" {
			require.NotContains(t, k, "{B}", "key %s outlived the obliterate", k)
		}
	}
	fields, err := mr.HKeys("fila:{B}:meta")
	require.NoError(t, err)
	require.ElementsMatch(t, []string{"id", "nb"}, fields)
	c, err := be.QueueCounts(ctx, &backend.QueueParams{Queue: "C"})
	require.NoError(t, err)
	require.Equal(t, backend.Counts{}, *c, "k went with its parent")
}
