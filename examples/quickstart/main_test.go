package main

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

func TestRunCompletesTheJobAndStopsTheWorker(t *testing.T) {
	defer goleak.VerifyNone(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	var out bytes.Buffer
	require.NoError(t, run(ctx, &out))
	require.Equal(t, "job welcome:ada completed: sent to ada@example.com\n", out.String())
}

func TestRunReportsAContextThatEndedInsteadOfHanging(t *testing.T) {
	defer goleak.VerifyNone(t)
	ctx, cancel := context.WithDeadline(context.Background(), time.Now().Add(-time.Second))
	defer cancel()

	var out bytes.Buffer
	err := run(ctx, &out)
	require.ErrorIs(t, err, context.DeadlineExceeded)
	require.Empty(t, out.String())
}
