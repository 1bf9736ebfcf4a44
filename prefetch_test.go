package fila_test

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/fila-go/fila"
	"github.com/fila-go/fila/backend"
)

// gatedHandler runs jobs one after another as the test lets them: each job
// reports its start on started and waits for a value on proceed.
type gatedHandler struct {
	started chan string
	proceed chan struct{}

	mu      sync.Mutex
	order   []string
	running peak
}

// peak counts handlers running at once and keeps the most seen.
type peak struct{ now, most atomic.Int32 }

// enter counts a handler in; the returned func counts it out.
func (p *peak) enter() (leave func()) {
	n := p.now.Add(1)
	for m := p.most.Load(); n > m && !p.most.CompareAndSwap(m, n); m = p.most.Load() {
	}
	return func() { p.now.Add(-1) }
}

func newGatedHandler() *gatedHandler {
	return &gatedHandler{started: make(chan string, 100), proceed: make(chan struct{})}
}

func (h *gatedHandler) handle(ctx context.Context, j *fila.Job) (any, error) {
	defer h.running.enter()()
	h.mu.Lock()
	h.order = append(h.order, j.ID)
	h.mu.Unlock()
	h.started <- j.ID
	select {
	case <-h.proceed:
		return nil, nil
	case <-ctx.Done():
		return nil, context.Cause(ctx)
	}
}

func (h *gatedHandler) ran() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]string(nil), h.order...)
}

