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
