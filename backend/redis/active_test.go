package redisbackend

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/fila-go/fila/backend"
)

// finish.lua takes a finished job out of active after the item's next claim
// (leave_active). A job failed with an immediate retry and claimed again in
// the same call is in active twice for a moment: the old entry must go and
// the new claim stay, so active ends holding exactly the running job.
func TestRetryClaimedInTheSameCallKeepsOneActiveEntry(t *testing.T) {
	be, rdb := miniBackend(t)
	ctx := context.Background()
	active := "fila:{q}:active"
	_, err := be.JobAdd(ctx, &backend.JobAddParams{Queue: "q", Jobs: []backend.JobAddItem{
		{Name: "a", Data: []byte("{}"), Options: backend.JobOptions{Attempts: 3}}}})
	require.NoError(t, err)
	c, err := be.JobClaim(ctx, &backend.JobClaimParams{Queue: "q", Token: "t1", LockDuration: time.Minute})
	require.NoError(t, err)
	require.NotNil(t, c.Job)
	id := c.Job.ID

	res, err := be.JobFail(ctx, &backend.JobFailParams{Queue: "q", ID: id, Token: "t1", Reason: "x", Retry: true,
		Next: &backend.JobClaimParams{Queue: "q", Token: "t2", LockDuration: time.Minute}})
	require.NoError(t, err)
	require.NotNil(t, res.Job, "the retried job is the only one ready: the chained claim takes it")
	require.Equal(t, id, res.Job.ID)
	require.Equal(t, []string{id}, rdb.LRange(ctx, active, 0, -1).Val())

	res, err = be.JobComplete(ctx, &backend.JobCompleteParams{Queue: "q", ID: id, Token: "t2",
		Next: &backend.JobClaimParams{Queue: "q", Token: "t3", LockDuration: time.Minute}})
	require.NoError(t, err)
	require.Nil(t, res.Job)
	require.Zero(t, rdb.LLen(ctx, active).Val(), "nothing left active")
	j, err := be.JobGet(ctx, &backend.JobGetParams{Queue: "q", ID: id})
	require.NoError(t, err)
	require.Equal(t, backend.StateCompleted, j.State)
	require.EqualValues(t, 2, j.AttemptsMade)
}
