package fila

import (
	"context"
	"encoding/json"
	"math"
	"net/http"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fila-go/fila/backend"
)

// QueueMetrics is a snapshot of one queue: counts per state, switches, and
// completed and failed jobs per minute as recorded by the backend inside the
// finishing transitions (so they cover every worker of every process).
type QueueMetrics struct {
	Queue  string    `json:"queue"`
	At     time.Time `json:"at"`
	Counts Counts    `json:"counts"`
	Paused bool      `json:"paused"`
	// RateLimitedFor is the time left on an on-demand rate limit, in ms.
	RateLimitedFor int64 `json:"rate_limited_ms"`
	// CompletedPerMinute and FailedPerMinute are newest first: index 0 is
	// the current (partial) minute.
	CompletedPerMinute []int64 `json:"completed_per_minute"`
	FailedPerMinute    []int64 `json:"failed_per_minute"`
	// Schedulers counts the queue's job schedulers (0 on a backend without
	// them) and SchedulerLagMS is each one's Lag in ms, by ID: how long its
	// pending job is overdue, which grows while no worker takes it.
	Schedulers     int              `json:"schedulers"`
	SchedulerLagMS map[string]int64 `json:"scheduler_lag_ms,omitempty"`
	// Groups are the busiest groups, the most waiting first, when
	// MetricsHandler is asked for them (?groups=N) and the backend has
	// groups.
	Groups []GroupInfo `json:"groups,omitempty"`
}

// Metrics reads the queue's counts and its last minutes of throughput (at
// most what the backend keeps: 60 minutes by default).
func (q *Queue) Metrics(ctx context.Context, minutes int) (*QueueMetrics, error) {
	if q.nameErr != nil {
		return nil, q.errorf("read metrics of", q.nameErr)
	}
	if minutes < 0 {
		return nil, q.errorf("read metrics of", invalid("minutes", "must be >= 0, got %d", minutes))
	}
	c, err := q.Counts(ctx)
	if err != nil {
		return nil, err
	}
	info, err := q.be.QueueInfo(ctx, &backend.QueueParams{Queue: q.name})
	if err != nil {
		return nil, q.errorf("read metrics of", err)
	}
	m, err := q.be.QueueMetrics(ctx, &backend.QueueMetricsParams{Queue: q.name, Minutes: minutes})
	if err != nil {
		return nil, q.errorf("read metrics of", err)
	}
	qm := &QueueMetrics{
		Queue: q.name, At: m.At, Counts: *c, Paused: info.Paused, RateLimitedFor: info.RateLimitedFor.Milliseconds(),
		CompletedPerMinute: m.Completed, FailedPerMinute: m.Failed,
	}
	if _, ok := q.be.(backend.Schedulers); ok {
		list, err := q.Schedulers(ctx)
		if err != nil {
			return nil, err
		}
		qm.Schedulers = len(list)
		for _, s := range list {
			if qm.SchedulerLagMS == nil {
				qm.SchedulerLagMS = make(map[string]int64, len(list))
			}
			qm.SchedulerLagMS[s.ID] = s.Lag.Milliseconds()
		}
	}
	return qm, nil
}

// histogramBounds are the upper bounds, in seconds, of the buckets of every
// fila histogram: 100µs to about 27 minutes, doubling (25 buckets, plus +Inf).
var histogramBounds = func() []float64 {
	b := make([]float64, 25)
	for i := range b {
		b[i] = 0.0001 * math.Pow(2, float64(i))
	}
	return b
}()

// histogram is a lock-free cumulative histogram of durations.
type histogram struct {
	counts [26]atomic.Uint64 // len(histogramBounds)+1, the last is +Inf
	count  atomic.Uint64
	sumNs  atomic.Int64
	maxNs  atomic.Int64
}

func (h *histogram) observe(d time.Duration) {
	s := d.Seconds()
	i := sort.SearchFloat64s(histogramBounds, s)
	h.counts[i].Add(1)
	h.count.Add(1)
	h.sumNs.Add(int64(d))
	for {
		m := h.maxNs.Load()
		if int64(d) <= m || h.maxNs.CompareAndSwap(m, int64(d)) {
			return
		}
	}
}

