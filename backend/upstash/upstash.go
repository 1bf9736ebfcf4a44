package upstash

import (
	redisbackend "github.com/fila-go/fila/backend/redis"
)

// DefaultJobBuckets is the number of hashes each queue's job fields are
// spread over on the REST backend (redisbackend.WithJobBuckets): Upstash
// refuses a key over 100 MB, and with 32 buckets a queue of 1,000,000 jobs
// of 1 KiB keeps its largest bucket near 40 MB (measured at 100,000 jobs
// by TestKeySizesAt100kJobs). Pass redisbackend.WithJobBuckets
// in opts to change it; every process using a queue must use the same
// count (see redisbackend.ErrLayout).
const DefaultJobBuckets = 32

// New returns fila's Redis backend running over the REST endpoint in cfg:
// the same Lua scripts as backend/redis, sent through a REST Conn, with
// claims and event reads that poll (see the package doc). opts tune the
// shared backend (key prefix, event stream length...); cfg's poll interval
// and DefaultJobBuckets are applied first, so a redisbackend.WithPollInterval
// or WithJobBuckets in opts overrides them.
// Nothing is sent until the first call; use Ping to check the URL and
// token. Close ends polling calls and closes the idle HTTP connections the
// backend opened (a Config.HTTPClient stays open).
func New(cfg Config, opts ...redisbackend.Option) (*redisbackend.Backend, error) {
	conn, err := NewConn(cfg)
	if err != nil {
		return nil, err
	}
	return NewBackend(conn, opts...), nil
}

// NewBackend returns the backend over an existing Conn, for an application
// that also runs its own scripts on that Conn (redisbackend.NewScript).
// Closing the backend closes the Conn.
func NewBackend(conn *Conn, opts ...redisbackend.Option) *redisbackend.Backend {
	all := append([]redisbackend.Option{redisbackend.WithPollInterval(conn.cfg.PollMin, conn.cfg.PollMax),
		redisbackend.WithJobBuckets(DefaultJobBuckets)}, opts...)
	return redisbackend.NewWithConn(conn, all...)
}

// NewFromEnv is New with ConfigFromEnv: the URL and token from
// UPSTASH_REDIS_REST_URL and UPSTASH_REDIS_REST_TOKEN, defaults otherwise.
func NewFromEnv(opts ...redisbackend.Option) (*redisbackend.Backend, error) {
	cfg, err := ConfigFromEnv()
	if err != nil {
		return nil, err
	}
	return New(cfg, opts...)
}
