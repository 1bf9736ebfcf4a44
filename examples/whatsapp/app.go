package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/fila-go/fila"
	"github.com/fila-go/fila/examples/whatsapp/cloudapi"
)

// graphTimeout bounds one Graph API call.
const graphTimeout = 15 * time.Second

// App is the WhatsApp app: the webhook server, the five queues and, for
// the worker role, their workers.
type App struct {
	cfg     Config
	log     *slog.Logger
	storage *storage
	queues  *queues
	// stages are the workers in pipeline order; a shutdown on the memory
	// backend drains them in this order.
	stages    []stage
	graphHTTP *http.Client
	handler   http.Handler
}

// stage is a queue and the worker that processes it.
type stage struct {
	queue  *fila.Queue
	worker *fila.Worker
}

// newApp opens the storage and builds the queues, the workers of the
// worker role and the HTTP routes. responder nil means the RuleBot.
func newApp(ctx context.Context, cfg Config, log *slog.Logger, responder Responder) (*App, error) {
	st, err := openStorage(ctx, cfg.Storage, log)
	if err != nil {
		return nil, err
	}
	a := &App{
		cfg: cfg, log: log, storage: st, queues: newQueues(st.backend, cfg.Queues),
		graphHTTP: &http.Client{Timeout: graphTimeout, Transport: &http.Transport{MaxIdleConnsPerHost: 16}},
	}
	if responder == nil {
		responder = RuleBot{}
	}
	if cfg.Role.worker() {
		if err := a.setGroupOptions(ctx); err != nil {
			return nil, errors.Join(err, st.close())
		}
		if err := a.buildWorkers(responder); err != nil {
			return nil, errors.Join(err, st.close())
		}
		if err := a.scheduleSummary(ctx); err != nil {
			return nil, errors.Join(err, st.close())
		}
	}
	a.handler = a.routes()
	return a, nil
}

// setGroupOptions stores each grouped queue's group options, for every
// process of the app.
func (a *App) setGroupOptions(ctx context.Context) error {
	s := a.cfg.Queues
	for _, qs := range []struct {
		q *fila.Queue
		s QueueSettings
	}{{a.queues.inbound, s.Inbound}, {a.queues.reply, s.Reply}, {a.queues.outbound, s.Outbound}, {a.queues.status, s.Status}, {a.queues.media, s.Media}} {
		if qs.s.Groups == nil {
			continue
		}
		if err := qs.q.SetGroupOptions(ctx, *qs.s.Groups); err != nil {
			return err
		}
	}
	return nil
}

// buildWorkers creates one worker per queue, each with its settings; a bad
// setting is an error here, before anything runs.
func (a *App) buildWorkers(responder Responder) error {
	graph := cloudapi.NewClient(a.cfg.APIURL, a.cfg.AccessToken, a.graphHTTP)
	q, s, store := a.queues, a.cfg.Queues, a.storage.store
	logFor := func(name string) *slog.Logger { return a.log.With("queue", name) }
	var errs []error
	add := func(queue *fila.Queue, qs QueueSettings, p fila.Processor) {
		opts := qs.Worker
		opts.Logger = a.log
		opts.ShutdownTimeout = a.cfg.ShutdownTimeout
		w, err := fila.NewWorker(a.storage.backend, queue.Name(), p, opts)
		if err != nil {
			errs = append(errs, err)
			return
		}
		a.stages = append(a.stages, stage{queue: queue, worker: w})
	}
	in := &inboundHandler{queues: q, store: store, log: logFor(queueInbound)}
	media := &mediaHandler{queues: q, graph: graph, log: logFor(queueMedia)}
	reply := &replyHandler{queues: q, store: store, responder: responder, log: logFor(queueReply)}
	out := &outboundHandler{graph: graph, store: store, queues: q, log: logFor(queueOutbound)}
	status := &statusHandler{store: store, log: logFor(queueStatus)}
	add(q.inbound, s.Inbound, fila.JSONProcessor(in.handle))
	add(q.media, s.Media, fila.JSONProcessor(media.handle))
	add(q.reply, s.Reply, fila.JSONProcessor(reply.handle))
	add(q.outbound, s.Outbound, fila.JSONProcessor(out.handle))
	add(q.status, s.Status, fila.JSONProcessor(status.handle))
	return errors.Join(errs...)
}

// workers returns this process's workers.
func (a *App) workers() []*fila.Worker {
	ws := make([]*fila.Worker, len(a.stages))
	for i, s := range a.stages {
		ws[i] = s.worker
	}
	return ws
}

