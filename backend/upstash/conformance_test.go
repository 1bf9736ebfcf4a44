package upstash_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/fila-go/fila/backend"
	"github.com/fila-go/fila/backend/backendtest"
	redisbackend "github.com/fila-go/fila/backend/redis"
)

// Each subtest gets its own miniredis: miniredis runs one command at a time,
// and under the race detector a subtest's long script would stall the
// others' timing-sensitive checks.
func TestConformanceMiniredis(t *testing.T) {
	backendtest.Run(t, func(t *testing.T) backend.Backend {
		return newBackend(t, miniBundle(t).config())
	})
}

func TestConformanceRedisServer(t *testing.T) {
	b := realBundle(t)
	be := newBackend(t, b.config())
	backendtest.Run(t, func(t *testing.T) backend.Backend { return be })
}

// With GlobalLock the scripts may reach other queues' keys, and flows
// across queues work: the whole suite, FlowQueues included, over the
// emulator, which guards declared keys only for scripts with key locking.
func TestConformanceGlobalLock(t *testing.T) {
	b := realBundle(t)
	cfg := b.config()
	cfg.GlobalLock = true
	be := newBackend(t, cfg)
	backendtest.Run(t, func(t *testing.T) backend.Backend { return be })
}

// A process under key locking refuses every call on a queue that holds
// flows across queues (its scripts could not reach the other queues),
// before changing anything, also when it worked on the queue before the
// queue was linked; with GlobalLock it works on it.
func TestKeyLockingRefusesLinkedQueues(t *testing.T) {
	b := miniBundle(t)
	global := b.config()
	global.GlobalLock = true
	app := newBackend(t, global)
	locked := newBackend(t, b.config())
	_, err := locked.QueueCounts(ctx, &backend.QueueParams{Queue: "replies"})
	require.NoError(t, err, "not linked yet")
	node := func(queue, name string, kids ...backend.FlowNode) backend.FlowNode {
		return backend.FlowNode{Queue: queue, Job: backend.JobAddItem{Name: name, Data: []byte(`{}`), Options: backend.JobOptions{Attempts: 1}}, Children: kids}
	}
	res, err := app.FlowAdd(ctx, &backend.FlowAddParams{Queue: "replies", Root: node("", "reply", node("media", "download"))})
	require.NoError(t, err)

	for _, q := range []string{"replies", "media"} {
		err := locked.JobRemove(ctx, &backend.JobRemoveParams{Queue: q, ID: res[0].ID})
		require.ErrorIs(t, err, redisbackend.ErrLinkedQueues, q)
		require.ErrorIs(t, err, backend.ErrPermanent)
		require.ErrorContains(t, err, "GlobalLock")
	}
	c, err := app.QueueCounts(ctx, &backend.QueueParams{Queue: "media"})
	require.NoError(t, err)
	require.Equal(t, backend.Counts{Waiting: 1}, *c, "nothing changed")

	require.NoError(t, newBackend(t, global).JobRemove(ctx, &backend.JobRemoveParams{Queue: "replies", ID: res[0].ID}))
	c, err = app.QueueCounts(ctx, &backend.QueueParams{Queue: "media"})
	require.NoError(t, err)
	require.Equal(t, backend.Counts{}, *c, "the parent took its child in the other queue")
}
