package redisbackend_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/fila-go/fila/backend"
	"github.com/fila-go/fila/backend/backendtest"
	redisbackend "github.com/fila-go/fila/backend/redis"
	"github.com/fila-go/fila/internal/redistest"
)

// newBackend wraps a client in a backend closed with the test.
func newBackend(t *testing.T, rdb redis.UniversalClient, opts ...redisbackend.Option) *redisbackend.Backend {
	t.Helper()
	be := redisbackend.New(rdb, opts...)
	t.Cleanup(func() { be.Close(); rdb.Close() })
	return be
}

// testClient is a client as fila recommends (MaxRetries -1: a script
// resent after a lost reply would run twice) with a read timeout that a
// loaded CI machine does not reach: go-redis' 3s default, retried, ran
// 500-job add batches twice under load average 25.
func testClient(addr string) *redis.Client {
	return redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1, ReadTimeout: 20 * time.Second})
}

func TestConformanceRedisServer(t *testing.T) {
	addr := redistest.Addr(t)
	be := newBackend(t, testClient(addr))
	backendtest.Run(t, func(t *testing.T) backend.Backend { return be })
}

func TestConformanceCluster(t *testing.T) {
	addrs := redistest.Cluster(t)
	be := newBackend(t, redis.NewClusterClient(&redis.ClusterOptions{Addrs: addrs}))
	backendtest.Run(t, func(t *testing.T) backend.Backend { return be })
}

// Sentinel: go-redis's failover client is a *redis.Client whose dialer asks
// the sentinels for the master; fila's blocking connections dial the same way.
func TestConformanceSentinel(t *testing.T) {
	sentinel, _ := redistest.Sentinel(t, "mymaster")
	be := newBackend(t, redis.NewFailoverClient(&redis.FailoverOptions{
		MasterName: "mymaster", SentinelAddrs: []string{sentinel}, MaxRetries: -1,
	}))
	backendtest.Run(t, func(t *testing.T) backend.Backend { return be })
}

func TestConformanceTLS(t *testing.T) {
	srv, caPEM := redistest.StartTLS(t)
	opt, err := redis.ParseURL("rediss://" + srv.Addr + "/0")
	require.NoError(t, err)
	pool := x509.NewCertPool()
	require.True(t, pool.AppendCertsFromPEM(caPEM))
	opt.TLSConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	be := newBackend(t, redis.NewClient(opt))
	backendtest.Run(t, func(t *testing.T) backend.Backend { return be })
}

// On a server with CLIENT UNBLOCK a cancelled claim ends without taking a
// job, even one added the instant after the cancel returns.
func TestCancelledClaimTakesNothing(t *testing.T) {
	be := newBackend(t, redis.NewClient(&redis.Options{Addr: redistest.Addr(t)}))
	ctx := context.Background()
	for i := range 50 {
		q := fmt.Sprintf("cancel-race-%d", i)
		cctx, cancel := context.WithCancel(ctx)
		errc := make(chan error, 1)
		go func() {
			_, err := be.JobClaim(cctx, &backend.JobClaimParams{Queue: q, Token: "t", LockDuration: time.Minute, Wait: 20 * time.Second})
			errc <- err
		}()
		time.Sleep(20 * time.Millisecond)
		cancel()
		select {
		case err := <-errc:
			require.ErrorIs(t, err, context.Canceled)
		case <-time.After(3 * time.Second):
			t.Fatal("cancel did not end the blocked claim")
		}
		_, err := be.JobAdd(ctx, &backend.JobAddParams{Queue: q, Jobs: []backend.JobAddItem{{Name: "n", Options: backend.JobOptions{Attempts: 1}}}})
		require.NoError(t, err)
		c, err := be.QueueCounts(ctx, &backend.QueueParams{Queue: q})
		require.NoError(t, err)
		require.Equal(t, backend.Counts{Waiting: 1}, *c, "round %d", i)
	}
}

// With one hash tag for every queue, a Cluster links flows across queues:
// the whole suite, FlowQueues included, on one slot.
func TestConformanceClusterHashTag(t *testing.T) {
	addrs := redistest.Cluster(t)
	be := newBackend(t, redis.NewClusterClient(&redis.ClusterOptions{Addrs: addrs}),
		redisbackend.WithHashTag(func(string) string { return "fila-test" }))
	require.True(t, be.FlowsSpanQueues())
	backendtest.Run(t, func(t *testing.T) backend.Backend { return be })
}

// Without a shared tag, a Cluster refuses a tree across queues at its add,
// naming the slots and the option that fixes it; with tags that differ,
// too.
func TestClusterRefusesATreeAcrossHashTags(t *testing.T) {
	addrs := redistest.Cluster(t)
	tags := map[string]string{"media": "m", "scan": "m", "thumb": "t"}
	be := newBackend(t, redis.NewClusterClient(&redis.ClusterOptions{Addrs: addrs}),
		redisbackend.WithHashTag(func(q string) string { return tags[q] }))
	node := func(queue, name string, kids ...backend.FlowNode) backend.FlowNode {
		return backend.FlowNode{Queue: queue, Job: backend.JobAddItem{Name: name, Data: []byte(`{}`), Options: backend.JobOptions{Attempts: 1}}, Children: kids}
	}
	ctx := context.Background()
	_, err := be.FlowAdd(ctx, &backend.FlowAddParams{Queue: "media", Root: node("", "reply", node("scan", "scan"), node("thumb", "thumb"))})
	require.ErrorIs(t, err, backend.ErrInvalidFlow)
	require.ErrorContains(t, err, `queue "thumb", hash tag "t"`)
	require.ErrorContains(t, err, "WithHashTag")
	c, err := be.QueueCounts(ctx, &backend.QueueParams{Queue: "scan"})
	require.NoError(t, err)
	require.Equal(t, backend.Counts{}, *c, "nothing stored")

	res, err := be.FlowAdd(ctx, &backend.FlowAddParams{Queue: "media", Root: node("", "reply", node("scan", "scan"))})
	require.NoError(t, err, "media and scan share tag m")
	require.Len(t, res, 2)
	require.NoError(t, be.QueueObliterate(ctx, &backend.QueueObliterateParams{Queue: "media", Force: true}))
	require.NoError(t, be.QueueObliterate(ctx, &backend.QueueObliterateParams{Queue: "scan", Force: true}))
}
