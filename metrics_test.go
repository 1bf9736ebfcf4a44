package fila_test

import (
	"context"
	"encoding/json"
	"errors"
	"math"
	"net/http"
	"net/http/httptest"
	"sort"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/fila-go/fila"
	"github.com/fila-go/fila/backend"
	"github.com/fila-go/fila/backend/memory"
)

// finishRaw completes (err == "") or fails a job claimed with claimRaw,
// through the backend, as a worker in another process would. A failure
// with retry goes to delayed for retryIn.
func (b *testBundle) finishRaw(t *testing.T, j *backend.Job, token, failure string, retry bool, retryIn time.Duration) {
	t.Helper()
	var err error
	if failure == "" {
		_, err = b.be.JobComplete(b.ctx, &backend.JobCompleteParams{Queue: queueName, ID: j.ID, Token: token})
	} else {
		_, err = b.be.JobFail(b.ctx, &backend.JobFailParams{Queue: queueName, ID: j.ID, Token: token, Reason: failure, Retry: retry, RetryDelay: retryIn})
	}
	require.NoError(t, err)
}

// metrics reads the queue's metrics and fails the test on error.
func (b *testBundle) metrics(t *testing.T, minutes int) *fila.QueueMetrics {
	t.Helper()
	m, err := b.queue.Metrics(b.ctx, minutes)
	require.NoError(t, err)
	return m
}

func sumInts(xs []int64) int64 {
	var s int64
	for _, x := range xs {
		s += x
	}
	return s
}

