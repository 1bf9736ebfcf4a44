package fila_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/fila-go/fila"
)

func TestGroupValidation(t *testing.T) {
	t.Parallel()
	b := setup(t)
	for _, tc := range []struct {
		name  string
		opts  fila.JobOptions
		field string
	}{
		{"too long", fila.JobOptions{Group: strings.Repeat("x", 129)}, "Group"},
		{"space", fila.JobOptions{Group: "a b"}, "Group"},
		{"control character", fila.JobOptions{Group: "a\x01"}, "Group"},
		{"invalid UTF-8", fila.JobOptions{Group: "a\xff"}, "Group"},
		{"with a priority", fila.JobOptions{Group: "g", Priority: 1}, "Group"},
	} {
		_, err := b.queue.Add(b.ctx, "send", nil, &tc.opts)
		require.ErrorIs(t, err, fila.ErrInvalid, tc.name)
		var ve *fila.ValidationError
		require.ErrorAs(t, err, &ve, tc.name)
		require.Equal(t, tc.field, ve.Field, tc.name)
	}
	require.Equal(t, fila.Counts{}, b.counts(t), "nothing stored")
	j := b.add(t, "send", &fila.JobOptions{Group: strings.Repeat("x", 128)})
	require.Equal(t, strings.Repeat("x", 128), b.get(t, j.ID).Options.Group)

	require.ErrorIs(t, b.queue.SetGroupOptions(b.ctx, fila.GroupOptions{Concurrency: -1}), fila.ErrInvalid)
	require.ErrorIs(t, b.queue.SetGroupOptions(b.ctx, fila.GroupOptions{Rate: fila.Limit{Max: 1}}), fila.ErrInvalid)
	_, err := b.queue.GroupCounts(b.ctx, "")
	require.ErrorIs(t, err, fila.ErrInvalid)
	require.ErrorIs(t, b.queue.RateLimitGroup(b.ctx, "g", 0), fila.ErrInvalid)
}

func TestGroupMaxSize(t *testing.T) {
	t.Parallel()
	b := setup(t)
	require.NoError(t, b.queue.SetGroupOptions(b.ctx, fila.GroupOptions{MaxSize: 1}))
	o, err := b.queue.GroupOptions(b.ctx)
	require.NoError(t, err)
	require.Equal(t, fila.GroupOptions{Concurrency: 1, MaxSize: 1}, o)
	b.add(t, "a", &fila.JobOptions{Group: "g"})
	_, err = b.queue.Add(b.ctx, "b", nil, &fila.JobOptions{Group: "g", JobID: "b"})
	require.ErrorIs(t, err, fila.ErrGroupFull)
	var gf *fila.GroupFullError
	require.ErrorAs(t, err, &gf)
	require.Equal(t, "g", gf.Group)
	_, err = b.queue.GetJob(b.ctx, "b")
	require.ErrorIs(t, err, fila.ErrJobNotFound)
}

// TestGroupWorkersKeepOrder runs three workers with many slots on groups
// of concurrency 1: each group's jobs must run one at a time, in order.
func TestGroupWorkersKeepOrder(t *testing.T) {
	t.Parallel()
	b := setup(t)
	const groups, perGroup = 8, 10
	var mu sync.Mutex
	seen := map[string][]int{}
	running := map[string]bool{}
	var overlap atomic.Bool
	var done sync.WaitGroup
	done.Add(groups * perGroup)
	handler := func(_ context.Context, j *fila.Job) (any, error) {
		g := j.Options.Group
		mu.Lock()
		if running[g] {
			overlap.Store(true)
		}
		running[g] = true
		mu.Unlock()
		time.Sleep(time.Millisecond)
		var n int
		_, _ = fmt.Sscanf(j.Name, "n%d", &n)
		mu.Lock()
		running[g] = false
		seen[g] = append(seen[g], n)
		mu.Unlock()
		done.Done()
		return nil, nil
	}
	for i := range perGroup {
		for g := range groups {
			b.add(t, fmt.Sprintf("n%d", i), &fila.JobOptions{Group: fmt.Sprintf("g%d", g)})
		}
	}
	for range 3 {
		b.startWorker(t, handler, fila.WorkerOptions{Concurrency: 4})
	}
	waitGroupDone(t, &done)
	require.False(t, overlap.Load(), "two jobs of one group ran at once")
	for g, ns := range seen {
		for i, n := range ns {
			require.Equal(t, i, n, "group %s ran out of order: %v", g, ns)
		}
	}
}

