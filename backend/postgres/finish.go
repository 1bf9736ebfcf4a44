package postgres

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/fila-go/fila/backend"
)

// readyState is the state a job becomes when it is ready again.
const readyState = `CASE WHEN j.priority > 0 THEN 'prioritized'
	WHEN coalesce((SELECT paused FROM {s}.queues WHERE name = $1), false) THEN 'paused' ELSE 'waiting' END`

// held is the condition that the token in $3 holds job $2's live lock.
const held = `j.queue = $1 AND j.id = $2 AND j.state = 'active' AND j.token = $3 AND j.lock_until > clock_timestamp()`

const completeSQL = `
WITH t AS (SELECT clock_timestamp() AS now),
upd AS (
	UPDATE {s}.jobs j SET state = 'completed', finished_at = t.now, attempts_made = j.attempts_made + 1,
		return_value = $4::bytea, token = NULL, lock_until = NULL, ord = nextval('{s}.job_ord')
	FROM t WHERE ` + held + `
	RETURNING j.id, j.finished_at, j.grp IS NOT NULL AS grouped, j.flow_parent IS NOT NULL AS child),
ev AS (INSERT INTO {s}.events (queue, type, job_id, at, data) SELECT $1, 'completed', id, finished_at, $4::bytea FROM upd),
m AS (INSERT INTO {s}.metrics (queue, minute, completed) SELECT $1, date_trunc('minute', finished_at), 1 FROM upd)
SELECT count(*), coalesce(bool_or(grouped), false), coalesce(bool_or(child), false) FROM upd`

const failSQL = `
WITH t AS (SELECT clock_timestamp() AS now),
upd AS (
	UPDATE {s}.jobs j SET attempts_made = j.attempts_made + 1, failed_reason = $4, token = NULL, lock_until = NULL,
		stacktrace = CASE WHEN $5::text = '' THEN j.stacktrace ELSE (
			SELECT array_agg(x ORDER BY i) FROM unnest(coalesce(j.stacktrace, '{}'::text[]) || $5::text) WITH ORDINALITY u(x, i)
			WHERE i > cardinality(coalesce(j.stacktrace, '{}'::text[])) + 1 - $8::int) END,
		state = CASE WHEN NOT $6::bool THEN 'failed' WHEN $7::float8 > 0 THEN 'delayed' ELSE ` + readyState + ` END,
		due_at = CASE WHEN $6::bool AND $7::float8 > 0 THEN t.now + $7::float8 * interval '1 millisecond' END,
		finished_at = CASE WHEN NOT $6::bool THEN t.now END,
		ord = nextval('{s}.job_ord')
	FROM t WHERE ` + held + `
	RETURNING j.id, j.state, t.now AS at, j.grp IS NOT NULL AS grouped, j.flow_parent IS NOT NULL AS child),
ev AS (
	INSERT INTO {s}.events (queue, type, job_id, at, data)
	SELECT $1, CASE WHEN state = 'failed' THEN 'failed' ELSE 'retried' END, id, at, convert_to($4, 'UTF8') FROM upd),
m AS (INSERT INTO {s}.metrics (queue, minute, failed) SELECT $1, date_trunc('minute', at), 1 FROM upd WHERE state = 'failed')
SELECT state, grouped, child FROM upd`

const releaseSQL = `
WITH upd AS (
	UPDATE {s}.jobs j SET state = ` + readyState + `, ord = -nextval('{s}.job_ord'), token = NULL, lock_until = NULL
	WHERE ` + held + `
	RETURNING j.id, j.state)
INSERT INTO {s}.events (queue, type, job_id) SELECT $1, 'released', id FROM upd RETURNING job_id`

// lockLost tells a missing job from a lock the token does not hold.
func (b *Backend) lockLost(ctx context.Context, qr querier, queue, id string) error {
	var one int
	err := qr.QueryRow(ctx, b.q(`SELECT 1 FROM {s}.jobs WHERE queue = $1 AND id = $2`), queue, id).Scan(&one)
	if errors.Is(err, pgx.ErrNoRows) {
		return backend.ErrJobNotFound
	}
	if err != nil {
		return err
	}
	return backend.ErrLockLost
}

// JobComplete implements backend.Backend. The common case is one round
// trip (completeFast); a lock not held, a job completed already by
// CompleteTx, or a rate-limited next claim take a transaction. A call that
// claims the next job (p.Next) runs in one claim turn (turns.go), both
// paths included.
func (b *Backend) JobComplete(ctx context.Context, p *backend.JobCompleteParams) (*backend.JobClaimResult, error) {
	if p.Next == nil {
		return b.jobComplete(ctx, p)
	}
	if err := b.usable(ctx); err != nil {
		return nil, err
	}
	return claimTurn(ctx, b, func() (*backend.JobClaimResult, error) { return b.jobComplete(ctx, p) })
}