func TestQueueMetrics(t *testing.T) {
	t.Parallel()

	t.Run("CountsAndSeriesAreExactAfterAScriptedMix", func(t *testing.T) {
		t.Parallel()
		clock := newFakeClock() // 03:04:00
		b := setupWith(t, memoryWithClock(clock))
		for _, name := range []string{"a1", "a2", "a3", "a4", "a5", "a6"} {
			b.add(t, name, nil)
		}
		b.add(t, "p1", &fila.JobOptions{Priority: 3})
		d1 := b.add(t, "d1", &fila.JobOptions{Delay: time.Hour})
		b.add(t, "d2", &fila.JobOptions{Delay: time.Hour})

		// Minute 03:04: two completions and a failure for good.
		b.finishRaw(t, b.claimRaw(t, "t1", time.Minute), "t1", "", false, 0)
		b.finishRaw(t, b.claimRaw(t, "t2", time.Minute), "t2", "", false, 0)
		a3 := b.claimRaw(t, "t3", time.Minute)
		b.finishRaw(t, a3, "t3", "400 bad number", false, 0)

		// Minute 03:05: a completion, a failed attempt that will be retried
		// (not a failure in the series), a job left running, a priority job
		// failed for good, then a manual retry and a promotion.
		clock.Advance(time.Minute)
		b.finishRaw(t, b.claimRaw(t, "t4", time.Minute), "t4", "", false, 0)
		a5 := b.claimRaw(t, "t5", time.Minute)
		b.finishRaw(t, a5, "t5", "503 try later", true, 30*time.Second)
		a6 := b.claimRaw(t, "t6", time.Minute)
		p1 := b.claimRaw(t, "t7", time.Minute)
		require.Equal(t, []string{"a5", "a6", "p1"}, []string{a5.Name, a6.Name, p1.Name}, "FIFO, then priority")
		b.finishRaw(t, p1, "t7", "400 bad number", false, 0)
		require.NoError(t, b.queue.RetryJob(b.ctx, a3.ID))
		require.NoError(t, b.queue.Promote(b.ctx, d1.ID))

		want := fila.Counts{Waiting: 2, Delayed: 2, Active: 1, Completed: 3, Failed: 1}
		m := b.metrics(t, 3)
		require.Equal(t, want, m.Counts)
		require.Equal(t, want, b.counts(t), "Metrics and Counts agree")
		require.Equal(t, queueName, m.Queue)
		require.Equal(t, clock.Now(), m.At.UTC(), "stamped by the backend's clock")
		require.Equal(t, []int64{1, 2, 0}, m.CompletedPerMinute, "newest first: 03:05, 03:04, 03:03")
		require.Equal(t, []int64{1, 1, 0}, m.FailedPerMinute, "a retried attempt is not a failure")
		require.False(t, m.Paused)
		require.Zero(t, m.RateLimitedFor)

		require.NoError(t, b.queue.Pause(b.ctx))
		require.NoError(t, b.queue.RateLimit(b.ctx, 10*time.Second))
		m = b.metrics(t, 1)
		require.True(t, m.Paused)
		require.Equal(t, int64(10_000), m.RateLimitedFor, "ms left on the limit, by the backend's clock")
		require.Equal(t, []int64{1}, m.CompletedPerMinute)
		require.Equal(t, fila.Counts{Paused: 2, Delayed: 2, Active: 1, Completed: 3, Failed: 1}, m.Counts, "waiting jobs count as paused")
	})

	t.Run("CountsAreExactAfterAWorkerRanAMix", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		const attempts = 6 // three ok, one unrecoverable, one flaky twice
		finished := make(chan struct{}, attempts)
		w := b.startWorker(t, func(_ context.Context, j *fila.Job) (any, error) {
			switch {
			case j.Name == "bad":
				return nil, fila.Unrecoverable(errors.New("400 bad number"))
			case j.Name == "flaky" && j.AttemptsMade == 0:
				return nil, errors.New("503 try later")
			}
			return "sent", nil
		}, fila.WorkerOptions{Concurrency: 2, OnFinished: func(*fila.Job, error) { finished <- struct{}{} }})
		for _, name := range []string{"ok", "ok", "ok", "bad", "flaky"} {
			b.add(t, name, &fila.JobOptions{Attempts: 2})
		}
		b.add(t, "later", &fila.JobOptions{Delay: time.Hour})
		for range attempts {
			select {
			case <-finished:
			case <-time.After(waitFor):
				t.Fatalf("the worker did not finish %d attempts", attempts)
			}
		}

		m := b.metrics(t, 0)
		require.Equal(t, fila.Counts{Delayed: 1, Completed: 4, Failed: 1}, m.Counts)
		require.Len(t, m.CompletedPerMinute, 60, "0 minutes asks for all the backend keeps")
		require.Equal(t, int64(4), sumInts(m.CompletedPerMinute), "the run may straddle a minute: count the whole series")
		require.Equal(t, int64(1), sumInts(m.FailedPerMinute))
		s := w.Stats()
		require.Equal(t, []uint64{4, 1, 1, 0}, []uint64{s.Completed, s.Failed, s.Retried, s.Released})
		require.Equal(t, uint64(attempts), s.ProcessingTime.Count)
		require.Equal(t, uint64(5), s.WaitTime.Count, "first attempts only")
	})

	t.Run("SeriesHoldsAtMostMetricsMinutesPoints", func(t *testing.T) {
		t.Parallel()
		const kept = 5
		clock := newFakeClock()
		b := setupWith(t, memory.Options{Now: clock.Now, MetricsMinutes: kept})
		// Eight minutes of traffic: minute k completes k+1 jobs and fails one.
		for k := range 8 {
			if k > 0 {
				clock.Advance(time.Minute)
			}
			for i := range k + 2 {
				b.add(t, "job", nil)
				token := "t" + string(rune('a'+k)) + string(rune('a'+i))
				failure := ""
				if i == k+1 {
					failure = "boom"
				}
				b.finishRaw(t, b.claimRaw(t, token, time.Minute), token, failure, false, 0)
			}
		}

		m := b.metrics(t, 0)
		require.Equal(t, []int64{8, 7, 6, 5, 4}, m.CompletedPerMinute, "newest first; minutes 1 to 3 fell off")
		require.Equal(t, []int64{1, 1, 1, 1, 1}, m.FailedPerMinute)
		require.Len(t, b.metrics(t, 100).CompletedPerMinute, kept, "never more than the backend keeps")
		require.Equal(t, []int64{8, 7}, b.metrics(t, 2).CompletedPerMinute)
		require.Equal(t, int64(1+2+3+4+5+6+7+8), b.counts(t).Completed, "counts are not bounded by the series")

		clock.Advance(3 * time.Minute)
		m = b.metrics(t, 0)
		require.Equal(t, []int64{0, 0, 0, 8, 7}, m.CompletedPerMinute, "quiet minutes are zeros; older ones fall off")
		clock.Advance(time.Hour)
		require.Equal(t, make([]int64, kept), b.metrics(t, 0).CompletedPerMinute)
	})

	t.Run("NegativeMinutesIsInvalid", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		_, err := b.queue.Metrics(b.ctx, -1)
		requireInvalid(t, err, "minutes")
		require.ErrorContains(t, err, `fila: read metrics of "outbound"`)
	})
}

