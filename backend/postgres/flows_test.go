package postgres_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/fila-go/fila/backend"
	"github.com/fila-go/fila/backend/postgres"
)

// TestGroupedFlowParentKeepsItsGroupsConcurrency: a grouped parent released
// by its last child (inside the flow trigger, where the group triggers do
// not fire) still waits for its group's free slot.
func TestGroupedFlowParentKeepsItsGroupsConcurrency(t *testing.T) {
	t.Parallel()
	be := open(t, postgres.Options{})
	ctx := context.Background()
	const queue = "grouped-flow"
	claim := func(tok string) *backend.Job {
		t.Helper()
		res, err := be.JobClaim(ctx, &backend.JobClaimParams{Queue: queue, Token: tok, LockDuration: time.Minute})
		require.NoError(t, err)
		return res.Job
	}
	complete := func(id, tok string) {
		t.Helper()
		_, err := be.JobComplete(ctx, &backend.JobCompleteParams{Queue: queue, ID: id, Token: tok})
		require.NoError(t, err)
	}
	res, err := be.JobAdd(ctx, &backend.JobAddParams{Queue: queue, Jobs: []backend.JobAddItem{{Name: "x", Options: backend.JobOptions{Attempts: 1, Group: "g"}}}})
	require.NoError(t, err)
	x := claim("tx")
	require.Equal(t, res[0].ID, x.ID)

	flow, err := be.FlowAdd(ctx, &backend.FlowAddParams{Queue: queue, Root: backend.FlowNode{
		Job:      backend.JobAddItem{Name: "parent", Options: backend.JobOptions{Attempts: 1, Group: "g"}},
		Children: []backend.FlowNode{{Job: backend.JobAddItem{Name: "child", Options: backend.JobOptions{Attempts: 1}}}},
	}})
	require.NoError(t, err)
	c := claim("tc")
	require.Equal(t, "child", c.Name)
	complete(c.ID, "tc")

	require.Equal(t, backend.StateWaiting, getJob(t, be, queue, flow[0].ID).State)
	require.Nil(t, claim("t1"), "the parent waits while x holds g's only slot")
	gc, err := be.GroupCounts(ctx, &backend.GroupParams{Queue: queue, Group: "g"})
	require.NoError(t, err)
	require.Equal(t, backend.GroupCounts{Waiting: 1, Active: 1}, *gc)
	complete(x.ID, "tx")
	p := claim("tp")
	require.NotNil(t, p)
	require.Equal(t, flow[0].ID, p.ID)
}

func getJob(t *testing.T, be *postgres.Backend, queue, id string) *backend.Job {
	t.Helper()
	j, err := be.JobGet(context.Background(), &backend.JobGetParams{Queue: queue, ID: id})
	require.NoError(t, err)
	return j
}

// TestAParentFailedByAChildFollowsItsRemoveOnFail: the parent is removed
// at once, and its other children still run.
func TestAParentFailedByAChildFollowsItsRemoveOnFail(t *testing.T) {
	t.Parallel()
	be := open(t, postgres.Options{})
	ctx := context.Background()
	const queue = "remove-failed-parent"
	leaf := func(name string) backend.FlowNode {
		return backend.FlowNode{Job: backend.JobAddItem{Name: name, Options: backend.JobOptions{Attempts: 1}}}
	}
	flow, err := be.FlowAdd(ctx, &backend.FlowAddParams{Queue: queue, Root: backend.FlowNode{
		Job:      backend.JobAddItem{Name: "parent", Options: backend.JobOptions{Attempts: 1, RemoveOnFail: backend.Retention{Remove: true}}},
		Children: []backend.FlowNode{leaf("bad"), leaf("sibling")},
	}})
	require.NoError(t, err)
	res, err := be.JobClaim(ctx, &backend.JobClaimParams{Queue: queue, Token: "t1", LockDuration: time.Minute})
	require.NoError(t, err)
	require.Equal(t, "bad", res.Job.Name)
	_, err = be.JobFail(ctx, &backend.JobFailParams{Queue: queue, ID: res.Job.ID, Token: "t1", Reason: "boom"})
	require.NoError(t, err)
	_, err = be.JobGet(ctx, &backend.JobGetParams{Queue: queue, ID: flow[0].ID})
	require.ErrorIs(t, err, backend.ErrJobNotFound, "the failed parent is removed")

	res, err = be.JobClaim(ctx, &backend.JobClaimParams{Queue: queue, Token: "t2", LockDuration: time.Minute})
	require.NoError(t, err)
	require.NotNil(t, res.Job, "the sibling still runs")
	require.Equal(t, "sibling", res.Job.Name)
	_, err = be.JobComplete(ctx, &backend.JobCompleteParams{Queue: queue, ID: res.Job.ID, Token: "t2"})
	require.NoError(t, err)
	c, err := be.QueueCounts(ctx, &backend.QueueParams{Queue: queue})
	require.NoError(t, err)
	require.Equal(t, backend.Counts{Completed: 1, Failed: 1}, *c)
}
