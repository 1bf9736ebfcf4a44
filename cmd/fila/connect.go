package main

import (
	"context"
	"fmt"
	"net/url"
	"strings"

	"github.com/fila-go/fila/backend"
	redisbackend "github.com/fila-go/fila/backend/redis"
)

// defaultRedisURL is used when neither -redis nor $FILA_REDIS_URL nor the
// Upstash variables are set.
const defaultRedisURL = "redis://127.0.0.1:6379"

// storeTarget says which storage a command opens and how.
type storeTarget struct {
	// url is a Redis URL (see parseRedisURL) or an Upstash REST endpoint
	// (http:// or https://, see resolveTarget).
	url string
	// token is the Upstash REST token; set exactly when url is a REST
	// endpoint. It never appears in output (see redactWriter).
	token string
	// prefix starts every key (-prefix).
	prefix string
	// hashTag is -hash-tags, parsed (nil: every queue its own slot).
	hashTag func(queue string) string
	// globalLock is -global-lock: Upstash scripts without key locking.
	globalLock bool
	// jobBuckets is -job-buckets; 0 keeps the backend's default (1 over
	// Redis, upstash.DefaultJobBuckets over REST).
	jobBuckets int
	// postgres is a PostgreSQL URL (-postgres); when set, url is unused.
	postgres string
	// schema holds fila's tables in PostgreSQL (-schema).
	schema string
	// migrate opens PostgreSQL without checking the schema's version.
	migrate bool
}

// upstash reports whether the target is an Upstash REST endpoint.
func (t storeTarget) upstash() bool { return t.token != "" }

// options returns the backend options the target asks for.
func (t storeTarget) options() []redisbackend.Option {
	opts := []redisbackend.Option{redisbackend.WithPrefix(t.prefix)}
	if t.jobBuckets > 0 {
		opts = append(opts, redisbackend.WithJobBuckets(t.jobBuckets))
	}
	if t.hashTag != nil {
		opts = append(opts, redisbackend.WithHashTag(t.hashTag))
	}
	return opts
}

// opener connects to the storage of a target and returns a backend and
// the function that releases it. Tests pass their own.
type opener func(ctx context.Context, t storeTarget) (backend.Backend, func() error, error)

// openStore opens the target over Upstash's REST protocol or Redis's own.
func openStore(ctx context.Context, t storeTarget) (backend.Backend, func() error, error) {
	if t.postgres != "" {
		return openPostgres(ctx, t)
	}
	if t.upstash() {
		return openUpstash(ctx, t)
	}
	return openRedis(ctx, t)
}

// openRedis connects to a single node, a Cluster or through Sentinel (see
// parseRedisURL), checks the server answers, and returns a Redis backend
// whose keys start with the target's prefix.
func openRedis(ctx context.Context, t storeTarget) (backend.Backend, func() error, error) {
	target, err := parseRedisURL(t.url)
	if err != nil {
		return nil, nil, fmt.Errorf("fila: redis URL %s: %w", redactURL(t.url), err)
	}
	rdb := target.client()
	if err := rdb.Ping(ctx).Err(); err != nil {
		_ = rdb.Close()
		return nil, nil, fmt.Errorf("fila: connect to %s: %w", redactURL(t.url), err)
	}
	be := redisbackend.New(rdb, t.options()...)
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
			for _, k := range []string{"password", "sentinel_password", "_token"} {
				if q.Has(k) {
					q.Set(k, "xxxxx")
				}
			}
			tail = path + "?" + q.Encode()
		}
	}
	return fmt.Sprintf("%q", scheme+"://"+authority+tail)
}
