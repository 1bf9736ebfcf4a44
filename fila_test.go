package fila_test

import (
	"context"
	"errors"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/fila-go/fila"
	"github.com/fila-go/fila/backend"
	"github.com/fila-go/fila/backend/memory"
)

// TestMain fails the package when any goroutine outlives the tests: every
// Worker, Subscription and WaitUntilFinished must have stopped. Tests run in
// parallel, so the per-test check (goleak.VerifyNone) is only used by the
// serial tests in shutdown_test.go.
//
// One goroutine is go-redis', not fila's: after a dial fails (a test that
// stopped its redis-server), the client's pool re-dials in the background
// once a second until it succeeds or the client is closed, and it sees
// the close only after its current second, which can end after the last
// test.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, goleak.IgnoreAnyFunction("github.com/redis/go-redis/v9/internal/pool.(*ConnPool).tryDial"))
}

// queueName is the queue every test uses; each test has its own backend.
const queueName = "outbound"

// waitFor bounds every wait for something that should happen soon.
const waitFor = 10 * time.Second

// testBundle is what one test works with: a fresh memory backend and a
// queue on it.
type testBundle struct {
	ctx   context.Context
	be    *memory.Backend
	queue *fila.Queue
}

// setup returns a bundle on a new memory backend. It does not call
// t.Parallel: tests do that themselves (the serial shutdown tests must not).
func setup(t *testing.T, opts ...fila.QueueOptions) *testBundle {
	t.Helper()
	return setupWith(t, memory.Options{}, opts...)
}

func setupWith(t *testing.T, mo memory.Options, opts ...fila.QueueOptions) *testBundle {
	t.Helper()
	be := memory.New(mo)
	t.Cleanup(func() { _ = be.Close() })
	return &testBundle{ctx: context.Background(), be: be, queue: fila.NewQueue(be, queueName, opts...)}
}

// add adds one job and fails the test on error.
func (b *testBundle) add(t *testing.T, name string, opts *fila.JobOptions) *fila.Job {
	t.Helper()
	j, err := b.queue.Add(b.ctx, name, []byte(`{"name":"`+name+`"}`), opts)
	require.NoError(t, err)
	return j
}

func (b *testBundle) get(t *testing.T, id string) *fila.Job {
	t.Helper()
	j, err := b.queue.GetJob(b.ctx, id)
	require.NoError(t, err)
	return j
}

func (b *testBundle) counts(t *testing.T) fila.Counts {
	t.Helper()
	c, err := b.queue.Counts(b.ctx)
	require.NoError(t, err)
	return *c
}

// claimRaw claims a job straight through the backend, as a worker in
// another process would, holding its lock for lock.
func (b *testBundle) claimRaw(t *testing.T, token string, lock time.Duration) *backend.Job {
	t.Helper()
	res, err := b.be.JobClaim(b.ctx, &backend.JobClaimParams{Queue: queueName, Token: token, LockDuration: lock})
	require.NoError(t, err)
	require.NotNil(t, res.Job, "expected a job to claim")
	return res.Job
}

// newWorker builds a worker whose options the test knows are valid.
func newWorker(t testing.TB, be backend.Backend, queue string, p fila.Processor, opts fila.WorkerOptions) *fila.Worker {
	t.Helper()
	w, err := fila.NewWorker(be, queue, p, opts)
	require.NoError(t, err, "NewWorker")
	return w
}

// startWorker runs a worker on the bundle's queue until the test ends.
func (b *testBundle) startWorker(t *testing.T, p fila.Processor, opts fila.WorkerOptions) *fila.Worker {
	t.Helper()
	return startWorkerOn(t, b.be, queueName, p, opts)
}

// startWorkerOn runs a worker until the test ends; cleanup closes it and
// requires Run to have returned nil.
func startWorkerOn(t *testing.T, be backend.Backend, queue string, p fila.Processor, opts fila.WorkerOptions) *fila.Worker {
	t.Helper()
	w := newWorker(t, be, queue, p, opts)
	done := make(chan error, 1)
	go func() { done <- w.Run(context.Background()) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), waitFor)
		defer cancel()
		require.NoError(t, w.Close(ctx))
		select {
		case err := <-done:
			require.NoError(t, err, "Run")
		case <-time.After(waitFor):
			t.Error("Run did not return after Close")
		}
	})
	return w
}

// finished waits for a job to complete or fail for good.
func finished(t *testing.T, j *fila.Job) (*fila.Job, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	fin, err := j.WaitUntilFinished(ctx)
	require.False(t, errors.Is(err, context.DeadlineExceeded), "job %s did not finish in %s", j.ID, waitFor)
	return fin, err
}