func TestPrefetch(t *testing.T) {
	t.Run("ClaimsAheadButRunsOnlyConcurrencyHandlers", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		var ids []string
		for range 10 {
			ids = append(ids, b.add(t, "send", nil).ID)
		}
		h := newGatedHandler()
		w := b.startWorker(t, h.handle, fila.WorkerOptions{Concurrency: 1, Prefetch: 2, PrefetchHold: time.Hour})

		require.Equal(t, ids[0], <-h.started)
		require.Eventually(t, func() bool { return w.Stats().Prefetched == 2 }, waitFor, time.Millisecond)
		st := w.Stats()
		require.Equal(t, 1, st.Running)
		require.Equal(t, 2, st.Prefetch)
		require.Equal(t, fila.Counts{Waiting: 7, Active: 3}, b.counts(t), "prefetched jobs are claimed")

		h.proceed <- struct{}{}
		// The three claimed one after another by the dispatcher start in
		// that order; the later ones are claimed by overlapping finishing
		// calls, in either order.
		for _, want := range ids[1:3] {
			require.Equal(t, want, <-h.started)
			h.proceed <- struct{}{}
		}
		for range ids[3:] {
			<-h.started
			h.proceed <- struct{}{}
		}
		for _, id := range ids {
			completed(t, b.get(t, id))
		}
		require.ElementsMatch(t, ids, h.ran(), "each job ran once")
		require.Equal(t, int32(1), h.running.most.Load(), "never more handlers than Concurrency")
	})

	t.Run("RenewsTheLockOfAJobWaitingForASlot", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		first := b.add(t, "first", nil)
		second := b.add(t, "second", nil)
		h := newGatedHandler()
		b.startWorker(t, h.handle, fila.WorkerOptions{
			// A lock long enough that renewals (every half of it) keep up on
			// a loaded machine.
			Concurrency: 1, Prefetch: 1, PrefetchHold: time.Hour, LockDuration: 500 * time.Millisecond, StalledInterval: 10 * time.Millisecond,
		})
		require.Equal(t, first.ID, <-h.started)
		time.Sleep(2500 * time.Millisecond) // five lock durations; stalled checks run every 10ms
		h.proceed <- struct{}{}
		require.Equal(t, second.ID, <-h.started)
		h.proceed <- struct{}{}

		s := completed(t, second)
		require.Equal(t, 0, s.StalledCount, "the waiting job's lock was renewed: no stalled check took it")
		require.Equal(t, 1, s.AttemptsStarted)
		require.Equal(t, []string{first.ID, second.ID}, h.ran())
	})

	t.Run("TimeoutCountsFromTheHandlerStart", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		slow := b.add(t, "slow", nil)
		quick := b.add(t, "quick", &fila.JobOptions{Timeout: 100 * time.Millisecond})
		b.startWorker(t, func(ctx context.Context, j *fila.Job) (any, error) {
			if j.ID == slow.ID {
				time.Sleep(300 * time.Millisecond) // the quick job waits, prefetched, meanwhile
			}
			return nil, ctx.Err()
		}, fila.WorkerOptions{Concurrency: 1, Prefetch: 1, PrefetchHold: time.Hour})

		completed(t, slow)
		completed(t, quick)
	})

	t.Run("ATimedOutHandlerFreesItsSlot", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		stuck := b.add(t, "stuck", &fila.JobOptions{Timeout: 50 * time.Millisecond})
		next := b.add(t, "next", nil)
		unstick := make(chan struct{})
		t.Cleanup(func() { close(unstick) }) // registered before the worker's cleanup: runs after it
		b.startWorker(t, func(ctx context.Context, j *fila.Job) (any, error) {
			if j.ID == stuck.ID {
				<-unstick // ignores its context
			}
			return "ok", nil
		}, fila.WorkerOptions{Concurrency: 1, Prefetch: 1, PrefetchHold: time.Hour, ShutdownTimeout: time.Millisecond})

		_, err := finished(t, stuck)
		require.ErrorContains(t, err, "timed out")
		completed(t, next)
	})

	t.Run("DropsAWaitingJobWhoseLockIsLost", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		first := b.add(t, "first", nil)
		second := b.add(t, "second", nil)
		loser := &lockLoser{Backend: b.be, id: second.ID}
		var buf syncBuffer
		h := newGatedHandler()
		startWorkerOn(t, loser, queueName, h.handle, fila.WorkerOptions{
			// A lock long enough that the first job's renewals keep up on a
			// loaded machine (at 40ms, a late renewal let it run twice).
			Concurrency: 1, Prefetch: 1, PrefetchHold: time.Hour, LockDuration: time.Second, StalledInterval: 10 * time.Millisecond,
			Logger: slog.New(slog.NewTextHandler(&buf, nil)),
		})
		require.Equal(t, first.ID, <-h.started)
		require.Eventually(t, func() bool { return strings.Contains(buf.String(), "lock lost before it started") }, waitFor, time.Millisecond)
		h.proceed <- struct{}{}
		// The stalled check returns the dropped job once its lock expires,
		// and it runs then, once.
		require.Equal(t, second.ID, <-h.started)
		h.proceed <- struct{}{}
		s := completed(t, second)
		require.Equal(t, 1, s.StalledCount)
		require.Equal(t, []string{first.ID, second.ID}, h.ran())
	})

	t.Run("ARateLimitedHandlerHandsBackThePrefetchedJobsBehindIt", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		const d = 300 * time.Millisecond
		limited := b.add(t, "limited", &fila.JobOptions{Attempts: 1})
		next := b.add(t, "next", nil)
		prefetched := make(chan struct{})
		var mu sync.Mutex
		var names []string
		var limitedAt time.Time
		var startsAfter []time.Duration
		w := b.startWorker(t, func(_ context.Context, j *fila.Job) (any, error) {
			if j.Name == "limited" && j.AttemptsStarted == 1 {
				<-prefetched // "next" waits for the slot behind it
			}
			mu.Lock()
			defer mu.Unlock()
			names = append(names, j.Name)
			if !limitedAt.IsZero() {
				startsAfter = append(startsAfter, time.Since(limitedAt))
			}
			if j.Name == "limited" && j.AttemptsStarted == 1 {
				limitedAt = time.Now()
				return nil, fmt.Errorf("provider said 429: %w", fila.RateLimited(d))
			}
			return "ok", nil
		}, fila.WorkerOptions{Concurrency: 1, Prefetch: 1, PrefetchHold: time.Hour})
		require.Eventually(t, func() bool { return w.Stats().Prefetched == 1 }, waitFor, time.Millisecond)
		time.Sleep(20 * time.Millisecond) // from begin to the gate
		close(prefetched)

		completed(t, limited)
		completed(t, next)
		mu.Lock()
		defer mu.Unlock()
		for i, s := range startsAfter {
			require.GreaterOrEqual(t, s, d-20*time.Millisecond, "handler %d started %s into the %s rate limit", i, s, d)
		}
		require.Equal(t, []string{"limited", "limited", "next"}, names, "the rate-limited job stays in front")
	})

	t.Run("NoHandlerStartsDuringAHandlersRateLimit", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		const d = 300 * time.Millisecond
		jobs := []*fila.Job{b.add(t, "limited", &fila.JobOptions{Attempts: 1})}
		for range 3 {
			jobs = append(jobs, b.add(t, "next", nil))
		}
		var mu sync.Mutex
		var limitedAt time.Time
		var startsAfter []time.Duration
		b.startWorker(t, func(_ context.Context, j *fila.Job) (any, error) {
			mu.Lock()
			defer mu.Unlock()
			if !limitedAt.IsZero() {
				startsAfter = append(startsAfter, time.Since(limitedAt))
			}
			if j.Name == "limited" && j.AttemptsStarted == 1 {
				limitedAt = time.Now()
				return nil, fila.RateLimited(d)
			}
			return "ok", nil
		}, fila.WorkerOptions{Concurrency: 1, Prefetch: 2, PrefetchHold: time.Hour})
		for _, j := range jobs {
			completed(t, j)
		}
		mu.Lock()
		defer mu.Unlock()
		require.Len(t, startsAfter, 4, "the limited job again and the three others")
		for i, s := range startsAfter {
			require.GreaterOrEqual(t, s, d-20*time.Millisecond, "handler %d started %s into the %s rate limit", i, s, d)
		}
	})

	t.Run("RefusesANegativePrefetch", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		_, err := fila.NewWorker(b.be, queueName, func(context.Context, *fila.Job) (any, error) { return nil, nil },
			fila.WorkerOptions{Prefetch: -2})
		requireInvalid(t, err, "Prefetch")
	})
}

