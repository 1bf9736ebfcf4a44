// Package postgres is a fila backend on PostgreSQL 13 or newer, through
// github.com/jackc/pgx/v5 (pgxpool).
//
// Every transition is one transaction; claims take the next ready row with
// FOR UPDATE SKIP LOCKED, so claimers never wait on each other's rows. The
// database's clock (clock_timestamp()) decides every timestamp, due time and
// lock expiry. An idle claim blocks without polling: transitions that make
// a job ready send NOTIFY on the channel "fila_<schema>" with the queue's
// name, one listening connection per Backend wakes the claims of that queue,
// and a claim re-checks on its own at most FallbackRecheck after its last
// look (5s by default), which bounds the delay a lost notification (a
// dropped listening connection) can cause.
//
// The schema is under the backend's control: versioned migrations are
// embedded in the package and applied only by Migrate (or `fila migrate
// -postgres URL`). Open checks the schema's version and refuses a database
// that was not migrated (ErrNotMigrated) or was migrated by newer code
// (ErrSchemaTooNew).
//
// Jobs can be added inside the caller's own transaction (AddTx) and a job
// can be completed inside the handler's transaction (CompleteTx), so
// business data and the queue commit together.
//
// See docs/postgres.md for the schema, the indexes and maintenance.
package postgres

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/fila-go/fila/backend"
)

// Options configure a Backend. The zero value means the documented defaults.
type Options struct {
	// Schema holds fila's tables; several apps can share a database with a
	// schema each. Default "fila".
	Schema string
	// FallbackRecheck bounds how long a blocked claim (or event read) waits
	// without a notification before it looks again: the worst delay a lost
	// notification can add. Default 5s.
	FallbackRecheck time.Duration
	// EventRetention is how long events are kept; StalledCheck deletes older
	// ones. Default 1h.
	EventRetention time.Duration
	// MetricsHistory is how many minutes of per-minute metrics are kept.
	// Default 1440 (a day).
	MetricsHistory int
	// ClaimConcurrency is how many claims of this Backend may talk to the
	// server at once: JobClaim's looks, and the JobComplete and JobFail
	// calls that claim the next job. Claims beyond it wait in-process for a
	// turn (their context or Close ends the wait); a blocked claim waits
	// for a notification without holding one. 0 or less means the default,
	// 8: about 2-4x the cores of a small server. All claims take the next
	// row of the same index (FOR UPDATE SKIP LOCKED), so more claimers than
	// the server has cores to run only contend on the same rows and slow
	// each other down (docs/postgres.md, "Claim concurrency"). Raise it for
	// a server with many cores, or for several queues with many workers
	// each in one process.
	ClaimConcurrency int
}

// Backend is the PostgreSQL backend. It is safe for concurrent use.
type Backend struct {
	pool    *pgxpool.Pool
	ownPool bool
	schema  string // quoted identifier
	channel string // NOTIFY channel
	opts    Options

	sqlMu sync.Mutex
	sql   map[string]string

	wake   *waker
	notify *notifier
	turns  *turns
}

// The errors the backend names. Both wrap backend.ErrPermanent: a worker
// stops on them instead of retrying.
var (
	// ErrNotMigrated: the schema or its tables do not exist. Run Migrate
	// (or `fila migrate -postgres URL`).
	ErrNotMigrated = fmt.Errorf("fila/postgres: schema not migrated: run `fila migrate -postgres URL` or Backend.Migrate: %w", backend.ErrPermanent)
	// ErrSchemaTooNew: the schema was migrated by a newer fila.
	ErrSchemaTooNew = fmt.Errorf("fila/postgres: schema is newer than this code: upgrade fila: %w", backend.ErrPermanent)
)

// New returns a backend on pool. It does no I/O: call Migrate (once, at
// deploy) and Check (at start), or use Open. Close does not close pool.
func New(pool *pgxpool.Pool, o Options) *Backend {
	if pool == nil {
		panic("fila/postgres: New with a nil pool")
	}
	if o.Schema == "" {
		o.Schema = "fila"
	}
	if o.FallbackRecheck <= 0 {
		o.FallbackRecheck = 5 * time.Second
	}
	if o.EventRetention <= 0 {
		o.EventRetention = time.Hour
	}
	if o.MetricsHistory <= 0 {
		o.MetricsHistory = 1440
	}
	if o.ClaimConcurrency <= 0 {
		o.ClaimConcurrency = defaultClaimConcurrency
	}
	b := &Backend{
		pool:    pool,
		schema:  pgx.Identifier{o.Schema}.Sanitize(),
		channel: "fila_" + o.Schema,
		opts:    o,
		sql:     map[string]string{},
		turns:   newTurns(o.ClaimConcurrency),
	}
	b.wake = newWaker(pool.Config().ConnConfig, b.channel)
	b.notify = newNotifier(b)
	return b
}

