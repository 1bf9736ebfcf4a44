package redisbackend

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/fila-go/fila/backend"
	"github.com/fila-go/fila/internal/redistest"
)

// realBackend is a Backend on a private redis-server (function library).
func realBackend(t *testing.T) (*Backend, *redis.Client) {
	t.Helper()
	rdb := redis.NewClient(&redis.Options{Addr: redistest.Addr(t)})
	be := New(rdb)
	t.Cleanup(func() { be.Close(); rdb.Close() })
	return be, rdb
}

// A job whose worker died is recovered by the stalled check however many
// jobs were claimed after it and still hold live locks: claims push on the
// left of active, so the check must look past the newest MaxJobs entries
// (MaxJobs bounds the jobs marked, as in the memory backend).
func TestStalledCheckFindsADeadJobBehindMaxJobsLiveOnes(t *testing.T) {
	for name, mk := range map[string]func(*testing.T) (*Backend, *redis.Client){"redis": realBackend, "miniredis": miniBackend} {
		t.Run(name, func(t *testing.T) {
			be, _ := mk(t)
			ctx := context.Background()
			const q, live = "st", 1000 // MaxJobs left at its default, 1000
			var jobs []backend.JobAddItem
			for i := 0; i <= live; i++ {
				jobs = append(jobs, backend.JobAddItem{Name: fmt.Sprint(i), Data: []byte("{}"), Options: backend.JobOptions{Attempts: 1}})
			}
			_, err := be.JobAdd(ctx, &backend.JobAddParams{Queue: q, Jobs: jobs})
			require.NoError(t, err)
			// The first claim belongs to a worker that dies: its lock lapses.
			dead, err := be.JobClaim(ctx, &backend.JobClaimParams{Queue: q, Token: "dead", LockDuration: time.Millisecond})
			require.NoError(t, err)
			require.NotNil(t, dead.Job)
			for i := range live {
				c, err := be.JobClaim(ctx, &backend.JobClaimParams{Queue: q, Token: fmt.Sprint("live", i), LockDuration: time.Hour})
				require.NoError(t, err)
				require.NotNil(t, c.Job)
			}
			time.Sleep(10 * time.Millisecond)
			var recovered []string
			for range 3 {
				res, err := be.StalledCheck(ctx, &backend.StalledCheckParams{Queue: q, MaxStalledCount: 1})
				require.NoError(t, err)
				recovered = append(recovered, res.Stalled...)
			}
			require.Equal(t, []string{dead.Job.ID}, recovered, "the dead worker's job goes back to waiting")
		})
	}
}

// Jobs of one priority run in the order they were added at every allowed
// priority, the largest (fila.MaxPriority, 1<<21) too: the score must stay
// below 2^53, where Redis' doubles are still exact, or neighbouring
// sequences round onto one score and ties sort by id.
func TestTopPriorityKeepsAddOrder(t *testing.T) {
	be, _ := realBackend(t)
	ctx := context.Background()
	const q = "maxprio"
	var want []string
	for i := 1; i <= 12; i++ {
		res, err := be.JobAdd(ctx, &backend.JobAddParams{Queue: q, Jobs: []backend.JobAddItem{{ID: fmt.Sprint("job-", 100-i), Name: "n", Data: []byte("{}"),
			Options: backend.JobOptions{Attempts: 1, Priority: 1 << 21}}}})
		require.NoError(t, err)
		want = append(want, res[0].ID)
	}
	var got []string
	for i := range want {
		c, err := be.JobClaim(ctx, &backend.JobClaimParams{Queue: q, Token: fmt.Sprint("t", i), LockDuration: time.Minute})
		require.NoError(t, err)
		require.NotNil(t, c.Job)
		got = append(got, c.Job.ID)
	}
	require.Equal(t, want, got)
}

