package filaprom

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/fila-go/fila"
	"github.com/fila-go/fila/backend"
)

// collector reads queues at scrape time and snapshots worker stats.
type collector struct {
	cfg     config
	queues  []*fila.Queue
	workers []*fila.Worker

	jobs, paused                     *prometheus.Desc
	running, prefetched, concurrency *prometheus.Desc
	completed, failed, retried       *prometheus.Desc
	released, rateLimited            *prometheus.Desc
	abandoned, backendErrors         *prometheus.Desc
	stalledRecovered, stalledFailed  *prometheus.Desc
	processingSeconds, waitSeconds   *prometheus.Desc
	schedulers, schedulerLag         *prometheus.Desc
}

// NewCollector returns a collector of the job counts and switches of
// queues, read from their backends at each scrape, and of the in-process
// stats of workers. Queues are identified by name: a second queue with the
// same name, or a worker given twice, is ignored. A nil queue or worker
// panics.
func NewCollector(queues []*fila.Queue, workers []*fila.Worker, opts ...Option) prometheus.Collector {
	c := &collector{cfg: buildConfig(opts)}
	seen := map[string]bool{}
	for i, q := range queues {
		if q == nil {
			panic(fmt.Sprintf("filaprom: NewCollector: queue %d is nil", i))
		}
		if !seen[q.Name()] {
			seen[q.Name()] = true
			c.queues = append(c.queues, q)
		}
	}
	seenWorker := map[*fila.Worker]bool{}
	for i, w := range workers {
		if w == nil {
			panic(fmt.Sprintf("filaprom: NewCollector: worker %d is nil", i))
		}
		if !seenWorker[w] {
			seenWorker[w] = true
			c.workers = append(c.workers, w)
		}
	}

	ns := c.cfg.namespace
	queue := []string{"queue"}
	worker := []string{"queue", "worker"}
	desc := func(name, help string, labels []string) *prometheus.Desc {
		return prometheus.NewDesc(prometheus.BuildFQName(ns, "", name), help, labels, nil)
	}
	c.jobs = desc("queue_jobs", "Jobs in the queue by state, read from the backend at scrape time.", []string{"queue", "state"})
	c.paused = desc("queue_paused", "1 when the queue is paused (claims stop, adds still land), 0 otherwise.", queue)
	c.running = desc("worker_running_jobs", "Handlers the worker is running now.", worker)
	c.prefetched = desc("worker_prefetched_jobs", "Jobs the worker claimed ahead (WorkerOptions.Prefetch) that wait for a handler slot.", worker)
	c.concurrency = desc("worker_concurrency", "Handlers the worker runs at most at once.", worker)
	c.completed = desc("jobs_completed_total", "Jobs the worker completed.", worker)
	c.failed = desc("jobs_failed_total", "Jobs the worker failed for good (no attempts left, or unrecoverable).", worker)
	c.retried = desc("jobs_retried_total", "Failed attempts the worker scheduled to run again.", worker)
	c.released = desc("jobs_released_total", "Jobs the worker handed back unfinished without spending an attempt (shutdown, on-demand rate limit).", worker)
	c.rateLimited = desc("rate_limited_claims_total", "Claims the global limiter or an on-demand rate limit turned away.", worker)
	c.stalledRecovered = desc("stalled_jobs_recovered_total", "Jobs whose worker lost them that this worker's stalled checks returned to waiting.", worker)
	c.abandoned = desc("worker_abandoned_handlers_total", "Handlers still running at the shutdown deadline that the worker stopped waiting for.", worker)
	c.backendErrors = desc("worker_backend_errors_total", "Failed backend calls of the worker (claims, finishing calls, lock renewals, stalled checks); transient ones are retried, a permanent one stops the worker.", worker)
	c.stalledFailed = desc("stalled_jobs_failed_total", "Jobs this worker's stalled checks failed for stalling more than allowed.", worker)
	c.processingSeconds = desc("job_processing_seconds", "Handler run time of each attempt, in seconds.", worker)
	c.waitSeconds = desc("job_wait_seconds", "Time from when a job was ready (added, or due after its delay) to the start of its first attempt, in seconds.", worker)
	c.schedulers = desc("queue_schedulers", "Job schedulers of the queue, read from the backend at scrape time (absent for a backend without schedulers).", queue)
	c.schedulerLag = desc("scheduler_next_job_lag_seconds", "How long a scheduler's pending job is overdue (the backend's clock minus its tick; 0 until due or once started): one that keeps growing means no worker takes the queue's jobs.", []string{"queue", "scheduler"})
	return c
}

