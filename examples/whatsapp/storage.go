package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"

	"github.com/fila-go/fila/backend"
	"github.com/fila-go/fila/backend/memory"
	"github.com/fila-go/fila/backend/postgres"
	redisbackend "github.com/fila-go/fila/backend/redis"
	"github.com/fila-go/fila/backend/upstash"
)

// StorageConfig says which backend keeps the jobs and conversations. Each
// backend reads its own variables in loadStorageConfig, is chosen in
// openStorage and opened by its own function, all in this file.
type StorageConfig struct {
	// RedisURL (REDIS_URL) selects the Redis backend: redis:// or
	// rediss:// (TLS).
	RedisURL string
	// Upstash selects the Upstash REST backend when its URL is set
	// (UPSTASH_REDIS_REST_URL and UPSTASH_REDIS_REST_TOKEN, both needed).
	// Its other fields are upstash.Config's defaults but PollMax
	// (UPSTASH_POLL_MAX); tests shorten the poll intervals here.
	Upstash upstash.Config
	// DatabaseURL (DATABASE_URL) selects the PostgreSQL backend: fila's
	// tables in schema fila (migrated at start), the conversations in
	// schema wa.
	DatabaseURL string
	// Nothing set selects the in-process memory backend.
}

// storageEnvHelp documents the storage variables, for -h.
const storageEnvHelp = `  REDIS_URL              redis:// or rediss:// URL; unset: in-memory jobs, lost on restart
  UPSTASH_REDIS_REST_URL, UPSTASH_REDIS_REST_TOKEN
                         Upstash's REST API instead (both, and not with REDIS_URL):
                         https://<name>.upstash.io and its standard token
  DATABASE_URL           postgres:// URL: jobs and conversations in PostgreSQL instead
                         (not with REDIS_URL or Upstash); fila's schema is migrated at start
  UPSTASH_POLL_MAX       longest wait of an idle Upstash worker between polls (default 30s);
                         longer costs fewer commands (see README)`

// loadStorageConfig reads the storage variables. Both Upstash variables
// are needed, and REDIS_URL excludes them: an error names what is missing
// or in conflict.
func loadStorageConfig(getenv func(string) string) (StorageConfig, error) {
	c := StorageConfig{RedisURL: getenv("REDIS_URL"), DatabaseURL: strings.TrimSpace(getenv("DATABASE_URL"))}
	if c.DatabaseURL != "" && (c.RedisURL != "" || getenv(upstash.EnvURL) != "" || getenv(upstash.EnvToken) != "") {
		return c, fmt.Errorf("config: DATABASE_URL and REDIS_URL or Upstash's variables are set; choose one backend")
	}
	// upstash.ConfigFromEnv's reading, through getenv.
	url, token := strings.TrimSpace(getenv(upstash.EnvURL)), strings.TrimSpace(getenv(upstash.EnvToken))
	switch {
	case url == "" && token == "":
		return c, nil
	case c.RedisURL != "":
		set := upstash.EnvURL
		if url == "" {
			set = upstash.EnvToken
		}
		return c, fmt.Errorf("config: REDIS_URL and %s are both set; choose one backend: REDIS_URL for a redis:// or rediss:// endpoint (Upstash's TCP endpoint too), or %s and %s for Upstash's REST API",
			set, upstash.EnvURL, upstash.EnvToken)
	case url == "":
		return c, fmt.Errorf("config: %s is set but %s is not: the Upstash REST backend needs both (copy them from the REST API section of the Upstash console)", upstash.EnvToken, upstash.EnvURL)
	case token == "":
		return c, fmt.Errorf("config: %s is set but %s is not: the Upstash REST backend needs both (copy them from the REST API section of the Upstash console)", upstash.EnvURL, upstash.EnvToken)
	}
	c.Upstash = upstash.Config{URL: url, Token: token}
	conn, err := upstash.NewConn(c.Upstash) // its checks of the URL, at start; it sends nothing
	if err != nil {
		return c, fmt.Errorf("config: %s: %w", upstash.EnvURL, err)
	}
	_ = conn.Close()
	if v := getenv("UPSTASH_POLL_MAX"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d < upstash.DefaultPollMin {
			return c, fmt.Errorf("config: UPSTASH_POLL_MAX is %q; want a duration of at least %v such as 2m", v, upstash.DefaultPollMin)
		}
		c.Upstash.PollMax = d
	}
	return c, nil
}

