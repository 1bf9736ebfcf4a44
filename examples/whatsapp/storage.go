package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/fila-go/fila/backend"
	"github.com/fila-go/fila/backend/memory"
	redisbackend "github.com/fila-go/fila/backend/redis"
)

// StorageConfig says which backend keeps the jobs and conversations. Each
// backend reads its own variables in loadStorageConfig, is chosen in
// openStorage and opened by its own function, all in this file: another
// backend (Upstash's REST protocol) is added here alone.
type StorageConfig struct {
	// RedisURL (REDIS_URL) selects the Redis backend: redis:// or
	// rediss:// (TLS). Nothing set selects the in-process memory backend.
	RedisURL string
}

// storageEnvHelp documents the storage variables, for -h.
const storageEnvHelp = `  REDIS_URL              redis:// or rediss:// URL; unset: in-memory jobs, lost on restart`

func loadStorageConfig(getenv func(string) string) StorageConfig {
	return StorageConfig{RedisURL: getenv("REDIS_URL")}
}

// shared reports whether several processes can share the backend, as
// separate web and worker roles must.
func (c StorageConfig) shared() bool { return c.RedisURL != "" }

// storage is where the app keeps its jobs and conversations.
type storage struct {
	kind    string // "memory" or "redis", for logs and /healthz
	backend backend.Backend
	store   Store
	// durable reports whether jobs survive this process: if not, a
	// shutdown drains the queues instead of leaving jobs for the next
	// process.
	durable bool
	closers []func() error
}

// openStorage opens the backend the configuration selects.
func openStorage(ctx context.Context, cfg StorageConfig, log *slog.Logger) (*storage, error) {
	switch {
	case cfg.RedisURL != "":
		return openRedis(ctx, cfg.RedisURL)
	default:
		log.Warn("REDIS_URL is not set: jobs are kept in this process's memory and do NOT survive a restart or a crash; set REDIS_URL for durable queues")
		return &storage{kind: "memory", backend: memory.New(), store: newMemoryStore()}, nil
	}
}

// openRedis connects to REDIS_URL (redis:// or rediss:// for TLS) and
// checks that it answers.
func openRedis(ctx context.Context, rawURL string) (*storage, error) {
	opts, err := redis.ParseURL(rawURL)
	if err != nil {
		return nil, fmt.Errorf("storage: REDIS_URL is not a redis:// or rediss:// URL: %w", err)
	}
	rdb := redis.NewClient(opts)
	pingCtx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := rdb.Ping(pingCtx).Err(); err != nil {
		_ = rdb.Close()
		return nil, fmt.Errorf("storage: connect to Redis at %s: %w", opts.Addr, err)
	}
	be := redisbackend.New(rdb)
	return &storage{
		kind: "redis", backend: be, store: newRedisStore(rdb, "wa"), durable: true,
		closers: []func() error{rdb.Close},
	}, nil
}

// close releases the backend and its connections.
func (s *storage) close() error {
	var errs []error
	if err := s.backend.Close(); err != nil {
		errs = append(errs, fmt.Errorf("storage: close %s backend: %w", s.kind, err))
	}
	for _, c := range s.closers {
		if err := c(); err != nil {
			errs = append(errs, fmt.Errorf("storage: close %s: %w", s.kind, err))
		}
	}
	return errors.Join(errs...)
}
