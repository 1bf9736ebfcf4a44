package main

import (
	"context"
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/fila-go/fila/backend"
	redisbackend "github.com/fila-go/fila/backend/redis"
	"github.com/fila-go/fila/internal/redistest"
)

// noCount stands in for callgrind: it counts its zeroes and dumps.
type noCount struct{ zeroes, dumps int }

func (c *noCount) zero() error          { c.zeroes++; return nil }
func (c *noCount) dump() (int64, error) { c.dumps++; return 0, nil }

// TestFloorScriptsDoWhatAnAddDoes runs the floor scripts on a real
// redis-server after one fila add: each must store its records and push
// its ids as an add would, or its count would measure something else.
func TestFloorScriptsDoWhatAnAddDoes(t *testing.T) {
	ctx := context.Background()
	rdb := redis.NewClient(&redis.Options{Addr: redistest.Addr(t), Protocol: 2})
	t.Cleanup(func() { rdb.Close() })
	be := redisbackend.New(rdb)
	t.Cleanup(func() { be.Close() })
	_, err := be.JobAdd(ctx, &backend.JobAddParams{Queue: "add", Jobs: []backend.JobAddItem{{Name: "send", Data: []byte(`{"p":1}`)}}})
	require.NoError(t, err)
	rec, err := rdb.HGet(ctx, "fila:{add}:jobs", "j:1").Result()
	require.NoError(t, err, "countFloor reads the add case's first record at this key")
	const body = `4:0:send{"p":1}` // name length, options length, name, data (codec.go)
	require.True(t, strings.HasSuffix(rec, ":0:0:"+body), "record %q", rec)

	c := &noCount{}
	const n = 5
	require.NoError(t, countFloor(ctx, rdb, c, n))
	require.Equal(t, 5, c.zeroes, "one count per floor script")
	require.Equal(t, 5, c.dumps)

	// Three scripts push: the five commands and the one without TIME
	// generate ids 1..2n+2 (each counted call and one warm-up), the one
	// with client ids c-1, c0..c4.
	pushed, err := rdb.LLen(ctx, "{floor}:wait").Result()
	require.NoError(t, err)
	require.EqualValues(t, 3*(n+1), pushed)
	got, err := rdb.HGet(ctx, "{floor}:jobs", "j:c0").Result()
	require.NoError(t, err)
	require.Equal(t, "1765000000123:0:0:"+body, got, "a floor record carries the add's body")
	_, err = rdb.HGet(ctx, "{floor}:jobs", "j:12").Result()
	require.NoError(t, err, "generated ids run on across the two scripts that make them")
}
