package postgres

import (
	"context"
	"errors"

	"github.com/jackc/pgx/v5"

	"github.com/fila-go/fila/backend"
)

// Transactional enqueue and completion. A job added inside the caller's
// transaction exists only if that transaction commits, and blocked workers
// wake when it does (NOTIFY is delivered on commit). A job completed inside
// the handler's transaction is completed exactly when the handler's own
// writes commit.

type txKey struct{}

// WithTx returns a context that makes JobAdd on any postgres Backend run
// inside tx, so fila's Queue.Add and AddBulk (with their validation and
// defaults) join the caller's transaction:
//
//	tx, _ := pool.Begin(ctx)
//	// ... the caller's own writes in tx ...
//	q.Add(postgres.WithTx(ctx, tx), "send", data, nil)
//	tx.Commit(ctx) // the job and the writes land together, or neither does
//
// Only adds use the transaction; every other call ignores it. The add
// holds no lock that blocks workers while tx stays open, except on the
// first job ever added to a queue (its row in the queues table).
func WithTx(ctx context.Context, tx pgx.Tx) context.Context {
	return context.WithValue(ctx, txKey{}, tx)
}

func txFrom(ctx context.Context) pgx.Tx {
	tx, _ := ctx.Value(txKey{}).(pgx.Tx)
	return tx
}

// AddTx adds jobs inside tx: the backend-level form of WithTx.
func (b *Backend) AddTx(ctx context.Context, tx pgx.Tx, p *backend.JobAddParams) ([]backend.JobAddResult, error) {
	return b.JobAdd(WithTx(ctx, tx), p)
}

// CompleteTx completes an active job inside the handler's transaction tx,
// so the job's completion commits (or rolls back) with the handler's own
// writes. The job must be active under a live lock; otherwise
// ErrLockLost (ErrJobNotFound when it is gone). The worker's own
// result is the job's JSON return value (nil for none), recorded with the
// completion event. The worker's own completion after the handler returns
// applies retention (and stores its return value when result was nil),
// without completing twice; if the handler returns an
// error after tx committed, the worker's fail reports ErrLockLost and the
// job stays completed. A flow's child completed here moves its parent
// along in tx too, in whatever queue; a parent it makes ready is notified
// inside tx, so its workers wake when tx commits.
func (b *Backend) CompleteTx(ctx context.Context, tx pgx.Tx, queue, id string, result []byte) error {
	return b.completeTxIn(ctx, tx, queue, id, result)
}

// completeTxIn is CompleteTx on any transaction's statements (CompleteSQLTx).
func (b *Backend) completeTxIn(ctx context.Context, tx rowQuerier, queue, id string, result []byte) error {
	if err := b.usable(ctx); err != nil {
		return err
	}
	var n int
	var child bool
	err := tx.QueryRow(ctx, b.q(`
		WITH t AS (SELECT clock_timestamp() AS now),
		upd AS (
			UPDATE {s}.jobs j SET state = 'completed', finished_at = t.now, attempts_made = j.attempts_made + 1,
				return_value = $3::bytea, done_token = j.token, token = NULL, lock_until = NULL, ord = nextval('{s}.job_ord')
			FROM t WHERE j.queue = $1 AND j.id = $2 AND j.state = 'active' AND j.lock_until > clock_timestamp()
			RETURNING j.id, j.finished_at, j.flow_parent IS NOT NULL AS child),
		ev AS (INSERT INTO {s}.events (queue, type, job_id, at, data) SELECT $1, 'completed', id, finished_at, $3::bytea FROM upd),
		m AS (INSERT INTO {s}.metrics (queue, minute, completed) SELECT $1, date_trunc('minute', finished_at), 1 FROM upd)
		SELECT count(*), coalesce(bool_or(child), false) FROM upd`), queue, id, result).Scan(&n, &child)
	if err != nil {
		return b.fail(ctx, err)
	}
	if child {
		// Its parent, in whatever queue, may be ready when tx commits: as
		// adds inside the caller's transaction do, notified inside it.
		var sent int
		if err := tx.QueryRow(ctx, `SELECT count(*) FROM (SELECT pg_notify($1, q) FROM jsonb_array_elements_text(`+flowWoken+`) AS w(q)) n`,
			b.channel).Scan(&sent); err != nil {
			return b.fail(ctx, err)
		}
	}
	if n == 0 {
		var one int
		err := tx.QueryRow(ctx, b.q(`SELECT 1 FROM {s}.jobs WHERE queue = $1 AND id = $2`), queue, id).Scan(&one)
		if errors.Is(err, pgx.ErrNoRows) {
			return backend.ErrJobNotFound
		}
		if err != nil {
			return b.fail(ctx, err)
		}
		return backend.ErrLockLost
	}
	return nil
}
