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
