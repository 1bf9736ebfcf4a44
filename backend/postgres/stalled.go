package postgres

import (
	"context"
	"errors"

	"github.com/jackc/pgx/v5"

	"github.com/fila-go/fila/backend"
)

// stalledReason is the failure a job gets for stalling too often.
const stalledReason = "job stalled more than allowable limit"

// recoverSQL returns (or fails) the active jobs that the previous check
// marked and whose lock is still expired.
const recoverSQL = `
WITH r AS (
	SELECT id FROM {s}.jobs WHERE queue = $1 AND state = 'active' AND stall_marked AND lock_until <= clock_timestamp()
	ORDER BY processed_at FOR UPDATE SKIP LOCKED),
upd AS (
	UPDATE {s}.jobs j SET stalled_count = j.stalled_count + 1, token = NULL, lock_until = NULL, stall_marked = false,
		state = CASE WHEN j.stalled_count + 1 > $2::int THEN 'failed' ELSE ` + readyState + ` END,
		failed_reason = CASE WHEN j.stalled_count + 1 > $2::int THEN $3 ELSE j.failed_reason END,
		finished_at = CASE WHEN j.stalled_count + 1 > $2::int THEN clock_timestamp() END,
		ord = CASE WHEN j.stalled_count + 1 > $2::int THEN nextval('{s}.job_ord') ELSE -nextval('{s}.job_ord') END
	FROM r WHERE j.queue = $1 AND j.id = r.id
	RETURNING j.id, j.state, j.flow_parent IS NOT NULL AS child),
ev AS (
	INSERT INTO {s}.events (queue, type, job_id, data)
	SELECT $1, CASE WHEN state = 'failed' THEN 'failed' ELSE 'stalled' END, id,
		CASE WHEN state = 'failed' THEN convert_to($3, 'UTF8') END FROM upd)
SELECT id, state, child FROM upd`

// stalledParentsSQL locks, in one order (queue, ID), the parents of the
// flow children recoverSQL may fail, before it locks the children: a
// check failing children of two parents and another check failing
// children of the same two (in another queue) would otherwise lock the
// parents in opposite orders. The children themselves are taken with SKIP
// LOCKED, so holding a parent first waits on no child.
const stalledParentsSQL = `
SELECT 1 FROM {s}.jobs p WHERE (p.queue, p.id) IN (
	SELECT coalesce(c.flow_parent_queue, c.queue), c.flow_parent FROM {s}.jobs c
	WHERE c.queue = $1 AND c.state = 'active' AND c.stall_marked AND c.lock_until <= clock_timestamp() AND c.flow_parent IS NOT NULL)
ORDER BY p.queue, p.id FOR UPDATE OF p`

// markSQL marks active jobs without a live lock, for the next check.
const markSQL = `
UPDATE {s}.jobs SET stall_marked = true WHERE queue = $1 AND id IN (
	SELECT id FROM {s}.jobs WHERE queue = $1 AND state = 'active' AND NOT stall_marked AND lock_until <= clock_timestamp()
	LIMIT $2 FOR UPDATE SKIP LOCKED)`