// jobComplete is JobComplete, in the turn when it claims.
func (b *Backend) jobComplete(ctx context.Context, p *backend.JobCompleteParams) (*backend.JobClaimResult, error) {
	if p.Next == nil || !limited(p.Next) {
		res, err := b.completeFast(ctx, p)
		if !errors.Is(err, errNotHeld) {
			return res, err
		}
	}
	res := &backend.JobClaimResult{}
	err := b.inTx(ctx, func(tx pgx.Tx) error {
		*res = backend.JobClaimResult{}
		if err := b.completeIn(ctx, tx, p); err != nil {
			return err
		}
		return b.chain(ctx, tx, p.Next, res)
	})
	if err != nil {
		return nil, err
	}
	return res, nil
}

// completeIn completes a job in tx and applies retention.
func (b *Backend) completeIn(ctx context.Context, tx pgx.Tx, p *backend.JobCompleteParams) error {
	var n int
	var grouped, child bool // a grouped job: its group's next may be ready; a flow's child: its parent may be, in any queue
	if err := tx.QueryRow(ctx, b.q(completeSQL), p.Queue, p.ID, p.Token, p.ReturnValue).Scan(&n, &grouped, &child); err != nil {
		return err
	}
	if grouped || n == 0 { // n == 0: CompleteTx completed it, and may have freed a group's slot
		if err := b.ready(tx, p.Queue); err != nil {
			return err
		}
	}
	if child {
		if err := b.flowWoke(ctx, tx); err != nil {
			return err
		}
	}
	if n == 0 {
		// Completed already in the handler's transaction (CompleteTx) under
		// this token: store the result, once.
		tag, err := tx.Exec(ctx, b.q(`UPDATE {s}.jobs SET done_token = NULL, return_value = coalesce(return_value, $4::bytea)
			WHERE queue = $1 AND id = $2 AND state = 'completed' AND done_token = $3`), p.Queue, p.ID, p.Token, p.ReturnValue)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return b.lockLost(ctx, tx, p.Queue, p.ID)
		}
	}
	return b.retain(ctx, tx, p.Queue, p.ID, backend.StateCompleted, p.Retention)
}

// chain claims the next job in the same transaction when next is set. Its
// caller holds the claim turn (JobComplete, JobFail): chain takes none.
func (b *Backend) chain(ctx context.Context, tx pgx.Tx, next *backend.JobClaimParams, res *backend.JobClaimResult) error {
	if next == nil {
		return nil
	}
	out, err := b.claimIn(ctx, tx, next)
	res.Job, res.RetryAfter = out.job, out.retryAfter
	return err
}

// retain applies a retention rule after job id finished in state.
func (b *Backend) retain(ctx context.Context, tx pgx.Tx, queue, id string, state backend.State, r backend.Retention) error {
	remove, keepLast, keepFor := r.Limits(state == backend.StateFailed)
	if remove {
		_, err := tx.Exec(ctx, b.q(`DELETE FROM {s}.jobs WHERE queue = $1 AND id = $2`), queue, id)
		return err
	}
	if keepLast > 0 {
		if _, err := tx.Exec(ctx, b.q(keepLastSQL(state)), queue, keepLast); err != nil {
			return err
		}
	}
	if keepFor > 0 {
		if _, err := tx.Exec(ctx, b.q(keepForSQL), queue, string(state), ms(keepFor)); err != nil {
			return err
		}
	}
	return nil
}

// keepLastSQL deletes the oldest finished jobs in state past the newest
// $3, as many as the count (finished_counts, kept by triggers) says are
// over, up to 100 per call: under the limit it reads one small row set and
// no job; a steady stream removes one job per finish and a backlog drains.
// Rows another finish is deleting are skipped (so concurrent finishes can
// keep one or two fewer than $3 for a moment when a backlog drains).
//
// The state is a literal, not a parameter: a prepared statement's generic
// plan cannot prove "state = $2" implies the jobs_finished index's
// predicate, and sorted every row of the queue instead. The rows are
// picked once, in a CTE: as "id IN (subquery with LIMIT)" the planner may
// run the subquery once per candidate row, each time finding the next
// oldest, and delete far more than the limit.
func keepLastSQL(state backend.State) string {
	return strings.ReplaceAll(`WITH over AS (
	SELECT id FROM {s}.jobs WHERE queue = $1 AND state = '{state}' ORDER BY ord
	LIMIT (SELECT least(greatest(coalesce(sum(n), 0) - $2, 0), 100) FROM {s}.finished_counts WHERE queue = $1 AND state = '{state}')
	FOR UPDATE SKIP LOCKED)
DELETE FROM {s}.jobs j USING over WHERE j.queue = $1 AND j.id = over.id`, "{state}", string(state))
}

