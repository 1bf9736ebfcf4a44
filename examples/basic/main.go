// Command basic shows fila's core on the embedded memory backend: a queue, a
// worker with concurrency and retries, and waiting for results. Run it with
//
//	go run ./examples/basic
package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync/atomic"
	"time"

	"github.com/fila-go/fila"
	"github.com/fila-go/fila/backend/memory"
)

// Greeting is the payload of a "greet" job.
type Greeting struct {
	Name string `json:"name"`
}

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "basic:", err)
		os.Exit(1)
	}
}

func run() error {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	be := memory.New()
	q := fila.NewQueue(be, "greetings")

	// The handler fails the first attempt of every job, to show retries.
	var attempts atomic.Int64
	handler := fila.JSONProcessor(func(ctx context.Context, job *fila.Job, g Greeting) (string, error) {
		attempts.Add(1)
		if job.AttemptsMade == 0 {
			return "", errors.New("flaky upstream")
		}
		return "hello, " + g.Name, nil
	})
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	w, err := fila.NewWorker(be, "greetings", handler, fila.WorkerOptions{Concurrency: 4, Logger: logger})
	if err != nil {
		return err // a bad option is reported here, before anything runs
	}
	runErr := make(chan error, 1)
	go func() {
		runErr <- w.Run(ctx)
		cancel() // a worker that stopped on its own (a backend failure) ends the waits below
	}()
	// stop ends the worker and returns err together with Run's own error.
	stop := func(err error) error {
		cancel()
		return errors.Join(err, <-runErr)
	}

	opts := &fila.JobOptions{Attempts: 3, Backoff: fila.Backoff{Type: fila.BackoffExponential, Delay: 50 * time.Millisecond}}
	var jobs []*fila.Job
	for _, name := range []string{"Ada", "Grace", "Linus"} {
		job, err := fila.AddJSON(ctx, q, "greet", Greeting{Name: name}, opts)
		if err != nil {
			return stop(err)
		}
		jobs = append(jobs, job)
	}
	for _, job := range jobs {
		fin, err := job.WaitUntilFinished(ctx)
		if err != nil {
			return stop(err)
		}
		var out string
		if err := fin.DecodeReturnValue(&out); err != nil {
			return stop(err)
		}
		fmt.Printf("job %s: %q after %d attempts\n", fin.ID, out, fin.AttemptsMade)
	}
	counts, err := q.Counts(ctx)
	if err != nil {
		return stop(err)
	}
	fmt.Printf("counts: %+v (handler ran %d times)\n", *counts, attempts.Load())
	return stop(nil) // nil after a graceful drain
}