// shared reports whether several processes can share the backend, as
// separate web and worker roles must.
func (c StorageConfig) shared() bool {
	return c.RedisURL != "" || c.Upstash.URL != "" || c.DatabaseURL != ""
}

// storage is where the app keeps its jobs and conversations.
type storage struct {
	kind    string // "memory", "redis" or "upstash", for logs and /healthz
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
	case cfg.DatabaseURL != "":
		return openPostgres(ctx, cfg.DatabaseURL)
	case cfg.RedisURL != "":
		return openRedis(ctx, cfg.RedisURL)
	case cfg.Upstash.URL != "":
		return openUpstash(ctx, cfg.Upstash)
	default:
		log.Warn("REDIS_URL is not set: jobs are kept in this process's memory and do NOT survive a restart or a crash; set REDIS_URL, UPSTASH_REDIS_REST_URL and UPSTASH_REDIS_REST_TOKEN, or DATABASE_URL (PostgreSQL) for durable queues")
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
	// No resends: a script resent after a lost reply would run twice (fila's
	// README, Backends); a failed call surfaces and is retried by its caller.
	opts.MaxRetries = -1
	rdb := redis.NewClient(opts)
	pingCtx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := rdb.Ping(pingCtx).Err(); err != nil {
		_ = rdb.Close()
		return nil, fmt.Errorf("storage: connect to Redis at %s: %w", opts.Addr, err)
	}
	be := redisbackend.New(rdb)
	return &storage{
		kind: "redis", backend: be, store: newRedisStore(goredisEvaler{rdb}, "wa"), durable: true,
		closers: []func() error{rdb.Close},
	}, nil
}

// openUpstash opens Upstash's REST API and checks that it answers. The
// conversation store runs its scripts over the backend's own Conn, so
// jobs and conversations share the endpoint, the token and the HTTP
// connections; closing the backend closes the Conn.
func openUpstash(ctx context.Context, cfg upstash.Config) (*storage, error) {
	conn, err := upstash.NewConn(cfg)
	if err != nil {
		return nil, fmt.Errorf("storage: %w", err)
	}
	pingCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := conn.Ping(pingCtx); err != nil {
		_ = conn.Close()
		return nil, fmt.Errorf("storage: connect to Upstash at %s (%s, %s): %w", cfg.URL, upstash.EnvURL, upstash.EnvToken, err)
	}
	return &storage{
		kind: "upstash", backend: upstash.NewBackend(conn), store: newRedisStore(conn, "wa"), durable: true,
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

// openPostgres connects to DATABASE_URL, applies fila's migrations (the
// example migrates at start for a one-command demo; a deployment runs
// `fila migrate -postgres URL` instead) and opens the conversation store.
func openPostgres(ctx context.Context, rawURL string) (*storage, error) {
	pool, err := pgxpool.New(ctx, rawURL)
	if err != nil {
		return nil, fmt.Errorf("storage: DATABASE_URL: %w", err)
	}
	startCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	be := postgres.New(pool, postgres.Options{})
	if _, err := be.Migrate(startCtx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("storage: PostgreSQL at DATABASE_URL: %w", err)
	}
	store, err := newPgStore(startCtx, pool, "wa")
	if err != nil {
		pool.Close()
		return nil, fmt.Errorf("storage: PostgreSQL conversation tables: %w", err)
	}
	return &storage{
		kind: "postgres", backend: be, store: store, durable: true,
		closers: []func() error{func() error { pool.Close(); return nil }},
	}, nil
}
