package fila_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/time/rate"

	"github.com/fila-go/fila"
)

// A LocalLimiter with burst 0 (and a finite rate) can never hand out a
// token. Run rejects it as invalid rather than never claiming and
// returning nil as if all was well.
func TestLocalLimiterWithBurstZeroIsRejected(t *testing.T) {
	b := setup(t)
	w := fila.NewWorker(b.be, queueName, (&runLog{}).recordOK,
		fila.WorkerOptions{LocalLimiter: rate.NewLimiter(rate.Every(100*time.Millisecond), 0)})
	job := b.add(t, "send", nil)
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	err := w.Run(ctx)
	if errors.Is(err, fila.ErrInvalid) {
		return // rejected up front: fine
	}
	require.NoError(t, err)
	if st := b.get(t, job.ID).State; st != fila.StateCompleted {
		t.Fatalf("Run accepted a LocalLimiter with burst 0 and returned nil, yet the job is still %s: the worker never claimed", st)
	}
}
