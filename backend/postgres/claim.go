package postgres

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/fila-go/fila/backend"
)

// promoteSQL moves a queue's due delayed jobs to ready, in due order (the
// order key is drawn as the ordered rows are read), after it brings the
// limited groups whose time passed back into the line (gw; see groups.go).
// gw is referenced by a condition on nothing but itself, which the planner
// evaluates once, first, whatever the rest finds (a one-time filter); for a
// queue without groups it is a probe of an empty partial index.
const promoteSQL = `
WITH gw AS (
	SELECT count({s}.group_sync(queue, name)) AS n FROM {s}.groups WHERE queue = $1 AND wake_at <= clock_timestamp()),
d AS (
	SELECT id FROM {s}.jobs WHERE queue = $1 AND state = 'delayed' AND due_at <= clock_timestamp()
	ORDER BY due_at, ord FOR UPDATE SKIP LOCKED),
n AS (SELECT id, nextval('{s}.job_ord') AS o FROM d)
UPDATE {s}.jobs j SET ord = n.o, due_at = NULL,
	state = CASE WHEN j.priority > 0 THEN 'prioritized'
		WHEN coalesce((SELECT paused FROM {s}.queues WHERE name = $1), false) THEN 'paused' ELSE 'waiting' END
FROM n WHERE j.queue = $1 AND j.id = n.id AND (SELECT n FROM gw) >= 0`

// claimSQL takes the next ready job (priority 0 first, then by priority,
// each in order) unless the queue is paused or rate limited, locks it for
// the token, and records the event (and the limiter's start when $4).
const claimSQL = `
WITH t AS (SELECT clock_timestamp() AS now),
next AS (
	SELECT id FROM {s}.jobs
	WHERE queue = $1 AND state IN ('waiting', 'prioritized')
		AND NOT EXISTS (SELECT 1 FROM {s}.queues q WHERE q.name = $1 AND (q.paused OR q.rate_limited_until > clock_timestamp()))
	ORDER BY priority, ord LIMIT 1 FOR UPDATE SKIP LOCKED),
upd AS (
	UPDATE {s}.jobs j SET state = 'active', token = $2, processed_at = t.now,
		lock_until = t.now + $3::float8 * interval '1 millisecond',
		attempts_started = j.attempts_started + 1, stall_marked = false, due_at = NULL
	FROM next, t WHERE j.queue = $1 AND j.id = next.id
	RETURNING ` + jobColsJ + `),
ev AS (INSERT INTO {s}.events (queue, type, job_id, at) SELECT $1, 'active', id, processed_at FROM upd),
lim AS (INSERT INTO {s}.limiter (queue, at) SELECT $1, processed_at FROM upd WHERE $4::bool)
SELECT ` + jobCols + ` FROM upd`

// infoSQL says why a claim found nothing: paused, rate limited for how
// long (ms), and when the next delayed job (or limited group) is due (ms,
// NULL for none).
const infoSQL = `
SELECT coalesce((SELECT paused FROM {s}.queues WHERE name = $1), false),
	coalesce((SELECT extract(epoch FROM rate_limited_until - clock_timestamp()) * 1000 FROM {s}.queues WHERE name = $1), 0)::float8,
	(extract(epoch FROM least(
		(SELECT min(due_at) FROM {s}.jobs WHERE queue = $1 AND state = 'delayed'),
		(SELECT min(wake_at) FROM {s}.groups WHERE queue = $1)) - clock_timestamp()) * 1000)::float8`

// limiterSQL counts the starts in the window ending now and says when the
// oldest leaves it (ms). The caller locks the queue's row first, in a
// statement of its own (so this one's snapshot sees the start committed by
// the claim it waited for): limited claims of a queue take turns.
const limiterSQL = `
WITH gone AS (DELETE FROM {s}.limiter WHERE queue = $1 AND at <= clock_timestamp() - $2::float8 * interval '1 millisecond')
SELECT count(*),
	coalesce(extract(epoch FROM min(at) + $2::float8 * interval '1 millisecond' - clock_timestamp()) * 1000, 0)::float8
FROM {s}.limiter WHERE queue = $1 AND at > clock_timestamp() - $2::float8 * interval '1 millisecond'`

// claimOut is what one claim attempt found.
type claimOut struct {
	job        *backend.Job
	retryAfter time.Duration
	paused     bool
	nextDue    time.Duration // -1: no delayed job
}

// claimIn makes one claim attempt in tx, without waiting.
func (b *Backend) claimIn(ctx context.Context, tx pgx.Tx, p *backend.JobClaimParams) (claimOut, error) {
	out := claimOut{nextDue: -1}
	if _, err := tx.Exec(ctx, b.q(promoteSQL), p.Queue); err != nil {
		return out, err
	}
	limited := limited(p)
	if limited {
		if _, err := tx.Exec(ctx, b.q(`SELECT 1 FROM {s}.queues WHERE name = $1 FOR UPDATE`), p.Queue); err != nil {
			return out, err
		}
		var n int
		var wait float64
		if err := tx.QueryRow(ctx, b.q(limiterSQL), p.Queue, ms(p.Limit.Per)).Scan(&n, &wait); err != nil {
			return out, err
		}
		if n >= p.Limit.Max {
			out.retryAfter = max(time.Duration(wait*float64(time.Millisecond)), time.Millisecond)
			return out, nil
		}
	}
	j, err := scanJob(tx.QueryRow(ctx, b.q(claimSQL), p.Queue, p.Token, ms(p.LockDuration), limited))
	if err == nil {
		out.job = j
		if j.Options.Group != "" { // the group's next job may have taken its place in the line
			err = b.ready(tx, p.Queue)
		}
		return out, err
	}
	if !errors.Is(err, pgx.ErrNoRows) {
		return out, err
	}
	return b.claimInfo(ctx, tx, p.Queue)
}

