package fila_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/fila-go/fila"
	"github.com/fila-go/fila/backend"
	"github.com/fila-go/fila/backend/memory"
	redisbackend "github.com/fila-go/fila/backend/redis"
	"github.com/fila-go/fila/internal/redistest"
)

// TestAddFlowWorker runs a tree with a real worker: the parent runs after
// its children, reads their values and the ignored child's failure.
func TestAddFlowWorker(t *testing.T) {
	for name, mk := range flowBackends() {
		t.Run(name, func(t *testing.T) {
			be := mk(t)
			ctx, cancel := context.WithTimeout(context.Background(), waitFor)
			defer cancel()
			q := fila.NewQueue(be, "media")

			var mu sync.Mutex
			var order []string
			var seen *fila.Children
			w, err := fila.NewWorker(be, "media", func(ctx context.Context, j *fila.Job) (any, error) {
				mu.Lock()
				order = append(order, j.Name)
				mu.Unlock()
				switch j.Name {
				case "scan":
					return nil, errors.New("scanner down")
				case "reply":
					c, err := j.Children(ctx)
					if err != nil {
						return nil, err
					}
					mu.Lock()
					seen = c
					mu.Unlock()
					return len(c.Values), nil
				}
				return j.Name + " done", nil
			}, fila.WorkerOptions{Concurrency: 4})
			require.NoError(t, err)
			runErr := make(chan error, 1)
			go func() { runErr <- w.Run(ctx) }()

			jobs, err := q.AddFlow(ctx, fila.FlowJob{Name: "reply", Data: []byte(`{}`), Children: []fila.FlowJob{
				{Name: "download", Data: []byte(`{}`)},
				{Name: "thumbnail", Data: []byte(`{}`)},
				{Name: "scan", Data: []byte(`{}`), OnChildFailure: fila.IgnoreFailure},
			}})
			require.NoError(t, err)
			require.Len(t, jobs, 4)
			require.Equal(t, fila.StateWaitingChildren, jobs[0].State)

			done, err := jobs[0].WaitUntilFinished(ctx)
			require.NoError(t, err)
			require.JSONEq(t, `2`, string(done.ReturnValue))
			mu.Lock()
			require.Equal(t, "reply", order[len(order)-1], "the parent runs last: %v", order)
			require.Len(t, order, 4)
			require.Equal(t, map[string]json.RawMessage{jobs[1].ID: json.RawMessage(`"download done"`), jobs[2].ID: json.RawMessage(`"thumbnail done"`)}, seen.Values)
			require.Equal(t, map[string]string{jobs[3].ID: "scanner down"}, seen.Failed)
			mu.Unlock()

			vals, err := jobs[0].ChildrenValues(ctx)
			require.NoError(t, err)
			require.Len(t, vals, 2)
			cancel()
			require.NoError(t, <-runErr)
		})
	}
}

// TestAddFlowFailParent: by default a failed child fails the parent, which
// never runs, with a reason naming the child.
func TestAddFlowFailParent(t *testing.T) {
	for name, mk := range flowBackends() {
		t.Run(name, func(t *testing.T) {
			be := mk(t)
			ctx, cancel := context.WithTimeout(context.Background(), waitFor)
			defer cancel()
			q := fila.NewQueue(be, "media")
			var parentRan sync.Once
			ran := false
			w, err := fila.NewWorker(be, "media", func(ctx context.Context, j *fila.Job) (any, error) {
				if j.Name == "parent" {
					parentRan.Do(func() { ran = true })
				}
				if j.Name == "bad" {
					return nil, errors.New("corrupt file")
				}
				return nil, nil
			}, fila.WorkerOptions{})
			require.NoError(t, err)
			runErr := make(chan error, 1)
			go func() { runErr <- w.Run(ctx) }()

			jobs, err := q.AddFlow(ctx, fila.FlowJob{Name: "parent", Children: []fila.FlowJob{{Name: "bad"}}})
			require.NoError(t, err)
			_, err = jobs[0].WaitUntilFinished(ctx)
			var fe *fila.JobFailedError
			require.ErrorAs(t, err, &fe)
			require.Contains(t, fe.Reason, "child "+jobs[1].ID+" failed: corrupt file")
			cancel()
			require.NoError(t, <-runErr)
			require.False(t, ran)
		})
	}
}

