package main

import (
	"context"
	"fmt"
	"net/url"
	"strings"

	"github.com/fila-go/fila/backend"
	redisbackend "github.com/fila-go/fila/backend/redis"
)

// defaultRedisURL is used when neither -redis nor $FILA_REDIS_URL is set.
const defaultRedisURL = "redis://127.0.0.1:6379"

// opener connects to the storage at a URL and returns a backend and the
// function that releases it. Tests pass their own.
type opener func(ctx context.Context, rawURL, prefix string) (backend.Backend, func() error, error)

// openRedis connects to a single node, a Cluster or through Sentinel (see
// parseRedisURL), checks the server answers, and returns a Redis backend
// whose keys start with prefix.
func openRedis(ctx context.Context, rawURL, prefix string) (backend.Backend, func() error, error) {
	target, err := parseRedisURL(rawURL)
	if err != nil {
		return nil, nil, fmt.Errorf("fila: redis URL %s: %w", redactURL(rawURL), err)
	}
	rdb := target.client()
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

// redactURL hides a password in a URL so that errors can show it. A
// Cluster or Sentinel URL's host list is not one url.URL host, so the user
// info is redacted by hand there; other options (sentinel_password) are
// always hidden.
func redactURL(raw string) string {
	scheme, rest, ok := strings.Cut(raw, "://")
	if !ok {
		return "(unparsable URL)"
	}
	end := strings.IndexAny(rest, "/?")
	if end < 0 {
		end = len(rest)
	}
	authority, tail := rest[:end], rest[end:]
	if at := strings.LastIndex(authority, "@"); at >= 0 {
		user := authority[:at]
		if name, _, hasPass := strings.Cut(user, ":"); hasPass {
			user = name + ":xxxxx"
		}
		authority = user + "@" + authority[at+1:]
	}
	if path, query, found := strings.Cut(tail, "?"); found {
		if q, err := url.ParseQuery(query); err == nil {
			for _, k := range []string{"password", "sentinel_password"} {
				if q.Has(k) {
					q.Set(k, "xxxxx")
				}
			}
			tail = path + "?" + q.Encode()
		}
	}
	return fmt.Sprintf("%q", scheme+"://"+authority+tail)
}
