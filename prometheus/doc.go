// Package filaprom exports fila's queue and worker figures to Prometheus.
//
// It is the only fila package that imports the Prometheus client, so
// programs that do not use Prometheus do not link it. Register a collector
// for the queues and workers of a process:
//
//	reg := prometheus.NewRegistry()
//	reg.MustRegister(filaprom.NewCollector([]*fila.Queue{q}, []*fila.Worker{w}))
//	http.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
//
// The worker label is the worker's Name (WorkerOptions.Name, by default
// the host name, with -2, -3 for further workers of a queue in the
// process): stable across restarts, so a restarted process continues its
// series instead of starting new ones.
//
// Job counts are read from the backend at scrape time, so they cover every
// process; worker figures are this process's workers since they started.
// The series, with the default namespace "fila":
//
//	fila_queue_jobs{queue,state}                     gauge: jobs per state (Queue.Counts)
//	fila_queue_paused{queue}                         gauge: 1 when the queue is paused
//	fila_worker_running_jobs{queue,worker}           gauge: handlers running now
//	fila_worker_prefetched_jobs{queue,worker}        gauge: claimed jobs waiting for a handler slot (Prefetch)
//	fila_worker_concurrency{queue,worker}            gauge: the worker's Concurrency
//	fila_jobs_completed_total{queue,worker}          counter: jobs completed
//	fila_jobs_failed_total{queue,worker}             counter: jobs failed for good
//	fila_jobs_retried_total{queue,worker}            counter: failed attempts that will run again
//	fila_jobs_released_total{queue,worker}           counter: jobs handed back unfinished (shutdown, 429)
//	fila_rate_limited_claims_total{queue,worker}     counter: claims the rate limits turned away
//	fila_stalled_jobs_recovered_total{queue,worker}  counter: stalled jobs returned to waiting
//	fila_stalled_jobs_failed_total{queue,worker}     counter: stalled jobs failed for stalling too often
//	fila_worker_abandoned_handlers_total{queue,worker} counter: handlers still running at the shutdown deadline
//	fila_worker_backend_errors_total{queue,worker}   counter: failed backend calls (retried, or fatal when permanent)
//	fila_job_processing_seconds{queue,worker}        histogram: handler run time
//	fila_job_wait_seconds{queue,worker}              histogram: ready to first start
//
// A queue whose backend does not answer within the scrape timeout (default
// 5s) yields an invalid metric: the registry reports the error, and
// promhttp answers 500 unless its HandlerOpts.ErrorHandling is
// promhttp.ContinueOnError, which serves the other series.
package filaprom