// limited says whether a claim is under the global rate limit: its claim
// takes the queue's row lock and reads the window first, in a transaction.
func limited(p *backend.JobClaimParams) bool {
	return p.Limit != nil && p.Limit.Max > 0 && p.Limit.Per > 0
}

// queueClaim queues an unlimited claim attempt on batch: promote, then
// claim. Sent as one pipelined batch (one Sync), the statements run in one
// implicit transaction, each with its own snapshot as in claimIn's, in one
// round trip.
func (b *Backend) queueClaim(batch *pgx.Batch, p *backend.JobClaimParams) {
	batch.Queue(b.q(promoteSQL), p.Queue)
	batch.Queue(b.q(claimSQL), p.Queue, p.Token, ms(p.LockDuration), false)
}

// readClaim reads what queueClaim queued: the job, or nil.
func readClaim(br pgx.BatchResults) (*backend.Job, error) {
	if _, err := br.Exec(); err != nil {
		return nil, err
	}
	j, err := scanJob(br.QueryRow())
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	}
	return j, err
}

// claimInfo says why a claim found nothing (infoSQL), read after its
// batch: a hint for how long to wait, so a moment's lag is harmless, and a
// claim that finds a job pays nothing for it.
func (b *Backend) claimInfo(ctx context.Context, qr querier, queue string) (claimOut, error) {
	out := claimOut{nextDue: -1}
	var limitedMS float64
	var due *float64
	if err := qr.QueryRow(ctx, b.q(infoSQL), queue).Scan(&out.paused, &limitedMS, &due); err != nil {
		return out, err
	}
	if limitedMS > 0 {
		out.retryAfter = max(time.Duration(limitedMS*float64(time.Millisecond)), time.Millisecond)
	}
	if due != nil {
		out.nextDue = max(time.Duration(*due*float64(time.Millisecond)), 0)
	}
	return out, nil
}

// claimOnce makes one claim attempt, in a claim turn (turns.go): one round
// trip when the claim is not rate limited, a transaction of claimIn's
// otherwise.
func (b *Backend) claimOnce(ctx context.Context, p *backend.JobClaimParams) (claimOut, error) {
	if err := b.usable(ctx); err != nil {
		return claimOut{}, err
	}
	return claimTurn(ctx, b, func() (claimOut, error) { return b.claimAttempt(ctx, p) })
}

// claimAttempt is claimOnce's attempt, in the turn.
func (b *Backend) claimAttempt(ctx context.Context, p *backend.JobClaimParams) (claimOut, error) {
	if limited(p) {
		var out claimOut
		err := b.inTx(ctx, func(tx pgx.Tx) error {
			var err error
			out, err = b.claimIn(ctx, tx, p)
			return err
		})
		return out, err
	}
	if err := b.usable(ctx); err != nil {
		return claimOut{}, err
	}
	var j *backend.Job
	for try := 1; ; try++ {
		batch := &pgx.Batch{}
		b.queueClaim(batch, p)
		br := b.pool.SendBatch(ctx, batch)
		var err error
		j, err = readClaim(br)
		if cerr := br.Close(); err == nil {
			err = cerr
		}
		// One implicit transaction: rolled back to break a deadlock (the
		// promotion and the claim lock groups' rows), it changed nothing.
		if try < deadlockTries && isDeadlock(err) && ctx.Err() == nil {
			continue
		}
		if err != nil {
			return claimOut{nextDue: -1}, b.fail(ctx, err)
		}
		break
	}
	if j != nil {
		if j.Options.Group != "" {
			b.notify.signal(p.Queue) // the group's next job may have taken its place in the line
		}
		return claimOut{job: j, nextDue: -1}, nil
	}
	out, err := b.claimInfo(ctx, b.pool, p.Queue)
	return out, b.fail(ctx, err)
}

// JobClaim implements backend.Backend. A claim that finds nothing waits for
// a notification naming its queue, the next delayed job's due time, or
// FallbackRecheck, whichever comes first, and looks again; never past
// p.Wait. Each look takes a claim turn (turns.go) and gives it back before
// the wait.
func (b *Backend) JobClaim(ctx context.Context, p *backend.JobClaimParams) (*backend.JobClaimResult, error) {
	if err := b.usable(ctx); err != nil {
		return nil, err
	}
	deadline := time.Now().Add(p.Wait)
	for {
		var wake <-chan struct{}
		if p.Wait > 0 {
			wake = b.wake.ch(p.Queue)
		}
		out, err := b.claimOnce(ctx, p)
		if err != nil {
			return nil, err
		}
		if out.job != nil || out.retryAfter > 0 {
			return &backend.JobClaimResult{Job: out.job, RetryAfter: out.retryAfter}, nil
		}
		left := time.Until(deadline)
		if left <= 0 {
			return &backend.JobClaimResult{}, nil
		}
		sleep := min(left, b.opts.FallbackRecheck)
		if out.nextDue >= 0 {
			sleep = min(sleep, out.nextDue+time.Millisecond)
		}
		timer := time.NewTimer(sleep)
		select {
		case <-ctx.Done():
			timer.Stop()
			return nil, ctx.Err()
		case <-wake:
			timer.Stop()
			if b.wake.isClosed() {
				return nil, backend.ErrClosed
			}
		case <-timer.C:
		}
	}
}