// completed waits for a job and requires it to have completed.
func completed(t *testing.T, j *fila.Job) *fila.Job {
	t.Helper()
	fin, err := finished(t, j)
	require.NoError(t, err)
	require.Equal(t, fila.StateCompleted, fin.State)
	return fin
}

// failed waits for a job and requires it to have failed for good.
func failed(t *testing.T, j *fila.Job) (*fila.Job, *fila.JobFailedError) {
	t.Helper()
	fin, err := finished(t, j)
	var jf *fila.JobFailedError
	require.ErrorAs(t, err, &jf)
	require.Equal(t, j.ID, jf.JobID)
	require.Equal(t, fila.StateFailed, fin.State)
	return fin, jf
}

// waitResult is what WaitUntilFinished returned.
type waitResult struct {
	job *fila.Job
	err error
}

// waitAsync waits for j in a goroutine; the result arrives on the channel.
func waitAsync(j *fila.Job) <-chan waitResult {
	res := make(chan waitResult, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), waitFor)
		defer cancel()
		fin, err := j.WaitUntilFinished(ctx)
		res <- waitResult{fin, err}
	}()
	return res
}

// waitBeforeRun starts waiting for a job that cannot finish yet (no worker
// runs it) and returns once the waiter has seen it unfinished and blocks on
// the event log. A job removed by its retention as it finishes can only be
// reported from its final event by a waiter that started before that.
func (b *testBundle) waitBeforeRun(t *testing.T, j *fila.Job) <-chan waitResult {
	t.Helper()
	hook := &readHook{Backend: b.be, reading: make(chan struct{})}
	waiter, err := fila.NewQueue(hook, queueName).GetJob(b.ctx, j.ID)
	require.NoError(t, err)
	res := waitAsync(waiter)
	select {
	case <-hook.reading:
	case r := <-res:
		t.Fatalf("the wait ended before the job ran: %+v", r)
	}
	return res
}

// readHook reports the first blocking read of the event log.
type readHook struct {
	backend.Backend
	reading chan struct{}
	once    sync.Once
}

func (h *readHook) EventsRead(ctx context.Context, p *backend.EventsReadParams) ([]backend.Event, error) {
	if p.Wait > 0 {
		h.once.Do(func() { close(h.reading) })
	}
	return h.Backend.EventsRead(ctx, p)
}

// runLog records the job snapshots handlers received, in run order.
type runLog struct {
	mu   sync.Mutex
	runs []*fila.Job
}

func (r *runLog) add(j *fila.Job) {
	r.mu.Lock()
	r.runs = append(r.runs, j)
	r.mu.Unlock()
}

func (r *runLog) all() []*fila.Job {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]*fila.Job(nil), r.runs...)
}

func (r *runLog) len() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.runs)
}

// names returns the names of the jobs run, in run order.
func (r *runLog) names() []string {
	var out []string
	for _, j := range r.all() {
		out = append(out, j.Name)
	}
	return out
}

// of returns the runs of one job, in order.
func (r *runLog) of(id string) []*fila.Job {
	var out []*fila.Job
	for _, j := range r.all() {
		if j.ID == id {
			out = append(out, j)
		}
	}
	return out
}

// starts returns the backend-clock start times of every run, sorted.
func (r *runLog) starts() []time.Time {
	var out []time.Time
	for _, j := range r.all() {
		out = append(out, j.ProcessedAt)
	}
	sort.Slice(out, func(i, k int) bool { return out[i].Before(out[k]) })
	return out
}

// recordOK is a processor that records each run and returns "ok".
func (r *runLog) recordOK(_ context.Context, j *fila.Job) (any, error) {
	r.add(j)
	return "ok", nil
}

// fakeClock is a settable clock for memory.Options.Now.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func newFakeClock() *fakeClock { return &fakeClock{now: time.Date(2026, 1, 2, 3, 4, 0, 0, time.UTC)} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// memoryWithClock returns memory backend options that use the clock.
func memoryWithClock(c *fakeClock) memory.Options { return memory.Options{Now: c.Now} }

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// requireInvalid requires err to be a *fila.ValidationError for field that
// matches fila.ErrInvalid and names the queue.
func requireInvalid(t *testing.T, err error, field string) *fila.ValidationError {
	t.Helper()
	require.Error(t, err)
	var ve *fila.ValidationError
	require.ErrorAs(t, err, &ve, "got %v", err)
	require.Equal(t, field, ve.Field, "err: %v", err)
	require.ErrorIs(t, err, fila.ErrInvalid)
	return ve
}