// Describe implements prometheus.Collector.
func (c *collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{
		c.jobs, c.paused, c.running, c.prefetched, c.concurrency, c.completed, c.failed, c.retried, c.released,
		c.rateLimited, c.stalledRecovered, c.stalledFailed, c.abandoned, c.backendErrors, c.processingSeconds, c.waitSeconds,
		c.schedulers, c.schedulerLag,
	} {
		ch <- d
	}
}

// Collect implements prometheus.Collector. It reads every queue at once,
// bounded by the configured timeout.
func (c *collector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), c.cfg.timeout)
	defer cancel()
	var wg sync.WaitGroup
	for _, q := range c.queues {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c.collectQueue(ctx, q, ch)
		}()
	}
	for _, w := range c.workers {
		c.collectWorker(w, ch)
	}
	wg.Wait()
}

func (c *collector) collectQueue(ctx context.Context, q *fila.Queue, ch chan<- prometheus.Metric) {
	counts, err := q.Counts(ctx)
	if err != nil {
		ch <- prometheus.NewInvalidMetric(c.jobs, c.scrapeError(q, err))
		return
	}
	for _, s := range backend.States {
		ch <- prometheus.MustNewConstMetric(c.jobs, prometheus.GaugeValue, float64(counts.Get(s)), q.Name(), string(s))
	}
	paused, err := q.IsPaused(ctx)
	if err != nil {
		ch <- prometheus.NewInvalidMetric(c.paused, c.scrapeError(q, err))
		return
	}
	ch <- prometheus.MustNewConstMetric(c.paused, prometheus.GaugeValue, boolValue(paused), q.Name())
	if _, ok := q.Backend().(backend.Schedulers); !ok {
		return
	}
	list, err := q.Schedulers(ctx)
	if err != nil {
		ch <- prometheus.NewInvalidMetric(c.schedulers, c.scrapeError(q, err))
		return
	}
	ch <- prometheus.MustNewConstMetric(c.schedulers, prometheus.GaugeValue, float64(len(list)), q.Name())
	for _, s := range list {
		ch <- prometheus.MustNewConstMetric(c.schedulerLag, prometheus.GaugeValue, s.Lag.Seconds(), q.Name(), s.ID)
	}
}

// scrapeError names the queue and, for a timeout, the bound that passed.
func (c *collector) scrapeError(q *fila.Queue, err error) error {
	if errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("filaprom: scrape queue %q: no answer within %s: %w", q.Name(), c.cfg.timeout, err)
	}
	return fmt.Errorf("filaprom: scrape queue %q: %w", q.Name(), err)
}

func (c *collector) collectWorker(w *fila.Worker, ch chan<- prometheus.Metric) {
	s := w.Stats()
	labels := []string{s.Queue, s.Worker}
	gauge := func(d *prometheus.Desc, v float64) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	counter := func(d *prometheus.Desc, v uint64) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
	}
	gauge(c.running, float64(s.Running))
	gauge(c.prefetched, float64(s.Prefetched))
	gauge(c.concurrency, float64(s.Concurrency))
	counter(c.completed, s.Completed)
	counter(c.failed, s.Failed)
	counter(c.retried, s.Retried)
	counter(c.released, s.Released)
	counter(c.rateLimited, s.RateLimited)
	counter(c.stalledRecovered, s.Stalled)
	counter(c.stalledFailed, s.StalledFailed)
	counter(c.abandoned, s.Abandoned)
	counter(c.backendErrors, s.BackendErrors)
	ch <- constHistogram(c.processingSeconds, s.ProcessingTime, labels)
	ch <- constHistogram(c.waitSeconds, s.WaitTime, labels)
}

func boolValue(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
