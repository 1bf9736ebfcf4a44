package fila_test

import (
	"context"
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/fila-go/fila"
)

// A job parked with a very long Delay (here the largest Duration, a common
// "never, until promoted" idiom) is accepted by Add. It must not stop the
// queue's other delayed jobs, nor retries with backoff, from running.
func TestHugeDelayDoesNotHoldBackOtherDelayedJobs(t *testing.T) {
	b := setup(t)
	b.add(t, "parked", &fila.JobOptions{Delay: math.MaxInt64})
	soon := b.add(t, "soon", &fila.JobOptions{Delay: 50 * 1e6})
	var runs runLog
	b.startWorker(t, runs.recordOK, fila.WorkerOptions{})
	completed(t, soon)
}

// On Redis the same Delay stays a delay: converting it to milliseconds must
// not overflow into a 1ms delay that runs the job at once.
func TestHugeDelayStaysDelayedOnRedis(t *testing.T) {
	rb := startRedis(t, nil)
	q := fila.NewQueue(rb.be, queueName)
	j, err := q.Add(context.Background(), "parked", []byte(`{}`), &fila.JobOptions{Delay: math.MaxInt64})
	require.NoError(t, err)
	ran := make(chan struct{}, 1)
	startWorkerOn(t, rb.be, queueName, func(context.Context, *fila.Job) (any, error) {
		ran <- struct{}{}
		return nil, nil
	}, fila.WorkerOptions{})
	select {
	case <-ran:
		got, _ := q.GetJob(context.Background(), j.ID)
		t.Fatalf("a job delayed by %s ran at once (stored DueAt %s, state %s)", time.Duration(math.MaxInt64), j.DueAt, got.State)
	case <-time.After(500 * time.Millisecond):
	}
}