// failingCounts is a backend whose QueueCounts fails.
type failingCounts struct{ backend.Backend }

func (failingCounts) QueueCounts(context.Context, *backend.QueueParams) (*backend.Counts, error) {
	return nil, errors.New("connection refused")
}

// serveMetrics runs one request through MetricsHandler.
func serveMetrics(t *testing.T, h http.Handler, method, target string) *httptest.ResponseRecorder {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(method, target, nil))
	return rec
}

func TestMetricsHandler(t *testing.T) {
	t.Parallel()

	t.Run("ServesCountsEqualToCountsForEveryQueue", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		inbound := fila.NewQueue(b.be, "inbound")
		b.add(t, "send", nil)
		b.add(t, "send", &fila.JobOptions{Delay: time.Hour})
		b.add(t, "send", &fila.JobOptions{Priority: 1})
		b.finishRaw(t, b.claimRaw(t, "t1", time.Minute), "t1", "", false, 0)
		_, err := inbound.Add(b.ctx, "webhook", nil, nil)
		require.NoError(t, err)
		require.NoError(t, inbound.Pause(b.ctx))

		rec := serveMetrics(t, fila.MetricsHandler([]*fila.Queue{b.queue, inbound}, nil), http.MethodGet, "/api/queue/metrics")
		require.Equal(t, http.StatusOK, rec.Code)
		require.Equal(t, "application/json", rec.Header().Get("Content-Type"))
		var rep fila.MetricsReport
		require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &rep))
		require.Len(t, rep.Queues, 2)
		for i, q := range []*fila.Queue{b.queue, inbound} {
			c, err := q.Counts(b.ctx)
			require.NoError(t, err)
			require.Equal(t, q.Name(), rep.Queues[i].Queue, "queues in the order given")
			require.Equal(t, *c, rep.Queues[i].Counts)
			require.Len(t, rep.Queues[i].CompletedPerMinute, 15, "15 minutes by default")
			require.Len(t, rep.Queues[i].FailedPerMinute, 15)
		}
		require.Equal(t, fila.Counts{Delayed: 1, Prioritized: 1, Completed: 1}, rep.Queues[0].Counts)
		require.Equal(t, int64(1), rep.Queues[0].CompletedPerMinute[0])
		require.True(t, rep.Queues[1].Paused)
		require.Empty(t, rep.Workers, "an empty list, not null")
		require.Contains(t, rec.Body.String(), `"workers": []`)
	})

	t.Run("MinutesSetsTheSeriesLength", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		h := fila.MetricsHandler([]*fila.Queue{b.queue}, nil)
		for _, tc := range []struct {
			query string
			want  int
		}{{"?minutes=1", 1}, {"?minutes=3", 3}, {"?minutes=60", 60}, {"?minutes=10080", 60}} {
			rec := serveMetrics(t, h, http.MethodGet, "/"+tc.query)
			require.Equal(t, http.StatusOK, rec.Code, tc.query)
			var rep fila.MetricsReport
			require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &rep))
			require.Len(t, rep.Queues[0].CompletedPerMinute, tc.want, "%s (the memory backend keeps 60)", tc.query)
			require.Len(t, rep.Queues[0].FailedPerMinute, tc.want, tc.query)
		}
	})

	t.Run("BadMinutesIsA400", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		h := fila.MetricsHandler([]*fila.Queue{b.queue}, nil)
		for _, q := range []string{"abc", "0", "-1", "10081", "1.5", "1e3"} {
			target := "/?minutes=" + q
			rec := serveMetrics(t, h, http.MethodGet, target)
			require.Equal(t, http.StatusBadRequest, rec.Code, target)
			require.JSONEq(t, `{"error":"minutes must be an integer from 1 to 10080"}`, rec.Body.String(), target)
		}
	})

	t.Run("OtherMethodsAreA405", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		h := fila.MetricsHandler([]*fila.Queue{b.queue}, nil)
		for _, m := range []string{http.MethodPost, http.MethodPut, http.MethodDelete} {
			rec := serveMetrics(t, h, m, "/")
			require.Equal(t, http.StatusMethodNotAllowed, rec.Code, m)
			require.Equal(t, "GET, HEAD", rec.Header().Get("Allow"), m)
		}
		require.Equal(t, http.StatusOK, serveMetrics(t, h, http.MethodHead, "/").Code)
	})

	t.Run("BackendErrorIsA503NamingTheQueue", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		broken := fila.NewQueue(failingCounts{b.be}, "broken")
		rec := serveMetrics(t, fila.MetricsHandler([]*fila.Queue{b.queue, broken}, nil), http.MethodGet, "/")
		require.Equal(t, http.StatusServiceUnavailable, rec.Code)
		var body map[string]string
		require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &body))
		require.Equal(t, `fila: count jobs of "broken": connection refused`, body["error"])
	})

	t.Run("ServesWorkerStatsWithTimings", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		finished := make(chan struct{}, 3)
		w := b.startWorker(t, func(context.Context, *fila.Job) (any, error) {
			time.Sleep(time.Millisecond)
			return nil, nil
		}, fila.WorkerOptions{Concurrency: 3, OnFinished: func(*fila.Job, error) { finished <- struct{}{} }})
		for range 3 {
			b.add(t, "send", nil)
		}
		for range 3 {
			select {
			case <-finished:
			case <-time.After(waitFor):
				t.Fatal("the jobs did not finish")
			}
		}

		rec := serveMetrics(t, fila.MetricsHandler([]*fila.Queue{b.queue}, []*fila.Worker{w}), http.MethodGet, "/?minutes=1")
		require.Equal(t, http.StatusOK, rec.Code)
		var doc struct {
			Workers []map[string]json.RawMessage `json:"workers"`
		}
		require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &doc))
		require.Len(t, doc.Workers, 1)
		ws := doc.Workers[0]
		require.JSONEq(t, `"outbound"`, string(ws["queue"]))
		require.JSONEq(t, `"`+w.Name()+`"`, string(ws["worker"]))
		require.JSONEq(t, `"`+w.ID()+`"`, string(ws["id"]))
		require.JSONEq(t, `0`, string(ws["backend_errors"]))
		require.JSONEq(t, `3`, string(ws["completed"]))
		require.JSONEq(t, `3`, string(ws["concurrency"]))
		var pt map[string]float64
		require.NoError(t, json.Unmarshal(ws["processing_time"], &pt))
		require.Equal(t, 3.0, pt["count"])
		require.GreaterOrEqual(t, pt["sum_seconds"], 0.003, "three handlers slept 1ms each")
		require.GreaterOrEqual(t, pt["max_seconds"], 0.001)
		require.Positive(t, pt["p50_seconds"])
		require.LessOrEqual(t, pt["p99_seconds"], pt["max_seconds"])
		var wt map[string]float64
		require.NoError(t, json.Unmarshal(ws["wait_time"], &wt))
		require.Equal(t, 3.0, wt["count"])
	})
}