func TestAddFlowInvalid(t *testing.T) {
	ctx := context.Background()
	be := memory.New()
	q := fila.NewQueue(be, "media")
	deep := fila.FlowJob{Name: "leaf"}
	for i := 0; i <= fila.MaxFlowDepth; i++ {
		deep = fila.FlowJob{Name: "n", Children: []fila.FlowJob{deep}}
	}
	dupID := fila.FlowJob{Name: "p", Children: []fila.FlowJob{
		{Name: "a", Options: &fila.JobOptions{JobID: "x"}}, {Name: "b", Options: &fila.JobOptions{JobID: "x"}},
	}}
	cases := map[string]fila.FlowJob{
		"deep":   deep,
		"name":   {Name: "p", Children: []fila.FlowJob{{Name: ""}}},
		"policy": {Name: "p", Children: []fila.FlowJob{{Name: "a", OnChildFailure: "sometimes"}}},
		"dedup":  {Name: "p", Children: []fila.FlowJob{{Name: "a", Options: &fila.JobOptions{Dedup: &fila.Dedup{ID: "d", TTL: 1e9}}}}},
		"option": {Name: "p", Children: []fila.FlowJob{{Name: "a", Options: &fila.JobOptions{Attempts: -1}}}},
		"dupID":  dupID,
	}
	for name, root := range cases {
		_, err := q.AddFlow(ctx, root)
		require.ErrorIs(t, err, fila.ErrInvalid, name)
	}
	c, err := q.Counts(ctx)
	require.NoError(t, err)
	require.Equal(t, fila.Counts{}, *c, "nothing stored")

	_, err = fila.NewQueue(be, "bad queue name\n").AddFlow(ctx, fila.FlowJob{Name: "p"})
	require.ErrorIs(t, err, fila.ErrInvalid)
}

// TestAddFlowUnsupported: a backend without backend.Flows refuses a
// flow, naming the queue.
func TestAddFlowUnsupported(t *testing.T) {
	be := memory.New()
	t.Cleanup(func() { _ = be.Close() })
	q := fila.NewQueue(struct{ backend.Backend }{be}, "media")
	_, err := q.AddFlow(context.Background(), fila.FlowJob{Name: "p", Children: []fila.FlowJob{{Name: "c"}}})
	require.ErrorIs(t, err, fila.ErrUnsupported)
	require.True(t, strings.Contains(err.Error(), "media"))
}

// flowBackends are the backends the flow tests run a worker on.
func flowBackends() map[string]func(t *testing.T) backend.Backend {
	onRedis := func(t *testing.T, addr string) backend.Backend {
		rdb := redis.NewClient(&redis.Options{Addr: addr})
		be := redisbackend.New(rdb)
		t.Cleanup(func() { _ = be.Close(); _ = rdb.Close() })
		return be
	}
	return map[string]func(t *testing.T) backend.Backend{
		"memory": func(t *testing.T) backend.Backend {
			be := memory.New()
			t.Cleanup(func() { _ = be.Close() })
			return be
		},
		"miniredis":    func(t *testing.T) backend.Backend { return onRedis(t, miniredis.RunT(t).Addr()) },
		"redis-server": func(t *testing.T) backend.Backend { return onRedis(t, redistest.Start(t).Addr) },
	}
}

