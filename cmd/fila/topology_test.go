package main

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/fila-go/fila"
	redisbackend "github.com/fila-go/fila/backend/redis"
	"github.com/fila-go/fila/internal/redistest"
)

// seedThroughClient adds one waiting and one delayed job to "outbound"
// through rdb, as an application would.
func seedThroughClient(t *testing.T, rdb redis.UniversalClient) {
	t.Helper()
	be := redisbackend.New(rdb)
	t.Cleanup(func() { _ = be.Close(); _ = rdb.Close() })
	q := fila.NewQueue(be, "outbound")
	ctx := context.Background()
	_, err := q.Add(ctx, "send", []byte(`{}`), nil)
	require.NoError(t, err)
	_, err = q.Add(ctx, "send", []byte(`{}`), &fila.JobOptions{Delay: time.Hour})
	require.NoError(t, err)
}

// statsThrough runs fila stats -json over the URL and returns the rows.
func statsThrough(t *testing.T, url string) []queueStats {
	t.Helper()
	var out, errOut bytes.Buffer
	code := run(context.Background(), []string{"-redis", url, "stats", "-json"}, &out, &errOut, noEnv, openRedis)
	require.Equal(t, exitOK, code, errOut.String())
	var rows []queueStats
	require.NoError(t, json.Unmarshal(out.Bytes(), &rows))
	return rows
}

func TestClusterURLReachesACluster(t *testing.T) {
	t.Parallel()
	addrs := redistest.Cluster(t)
	seedThroughClient(t, redis.NewClusterClient(&redis.ClusterOptions{Addrs: addrs, MaxRetries: -1}))

	rows := statsThrough(t, "redis+cluster://"+strings.Join(addrs, ","))
	require.Len(t, rows, 1)
	require.Equal(t, "outbound", rows[0].Queue)
	require.Equal(t, fila.Counts{Waiting: 1, Delayed: 1}, rows[0].Counts)
}

func TestSentinelURLReachesTheMaster(t *testing.T) {
	t.Parallel()
	sentinel, master := redistest.Sentinel(t, "mymaster")
	seedThroughClient(t, redis.NewClient(&redis.Options{Addr: master.Addr, MaxRetries: -1}))

	rows := statsThrough(t, "redis+sentinel://"+sentinel+"/mymaster")
	require.Len(t, rows, 1)
	require.Equal(t, "outbound", rows[0].Queue)
	require.Equal(t, fila.Counts{Waiting: 1, Delayed: 1}, rows[0].Counts)

	var errOut bytes.Buffer
	code := run(context.Background(), []string{"-redis", "redis+sentinel://" + sentinel + "/nosuchmaster", "-timeout", "5s", "stats"},
		&bytes.Buffer{}, &errOut, noEnv, openRedis)
	require.Equal(t, exitFail, code)
	require.Contains(t, errOut.String(), "fila: connect to \"redis+sentinel://"+sentinel+"/nosuchmaster\"")
}
