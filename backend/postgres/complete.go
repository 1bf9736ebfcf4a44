package postgres

import (
	"context"
	"errors"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/fila-go/fila/backend"
)

// errNotHeld: the one-round-trip complete found no job it takes: none
// active under the token, or one in a group or a flow (held() raised
// FL001, and the batch rolled back). The transaction path (completeIn)
// tells a lost lock from a job CompleteTx completed, and does what a
// grouped or flow job's completion needs: the group's or the parent's
// wake-up after commit, and a child's value kept for its parent whatever
// its retention.
var errNotHeld = errors.New("fila/postgres: lock not held")

// fastOnly restricts the one-round-trip complete to jobs outside groups
// and flows (errNotHeld).
const fastOnly = ` AND j.grp IS NULL AND j.flow_parent IS NULL`

// completeHeldSQL is completeSQL that raises FL001 (held(), migration 002)
// when the lock is not held, aborting the batch it is part of.
const completeHeldSQL = `
WITH t AS (SELECT clock_timestamp() AS now),
upd AS (
	UPDATE {s}.jobs j SET state = 'completed', finished_at = t.now, attempts_made = j.attempts_made + 1,
		return_value = $4::bytea, token = NULL, lock_until = NULL, ord = nextval('{s}.job_ord')
	FROM t WHERE ` + held + fastOnly + `
	RETURNING j.id, j.finished_at),
ev AS (INSERT INTO {s}.events (queue, type, job_id, at, data) SELECT $1, 'completed', id, finished_at, $4::bytea FROM upd),
m AS (INSERT INTO {s}.metrics (queue, minute, completed) SELECT $1, date_trunc('minute', finished_at), 1 FROM upd)
SELECT {s}.held(count(*)) FROM upd`

// completeRemoveSQL completes a job whose retention removes it: the row is
// deleted at once (no completed row to update, count and delete), with the
// event and the metric a completion records.
const completeRemoveSQL = `
WITH t AS (SELECT clock_timestamp() AS now),
del AS (DELETE FROM {s}.jobs j WHERE ` + held + fastOnly + ` RETURNING j.id),
ev AS (INSERT INTO {s}.events (queue, type, job_id, at, data) SELECT $1, 'completed', id, t.now, $4::bytea FROM del, t),
m AS (INSERT INTO {s}.metrics (queue, minute, completed) SELECT $1, date_trunc('minute', t.now), 1 FROM del, t)
SELECT {s}.held(count(*)) FROM del`

// completeFast completes a job, applies its retention and claims the next
// (p.Next, not rate limited) in one pipelined batch: one round trip, one
// implicit transaction. errNotHeld when the job was not active under the
// token: nothing happened, and the caller's transaction path tells a lost
// lock from a job CompleteTx completed. When it claims, JobComplete holds
// the claim turn for it (turns.go): completeFast takes none.
func (b *Backend) completeFast(ctx context.Context, p *backend.JobCompleteParams) (*backend.JobClaimResult, error) {
	if err := b.usable(ctx); err != nil {
		return nil, err
	}
	for try := 1; ; try++ {
		res, err := b.completeBatch(ctx, p)
		// The batch ran as one implicit transaction: rolled back to break
		// a deadlock (its chained claim locking groups), it changed
		// nothing and runs again, as inTx's transactions do.
		if try < deadlockTries && isDeadlock(err) && ctx.Err() == nil {
			continue
		}
		if err != nil && !errors.Is(err, errNotHeld) {
			return nil, b.fail(ctx, err)
		}
		return res, err
	}
}

// completeBatch is one run of completeFast's batch.
func (b *Backend) completeBatch(ctx context.Context, p *backend.JobCompleteParams) (*backend.JobClaimResult, error) {
	remove, keepLast, keepFor := p.Retention.Limits(false)
	batch := &pgx.Batch{}
	if remove {
		batch.Queue(b.q(completeRemoveSQL), p.Queue, p.ID, p.Token, p.ReturnValue)
	} else {
		batch.Queue(b.q(completeHeldSQL), p.Queue, p.ID, p.Token, p.ReturnValue)
		if keepLast > 0 {
			batch.Queue(b.q(keepLastSQL(backend.StateCompleted)), p.Queue, keepLast)
		}
		if keepFor > 0 {
			batch.Queue(b.q(keepForSQL), p.Queue, string(backend.StateCompleted), ms(keepFor))
		}
	}
	if p.Next != nil {
		b.queueClaim(batch, p.Next)
	}
	res := &backend.JobClaimResult{}
	br := b.pool.SendBatch(ctx, batch)
	err := func() error {
		var n int64
		if err := br.QueryRow().Scan(&n); err != nil {
			return err
		}
		if !remove {
			for range btoi(keepLast > 0) + btoi(keepFor > 0) {
				if _, err := br.Exec(); err != nil {
					return err
				}
			}
		}
		if p.Next == nil {
			return nil
		}
		var err error
		res.Job, err = readClaim(br)
		return err
	}()
	if cerr := br.Close(); err == nil {
		err = cerr
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) && pe.Code == "FL001" {
		return nil, errNotHeld
	}
	if err != nil {
		return nil, err
	}
	if res.Job != nil && res.Job.Options.Group != "" {
		b.notify.signal(p.Queue) // the group's next job may have taken its place in the line
	}
	if p.Next != nil && res.Job == nil {
		// The completion committed: an error reading the hint must not
		// report it failed, so the hint is left out instead.
		if out, err := b.claimInfo(ctx, b.pool, p.Next.Queue); err == nil {
			res.RetryAfter = out.retryAfter
		}
	}
	return res, nil
}

func btoi(v bool) int {
	if v {
		return 1
	}
	return 0
}
