// Command whatsapp is the WhatsApp Cloud API webhook app from fila's story,
// rebuilt on fila: Meta's webhooks are verified, enqueued and answered 200
// at once, and five queues do the work with retries, rate limits and
// deduplication:
//
//	POST /webhook ─> inbound ─┬─> reply ──> outbound (Graph API: replies, read receipts)
//	                          └─> media ─> reply
//	              ─> status (delivery receipts -> conversation store)
//
// Try it with nothing installed (demo secrets, an in-process fake Graph
// API, a sample conversation):
//
//	go run ./examples/whatsapp -demo
//
// In production set the WHATSAPP_* variables and REDIS_URL, and run web
// and worker processes separately if they need to scale apart:
//
//	whatsapp -role web      # webhooks only
//	whatsapp -role worker   # queues only
//
// See README.md next to this file, and -h for every setting.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := run(ctx, os.Args[1:], os.Getenv, os.Stderr)
	switch {
	case errors.Is(err, flag.ErrHelp):
	case err != nil:
		fmt.Fprintln(os.Stderr, "whatsapp:", err)
		stop()
		os.Exit(1)
	}
}

// run loads the configuration, listens, and runs the app (or the demo)
// until ctx ends.
func run(ctx context.Context, args []string, getenv func(string) string, stderr io.Writer) error {
	cfg, err := loadConfig(args, getenv, stderr)
	if err != nil {
		return err
	}
	log := newLogger(stderr, &cfg)
	ln, err := net.Listen("tcp", cfg.Addr())
	if err != nil {
		return fmt.Errorf("listen on %s: %w", cfg.Addr(), err)
	}
	if cfg.Demo {
		return runDemo(ctx, cfg, log, ln)
	}
	app, err := newApp(ctx, cfg, log, nil)
	if err != nil {
		ln.Close()
		return err
	}
	return errors.Join(app.Run(ctx, ln), app.Close())
}

// newLogger returns the app's logger: text or JSON on w, at the
// configured level.
func newLogger(w io.Writer, cfg *Config) *slog.Logger {
	opts := &slog.HandlerOptions{Level: cfg.LogLevel}
	if cfg.LogJSON {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}