func TestHistogram(t *testing.T) {
	t.Parallel()

	// bounds are fila's bucket bounds, read from a worker that never runs.
	bounds := func(t *testing.T) []float64 {
		b := setup(t)
		w := newWorker(t, b.be, queueName, func(context.Context, *fila.Job) (any, error) { return nil, nil }, fila.WorkerOptions{})
		h := w.Stats().ProcessingTime
		require.Len(t, h.Counts, len(h.Bounds)+1, "one more count, for +Inf")
		require.Zero(t, h.Count)
		return h.Bounds
	}
	// build buckets observations (seconds) the way a worker does.
	build := func(bounds, obs []float64) fila.Histogram {
		h := fila.Histogram{Bounds: bounds, Counts: make([]uint64, len(bounds)+1)}
		for _, s := range obs {
			h.Counts[sort.SearchFloat64s(bounds, s)]++
			h.Count++
			h.Sum += s
			h.Max = max(h.Max, s)
		}
		return h
	}

	t.Run("QuantileIsWithinItsBucketOfTheExactValue", func(t *testing.T) {
		t.Parallel()
		bs := bounds(t)
		// 1,000 durations from 1ms to 1s, spread over ten buckets.
		obs := make([]float64, 1000)
		for i := range obs {
			obs[i] = float64(i+1) / 1000
		}
		h := build(bs, obs)
		for _, q := range []float64{0.01, 0.1, 0.25, 0.5, 0.9, 0.95, 0.99, 0.999} {
			exact := obs[int(math.Ceil(q*float64(len(obs))))-1]
			i := sort.SearchFloat64s(bs, exact)
			lo := 0.0
			if i > 0 {
				lo = bs[i-1]
			}
			got := h.Quantile(q)
			require.GreaterOrEqual(t, got, lo, "q=%g: in the bucket of the exact %g", q, exact)
			require.LessOrEqual(t, got, bs[i], "q=%g: in the bucket of the exact %g", q, exact)
			require.InDelta(t, exact, got, bs[i]-lo, "q=%g: within one bucket width", q)
		}
		require.Equal(t, 1.0, h.Quantile(1), "the top is the largest observation")
	})

	t.Run("QuantileInterpolatesInsideABucket", func(t *testing.T) {
		t.Parallel()
		h := fila.Histogram{Bounds: []float64{1, 2, 4, 8}, Counts: []uint64{10, 0, 10, 0, 0}, Count: 20, Sum: 35, Max: 3.5}
		require.Equal(t, 0.5, h.Quantile(0.25), "halfway through the first bucket [0, 1]")
		require.Equal(t, 1.0, h.Quantile(0.5), "the top of the first bucket")
		require.Equal(t, 2.75, h.Quantile(0.75), "halfway through [2, 3.5]: the bucket is capped at Max")
		require.Equal(t, 3.5, h.Quantile(1))
	})

	t.Run("QuantileOfTheInfBucketIsCappedAtMax", func(t *testing.T) {
		t.Parallel()
		h := fila.Histogram{Bounds: []float64{1}, Counts: []uint64{0, 4}, Count: 4, Sum: 40, Max: 12}
		require.Equal(t, 1+11*0.5, h.Quantile(0.5), "between the last bound and Max")
		require.InDelta(t, 1+11*0.99, h.Quantile(0.99), 1e-12)
		require.Equal(t, 12.0, h.Quantile(1))
	})

	t.Run("QuantileOfNothingIsZero", func(t *testing.T) {
		t.Parallel()
		require.Zero(t, fila.Histogram{Bounds: bounds(t), Counts: make([]uint64, 26)}.Quantile(0.5))
	})

	t.Run("JSONHasSummaryAndPercentilesButNoBuckets", func(t *testing.T) {
		t.Parallel()
		h := build(bounds(t), []float64{0.001, 0.002, 0.003, 0.004})
		raw, err := json.Marshal(h)
		require.NoError(t, err)
		var got map[string]float64
		require.NoError(t, json.Unmarshal(raw, &got))
		keys := make([]string, 0, len(got))
		for k := range got {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		require.Equal(t, []string{"count", "max_seconds", "p50_seconds", "p95_seconds", "p99_seconds", "sum_seconds"}, keys)
		require.Equal(t, 4.0, got["count"])
		require.InDelta(t, 0.01, got["sum_seconds"], 1e-12)
		require.Equal(t, 0.004, got["max_seconds"])
		require.Equal(t, h.Quantile(0.5), got["p50_seconds"])
		require.Equal(t, h.Quantile(0.95), got["p95_seconds"])
		require.Equal(t, h.Quantile(0.99), got["p99_seconds"])
		require.LessOrEqual(t, got["p50_seconds"], got["p95_seconds"])
		require.LessOrEqual(t, got["p95_seconds"], got["p99_seconds"])
	})
}