// keepForSQL deletes finished jobs of a state older than $3 ms, up to 1,000.
const keepForSQL = `DELETE FROM {s}.jobs WHERE queue = $1 AND id IN (
	SELECT id FROM {s}.jobs WHERE queue = $1 AND state = $2 AND finished_at < clock_timestamp() - $3::float8 * interval '1 millisecond'
	LIMIT 1000 FOR UPDATE SKIP LOCKED)`

// JobFail implements backend.Backend. A call that claims the next job
// (p.Next) runs in a claim turn (turns.go).
func (b *Backend) JobFail(ctx context.Context, p *backend.JobFailParams) (*backend.JobClaimResult, error) {
	if p.Next == nil {
		return b.jobFail(ctx, p)
	}
	if err := b.usable(ctx); err != nil {
		return nil, err
	}
	return claimTurn(ctx, b, func() (*backend.JobClaimResult, error) { return b.jobFail(ctx, p) })
}

// jobFail is JobFail, in the turn when it claims.
func (b *Backend) jobFail(ctx context.Context, p *backend.JobFailParams) (*backend.JobClaimResult, error) {
	res := &backend.JobClaimResult{}
	err := b.inTx(ctx, func(tx pgx.Tx) error {
		*res = backend.JobClaimResult{}
		// Delayed jobs that became due while this one ran queue before an
		// immediate retry of it.
		if _, err := tx.Exec(ctx, b.q(promoteSQL), p.Queue); err != nil {
			return err
		}
		keep := p.KeepStacktraces
		if keep <= 0 {
			keep = 10
		}
		var state string
		var grouped, child bool // a grouped job: its group's next may be ready; a flow's child: its parent may be, in any queue
		err := tx.QueryRow(ctx, b.q(failSQL), p.Queue, p.ID, p.Token, p.Reason, p.Stacktrace, p.Retry, ms(p.RetryDelay), keep).Scan(&state, &grouped, &child)
		if errors.Is(err, pgx.ErrNoRows) {
			return b.lockLost(ctx, tx, p.Queue, p.ID)
		}
		if err != nil {
			return err
		}
		if grouped {
			if err := b.ready(tx, p.Queue); err != nil {
				return err
			}
		}
		if child && state == string(backend.StateFailed) {
			if err := b.flowWoke(ctx, tx); err != nil {
				return err
			}
		}
		switch backend.State(state) {
		case backend.StateFailed:
			if err := b.retain(ctx, tx, p.Queue, p.ID, backend.StateFailed, p.Retention); err != nil {
				return err
			}
		case backend.StateWaiting, backend.StatePrioritized:
			if err := b.ready(tx, p.Queue); err != nil {
				return err
			}
		case backend.StateDelayed:
			if err := b.ready(tx, p.Queue); err != nil { // blocked claims learn the new due time
				return err
			}
		}
		return b.chain(ctx, tx, p.Next, res)
	})
	if err != nil {
		return nil, err
	}
	return res, nil
}

// JobRelease implements backend.Backend.
func (b *Backend) JobRelease(ctx context.Context, p *backend.JobReleaseParams) error {
	return b.inTx(ctx, func(tx pgx.Tx) error {
		var id string
		err := tx.QueryRow(ctx, b.q(releaseSQL), p.Queue, p.ID, p.Token).Scan(&id)
		if errors.Is(err, pgx.ErrNoRows) {
			return b.lockLost(ctx, tx, p.Queue, p.ID)
		}
		if err != nil {
			return err
		}
		return b.ready(tx, p.Queue)
	})
}

// JobExtendLocks implements backend.Backend.
func (b *Backend) JobExtendLocks(ctx context.Context, p *backend.JobExtendLocksParams) ([]string, error) {
	if err := b.usable(ctx); err != nil {
		return nil, err
	}
	ids := make([]string, len(p.Locks))
	toks := make([]string, len(p.Locks))
	for i, l := range p.Locks {
		ids[i], toks[i] = l.ID, l.Token
	}
	rows, err := b.pool.Query(ctx, b.q(`
		UPDATE {s}.jobs j SET lock_until = clock_timestamp() + $4::float8 * interval '1 millisecond', stall_marked = false
		FROM unnest($2::text[], $3::text[]) AS l(id, token)
		WHERE j.queue = $1 AND j.id = l.id AND j.token = l.token AND j.state = 'active' AND j.lock_until > clock_timestamp()
		RETURNING j.id`), p.Queue, ids, toks, ms(p.Duration))
	if err != nil {
		return nil, b.fail(ctx, err)
	}
	kept, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, b.fail(ctx, err)
	}
	held := map[string]bool{}
	for _, id := range kept {
		held[id] = true
	}
	var lost []string
	for _, l := range p.Locks {
		if !held[l.ID] {
			lost = append(lost, l.ID)
		}
	}
	return lost, nil
}

// durMS turns milliseconds from SQL into a duration.
func durMS(v float64) time.Duration { return time.Duration(v * float64(time.Millisecond)) }