// Histogram is a snapshot of a cumulative duration histogram.
type Histogram struct {
	// Bounds are the buckets' upper bounds in seconds; Counts has one more
	// entry, for +Inf. Counts are per bucket, not cumulative.
	Bounds []float64 `json:"-"`
	Counts []uint64  `json:"-"`
	Count  uint64    `json:"count"`
	Sum    float64   `json:"sum_seconds"`
	Max    float64   `json:"max_seconds"`
}

func (h *histogram) snapshot() Histogram {
	s := Histogram{Bounds: histogramBounds, Counts: make([]uint64, len(h.counts))}
	for i := range h.counts {
		s.Counts[i] = h.counts[i].Load()
		s.Count += s.Counts[i]
	}
	s.Sum = time.Duration(h.sumNs.Load()).Seconds()
	s.Max = time.Duration(h.maxNs.Load()).Seconds()
	return s
}

// Quantile estimates the q-quantile (0 < q <= 1) in seconds by linear
// interpolation inside its bucket, capped at the largest observation. It is
// 0 with no observations.
func (h Histogram) Quantile(q float64) float64 {
	if h.Count == 0 {
		return 0
	}
	rank := q * float64(h.Count)
	var seen float64
	for i, c := range h.Counts {
		if c == 0 {
			continue
		}
		if seen+float64(c) >= rank {
			lo := 0.0
			if i > 0 {
				lo = h.Bounds[i-1]
			}
			hi := h.Max
			if i < len(h.Bounds) {
				hi = min(h.Bounds[i], h.Max)
			}
			if hi < lo {
				return hi
			}
			return lo + (hi-lo)*(rank-seen)/float64(c)
		}
		seen += float64(c)
	}
	return h.Max
}

// MarshalJSON adds p50, p95 and p99 (seconds) to the summary fields.
func (h Histogram) MarshalJSON() ([]byte, error) {
	type plain Histogram
	return json.Marshal(struct {
		plain
		P50 float64 `json:"p50_seconds"`
		P95 float64 `json:"p95_seconds"`
		P99 float64 `json:"p99_seconds"`
	}{plain(h), h.Quantile(0.5), h.Quantile(0.95), h.Quantile(0.99)})
}

// workerCounters are a worker's cumulative in-process figures.
type workerCounters struct {
	completed, failed, retried, released, rateLimited, stalled, stalledFailed atomic.Uint64
	abandoned, backendErrors                                                  atomic.Uint64
	processing, waiting                                                       histogram

	errMu     sync.Mutex
	lastErr   string
	lastErrAt time.Time
}

// backendError counts a failed backend call and keeps it as the last one.
func (c *workerCounters) backendError(err error) {
	c.backendErrors.Add(1)
	c.errMu.Lock()
	c.lastErr, c.lastErrAt = err.Error(), time.Now()
	c.errMu.Unlock()
}

// WorkerStats are a worker's figures since it started, kept in process.
type WorkerStats struct {
	Queue string `json:"queue"`
	// Worker is the worker's Name, stable across restarts; ID its random
	// per-run identifier (in lock tokens).
	Worker      string `json:"worker"`
	ID          string `json:"id"`
	Concurrency int    `json:"concurrency"`
	Prefetch    int    `json:"prefetch"`
	Running     int    `json:"running"`    // handlers running now
	Prefetched  int    `json:"prefetched"` // claimed jobs waiting for a handler slot

	Completed uint64 `json:"completed"`
	Failed    uint64 `json:"failed"`  // failed for good
	Retried   uint64 `json:"retried"` // failed attempts that will run again
	Released  uint64 `json:"released"`
	// RateLimited counts claims the global limiter or an on-demand limit
	// turned away.
	RateLimited uint64 `json:"rate_limited"`
	// Stalled counts jobs this worker's stalled checks returned to waiting;
	// StalledFailed those they failed for stalling too often.
	Stalled       uint64 `json:"stalled_recovered"`
	StalledFailed uint64 `json:"stalled_failed"`
	// Abandoned counts handlers still running at the shutdown deadline,
	// which the worker stopped waiting for (see Close).
	Abandoned uint64 `json:"abandoned"`

	// BackendErrors counts failed backend calls (claims, finishing calls,
	// lock renewals, stalled checks); LastError and LastErrorAt are the
	// latest, empty and zero until one fails. Transient errors are retried
	// with backoff; a permanent one ends Run.
	BackendErrors uint64    `json:"backend_errors"`
	LastError     string    `json:"last_error,omitempty"`
	LastErrorAt   time.Time `json:"last_error_at,omitzero"`

	// ProcessingTime is handler run time; WaitTime is from when a job was
	// ready (added, or due after its Delay) to when its first attempt
	// started (a retry's ready time is not stored, so retries are left out).
	ProcessingTime Histogram `json:"processing_time"`
	WaitTime       Histogram `json:"wait_time"`
}

