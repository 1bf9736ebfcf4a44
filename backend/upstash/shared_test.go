package upstash_test

import (
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/fila-go/fila/backend"
	redisbackend "github.com/fila-go/fila/backend/redis"
	"github.com/fila-go/fila/backend/upstash"
)

// Both backends run the same scripts on the same keys, so a queue can be fed
// over REST and worked over TCP, or the other way round, given the same job
// bucket count (the REST default differs from backend/redis's).
func TestQueueSharedWithRedisBackend(t *testing.T) {
	t.Parallel()
	for name, mk := range map[string]func(testing.TB) *bundle{"miniredis": miniBundle, "redis-server": realBundle} {
		t.Run("on "+name, func(t *testing.T) {
			t.Parallel()
			b := mk(t)
			rest := newBackend(t, b.config())
			rdb := redis.NewClient(&redis.Options{Addr: b.rdb.Options().Addr})
			tcp := redisbackend.New(rdb, redisbackend.WithJobBuckets(upstash.DefaultJobBuckets))
			t.Cleanup(func() { tcp.Close(); rdb.Close() })

			ids := addJobs(t, rest, "shared", []byte("over REST"))
			res, err := tcp.JobClaim(ctx, &backend.JobClaimParams{Queue: "shared", Token: "tcp", LockDuration: time.Minute, Wait: 5 * time.Second})
			require.NoError(t, err)
			require.NotNil(t, res.Job)
			require.Equal(t, ids[0], res.Job.ID)
			_, err = tcp.JobComplete(ctx, &backend.JobCompleteParams{Queue: "shared", ID: ids[0], Token: "tcp", ReturnValue: []byte(`"done"`)})
			require.NoError(t, err)

			j, err := rest.JobGet(ctx, &backend.JobGetParams{Queue: "shared", ID: ids[0]})
			require.NoError(t, err)
			require.Equal(t, backend.StateCompleted, j.State)
			require.Equal(t, []byte(`"done"`), j.ReturnValue)

			tres, err := tcp.JobAdd(ctx, &backend.JobAddParams{Queue: "shared", Jobs: []backend.JobAddItem{{Name: "over TCP", Data: []byte("\xff")}}})
			require.NoError(t, err)
			res, err = rest.JobClaim(ctx, &backend.JobClaimParams{Queue: "shared", Token: "rest", LockDuration: time.Minute, Wait: 5 * time.Second})
			require.NoError(t, err)
			require.NotNil(t, res.Job)
			require.Equal(t, tres[0].ID, res.Job.ID)
			require.Equal(t, []byte("\xff"), res.Job.Data)
		})
	}
}
