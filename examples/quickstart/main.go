// Command quickstart is the README's quick start: a queue and a worker on the
// embedded memory backend, one job with a typed payload and a typed result.
//
//	go run ./examples/quickstart
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"os"
	"time"

	"github.com/fila-go/fila"
	"github.com/fila-go/fila/backend/memory"
)

// Email is the job's payload; Receipt is what the handler returns.
type Email struct {
	To      string `json:"to"`
	Subject string `json:"subject"`
}

type Receipt struct {
	SentTo string `json:"sent_to"`
}

// sendEmail handles one job. An error retries it per its Attempts and Backoff.
func sendEmail(ctx context.Context, job *fila.Job, e Email) (Receipt, error) {
	return Receipt{SentTo: e.To}, nil
}

func main() {
	if err := run(context.Background(), os.Stdout); err != nil {
		log.Fatal(err)
	}
}

func run(ctx context.Context, out io.Writer) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	be := memory.New() // or redisbackend.New(redis.NewClient(...))
	defer be.Close()
	q := fila.NewQueue(be, "emails")

	w, err := fila.NewWorker(be, "emails", fila.JSONProcessor(sendEmail), fila.WorkerOptions{
		Concurrency: 5,
		Limiter:     &fila.Limit{Max: 10, Per: time.Second}, // across every worker of the queue
	})
	if err != nil {
		return err // a bad option is reported here, before anything runs
	}
	runErr := make(chan error, 1)
	go func() {
		runErr <- w.Run(ctx) // nil after Close; the error if the backend fails for good
		cancel()             // a worker that stopped on its own also ends the wait below
	}()
	// stop closes the worker gracefully (running handlers get up to 10s to
	// finish) and returns err together with Run's error.
	stop := func(err error) error {
		closeCtx, cancelClose := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancelClose()
		return errors.Join(err, w.Close(closeCtx), <-runErr)
	}

	job, err := fila.AddJSON(ctx, q, "welcome", Email{To: "ada@example.com", Subject: "Hi"}, &fila.JobOptions{
		JobID:    "welcome:ada", // idempotent: adding it again returns this job
		Attempts: 3,
		Backoff:  fila.Backoff{Type: fila.BackoffExponential, Delay: time.Second},
	})
	if err != nil {
		return stop(err)
	}
	done, err := job.WaitUntilFinished(ctx) // a *fila.JobFailedError if every attempt failed
	if err != nil {
		return stop(err)
	}
	var r Receipt
	if err := done.DecodeReturnValue(&r); err != nil {
		return stop(err)
	}
	fmt.Fprintf(out, "job %s %s: sent to %s\n", done.ID, done.State, r.SentTo)
	return stop(nil)
}