// Handler returns the app's HTTP routes.
func (a *App) Handler() http.Handler { return a.handler }

// Run serves HTTP on ln and runs the workers until ctx ends, then shuts
// down gracefully: no more webhooks (in-flight ones finish), then the
// workers drain within ShutdownTimeout. On the memory backend the queues
// are drained in pipeline order first, since their jobs die with the
// process. Run does not close the storage: Close does.
func (a *App) Run(ctx context.Context, ln net.Listener) error {
	srv := &http.Server{
		Handler:           a.handler,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       15 * time.Second,
		WriteTimeout:      15 * time.Second,
		IdleTimeout:       60 * time.Second,
		ErrorLog:          slog.NewLogLogger(a.log.Handler(), slog.LevelWarn),
	}
	var runs sync.WaitGroup
	failed := make(chan error, len(a.stages)+1)
	for _, s := range a.stages {
		runs.Add(1)
		go func() {
			defer runs.Done()
			if err := s.worker.Run(context.Background()); err != nil {
				failed <- fmt.Errorf("run worker of %q: %w", s.queue.Name(), err)
			}
		}()
	}
	go func() {
		if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			failed <- fmt.Errorf("serve HTTP on %s: %w", ln.Addr(), err)
		}
	}()
	a.log.Info("whatsapp app started", "addr", ln.Addr().String(), "role", a.cfg.Role, "backend", a.storage.kind,
		"graph_api", a.cfg.APIURL, "workers", len(a.stages))
	var runErr error
	select {
	case <-ctx.Done():
	case runErr = <-failed:
		a.log.Error("app failed; shutting down", "err", runErr)
	}
	err := a.shutdown(srv, &runs)
	return errors.Join(runErr, err)
}

// shutdown stops the HTTP server, then the workers.
func (a *App) shutdown(srv *http.Server, runs *sync.WaitGroup) error {
	a.log.Info("shutting down: no more webhooks, draining the workers", "timeout", a.cfg.ShutdownTimeout)
	ctx, cancel := context.WithTimeout(context.Background(), a.cfg.ShutdownTimeout)
	defer cancel()
	var errs []error
	if err := srv.Shutdown(ctx); err != nil {
		errs = append(errs, fmt.Errorf("shut down HTTP server: %w", err))
	}
	if a.storage.durable {
		var closing sync.WaitGroup
		for _, s := range a.stages {
			closing.Add(1)
			go func() { defer closing.Done(); a.closeWorker(ctx, s) }()
		}
		closing.Wait()
	} else {
		// The summary's next tick would hold the drain until the deadline;
		// on memory it dies with the process anyway, and the next start
		// schedules it again.
		if _, err := a.queues.outbound.RemoveScheduler(ctx, summaryScheduler); err != nil {
			a.log.Warn("remove the summary scheduler", "err", err)
		}
		for _, s := range a.stages {
			a.waitIdle(ctx, s.queue)
			a.closeWorker(ctx, s)
		}
		a.reportLost()
	}
	runs.Wait()
	a.log.Info("shut down")
	return errors.Join(errs...)
}

// closeWorker closes a stage's worker; a drain cut short by the deadline
// (handlers still running, abandoned) is logged.
func (a *App) closeWorker(ctx context.Context, s stage) {
	if err := s.worker.Close(ctx); err != nil {
		a.log.Warn("worker drain cut short", "queue", s.queue.Name(), "err", err)
	}
}

// waitIdle waits until a queue has no job left to run, or ctx ends.
func (a *App) waitIdle(ctx context.Context, q *fila.Queue) {
	t := time.NewTicker(20 * time.Millisecond)
	defer t.Stop()
	for {
		c, err := q.Counts(ctx)
		if err == nil && pending(c) == 0 {
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// pending counts the jobs of a queue that have not finished.
func pending(c *fila.Counts) int64 {
	return c.Waiting + c.Prioritized + c.Paused + c.Delayed + c.Active + c.WaitingChildren
}

// reportLost logs the jobs a memory backend still held when the shutdown
// deadline passed: they die with the process.
func (a *App) reportLost() {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	for _, q := range a.queues.all() {
		c, err := q.Counts(ctx)
		if err != nil {
			continue
		}
		if n := pending(c); n > 0 {
			a.log.Error("shutdown deadline passed with jobs in memory; they are lost (use REDIS_URL to keep them)", "queue", q.Name(), "jobs", n)
		}
	}
}

// Close releases the storage and the Graph API connections. Call it after
// Run returns.
func (a *App) Close() error {
	a.graphHTTP.CloseIdleConnections()
	return a.storage.close()
}
