package redisbackend_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/fila-go/fila/backend"
	"github.com/fila-go/fila/backend/backendtest"
	redisbackend "github.com/fila-go/fila/backend/redis"
)

// pollingConn is a Conn without Blocker: the backend must poll.
type pollingConn struct{ rdb *redis.Client }

func (c pollingConn) Eval(ctx context.Context, s *redisbackend.Script, keys []string, args ...any) (any, error) {
	v, err := c.rdb.EvalSha(ctx, s.Hash(), keys, args...).Result()
	if err != nil && redis.HasErrorPrefix(err, "NOSCRIPT") {
		v, err = c.rdb.Eval(ctx, s.Source(), keys, args...).Result()
	}
	if errors.Is(err, redis.Nil) {
		return nil, nil
	}
	return v, err
}

func (c pollingConn) EvalBatch(ctx context.Context, s *redisbackend.Script, keys []string, calls [][]any) ([]any, error) {
	out := make([]any, len(calls))
	for i, args := range calls {
		v, err := c.Eval(ctx, s, keys, args...)
		if err != nil {
			return nil, err
		}
		out[i] = v
	}
	return out, nil
}

func (c pollingConn) Ping(ctx context.Context) error { return c.rdb.Ping(ctx).Err() }

func TestConformancePolling(t *testing.T) {
	mr := miniredis.RunT(t)
	rdb := redis.NewClient(&redis.Options{Addr: mr.Addr()})
	t.Cleanup(func() { rdb.Close() })
	be := redisbackend.NewWithConn(pollingConn{rdb}, redisbackend.WithPollInterval(5*time.Millisecond, 100*time.Millisecond))
	t.Cleanup(func() { be.Close() })
	backendtest.Run(t, func(t *testing.T) backend.Backend { return be })
}