// StalledCheck implements backend.Backend. A row per queue in
// stalled_checks records the last check; a check that finds it younger
// than p.Interval is skipped, whichever process runs it. A check that runs
// also does the queue's housekeeping: events older than EventRetention,
// metrics older than MetricsHistory and expired dedup IDs are deleted.
func (b *Backend) StalledCheck(ctx context.Context, p *backend.StalledCheckParams) (*backend.StalledCheckResult, error) {
	var res *backend.StalledCheckResult
	err := b.inTx(ctx, func(tx pgx.Tx) error {
		res = &backend.StalledCheckResult{}
		var one int
		err := tx.QueryRow(ctx, b.q(`
			INSERT INTO {s}.stalled_checks (queue, at) VALUES ($1, clock_timestamp())
			ON CONFLICT (queue) DO UPDATE SET at = EXCLUDED.at
				WHERE {s}.stalled_checks.at <= EXCLUDED.at - $2::float8 * interval '1 millisecond'
			RETURNING 1`), p.Queue, ms(p.Interval)).Scan(&one)
		if errors.Is(err, pgx.ErrNoRows) {
			res.Skipped = true
			return nil
		}
		if err != nil {
			return err
		}
		batch := &pgx.Batch{}
		batch.Queue(b.q(stalledParentsSQL), p.Queue)
		batch.Queue(b.q(recoverSQL), p.Queue, p.MaxStalledCount, stalledReason)
		children, err := b.recover(ctx, tx, batch, res)
		if err != nil {
			return err
		}
		if children {
			if err := b.flowWoke(ctx, tx); err != nil {
				return err
			}
		}
		maxJobs := p.MaxJobs
		if maxJobs <= 0 {
			maxJobs = 1000
		}
		if _, err := tx.Exec(ctx, b.q(markSQL), p.Queue, maxJobs); err != nil {
			return err
		}
		if err := b.housekeep(ctx, tx, p.Queue); err != nil {
			return err
		}
		if len(res.Stalled) > 0 || len(res.Failed) > 0 { // a failure may free a group's slot or release a flow's parent
			return b.ready(tx, p.Queue)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return res, nil
}

// recover runs StalledCheck's batch (stalledParentsSQL, recoverSQL) and
// adds the jobs it returned or failed to res; children reports a flow's
// child among the failed.
func (b *Backend) recover(ctx context.Context, tx pgx.Tx, batch *pgx.Batch, res *backend.StalledCheckResult) (children bool, err error) {
	br := tx.SendBatch(ctx, batch)
	defer func() {
		if cerr := br.Close(); err == nil {
			err = cerr
		}
	}()
	if _, err := br.Exec(); err != nil {
		return false, err
	}
	rows, err := br.Query()
	if err != nil {
		return false, err
	}
	defer rows.Close()
	for rows.Next() {
		var id, state string
		var child bool
		if err := rows.Scan(&id, &state, &child); err != nil {
			return false, err
		}
		if state == string(backend.StateFailed) {
			children = children || child
			res.Failed = append(res.Failed, id)
		} else {
			res.Stalled = append(res.Stalled, id)
		}
	}
	return children, rows.Err()
}

// housekeep bounds the queue's side tables.
func (b *Backend) housekeep(ctx context.Context, tx pgx.Tx, queue string) error {
	for _, s := range []struct {
		sql  string
		args []any
	}{
		{`DELETE FROM {s}.events WHERE id IN (
			SELECT id FROM {s}.events WHERE at < clock_timestamp() - $1::float8 * interval '1 millisecond' LIMIT 10000)`,
			[]any{ms(b.opts.EventRetention)}},
		{`DELETE FROM {s}.metrics WHERE queue = $1 AND minute < date_trunc('minute', clock_timestamp()) - $2::int * interval '1 minute'`,
			[]any{queue, b.opts.MetricsHistory}},
		// Fold the rows of each past minute into one.
		{`WITH d AS (
				DELETE FROM {s}.metrics WHERE queue = $1 AND minute < date_trunc('minute', clock_timestamp()) AND minute IN (
					SELECT minute FROM {s}.metrics WHERE queue = $1 AND minute < date_trunc('minute', clock_timestamp())
					GROUP BY minute HAVING count(*) > 1)
				RETURNING minute, completed, failed)
			INSERT INTO {s}.metrics (queue, minute, completed, failed)
			SELECT $1, minute, sum(completed), sum(failed) FROM d GROUP BY minute`, []any{queue}},
		{`DELETE FROM {s}.dedup WHERE queue = $1 AND expires_at <= clock_timestamp()`, []any{queue}},
	} {
		if _, err := tx.Exec(ctx, b.q(s.sql), s.args...); err != nil {
			return err
		}
	}
	return nil
}
