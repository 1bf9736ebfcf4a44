package faulttest

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/fila-go/fila"
	redisbackend "github.com/fila-go/fila/backend/redis"
	"github.com/fila-go/fila/internal/redistest"
)

// A job whose stored fields were corrupted in Redis (by hand, by another
// program, by a bug) fails with a reason when claimed, and the queue goes
// on: the jobs after it still run, on the same worker.
func TestCorruptStoredJobFailsAndDoesNotWedgeTheQueue(t *testing.T) {
	srv := redistest.Start(t)
	rdb := redis.NewClient(&redis.Options{Addr: srv.Addr, Protocol: 2})
	be := redisbackend.New(rdb)
	t.Cleanup(func() { be.Close(); rdb.Close() })
	ctx := context.Background()
	const name = "corrupt"
	q := fila.NewQueue(be, name)
	jobsKey := "fila:{" + name + "}:jobs"

	corruptions := []struct {
		what, field, value string
	}{
		{"truncated record", "j:", "1700000000000:0:0:40:0:short"},
		{"lengths that overflow int64", "j:", "1700000000000:0:0:9223372036854775807:1:x"},
		{"unknown option", "j:", "1700000000000:0:0:2:5:okzz=1;10"},
		{"not a record", "j:", "garbage"},
		{"empty record", "j:", ""},
		{"stack list that is not JSON", "t:", "{not json"},
	}
	var bad []string
	for _, c := range corruptions {
		j, err := q.Add(ctx, "ok", []byte("1"), nil)
		require.NoError(t, err)
		require.NoError(t, rdb.HSet(ctx, jobsKey, c.field+j.ID, c.value).Err())
		bad = append(bad, j.ID)
		good, err := q.Add(ctx, "ok", []byte("1"), nil)
		require.NoError(t, err)
		_ = good
	}

	// A listing shows the corrupt jobs as far as they decode, with the
	// reason, instead of failing the whole page.
	listed, err := q.Jobs(ctx, fila.StateWaiting, 0, 100)
	require.NoError(t, err)
	require.Len(t, listed, 2*len(corruptions))
	corruptListed := 0
	for _, j := range listed {
		if strings.Contains(j.FailedReason, "is corrupt") {
			corruptListed++
		}
	}
	require.Equal(t, len(corruptions), corruptListed, "every corrupt job is listed with its reason")

	var ran atomic.Int64
	w := mustWorker(t)(fila.NewWorker(be, name, func(ctx context.Context, j *fila.Job) (any, error) {
		ran.Add(1)
		return nil, nil
	}, fila.WorkerOptions{Concurrency: 1, StalledInterval: 500 * time.Millisecond}))
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	t.Cleanup(func() {
		cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		require.NoError(t, w.Close(cctx))
		require.NoError(t, <-done)
	})

	require.Eventually(t, func() bool {
		c, err := q.Counts(ctx)
		return err == nil && c.Completed == int64(len(corruptions)) && c.Failed == int64(len(corruptions))
	}, 30*time.Second, 20*time.Millisecond, "every good job completes and every corrupt one fails")
	c, err := q.Counts(ctx)
	require.NoError(t, err)
	require.Equal(t, fila.Counts{Completed: int64(len(corruptions)), Failed: int64(len(corruptions))}, *c)
	require.Equal(t, int64(len(corruptions)), ran.Load(), "no corrupt job reached the handler")

	for i, id := range bad {
		reason, err := rdb.HGet(ctx, jobsKey, "e:"+id).Result()
		require.NoError(t, err, corruptions[i].what)
		require.Contains(t, reason, "is corrupt", corruptions[i].what)
		state, err := rdb.HGet(ctx, jobsKey, "s:"+id).Result()
		require.NoError(t, err)
		require.True(t, strings.HasPrefix(state, "F "), "%s: state %q", corruptions[i].what, state)
		require.NoError(t, rdb.ZScore(ctx, "fila:{"+name+"}:failed", id).Err(), "%s: in the failed set", corruptions[i].what)
		t.Logf("%s: failed with %q", corruptions[i].what, reason)
	}

	// And the worker still serves.
	j, err := q.Add(ctx, "ok", nil, nil)
	require.NoError(t, err)
	wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	fin, err := j.WaitUntilFinished(wctx)
	require.NoError(t, err)
	require.Equal(t, fila.StateCompleted, fin.State)
}
