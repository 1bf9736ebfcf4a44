package filaprom_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/fila-go/fila"
	"github.com/fila-go/fila/backend"
	"github.com/fila-go/fila/backend/memory"
	filaprom "github.com/fila-go/fila/prometheus"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// waitFor bounds every wait for something that should happen soon.
const waitFor = 10 * time.Second

// bundle is a backend with two queues in known states and a worker that
// has finished a known set of jobs on one of them.
type bundle struct {
	ctx               context.Context
	be                backend.Backend
	outbound, inbound *fila.Queue
	worker            *fila.Worker
}

// Outcomes of the jobs the bundle's worker ran on outbound: three
// completed at once, one failed for good, one completed on its second
// attempt (one retry).
const (
	wantCompleted = 4
	wantFailed    = 1
	wantRetried   = 1
	wantAttempts  = wantCompleted + wantFailed + wantRetried
)

// setup fills outbound through a worker (then adds two delayed jobs it
// cannot run yet) and leaves inbound paused with three jobs that never ran.
func setup(t *testing.T) *bundle {
	t.Helper()
	ctx := context.Background()
	be := memory.New()
	t.Cleanup(func() { _ = be.Close() })
	b := &bundle{ctx: ctx, be: be, outbound: fila.NewQueue(be, "outbound"), inbound: fila.NewQueue(be, "inbound")}

	attempts := make(chan struct{}, wantAttempts)
	b.worker = mustWorker(t)(fila.NewWorker(be, "outbound", func(_ context.Context, j *fila.Job) (any, error) {
		switch {
		case j.Name == "bad":
			return nil, fila.Unrecoverable(errors.New("400 bad number"))
		case j.Name == "flaky" && j.AttemptsMade == 0:
			return nil, errors.New("503 try later")
		}
		return "sent", nil
	}, fila.WorkerOptions{Concurrency: 2, OnFinished: func(*fila.Job, error) { attempts <- struct{}{} }}))
	done := make(chan error, 1)
	go func() { done <- b.worker.Run(context.Background()) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), waitFor)
		defer cancel()
		require.NoError(t, b.worker.Close(ctx))
		require.NoError(t, <-done)
	})

	for _, name := range []string{"ok", "ok", "ok", "bad", "flaky"} {
		_, err := b.outbound.Add(ctx, name, nil, &fila.JobOptions{Attempts: 2})
		require.NoError(t, err)
	}
	for range wantAttempts { // OnFinished runs after the stats are counted
		select {
		case <-attempts:
		case <-time.After(waitFor):
			t.Fatalf("the worker did not finish %d attempts in %s", wantAttempts, waitFor)
		}
	}
	for range 2 {
		_, err := b.outbound.Add(ctx, "later", nil, &fila.JobOptions{Delay: time.Hour})
		require.NoError(t, err)
	}

	_, err := b.inbound.Add(ctx, "webhook", nil, nil)
	require.NoError(t, err)
	_, err = b.inbound.Add(ctx, "webhook", nil, &fila.JobOptions{Priority: 5})
	require.NoError(t, err)
	require.NoError(t, b.inbound.Pause(ctx))
	_, err = b.inbound.Add(ctx, "webhook", nil, nil)
	require.NoError(t, err)
	return b
}

func (b *bundle) collector(opts ...filaprom.Option) prometheus.Collector {
	return filaprom.NewCollector([]*fila.Queue{b.outbound, b.inbound}, []*fila.Worker{b.worker}, opts...)
}

// scrape serves reg with promhttp and parses the text exposition.
func scrape(t *testing.T, reg *prometheus.Registry, opts promhttp.HandlerOpts) (int, map[string]*dto.MetricFamily) {
	t.Helper()
	srv := httptest.NewServer(promhttp.HandlerFor(reg, opts))
	defer srv.Close()
	req, err := http.NewRequest(http.MethodGet, srv.URL, nil)
	require.NoError(t, err)
	req.Header.Set("Accept", "text/plain") // the text format, not protobuf
	resp, err := srv.Client().Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(resp.Body)
		t.Logf("scrape answered %d: %s", resp.StatusCode, body)
		return resp.StatusCode, nil
	}
	require.Contains(t, resp.Header.Get("Content-Type"), "text/plain")
	parser := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := parser.TextToMetricFamilies(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, fams
}