// Open connects to url, checks that the schema is migrated to this code's
// version, and returns a backend that closes its pool on Close.
func Open(ctx context.Context, url string, o Options) (*Backend, error) {
	pool, err := pgxpool.New(ctx, url)
	if err != nil {
		return nil, fmt.Errorf("fila/postgres: open: %w", err)
	}
	b := New(pool, o)
	b.ownPool = true
	if err := b.Check(ctx); err != nil {
		b.Close()
		return nil, err
	}
	return b, nil
}

// Pool returns the pool the backend uses, for transactions of the caller's
// own that AddTx and CompleteTx join.
func (b *Backend) Pool() *pgxpool.Pool { return b.pool }

// q returns sql with {s} replaced by the quoted schema name, cached.
func (b *Backend) q(sql string) string {
	b.sqlMu.Lock()
	defer b.sqlMu.Unlock()
	s, ok := b.sql[sql]
	if !ok {
		s = strings.ReplaceAll(sql, "{s}", b.schema)
		b.sql[sql] = s
	}
	return s
}

// querier is what a pool and a transaction share.
type querier interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
	SendBatch(ctx context.Context, b *pgx.Batch) pgx.BatchResults
}

// inTx runs fn in a transaction of its own, committed when fn returns nil.
// A transaction that PostgreSQL rolled back to break a deadlock is run
// again (up to deadlockTries times in all), so fn must set everything it
// reports afresh on each run. Deadlocks arise only between transactions
// that lock two groups' rows in opposite orders (groups.go).
func (b *Backend) inTx(ctx context.Context, fn func(tx pgx.Tx) error) error {
	if err := b.usable(ctx); err != nil {
		return err
	}
	for try := 1; ; try++ {
		var tx pgx.Tx
		err := pgx.BeginFunc(ctx, b.pool, func(t pgx.Tx) error {
			tx = t
			return fn(t)
		})
		if tx != nil {
			b.notify.settle(tx, err == nil)
		}
		if try < deadlockTries && isDeadlock(err) && ctx.Err() == nil {
			continue
		}
		return b.fail(ctx, err)
	}
}

// deadlockTries bounds the runs of a transaction that deadlocks.
const deadlockTries = 3

// isDeadlock reports a transaction PostgreSQL rolled back to break a
// deadlock.
func isDeadlock(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && pe.Code == "40P01"
}

// usable returns ctx's error or ErrClosed before a call starts.
func (b *Backend) usable(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if b.wake.isClosed() {
		return backend.ErrClosed
	}
	return nil
}

// fail maps a driver error to what the contract names: the context's error
// when it ended, ErrNotMigrated for a missing schema or table.
func (b *Backend) fail(ctx context.Context, err error) error {
	if err == nil {
		return nil
	}
	if cerr := ctx.Err(); cerr != nil && !isSentinel(err) {
		return cerr
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) && (pe.Code == "42P01" || pe.Code == "3F000" || pe.Code == "42883") {
		return fmt.Errorf("%w (%s)", ErrNotMigrated, pe.Message)
	}
	return err
}

func isSentinel(err error) bool {
	var se *backend.StateError
	return errors.Is(err, backend.ErrJobNotFound) || errors.Is(err, backend.ErrLockLost) ||
		errors.Is(err, backend.ErrJobActive) || errors.Is(err, backend.ErrQueueActive) || errors.As(err, &se)
}

// ready wakes the queue's blocked claims once tx (from inTx) commits: a
// job became ready, or a delayed one's due time changed.
func (b *Backend) ready(tx pgx.Tx, queue string) error {
	b.notify.afterCommit(tx, queue)
	return nil
}

// Ping implements backend.Backend.
func (b *Backend) Ping(ctx context.Context) error {
	if err := b.usable(ctx); err != nil {
		return err
	}
	return b.fail(ctx, b.pool.Ping(ctx))
}

// Close stops the listening connection, wakes blocked calls and the claims
// waiting for a turn (they return ErrClosed) and closes the pool when Open
// created it.
func (b *Backend) Close() error {
	b.wake.close()
	b.turns.close()
	b.notify.close()
	if b.ownPool {
		b.pool.Close()
	}
	return nil
}

// ms turns a duration into the interval argument the SQL takes.
func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
