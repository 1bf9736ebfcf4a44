package fila_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/fila-go/fila"
	"github.com/fila-go/fila/backend"
	"github.com/fila-go/fila/backend/memory"
	redisbackend "github.com/fila-go/fila/backend/redis"
	"github.com/fila-go/fila/internal/redistest"
)

// TestAddFlowAcrossQueues runs trees whose children are in two other
// queues, each with its own worker, while some parents are removed (their
// children in the other queues with them): every parent kept runs and
// sees its three children's values, nothing is left waiting, and nothing
// deadlocks between the queues' locks (memory) or scripts (Redis, where a
// child's finish moves its parent in another queue).
func TestAddFlowAcrossQueues(t *testing.T) {
	t.Run("memory", func(t *testing.T) {
		be := memory.New()
		t.Cleanup(func() { _ = be.Close() })
		testAddFlowAcrossQueues(t, be)
	})
	t.Run("redis", func(t *testing.T) {
		rdb := redis.NewClient(&redis.Options{Addr: redistest.Addr(t), MaxRetries: -1})
		be := redisbackend.New(rdb)
		t.Cleanup(func() { _ = be.Close(); _ = rdb.Close() })
		testAddFlowAcrossQueues(t, be)
	})
}

func testAddFlowAcrossQueues(t *testing.T, be backend.Backend) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*waitFor)
	defer cancel()
	const trees = 100

	var mu sync.Mutex
	parents := map[string]int{} // parent ID -> children values seen
	handler := func(ctx context.Context, j *fila.Job) (any, error) {
		if j.Name != "reply" {
			return j.Name, nil
		}
		c, err := j.Children(ctx)
		if err != nil {
			return nil, err
		}
		mu.Lock()
		parents[j.ID] = len(c.Values)
		mu.Unlock()
		return nil, nil
	}
	var wg sync.WaitGroup
	for _, queue := range []string{"media", "download", "scan"} {
		w, err := fila.NewWorker(be, queue, handler, fila.WorkerOptions{Concurrency: 4})
		require.NoError(t, err)
		wg.Add(1)
		go func() { defer wg.Done(); _ = w.Run(ctx) }()
	}
	q := fila.NewQueue(be, "media")
	var roots []*fila.Job
	removed := map[string]bool{}
	for i := 0; i < trees; i++ {
		tree := fila.FlowJob{Name: "reply", Children: []fila.FlowJob{
			{Queue: "download", Name: "download", Children: []fila.FlowJob{{Queue: "scan", Name: "scan"}}},
			{Queue: "scan", Name: "scan"},
			{Name: "thumbnail"},
		}}
		if i%10 == 0 { // never ready: a child in a queue without workers
			tree.Children = append(tree.Children, fila.FlowJob{Queue: "parked", Name: "never"})
		}
		jobs, err := q.AddFlow(ctx, tree)
		require.NoError(t, err)
		require.Equal(t, "download", jobs[1].Queue())
		require.Equal(t, "scan", jobs[2].Queue())
		if i%10 == 0 { // removed: its unfinished children in the other queues go too
			require.NoError(t, q.Remove(ctx, jobs[0].ID))
			removed[jobs[0].ID] = true
		} else {
			roots = append(roots, jobs[0])
		}
	}
	require.Eventually(t, func() bool {
		mu.Lock()
		defer mu.Unlock()
		for _, r := range roots {
			if _, ran := parents[r.ID]; !ran {
				return false
			}
		}
		return true
	}, waitFor, 5*time.Millisecond, "every parent kept ran")
	cancel()
	wg.Wait()
	for _, r := range roots {
		require.Equal(t, 3, parents[r.ID], "parent %s", r.ID)
	}
	for id := range removed {
		require.NotContains(t, parents, id, "a removed parent never runs")
	}
	for _, queue := range []string{"media", "download", "scan", "parked"} {
		c, err := fila.NewQueue(be, queue).Counts(context.Background())
		require.NoError(t, err)
		require.Zero(t, c.WaitingChildren+c.Waiting+c.Active, queue)
	}
}

func TestAddFlowAcrossQueuesRefusals(t *testing.T) {
	ctx := context.Background()
	q := fila.NewQueue(memory.New(), "media")
	for name, root := range map[string]fila.FlowJob{
		"child queue name": {Name: "p", Children: []fila.FlowJob{{Queue: "no spaces", Name: "c"}}},
		"root elsewhere":   {Queue: "other", Name: "p", Children: []fila.FlowJob{{Name: "c"}}},
	} {
		_, err := q.AddFlow(ctx, root)
		require.ErrorIs(t, err, fila.ErrInvalid, name)
		require.ErrorContains(t, err, "queue", name)
	}
	c, err := q.Counts(ctx)
	require.NoError(t, err)
	require.Equal(t, fila.Counts{}, *c)

}
