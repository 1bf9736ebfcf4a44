package fila_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/time/rate"

	"github.com/fila-go/fila"
)

// A LocalLimiter with burst 0 (and a finite rate) can never hand out a
// token: NewWorker rejects it, naming the field.
func TestLocalLimiterWithBurstZeroIsRejected(t *testing.T) {
	b := setup(t)
	w, err := fila.NewWorker(b.be, queueName, (&runLog{}).recordOK,
		fila.WorkerOptions{LocalLimiter: rate.NewLimiter(rate.Every(100*time.Millisecond), 0)})
	require.Nil(t, w)
	requireInvalid(t, err, "LocalLimiter")
}
