package fila_test

import (
	"context"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/fila-go/fila"
	"github.com/fila-go/fila/backend"
	redisbackend "github.com/fila-go/fila/backend/redis"
	"github.com/fila-go/fila/internal/redistest"
)

// A permanent backend failure ends Run with that error instead of a
// "claim failed; retrying" log line forever and a nil from Run.

func TestRunEndsWhenItsBackendIsClosed(t *testing.T) {
	b := setup(t)
	spy := newClaimSpy(b.be, 1)
	w := newWorker(t, spy, queueName, func(context.Context, *fila.Job) (any, error) { return nil, nil }, fila.WorkerOptions{})
	runDone := make(chan error, 1)
	go func() { runDone <- w.Run(context.Background()) }()
	<-spy.idle // blocked in its first claim

	require.NoError(t, b.be.Close())
	err := <-runDone
	require.ErrorIs(t, err, backend.ErrClosed)
	require.True(t, backend.IsPermanent(err))
	require.Contains(t, err.Error(), queueName)
	st := w.Stats()
	require.GreaterOrEqual(t, st.BackendErrors, uint64(1)) // the claim, maybe a stalled check too
	require.Contains(t, st.LastError, "backend closed")
	require.False(t, st.LastErrorAt.IsZero())
	require.NoError(t, w.Close(context.Background()), "Close after Run returned")
	goleak.VerifyNone(t)
}

func TestRunEndsOnAWrongRedisPassword(t *testing.T) {
	srv := redistest.Start(t)
	ctx := context.Background()
	admin := redis.NewClient(&redis.Options{Addr: srv.Addr, Protocol: 2})
	require.NoError(t, admin.ConfigSet(ctx, "requirepass", "s3cret").Err())
	_ = admin.Close()

	good := redis.NewClient(&redis.Options{Addr: srv.Addr, Password: "s3cret", Protocol: 2})
	t.Cleanup(func() { _ = good.Close() })
	goodBe := redisbackend.New(good)
	t.Cleanup(func() { _ = goodBe.Close() })
	job, err := fila.NewQueue(goodBe, queueName).Add(ctx, "send", nil, nil)
	require.NoError(t, err, "the right password works")

	bad := redis.NewClient(&redis.Options{Addr: srv.Addr, Password: "wrong", Protocol: 2})
	t.Cleanup(func() { _ = bad.Close() })
	be := redisbackend.New(bad)
	t.Cleanup(func() { _ = be.Close() })
	w := newWorker(t, be, queueName, func(context.Context, *fila.Job) (any, error) { return nil, nil }, fila.WorkerOptions{})
	runDone := make(chan error, 1)
	go func() { runDone <- w.Run(ctx) }()
	select {
	case err = <-runDone:
	case <-time.After(waitFor):
		t.Fatal("Run kept retrying a refused password")
	}
	require.ErrorIs(t, err, backend.ErrPermanent)
	require.ErrorContains(t, err, "WRONGPASS")
	require.GreaterOrEqual(t, w.Stats().BackendErrors, uint64(1))

	j, err := fila.NewQueue(goodBe, queueName).GetJob(ctx, job.ID)
	require.NoError(t, err)
	require.Equal(t, fila.StateWaiting, j.State, "nothing was claimed")
}