// lockLoser reports the first lock of one job as lost at every renewal, as
// a backend does when another worker's stalled check took the job.
type lockLoser struct {
	backend.Backend
	id    string
	mu    sync.Mutex
	token string
}

func (l *lockLoser) JobExtendLocks(ctx context.Context, p *backend.JobExtendLocksParams) ([]string, error) {
	lost, err := l.Backend.JobExtendLocks(ctx, p)
	if err != nil {
		return lost, err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, lk := range p.Locks {
		if lk.ID == l.id && (l.token == "" || l.token == lk.Token) {
			l.token = lk.Token
			lost = append(lost, lk.ID)
		}
	}
	return lost, nil
}

// Not parallel: it ends with goleak.VerifyNone (see shutdown_test.go).
func TestCloseHandsPrefetchedJobsBackUnstarted(t *testing.T) {
	b := setup(t)
	running := b.add(t, "running", nil)
	var waiting []string
	for range 2 {
		waiting = append(waiting, b.add(t, "prefetched", nil).ID)
	}
	h := newGatedHandler()
	w := newWorker(t, b.be, queueName, h.handle, fila.WorkerOptions{Concurrency: 1, Prefetch: 2, PrefetchHold: time.Hour})
	runDone := make(chan error, 1)
	go func() { runDone <- w.Run(context.Background()) }()
	require.Equal(t, running.ID, <-h.started)
	require.Eventually(t, func() bool { return w.Stats().Prefetched == 2 }, waitFor, time.Millisecond)

	closeDone := make(chan error, 1)
	go func() { closeDone <- w.Close(context.Background()) }()
	// Handed back at once, while the running job still runs.
	require.Eventually(t, func() bool { return b.counts(t) == fila.Counts{Waiting: 2, Active: 1} }, waitFor, time.Millisecond)
	h.proceed <- struct{}{}
	require.NoError(t, <-closeDone)
	require.NoError(t, <-runDone)

	require.Equal(t, fila.StateCompleted, b.get(t, running.ID).State)
	for _, id := range waiting {
		j := b.get(t, id)
		require.Equal(t, fila.StateWaiting, j.State)
		require.Equal(t, 0, j.AttemptsMade, "no attempt spent")
	}
	got, err := b.queue.Jobs(b.ctx, fila.StateWaiting, 0, 0)
	require.NoError(t, err)
	require.Equal(t, waiting, jobIDs(got), "they keep their place at the front")
	require.Equal(t, []string{running.ID}, h.ran(), "no prefetched job started")
	require.Equal(t, uint64(2), w.Stats().Released)
	goleak.VerifyNone(t)
}

// With the default Prefetch, a job claimed ahead behind a slow handler goes
// back after PrefetchHold for another worker to run, and the worker claims
// none ahead again while its handler stays slow: two workers share a queue
// and the slow handler never finishes during the test, so a job hoarded by
// the first worker would never run and the test would time out.
func TestPrefetchHoardsNothingBehindASlowHandler(t *testing.T) {
	t.Parallel()
	b := setup(t)
	slow := b.add(t, "slow", nil)
	release := make(chan struct{})
	slowStarted := make(chan struct{})
	ranBy := make(chan string, 10)
	handler := func(worker string) fila.Processor {
		return func(ctx context.Context, j *fila.Job) (any, error) {
			if j.Name == "slow" {
				close(slowStarted)
				select {
				case <-release:
				case <-ctx.Done():
				}
				return nil, nil
			}
			ranBy <- worker + " " + j.Name
			return nil, nil
		}
	}
	quick := b.add(t, "quick", nil)
	first := b.startWorker(t, handler("first"), fila.WorkerOptions{}) // Concurrency 1, Prefetch 1: the defaults
	<-slowStarted
	// The first worker's dispatcher takes it ahead of a free slot, then
	// hands it back after PrefetchHold.
	require.Eventually(t, func() bool { return first.Stats().Released == 1 }, waitFor, time.Millisecond)
	require.Equal(t, fila.StateWaiting, b.get(t, quick.ID).State, "back in waiting, unstarted")
	require.Equal(t, 0, b.get(t, quick.ID).AttemptsMade, "no attempt spent")

	b.startWorker(t, handler("second"), fila.WorkerOptions{})
	require.Equal(t, "second quick", <-ranBy)
	b.add(t, "later", nil) // the first worker claims nothing ahead now, nor blocks on a claim while busy
	require.Equal(t, "second later", <-ranBy)
	require.Equal(t, uint64(1), first.Stats().Released, "one hand-back, no claim-and-release churn")
	require.Equal(t, fila.StateActive, b.get(t, slow.ID).State)
	close(release)
	completed(t, slow)
}

// After a hand-back the worker prefetches again once a handler is short:
// a second slow job makes it claim a job ahead, and hand it back, again.
func TestPrefetchResumesWhenHandlersAreShortAgain(t *testing.T) {
	t.Parallel()
	b := setup(t)
	releases := map[string]chan struct{}{"slow-1": make(chan struct{}), "slow-2": make(chan struct{})}
	started := make(chan string, 10)
	w := b.startWorker(t, func(ctx context.Context, j *fila.Job) (any, error) {
		if r, ok := releases[j.Name]; ok {
			started <- j.Name
			select {
			case <-r:
			case <-ctx.Done():
			}
		}
		return nil, nil
	}, fila.WorkerOptions{})
	_, err := b.queue.AddBulk(b.ctx, []fila.BulkJob{{Name: "slow-1"}, {Name: "quick"}}) // a claim ahead takes only a waiting job
	require.NoError(t, err)
	require.Equal(t, "slow-1", <-started)
	require.Eventually(t, func() bool { return w.Stats().Released == 1 }, waitFor, time.Millisecond)

	close(releases["slow-1"])
	short := b.add(t, "short", nil)
	completed(t, short)
	_, err = b.queue.AddBulk(b.ctx, []fila.BulkJob{{Name: "slow-2"}, {Name: "quick-2"}})
	require.NoError(t, err)
	require.Equal(t, "slow-2", <-started)
	require.Eventually(t, func() bool { return w.Stats().Released == 2 }, waitFor, time.Millisecond,
		"claimed ahead again, and handed back")
	close(releases["slow-2"])
	require.Eventually(t, func() bool { return b.counts(t) == fila.Counts{Completed: 5} }, waitFor, time.Millisecond)
}
