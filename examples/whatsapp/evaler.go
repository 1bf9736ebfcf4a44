package main

import (
	"context"
	"errors"

	"github.com/redis/go-redis/v9"

	redisbackend "github.com/fila-go/fila/backend/redis"
)

// evaler runs a Lua script, the only thing the Redis store does: upstash's
// *Conn (the REST API) satisfies it, and goredisEvaler adapts a go-redis
// client, so one store serves both transports. Replies are normalized to
// int64, string, []any and nil (a Redis nil reply is nil, not an error).
type evaler interface {
	// Eval runs s with keys and args: EVALSHA, then EVAL when the server
	// does not have the script.
	Eval(ctx context.Context, s *redisbackend.Script, keys []string, args ...any) (any, error)
}

// goredisEvaler is the evaler of a go-redis client (a single server, a
// Cluster or a Sentinel failover).
type goredisEvaler struct{ rdb redis.UniversalClient }

// Eval implements evaler: EVALSHA, then EVAL on a NOSCRIPT error (a
// restarted server, a new Cluster node), which loads the script again.
func (e goredisEvaler) Eval(ctx context.Context, s *redisbackend.Script, keys []string, args ...any) (any, error) {
	v, err := e.rdb.EvalSha(ctx, s.Hash(), keys, args...).Result()
	if err != nil && redis.HasErrorPrefix(err, "NOSCRIPT") {
		v, err = e.rdb.Eval(ctx, s.Source(), keys, args...).Result()
	}
	if errors.Is(err, redis.Nil) {
		return nil, nil
	}
	return v, err
}
