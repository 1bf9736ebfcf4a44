package fila_test

import (
	"context"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/fila-go/fila"
	"github.com/fila-go/fila/backend"
	"github.com/fila-go/fila/backend/memory"
	redisbackend "github.com/fila-go/fila/backend/redis"
)

// A Queue call whose context is already done (cancelled, or past its
// deadline) returns the context's error and changes nothing, on every
// backend.
func TestQueueCallWithADoneContextChangesNothing(t *testing.T) {
	backends := map[string]func(t *testing.T) backend.Backend{
		"memory": func(t *testing.T) backend.Backend {
			be := memory.New()
			t.Cleanup(func() { _ = be.Close() })
			return be
		},
		"redis": func(t *testing.T) backend.Backend {
			mr := miniredis.RunT(t)
			rdb := redis.NewClient(&redis.Options{Addr: mr.Addr(), MaxRetries: -1})
			be := redisbackend.New(rdb)
			t.Cleanup(func() { _ = be.Close(); _ = rdb.Close() })
			return be
		},
	}
	for name, newBackend := range backends {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			q := fila.NewQueue(newBackend(t), "ctx")
			ctx := context.Background()
			kept, err := q.Add(ctx, "kept", nil, nil)
			require.NoError(t, err)

			cancelled, cancel := context.WithCancel(ctx)
			cancel()
			expired, cancel2 := context.WithDeadline(ctx, time.Now().Add(-time.Second))
			defer cancel2()
			for _, done := range []context.Context{cancelled, expired} {
				want := done.Err()
				_, err = q.Add(done, "new", nil, &fila.JobOptions{JobID: "new"})
				require.ErrorIs(t, err, want)
				_, err = q.AddBulk(done, []fila.BulkJob{{Name: "bulk1"}, {Name: "bulk2"}})
				require.ErrorIs(t, err, want)
				_, err = q.Counts(done)
				require.ErrorIs(t, err, want)
				_, err = q.GetJob(done, kept.ID)
				require.ErrorIs(t, err, want)
				require.ErrorIs(t, q.Pause(done), want)
				require.ErrorIs(t, q.RateLimit(done, time.Hour), want)
				require.ErrorIs(t, q.Remove(done, kept.ID), want)
				_, err = q.Drain(done, true)
				require.ErrorIs(t, err, want)
				require.ErrorIs(t, q.Obliterate(done, true), want)
			}

			c, err := q.Counts(ctx)
			require.NoError(t, err)
			require.Equal(t, fila.Counts{Waiting: 1}, *c)
			paused, err := q.IsPaused(ctx)
			require.NoError(t, err)
			require.False(t, paused)
			_, err = q.GetJob(ctx, "new")
			require.ErrorIs(t, err, fila.ErrJobNotFound)
			j, err := q.GetJob(ctx, kept.ID)
			require.NoError(t, err)
			require.Equal(t, fila.StateWaiting, j.State)
		})
	}
}

// While Redis answers nothing, Queue calls with a deadline return
// context.DeadlineExceeded at that deadline, with the go-redis options the
// README recommends; the add retried with its JobID afterwards leaves one job.
func TestQueueDeadlineWhileRedisIsPaused(t *testing.T) {
	t.Parallel()
	rb := startRedis(t, nil)
	q := fila.NewQueue(rb.be, "paused")
	ctx := context.Background()
	kept, err := q.Add(ctx, "kept", nil, nil)
	require.NoError(t, err)

	require.NoError(t, rb.admin.Do(ctx, "CLIENT", "PAUSE", "2000", "ALL").Err())
	paused := time.Now()
	calls := map[string]func(context.Context) error{
		"Add": func(ctx context.Context) error {
			_, err := q.Add(ctx, "new", nil, &fila.JobOptions{JobID: "new"})
			return err
		},
		"Counts": func(ctx context.Context) error {
			_, err := q.Counts(ctx)
			return err
		},
		"GetJob": func(ctx context.Context) error {
			_, err := q.GetJob(ctx, kept.ID)
			return err
		},
	}
	errs := make(map[string]chan error, len(calls))
	for name, call := range calls {
		done := make(chan error, 1)
		errs[name] = done
		go func() {
			cctx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
			defer cancel()
			done <- call(cctx)
		}()
	}
	for name := range calls {
		require.ErrorIs(t, <-errs[name], context.DeadlineExceeded, name)
	}
	// The pause lasts 2s: a call that waited for Redis took longer.
	require.Less(t, time.Since(paused), 1500*time.Millisecond)

	j, err := q.Add(ctx, "new", nil, &fila.JobOptions{JobID: "new"})
	require.NoError(t, err)
	require.Equal(t, "new", j.ID)
	c, err := q.Counts(ctx)
	require.NoError(t, err)
	require.Equal(t, fila.Counts{Waiting: 2}, *c)
}
