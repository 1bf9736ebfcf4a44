package main

import (
	"context"
	"fmt"
	"net/url"

	"github.com/redis/go-redis/v9"

	"github.com/fila-go/fila/backend"
	redisbackend "github.com/fila-go/fila/backend/redis"
)

// defaultRedisURL is used when neither -redis nor $FILA_REDIS_URL is set.
const defaultRedisURL = "redis://127.0.0.1:6379"

// opener connects to the storage at a URL and returns a backend and the
// function that releases it. Tests pass their own.
type opener func(ctx context.Context, rawURL, prefix string) (backend.Backend, func() error, error)

// openRedis connects with redis.ParseURL (redis:// and, for TLS,
// rediss://), checks the server answers, and returns a Redis backend whose
// keys start with prefix.
func openRedis(ctx context.Context, rawURL, prefix string) (backend.Backend, func() error, error) {
	opts, err := redis.ParseURL(rawURL)
	if err != nil {
		return nil, nil, fmt.Errorf("fila: redis URL %s: %w", redactURL(rawURL), err)
	}
	rdb := redis.NewClient(opts)
	if err := rdb.Ping(ctx).Err(); err != nil {
		_ = rdb.Close()
		return nil, nil, fmt.Errorf("fila: connect to %s: %w", redactURL(rawURL), err)
	}
	be := redisbackend.New(rdb, redisbackend.WithPrefix(prefix))
	return be, func() error {
		_ = be.Close()
		return rdb.Close()
	}, nil
}

// redactURL hides a password in a URL so that errors can show it.
func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparsable URL)"
	}
	return fmt.Sprintf("%q", u.Redacted())
}
