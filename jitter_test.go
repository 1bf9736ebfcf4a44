package fila_test

import (
	"context"
	"math"
	"testing"
	"time"

	"github.com/fila-go/fila"
)

// Backoff.Jitter must be in [0, 1], and NaN is not: it passes both range
// comparisons, and in the worker it would turn the backoff into a negative
// delay on amd64 (the retry at once). Add refuses it.
func TestNaNJitterIsRejectedAtAdd(t *testing.T) {
	b := setup(t)
	j, err := b.queue.Add(context.Background(), "send", []byte(`{}`), &fila.JobOptions{
		Attempts: 2, Backoff: fila.Backoff{Type: fila.BackoffFixed, Delay: time.Hour, Jitter: math.NaN()}})
	if err == nil {
		var runs runLog
		b.startWorker(t, func(ctx context.Context, j *fila.Job) (any, error) {
			runs.add(j)
			if j.AttemptsMade == 0 {
				return nil, context.DeadlineExceeded
			}
			return nil, nil
		}, fila.WorkerOptions{})
		time.Sleep(300 * time.Millisecond)
		t.Fatalf("Add accepted Jitter NaN; attempts run within 300ms with a 1h backoff: %d (job %s)", runs.len(), j.ID)
	}
	requireInvalid(t, err, "Backoff.Jitter")
}