// Stats returns the worker's figures since it started.
func (w *Worker) Stats() WorkerStats {
	var running, prefetched int
	w.mu.Lock()
	for _, aj := range w.active {
		// Without Prefetch no job waits: one between its claim and its
		// handler's start is running.
		if aj.begun.Load() || w.opts.Prefetch == 0 {
			running++
		} else {
			prefetched++
		}
	}
	w.mu.Unlock()
	c := &w.stats
	c.errMu.Lock()
	lastErr, lastErrAt := c.lastErr, c.lastErrAt
	c.errMu.Unlock()
	return WorkerStats{
		Queue: w.queue, Worker: w.name, ID: w.id, Concurrency: w.opts.Concurrency, Prefetch: w.opts.Prefetch,
		Running: running, Prefetched: prefetched,
		Completed: c.completed.Load(), Failed: c.failed.Load(), Retried: c.retried.Load(),
		Released: c.released.Load(), RateLimited: c.rateLimited.Load(),
		Stalled: c.stalled.Load(), StalledFailed: c.stalledFailed.Load(), Abandoned: c.abandoned.Load(),
		BackendErrors: c.backendErrors.Load(), LastError: lastErr, LastErrorAt: lastErrAt,
		ProcessingTime: c.processing.snapshot(), WaitTime: c.waiting.snapshot(),
	}
}

// MetricsReport is the document MetricsHandler serves.
type MetricsReport struct {
	At      time.Time       `json:"at"`
	Queues  []*QueueMetrics `json:"queues"`
	Workers []WorkerStats   `json:"workers"`
}

// Report gathers the metrics of queues and the stats of workers.
func Report(ctx context.Context, minutes int, queues []*Queue, workers []*Worker) (*MetricsReport, error) {
	r := &MetricsReport{At: time.Now(), Queues: make([]*QueueMetrics, len(queues)), Workers: []WorkerStats{}}
	var wg sync.WaitGroup
	errs := make([]error, len(queues))
	for i, q := range queues {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r.Queues[i], errs[i] = q.Metrics(ctx, minutes)
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	for _, w := range workers {
		r.Workers = append(r.Workers, w.Stats())
	}
	return r, nil
}

// MetricsHandler serves GET requests with a JSON MetricsReport of queues and
// workers. The query parameter minutes sets the length of the per-minute
// series (default 15); groups=N adds each queue's N busiest groups (it
// reads every group of the queue, so it is not asked by default). A
// backend error is a 503 with a JSON error.
func MetricsHandler(queues []*Queue, workers []*Worker) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		minutes := 15
		if s := r.URL.Query().Get("minutes"); s != "" {
			n, err := strconv.Atoi(s)
			if err != nil || n < 1 || n > 10080 {
				writeJSON(w, http.StatusBadRequest, map[string]string{"error": "minutes must be an integer from 1 to 10080"})
				return
			}
			minutes = n
		}
		topGroups := 0
		if s := r.URL.Query().Get("groups"); s != "" {
			n, err := strconv.Atoi(s)
			if err != nil || n < 1 || n > 1000 {
				writeJSON(w, http.StatusBadRequest, map[string]string{"error": "groups must be an integer from 1 to 1000"})
				return
			}
			topGroups = n
		}
		rep, err := Report(r.Context(), minutes, queues, workers)
		if err == nil && topGroups > 0 {
			err = addGroups(r.Context(), rep, queues, topGroups)
		}
		if err != nil {
			writeJSON(w, http.StatusServiceUnavailable, map[string]string{"error": err.Error()})
			return
		}
		writeJSON(w, http.StatusOK, rep)
	})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

// addGroups fills each queue's busiest groups into rep, for backends that
// have groups.
func addGroups(ctx context.Context, rep *MetricsReport, queues []*Queue, n int) error {
	for i, q := range queues {
		if _, ok := q.be.(backend.Groups); !ok {
			continue
		}
		gs, err := q.Groups(ctx, n)
		if err != nil {
			return err
		}
		rep.Queues[i].Groups = gs
	}
	return nil
}