// sample returns the one series of family name whose labels are labels.
func sample(t *testing.T, fams map[string]*dto.MetricFamily, name string, labels map[string]string) *dto.Metric {
	t.Helper()
	fam, ok := fams[name]
	require.True(t, ok, "no family %s", name)
	for _, m := range fam.GetMetric() {
		got := map[string]string{}
		for _, lp := range m.GetLabel() {
			got[lp.GetName()] = lp.GetValue()
		}
		if fmt.Sprint(got) == fmt.Sprint(labels) {
			return m
		}
	}
	t.Fatalf("no series %s%v", name, labels)
	return nil
}

func gauge(t *testing.T, fams map[string]*dto.MetricFamily, name string, labels map[string]string) float64 {
	t.Helper()
	require.Equal(t, dto.MetricType_GAUGE, fams[name].GetType(), name)
	return sample(t, fams, name, labels).GetGauge().GetValue()
}

func counter(t *testing.T, fams map[string]*dto.MetricFamily, name string, labels map[string]string) float64 {
	t.Helper()
	require.Equal(t, dto.MetricType_COUNTER, fams[name].GetType(), name)
	return sample(t, fams, name, labels).GetCounter().GetValue()
}

func TestCollector(t *testing.T) {
	t.Parallel()

	t.Run("JobGaugesEqualCountsForEveryQueueAndState", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		reg := prometheus.NewRegistry()
		reg.MustRegister(b.collector())

		status, fams := scrape(t, reg, promhttp.HandlerOpts{})
		require.Equal(t, http.StatusOK, status)
		for _, q := range []*fila.Queue{b.outbound, b.inbound} {
			c, err := q.Counts(b.ctx)
			require.NoError(t, err)
			for _, s := range backend.States {
				require.Equal(t, float64(c.Get(s)), gauge(t, fams, "fila_queue_jobs", map[string]string{"queue": q.Name(), "state": string(s)}),
					"%s %s", q.Name(), s)
			}
		}
		require.Len(t, fams["fila_queue_jobs"].GetMetric(), 2*len(backend.States), "one series per queue and state")
		// The scripted outcome, so the equality above is not 0 == 0.
		out := map[string]string{"queue": "outbound"}
		require.Equal(t, 4.0, gauge(t, fams, "fila_queue_jobs", map[string]string{"queue": "outbound", "state": "completed"}))
		require.Equal(t, 1.0, gauge(t, fams, "fila_queue_jobs", map[string]string{"queue": "outbound", "state": "failed"}))
		require.Equal(t, 2.0, gauge(t, fams, "fila_queue_jobs", map[string]string{"queue": "outbound", "state": "delayed"}))
		require.Equal(t, 0.0, gauge(t, fams, "fila_queue_paused", out))
		require.Equal(t, 1.0, gauge(t, fams, "fila_queue_paused", map[string]string{"queue": "inbound"}))
	})

	t.Run("WorkerCountersAndHistogramsEqualStats", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		reg := prometheus.NewRegistry()
		reg.MustRegister(b.collector())

		_, fams := scrape(t, reg, promhttp.HandlerOpts{})
		w := map[string]string{"queue": "outbound", "worker": b.worker.Name()}
		require.Equal(t, float64(wantCompleted), counter(t, fams, "fila_jobs_completed_total", w))
		require.Equal(t, float64(wantFailed), counter(t, fams, "fila_jobs_failed_total", w))
		require.Equal(t, float64(wantRetried), counter(t, fams, "fila_jobs_retried_total", w))
		require.Equal(t, 0.0, counter(t, fams, "fila_jobs_released_total", w))
		require.Equal(t, 0.0, counter(t, fams, "fila_rate_limited_claims_total", w))
		require.Equal(t, 0.0, counter(t, fams, "fila_stalled_jobs_recovered_total", w))
		require.Equal(t, 0.0, counter(t, fams, "fila_stalled_jobs_failed_total", w))
		require.Equal(t, 0.0, counter(t, fams, "fila_worker_abandoned_handlers_total", w))
		require.Equal(t, 0.0, counter(t, fams, "fila_worker_backend_errors_total", w))
		require.Equal(t, 2.0, gauge(t, fams, "fila_worker_concurrency", w))
		require.Equal(t, 0.0, gauge(t, fams, "fila_worker_running_jobs", w))
		require.Equal(t, 0.0, gauge(t, fams, "fila_worker_prefetched_jobs", w))

		stats := b.worker.Stats()
		for name, h := range map[string]fila.Histogram{
			"fila_job_processing_seconds": stats.ProcessingTime,
			"fila_job_wait_seconds":       stats.WaitTime,
		} {
			require.Equal(t, dto.MetricType_HISTOGRAM, fams[name].GetType(), name)
			got := sample(t, fams, name, w).GetHistogram()
			require.Equal(t, h.Count, got.GetSampleCount(), name)
			require.InDelta(t, h.Sum, got.GetSampleSum(), 1e-9, name)
			buckets := got.GetBucket()
			require.Len(t, buckets, len(h.Bounds)+1, "%s: one bucket per bound, and +Inf", name)
			var cum uint64
			for i, bound := range h.Bounds {
				cum += h.Counts[i]
				require.Equal(t, bound, buckets[i].GetUpperBound(), name)
				require.Equal(t, cum, buckets[i].GetCumulativeCount(), "%s: bucket le=%g is cumulative", name, bound)
			}
			inf := buckets[len(h.Bounds)]
			require.True(t, math.IsInf(inf.GetUpperBound(), 1), name)
			require.Equal(t, h.Count, inf.GetCumulativeCount(), "%s: +Inf holds every observation", name)
		}
		require.Equal(t, uint64(wantAttempts), stats.ProcessingTime.Count, "every attempt is timed")
		require.Equal(t, uint64(wantCompleted+wantFailed), stats.WaitTime.Count, "first attempts only")
	})

	t.Run("SeriesEqualTheJSONHandler", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		reg := prometheus.NewRegistry()
		reg.MustRegister(b.collector())
		_, fams := scrape(t, reg, promhttp.HandlerOpts{})

		srv := httptest.NewServer(fila.MetricsHandler([]*fila.Queue{b.outbound, b.inbound}, []*fila.Worker{b.worker}))
		defer srv.Close()
		resp, err := srv.Client().Get(srv.URL)
		require.NoError(t, err)
		defer resp.Body.Close()
		require.Equal(t, http.StatusOK, resp.StatusCode)
		var rep fila.MetricsReport
		require.NoError(t, json.NewDecoder(resp.Body).Decode(&rep))

		require.Len(t, rep.Queues, 2)
		for _, qm := range rep.Queues {
			for _, s := range backend.States {
				require.Equal(t, float64(qm.Counts.Get(s)), gauge(t, fams, "fila_queue_jobs", map[string]string{"queue": qm.Queue, "state": string(s)}),
					"%s %s", qm.Queue, s)
			}
			paused := 0.0
			if qm.Paused {
				paused = 1
			}
			require.Equal(t, paused, gauge(t, fams, "fila_queue_paused", map[string]string{"queue": qm.Queue}))
		}
		require.Len(t, rep.Workers, 1)
		ws := rep.Workers[0]
		w := map[string]string{"queue": ws.Queue, "worker": ws.Worker}
		require.Equal(t, float64(ws.Completed), counter(t, fams, "fila_jobs_completed_total", w))
		require.Equal(t, float64(ws.Failed), counter(t, fams, "fila_jobs_failed_total", w))
		require.Equal(t, float64(ws.Retried), counter(t, fams, "fila_jobs_retried_total", w))
		require.Equal(t, ws.ProcessingTime.Count, sample(t, fams, "fila_job_processing_seconds", w).GetHistogram().GetSampleCount())
		require.Equal(t, ws.WaitTime.Count, sample(t, fams, "fila_job_wait_seconds", w).GetHistogram().GetSampleCount())
	})

	t.Run("EverySeriesHasHelpAndPassesTheLinter", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		c := b.collector()
		problems, err := testutil.CollectAndLint(c)
		require.NoError(t, err)
		require.Empty(t, problems)

		reg := prometheus.NewRegistry()
		reg.MustRegister(c)
		_, fams := scrape(t, reg, promhttp.HandlerOpts{})
		var names []string
		for name, fam := range fams {
			require.NotEmpty(t, fam.GetHelp(), name)
			names = append(names, name)
		}
		sort.Strings(names)
		require.Equal(t, []string{
			"fila_job_processing_seconds", "fila_job_wait_seconds", "fila_jobs_completed_total",
			"fila_jobs_failed_total", "fila_jobs_released_total", "fila_jobs_retried_total",
			"fila_queue_jobs", "fila_queue_paused", "fila_queue_schedulers", "fila_rate_limited_claims_total",
			"fila_stalled_jobs_failed_total", "fila_stalled_jobs_recovered_total",
			"fila_worker_abandoned_handlers_total", "fila_worker_backend_errors_total",
			"fila_worker_concurrency", "fila_worker_prefetched_jobs", "fila_worker_running_jobs",
		}, names)
	})

	t.Run("NamespaceOptionPrefixesEveryName", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		reg := prometheus.NewRegistry()
		reg.MustRegister(b.collector(filaprom.WithNamespace("app")))
		_, fams := scrape(t, reg, promhttp.HandlerOpts{})
		require.NotEmpty(t, fams)
		for name := range fams {
			require.True(t, strings.HasPrefix(name, "app_"), name)
		}
		require.Contains(t, fams, "app_queue_jobs")
	})

	t.Run("QueueOrWorkerGivenTwiceIsCollectedOnce", func(t *testing.T) {
		t.Parallel()
		be := memory.New()
		t.Cleanup(func() { _ = be.Close() })
		q := fila.NewQueue(be, "outbound")
		reg := prometheus.NewRegistry()
		w := mustWorker(t)(fila.NewWorker(be, "outbound", func(context.Context, *fila.Job) (any, error) { return nil, nil }, fila.WorkerOptions{}))
		reg.MustRegister(filaprom.NewCollector([]*fila.Queue{q, fila.NewQueue(be, "outbound")}, []*fila.Worker{w, w}))
		status, fams := scrape(t, reg, promhttp.HandlerOpts{})
		require.Equal(t, http.StatusOK, status, "no duplicate series")
		require.Len(t, fams["fila_queue_jobs"].GetMetric(), len(backend.States))
		require.Len(t, fams["fila_jobs_completed_total"].GetMetric(), 1)
	})

	t.Run("BackendErrorsAreCountedUnderTheWorkersStableName", func(t *testing.T) {
		t.Parallel()
		be := &flakyClaims{Backend: memory.New(), failures: 2}
		t.Cleanup(func() { _ = be.Close() })
		q := fila.NewQueue(be, "flaky")
		job, err := q.Add(context.Background(), "send", nil, nil)
		require.NoError(t, err)
		w := mustWorker(t)(fila.NewWorker(be, "flaky", func(context.Context, *fila.Job) (any, error) { return nil, nil },
			fila.WorkerOptions{Name: "api-1"}))
		done := make(chan error, 1)
		go func() { done <- w.Run(context.Background()) }()
		_, err = job.WaitUntilFinished(context.Background()) // after two failed claims
		require.NoError(t, err)
		require.NoError(t, w.Close(context.Background()))
		require.NoError(t, <-done, "transient errors do not end Run")

		reg := prometheus.NewRegistry()
		reg.MustRegister(filaprom.NewCollector(nil, []*fila.Worker{w}))
		_, fams := scrape(t, reg, promhttp.HandlerOpts{})
		require.Equal(t, 2.0, counter(t, fams, "fila_worker_backend_errors_total", map[string]string{"queue": "flaky", "worker": "api-1"}))
		require.EqualValues(t, 2, w.Stats().BackendErrors)
		require.Contains(t, w.Stats().LastError, "connection refused")

		rec := httptest.NewRecorder()
		fila.MetricsHandler(nil, []*fila.Worker{w}).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
		var doc struct {
			Workers []fila.WorkerStats `json:"workers"`
		}
		require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &doc))
		require.Len(t, doc.Workers, 1)
		require.Equal(t, "api-1", doc.Workers[0].Worker)
		require.EqualValues(t, 2, doc.Workers[0].BackendErrors)
		require.Contains(t, doc.Workers[0].LastError, "connection refused")
		require.False(t, doc.Workers[0].LastErrorAt.IsZero())
	})

	t.Run("NilQueueOrWorkerPanics", func(t *testing.T) {
		t.Parallel()
		require.PanicsWithValue(t, "filaprom: NewCollector: queue 0 is nil", func() { filaprom.NewCollector([]*fila.Queue{nil}, nil) })
		require.PanicsWithValue(t, "filaprom: NewCollector: worker 0 is nil", func() { filaprom.NewCollector(nil, []*fila.Worker{nil}) })
	})
}