// A blocked claim's BLMOVE takes the wake marker into active, and meta mk
// stays set until its claim_moved runs (if that worker died, until two
// stalled checks later). Meanwhile the marker is no job in wait: a
// priority-0 job waiting alone still counts, and still runs before a
// prioritized one.
func TestMarkerHeldByAClaimIsNoWaitingJob(t *testing.T) {
	be, rdb := realBackend(t)
	ctx := context.Background()
	const q = "mk"
	add := func(prio int, delay time.Duration) string {
		res, err := be.JobAdd(ctx, &backend.JobAddParams{Queue: q, Jobs: []backend.JobAddItem{{Name: "n", Data: []byte("{}"),
			Options: backend.JobOptions{Attempts: 1, Priority: prio, Delay: delay}}}})
		require.NoError(t, err)
		return res[0].ID
	}
	add(0, time.Hour) // the earliest delayed job on an empty wait: a wake marker is pushed
	require.Equal(t, []string{"0"}, rdb.LRange(ctx, "fila:{"+q+"}:wait", 0, -1).Val())
	// A worker blocked in JobClaim is served the marker: the BLMOVE fila sends.
	require.Equal(t, "0", rdb.BLMove(ctx, "fila:{"+q+"}:wait", "fila:{"+q+"}:active", "RIGHT", "LEFT", time.Second).Val())
	plain := add(0, 0)
	add(1, 0)
	c, err := be.QueueCounts(ctx, &backend.QueueParams{Queue: q})
	require.NoError(t, err)
	assert.EqualValues(t, 1, c.Waiting, "the priority-0 job is waiting")
	res, err := be.JobClaim(ctx, &backend.JobClaimParams{Queue: q, Token: "t", LockDuration: time.Minute})
	require.NoError(t, err)
	require.NotNil(t, res.Job)
	require.Equal(t, plain, res.Job.ID, "priority-0 jobs run before prioritized ones")
}

// A retry delayed by a fail that also claims the next job wakes the claims
// blocked elsewhere: the wake marker is pushed at the end of the script, so
// the claim chained in the same call cannot take it. A claim blocked in
// another process gets the job when it is due, not at its block timeout.
func TestDelayedRetryWakesClaimsBlockedElsewhere(t *testing.T) {
	for name, mk := range map[string]func(*testing.T) (*Backend, *redis.Client){"redis": realBackend, "miniredis": miniBackend} {
		t.Run(name, func(t *testing.T) {
			a, rdb := mk(t)
			other := New(rdb) // another process on the same server
			t.Cleanup(func() { other.Close() })
			ctx := context.Background()
			const q = "wake"
			_, err := a.JobAdd(ctx, &backend.JobAddParams{Queue: q, Jobs: []backend.JobAddItem{{Name: "n", Data: []byte("{}"), Options: backend.JobOptions{Attempts: 3}}}})
			require.NoError(t, err)
			c, err := a.JobClaim(ctx, &backend.JobClaimParams{Queue: q, Token: "t1", LockDuration: time.Minute})
			require.NoError(t, err)
			require.NotNil(t, c.Job)

			got := make(chan *backend.JobClaimResult, 1)
			go func() {
				r, err := other.JobClaim(ctx, &backend.JobClaimParams{Queue: q, Token: "t2", LockDuration: time.Minute, Wait: 5 * time.Second})
				assert.NoError(t, err)
				got <- r
			}()
			time.Sleep(200 * time.Millisecond) // the other claim is blocked

			next := &backend.JobClaimParams{Queue: q, Token: "t3", LockDuration: time.Minute}
			res, err := a.JobFail(ctx, &backend.JobFailParams{Queue: q, ID: c.Job.ID, Token: "t1", Reason: "x", Retry: true, RetryDelay: 300 * time.Millisecond, Next: next})
			require.NoError(t, err)
			require.Nil(t, res.Job, "nothing is ready yet")
			start := time.Now()
			r := <-got
			require.NotNil(t, r.Job, "the blocked claim got the retry, after %s", time.Since(start))
			require.Equal(t, c.Job.ID, r.Job.ID)
		})
	}
}
