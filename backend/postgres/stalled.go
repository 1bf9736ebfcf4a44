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
	RETURNING j.id, j.state),
ev AS (
	INSERT INTO {s}.events (queue, type, job_id, data)
	SELECT $1, CASE WHEN state = 'failed' THEN 'failed' ELSE 'stalled' END, id,
		CASE WHEN state = 'failed' THEN convert_to($3, 'UTF8') END FROM upd)
SELECT id, state FROM upd`

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
		rows, err := tx.Query(ctx, b.q(recoverSQL), p.Queue, p.MaxStalledCount, stalledReason)
		if err != nil {
			return err
		}
		for rows.Next() {
			var id, state string
			if err := rows.Scan(&id, &state); err != nil {
				rows.Close()
				return err
			}
			if state == string(backend.StateFailed) {
				res.Failed = append(res.Failed, id)
			} else {
				res.Stalled = append(res.Stalled, id)
			}
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
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
