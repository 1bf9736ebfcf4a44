package redisbackend

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/fila-go/fila/backend"
)

// The per-minute metrics across minutes, on a server whose clock the test
// sets: finishes count into the current minute, a new minute moves the
// finished one to the list with a zero point per minute skipped, and the
// list keeps the configured number of minutes.
func TestMetricsRollOverMinutes(t *testing.T) {
	mr := miniredis.RunT(t)
	rdb := redis.NewClient(&redis.Options{Addr: mr.Addr()})
	be := New(rdb, WithMetricsMinutes(5))
	t.Cleanup(func() { be.Close(); rdb.Close() })
	ctx := context.Background()
	t0 := time.Date(2026, 12, 1, 10, 0, 30, 0, time.UTC)
	at := func(minutes int) { mr.SetTime(t0.Add(time.Duration(minutes) * time.Minute)) }

	n := 0
	finish := func(fail bool) {
		t.Helper()
		n++
		_, err := be.JobAdd(ctx, &backend.JobAddParams{Queue: "q", Jobs: []backend.JobAddItem{
			{Name: fmt.Sprint(n), Data: []byte("{}"), Options: backend.JobOptions{Attempts: 1}}}})
		require.NoError(t, err)
		c, err := be.JobClaim(ctx, &backend.JobClaimParams{Queue: "q", Token: fmt.Sprint("t", n), LockDuration: time.Hour})
		require.NoError(t, err)
		require.NotNil(t, c.Job)
		if fail {
			_, err = be.JobFail(ctx, &backend.JobFailParams{Queue: "q", ID: c.Job.ID, Token: fmt.Sprint("t", n), Reason: "x"})
		} else {
			_, err = be.JobComplete(ctx, &backend.JobCompleteParams{Queue: "q", ID: c.Job.ID, Token: fmt.Sprint("t", n)})
		}
		require.NoError(t, err)
	}
	series := func() ([]int64, []int64) {
		t.Helper()
		m, err := be.QueueMetrics(ctx, &backend.QueueMetricsParams{Queue: "q", Minutes: 5})
		require.NoError(t, err)
		return m.Completed, m.Failed
	}

	at(0)
	c, f := series()
	require.Equal(t, []int64{0, 0, 0, 0, 0}, c, "no finishes yet")
	require.Equal(t, []int64{0, 0, 0, 0, 0}, f)
	finish(false)
	finish(false)
	finish(true)
	at(1)
	finish(false)
	at(3)
	finish(false)
	finish(true)
	finish(true)
	c, f = series()
	require.Equal(t, []int64{1, 0, 1, 2, 0}, c, "newest minute first, a zero for the skipped minute")
	require.Equal(t, []int64{2, 0, 0, 1, 0}, f)

	at(5) // no finish since minute 3: the head minute is two minutes old
	c, f = series()
	require.Equal(t, []int64{0, 0, 1, 0, 1}, c)
	require.Equal(t, []int64{0, 0, 2, 0, 0}, f)

	at(60) // a long gap: every kept point is zero but the new minute's
	finish(false)
	c, f = series()
	require.Equal(t, []int64{1, 0, 0, 0, 0}, c)
	require.Equal(t, []int64{0, 0, 0, 0, 0}, f)
	require.LessOrEqual(t, rdb.LLen(ctx, "fila:{q}:metrics").Val(), int64(4), "the list keeps the minutes before the current one")
}
