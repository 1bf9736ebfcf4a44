package redisbackend

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/fila-go/fila/backend"
)

// A job removed on completion leaves no field behind, whether it completes
// on its first attempt (the script then deletes only the fields a first
// attempt can have) or after a failed one (reason and stacks too), and
// whatever progress and logs it recorded.
func TestRemoveOnCompleteLeavesNoFields(t *testing.T) {
	be, rdb := miniBackend(t)
	ctx := context.Background()
	remove := backend.Retention{Remove: true}
	lock := &backend.JobClaimParams{Queue: "q", Token: "t1", LockDuration: 60e9}

	for _, failFirst := range []bool{false, true} {
		res, err := be.JobAdd(ctx, &backend.JobAddParams{Queue: "q", Jobs: []backend.JobAddItem{{Name: "a", Data: []byte("{}"),
			Options: backend.JobOptions{Attempts: 2}}}})
		require.NoError(t, err)
		id := res[0].ID
		c, err := be.JobClaim(ctx, lock)
		require.NoError(t, err)
		require.Equal(t, id, c.Job.ID)
		require.NoError(t, be.JobUpdateProgress(ctx, &backend.JobUpdateProgressParams{Queue: "q", ID: id, Progress: []byte("7")}))
		_, err = be.JobLogAdd(ctx, &backend.JobLogAddParams{Queue: "q", ID: id, Line: "hello"})
		require.NoError(t, err)
		if failFirst {
			_, err = be.JobFail(ctx, &backend.JobFailParams{Queue: "q", ID: id, Token: "t1", Reason: "flaky", Stacktrace: "at x", Retry: true})
			require.NoError(t, err)
			_, err = be.JobClaim(ctx, lock)
			require.NoError(t, err)
		}
		_, err = be.JobComplete(ctx, &backend.JobCompleteParams{Queue: "q", ID: id, Token: "t1", ReturnValue: []byte(`"r"`), Retention: remove})
		require.NoError(t, err)
		require.Empty(t, rdb.HKeys(ctx, "fila:{q}:jobs").Val(), "failed first: %v", failFirst)
	}
}
