package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/fila-go/fila"
	"github.com/fila-go/fila/dashboard"
)

// dashboardFlags are the dashboard command's own flags.
type dashboardFlags struct {
	addr     string
	base     string
	title    string
	readOnly bool
	interval time.Duration
}

func dashboardCommand() *command {
	d := &dashboardFlags{}
	return &command{
		name: "dashboard", args: "[queue...]",
		summary: "serve the web dashboard until interrupted",
		detail: `
Serves the dashboard of package github.com/fila-go/fila/dashboard over the
named queues, or over every queue the storage knows when none is named (queues
created after the start show after a restart). It has no login of its own:
it listens on 127.0.0.1 by default; put it behind your own authentication
before you offer it to a network. -timeout bounds connecting and each
page's backend calls.`,
		minArgs: 0, maxArgs: -1,
		serve: true,
		flags: func(fs *flag.FlagSet, _ *options) {
			fs.StringVar(&d.addr, "addr", "127.0.0.1:8081", "listen on this `host:port`")
			fs.StringVar(&d.base, "base", "/", "serve under this URL `path`")
			fs.StringVar(&d.title, "title", "fila", "the page `title`")
			fs.BoolVar(&d.readOnly, "read-only", false, "hide and refuse every action")
			fs.DurationVar(&d.interval, "interval", 2*time.Second, "refresh counts and charts every `duration`")
		},
		run: func(ctx context.Context, e *env, args []string) error {
			return d.serve(ctx, e, args)
		},
	}
}

func (d *dashboardFlags) serve(ctx context.Context, e *env, names []string) error {
	if len(names) == 0 {
		lctx, cancel := context.WithTimeout(ctx, e.opt.timeout)
		var err error
		names, err = e.be.QueueList(lctx)
		cancel()
		if err != nil {
			return fmt.Errorf("fila dashboard: list queues: %w", err)
		}
		if len(names) == 0 {
			return fmt.Errorf("fila dashboard: Redis has no queues under prefix %q yet; name the queues to show: fila dashboard outbound inbound", e.opt.prefix)
		}
	}
	queues := make([]*fila.Queue, len(names))
	for i, n := range names {
		queues[i] = e.queue(n)
	}
	if err := checkReadable(ctx, queues, e.opt.timeout); err != nil {
		return err
	}
	h, err := dashboard.New(queues, dashboard.Options{
		BasePath: d.base, Title: d.title, ReadOnly: d.readOnly, Interval: d.interval, Timeout: e.opt.timeout,
		Logger: slog.New(slog.NewTextHandler(e.errOut, nil)),
	})
	if err != nil {
		return fmt.Errorf("fila dashboard: %w", err)
	}
	ln, err := net.Listen("tcp", d.addr)
	if err != nil {
		return fmt.Errorf("fila dashboard: listen on %s: %w", d.addr, err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	base := "/" + strings.Trim(d.base, "/") + "/"
	if base == "//" {
		base = "/"
	}
	fmt.Fprintf(e.out, "fila dashboard: %d queue(s) on http://%s%s (Ctrl-C stops)\n", len(queues), ln.Addr(), base)
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	select {
	case err := <-done:
		return fmt.Errorf("fila dashboard: %w", err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("fila dashboard: shut down: %w", err)
	}
	<-done
	return nil
}

// checkReadable reads each queue's counts once before serving, so that a
// queue the backend cannot read (a job bucket count other than the
// application's: redisbackend.ErrLayout) fails the command instead of
// every page.
func checkReadable(ctx context.Context, queues []*fila.Queue, timeout time.Duration) error {
	for _, q := range queues {
		cctx, cancel := context.WithTimeout(ctx, timeout)
		_, err := q.Counts(cctx)
		cancel()
		if err != nil {
			return fmt.Errorf("fila dashboard: read queue %q: %w", q.Name(), err)
		}
	}
	return nil
}