// flakyClaims fails its first claims with a transient (network) error.
type flakyClaims struct {
	backend.Backend
	failures int32
	calls    atomic.Int32
}

func (f *flakyClaims) JobClaim(ctx context.Context, p *backend.JobClaimParams) (*backend.JobClaimResult, error) {
	if f.calls.Add(1) <= f.failures {
		return nil, errors.New("dial tcp 127.0.0.1:6379: connect: connection refused")
	}
	return f.Backend.JobClaim(ctx, p)
}

// brokenCounts is a backend whose counts fail, or hang until the caller
// gives up when hang is set.
type brokenCounts struct {
	backend.Backend
	hang bool
}

func (b brokenCounts) QueueCounts(ctx context.Context, _ *backend.QueueParams) (*backend.Counts, error) {
	if b.hang {
		<-ctx.Done()
		return nil, ctx.Err()
	}
	return nil, errors.New("connection refused")
}

func TestCollectorScrapeErrors(t *testing.T) {
	t.Parallel()

	t.Run("BackendErrorIsAScrapeErrorNotAPanic", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		broken := fila.NewQueue(brokenCounts{Backend: b.be}, "broken")
		reg := prometheus.NewRegistry()
		reg.MustRegister(filaprom.NewCollector([]*fila.Queue{b.outbound, broken}, []*fila.Worker{b.worker}))

		_, err := reg.Gather()
		require.ErrorContains(t, err, `filaprom: scrape queue "broken"`)
		require.ErrorContains(t, err, "connection refused")

		status, _ := scrape(t, reg, promhttp.HandlerOpts{})
		require.Equal(t, http.StatusInternalServerError, status, "promhttp's default: fail the scrape")

		status, fams := scrape(t, reg, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError})
		require.Equal(t, http.StatusOK, status)
		c, err := b.outbound.Counts(b.ctx)
		require.NoError(t, err)
		require.Equal(t, float64(c.Completed), gauge(t, fams, "fila_queue_jobs", map[string]string{"queue": "outbound", "state": "completed"}),
			"the healthy queue is still served")
		require.Equal(t, float64(wantCompleted), counter(t, fams, "fila_jobs_completed_total", map[string]string{"queue": "outbound", "worker": b.worker.Name()}))
		for _, m := range fams["fila_queue_jobs"].GetMetric() {
			for _, lp := range m.GetLabel() {
				require.NotEqual(t, "broken", lp.GetValue(), "no made-up counts for the broken queue")
			}
		}
	})

	t.Run("HangingBackendEndsAtTheTimeout", func(t *testing.T) {
		t.Parallel()
		be := memory.New()
		t.Cleanup(func() { _ = be.Close() })
		slow := fila.NewQueue(brokenCounts{Backend: be, hang: true}, "slow")
		reg := prometheus.NewRegistry()
		reg.MustRegister(filaprom.NewCollector([]*fila.Queue{slow}, nil, filaprom.WithTimeout(50*time.Millisecond)))

		start := time.Now()
		_, err := reg.Gather()
		require.ErrorContains(t, err, `filaprom: scrape queue "slow": no answer within 50ms`)
		require.Less(t, time.Since(start), waitFor, "the scrape does not wait for the backend")
	})
}