// TestRateLimitedGroup: a handler's RateLimitedGroup holds back its group
// only and hands the job back without spending an attempt.
func TestRateLimitedGroup(t *testing.T) {
	t.Parallel()
	b := setup(t)
	limited := b.add(t, "a", &fila.JobOptions{Group: "chatty"})
	b.add(t, "b", &fila.JobOptions{Group: "chatty"})
	other := b.add(t, "c", &fila.JobOptions{Group: "quiet"})
	var mu sync.Mutex
	var order []string
	var once atomic.Bool
	var done sync.WaitGroup
	done.Add(3)
	start := time.Now()
	b.startWorker(t, func(_ context.Context, j *fila.Job) (any, error) {
		if j.ID == limited.ID && once.CompareAndSwap(false, true) {
			return nil, fmt.Errorf("send: %w", fila.RateLimitedGroup(400*time.Millisecond))
		}
		mu.Lock()
		order = append(order, j.Name)
		mu.Unlock()
		done.Done()
		return nil, nil
	}, fila.WorkerOptions{Concurrency: 1})
	waitGroupDone(t, &done)
	require.Equal(t, []string{"c", "a", "b"}, order, "quiet runs while chatty waits; chatty keeps its order")
	require.GreaterOrEqual(t, time.Since(start), 300*time.Millisecond)
	require.Equal(t, 1, b.get(t, limited.ID).AttemptsMade, "the limited attempt was not spent")
	require.Equal(t, fila.StateCompleted, b.get(t, other.ID).State)
}

func waitGroupDone(t *testing.T, wg *sync.WaitGroup) {
	t.Helper()
	ch := make(chan struct{})
	go func() { wg.Wait(); close(ch) }()
	select {
	case <-ch:
	case <-time.After(waitFor):
		t.Fatal("jobs did not all run")
	}
}

// A grouped job on a backend without groups fails at Add, nothing stored:
// it would otherwise run ungrouped, out of its group's order and limits.
func TestAddOfAGroupedJobNeedsABackendWithGroups(t *testing.T) {
	t.Parallel()
	b := setup(t)
	q := fila.NewQueue(plainBackend{b.be}, queueName)
	_, err := q.Add(b.ctx, "a", nil, &fila.JobOptions{Group: "g"})
	require.ErrorIs(t, err, fila.ErrUnsupported)
	_, err = q.AddBulk(b.ctx, []fila.BulkJob{{Name: "b"}, {Name: "c", Options: &fila.JobOptions{Group: "g"}}})
	require.ErrorIs(t, err, fila.ErrUnsupported)
	require.Equal(t, fila.Counts{}, b.counts(t), "nothing stored")
	_, err = q.Add(b.ctx, "ungrouped", nil, nil)
	require.NoError(t, err)
}

func TestGroupInspection(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.add(t, "a", &fila.JobOptions{Group: "big"})
	b.add(t, "b", &fila.JobOptions{Group: "big"})
	b.add(t, "c", &fila.JobOptions{Group: "small"})
	require.NoError(t, b.queue.PauseGroup(b.ctx, "small"))
	gs, err := b.queue.Groups(b.ctx, 0)
	require.NoError(t, err)
	require.Equal(t, []fila.GroupInfo{
		{Group: "big", GroupCounts: fila.GroupCounts{Waiting: 2}},
		{Group: "small", GroupCounts: fila.GroupCounts{Waiting: 1, Paused: true}},
	}, gs)
	jobs, err := b.queue.GroupJobs(b.ctx, "big", 0, 0)
	require.NoError(t, err)
	require.Len(t, jobs, 2)
	require.Equal(t, "a", jobs[0].Name)
	require.NoError(t, b.queue.ResumeGroup(b.ctx, "small"))
	c, err := b.queue.GroupCounts(b.ctx, "small")
	require.NoError(t, err)
	require.False(t, c.Paused)
	_, err = b.queue.GroupJobs(b.ctx, "", 0, 0)
	require.ErrorIs(t, err, fila.ErrInvalid)
	n, err := b.queue.DrainGroup(b.ctx, "big")
	require.NoError(t, err)
	require.Equal(t, 2, n)
	require.Equal(t, fila.Counts{Waiting: 1}, b.counts(t))
}

func TestMetricsHandlerGroups(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.add(t, "a", &fila.JobOptions{Group: "g1"})
	b.add(t, "b", &fila.JobOptions{Group: "g1"})
	b.add(t, "c", &fila.JobOptions{Group: "g2"})
	h := fila.MetricsHandler([]*fila.Queue{b.queue}, nil)

	rec := serveMetrics(t, h, http.MethodGet, "/api/queue/metrics")
	var rep fila.MetricsReport
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &rep))
	require.Empty(t, rep.Queues[0].Groups, "groups only when asked")

	rec = serveMetrics(t, h, http.MethodGet, "/api/queue/metrics?groups=1")
	require.Equal(t, http.StatusOK, rec.Code)
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &rep))
	require.Equal(t, []fila.GroupInfo{{Group: "g1", GroupCounts: fila.GroupCounts{Waiting: 2}}}, rep.Queues[0].Groups)

	rec = serveMetrics(t, h, http.MethodGet, "/api/queue/metrics?groups=0")
	require.Equal(t, http.StatusBadRequest, rec.Code)
}