// TestAddFlowManyTrees runs 200 trees on 8 concurrent handlers: every
// parent runs once, after its three children, and sees their three values.
func TestAddFlowManyTrees(t *testing.T) {
	for name, mk := range flowBackends() {
		t.Run(name, func(t *testing.T) {
			be := mk(t)
			ctx, cancel := context.WithTimeout(context.Background(), 3*waitFor)
			defer cancel()
			q := fila.NewQueue(be, "trees")
			var mu sync.Mutex
			finished := map[string]bool{} // child IDs whose handler returned
			bad := []string{}
			w, err := fila.NewWorker(be, "trees", func(ctx context.Context, j *fila.Job) (any, error) {
				if j.Name == "child" {
					mu.Lock()
					finished[j.ID] = true
					mu.Unlock()
					return j.ID, nil
				}
				c, err := j.Children(ctx)
				if err != nil {
					return nil, err
				}
				mu.Lock()
				defer mu.Unlock()
				if len(c.Values) != 3 || c.Pending != 0 {
					bad = append(bad, j.ID)
				}
				for id := range c.Values {
					if !finished[id] {
						bad = append(bad, j.ID+" before "+id)
					}
				}
				return len(c.Values), nil
			}, fila.WorkerOptions{Concurrency: 8})
			require.NoError(t, err)
			runErr := make(chan error, 1)
			go func() { runErr <- w.Run(ctx) }()

			const trees = 200
			var parents []*fila.Job
			for i := 0; i < trees; i++ {
				jobs, err := q.AddFlow(ctx, fila.FlowJob{Name: "parent", Children: []fila.FlowJob{{Name: "child"}, {Name: "child"}, {Name: "child"}}})
				require.NoError(t, err)
				parents = append(parents, jobs[0])
			}
			for _, p := range parents {
				done, err := p.WaitUntilFinished(ctx)
				require.NoError(t, err)
				require.JSONEq(t, `3`, string(done.ReturnValue))
			}
			c, err := q.Counts(ctx)
			require.NoError(t, err)
			require.EqualValues(t, 0, c.WaitingChildren)
			require.EqualValues(t, trees*4, c.Completed)
			cancel()
			require.NoError(t, <-runErr)
			mu.Lock()
			defer mu.Unlock()
			require.Empty(t, bad)
		})
	}
}

// TestWaitForChildren: a running handler adds children and waits; it runs
// again after them and reads their values. ErrWaitingChildren without a
// WaitForChildren is an ordinary failure.
func TestWaitForChildren(t *testing.T) {
	for name, mk := range flowBackends() {
		t.Run(name, func(t *testing.T) {
			be := mk(t)
			ctx, cancel := context.WithTimeout(context.Background(), waitFor)
			defer cancel()
			q := fila.NewQueue(be, "steps")
			w, err := fila.NewWorker(be, "steps", func(ctx context.Context, j *fila.Job) (any, error) {
				switch j.Name {
				case "child":
					return "v", nil
				case "liar":
					return nil, fila.ErrWaitingChildren
				}
				c, err := j.Children(ctx)
				if err != nil {
					return nil, err
				}
				if c.Total == 0 { // first run: fan out
					if _, err := q.WaitForChildren(ctx, j, fila.FlowJob{Name: "child"}, fila.FlowJob{Name: "child"}); err != nil {
						return nil, err
					}
					return nil, fila.ErrWaitingChildren
				}
				return len(c.Values), nil
			}, fila.WorkerOptions{Concurrency: 2})
			require.NoError(t, err)
			runErr := make(chan error, 1)
			go func() { runErr <- w.Run(ctx) }()

			parent, err := q.Add(ctx, "parent", nil, nil)
			require.NoError(t, err)
			done, err := parent.WaitUntilFinished(ctx)
			require.NoError(t, err)
			require.JSONEq(t, `2`, string(done.ReturnValue))
			require.Equal(t, 2, done.AttemptsStarted)

			liar, err := q.Add(ctx, "liar", nil, nil)
			require.NoError(t, err)
			_, err = liar.WaitUntilFinished(ctx)
			var fe *fila.JobFailedError
			require.ErrorAs(t, err, &fe)

			notRunning, err := q.Add(ctx, "parent", nil, &fila.JobOptions{Delay: time.Hour})
			require.NoError(t, err)
			_, err = q.WaitForChildren(ctx, notRunning, fila.FlowJob{Name: "child"})
			require.ErrorIs(t, err, fila.ErrInvalid)
			cancel()
			require.NoError(t, <-runErr)
		})
	}
}
