package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/fila-go/fila/backend"
)

var _ backend.Schedulers = (*Backend)(nil)

// Job schedulers live in the schedulers table, a row per scheduler. Every
// change locks the row (or, for a new scheduler, races to insert it) and
// adds the job of the pending tick in the same transaction, so concurrent
// upserts and advances compare-and-set: exactly one job per tick.

// schedCols are the columns scanSched reads, with the pending job's state.
const schedCols = `s.id, s.spec, s.name, s.data, s.options, s.lim, s.next_ms, s.next_job_id, s.iterations, s.last_job_id,
	coalesce((SELECT state FROM {s}.jobs j WHERE j.queue = s.queue AND j.id = s.next_job_id), '')`

func scanSched(row pgx.Row) (*backend.Scheduler, error) {
	var s backend.Scheduler
	var opts []byte
	var next int64
	var state string
	if err := row.Scan(&s.ID, &s.Spec, &s.Template.Name, &s.Template.Data, &opts, &s.Limit, &next, &s.NextJobID,
		&s.Iterations, &s.LastJobID, &state); err != nil {
		return nil, err
	}
	if err := json.Unmarshal(opts, &s.Template.Options); err != nil {
		return nil, fmt.Errorf("fila/postgres: scheduler %q: options: %w", s.ID, err)
	}
	s.Next = time.UnixMilli(next)
	if state != "" {
		s.NextJobState = visibleState(state)
	}
	return &s, nil
}

// SchedulerUpsert implements backend.Schedulers.
func (b *Backend) SchedulerUpsert(ctx context.Context, p *backend.SchedulerUpsertParams) (*backend.SchedulerUpsertResult, error) {
	opts, err := json.Marshal(p.Template.Options)
	if err != nil {
		return nil, fmt.Errorf("fila/postgres: scheduler %q of %q: encode options: %w", p.ID, p.Queue, err)
	}
	tick := time.UnixMilli(p.Next.UnixMilli())
	jobID := backend.SchedulerJobID(p.ID, tick)
	var res *backend.SchedulerUpsertResult
	err = b.inTx(ctx, func(tx pgx.Tx) error {
		res = &backend.SchedulerUpsertResult{}
		var spec, pending string
		err := tx.QueryRow(ctx, b.q(`SELECT spec, next_job_id FROM {s}.schedulers WHERE queue = $1 AND id = $2 FOR UPDATE`),
			p.Queue, p.ID).Scan(&spec, &pending)
		switch {
		case errors.Is(err, pgx.ErrNoRows):
			if p.Prev != "" {
				res.Conflict = true
				return nil
			}
			// Concurrent first upserts race on the primary key: one inserts,
			// the others wait for it and find the row.
			tag, err := tx.Exec(ctx, b.q(`
				INSERT INTO {s}.schedulers (queue, id, spec, name, data, options, lim, next_ms, next_job_id, iterations)
				VALUES ($1, $2, $3, $4, $5::bytea, $6::jsonb, $7, $8, $9, 1) ON CONFLICT (queue, id) DO NOTHING`),
				p.Queue, p.ID, p.Spec, p.Template.Name, p.Template.Data, opts, p.Limit, tick.UnixMilli(), jobID)
			if err != nil {
				return err
			}
			if tag.RowsAffected() == 0 {
				res.Conflict = true
				return nil
			}
		case err != nil:
			return err
		default:
			if spec != p.Prev {
				res.Conflict = true
				return nil
			}
			if err := b.dropPending(ctx, tx, p.Queue, pending); err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, b.q(`
				UPDATE {s}.schedulers SET spec = $3, name = $4, data = $5::bytea, options = $6::jsonb, lim = $7,
					next_ms = $8, next_job_id = $9, iterations = 1
				WHERE queue = $1 AND id = $2`),
				p.Queue, p.ID, p.Spec, p.Template.Name, p.Template.Data, opts, p.Limit, tick.UnixMilli(), jobID); err != nil {
				return err
			}
			res.Replaced = true
		}
		return b.addTick(ctx, tx, p.Queue, jobID, &p.Template, tick)
	})
	if err != nil {
		return nil, err
	}
	return res, nil
}

// SchedulerAdvance implements backend.Schedulers.
func (b *Backend) SchedulerAdvance(ctx context.Context, p *backend.SchedulerAdvanceParams) (backend.SchedulerStatus, error) {
	var status backend.SchedulerStatus
	err := b.inTx(ctx, func(tx pgx.Tx) error {
		status = backend.SchedulerStale
		s, err := scanSched(tx.QueryRow(ctx, b.q(`SELECT `+schedCols+` FROM {s}.schedulers s WHERE s.queue = $1 AND s.id = $2 FOR UPDATE`),
			p.Queue, p.ID))
		if errors.Is(err, pgx.ErrNoRows) {
			return nil
		}
		if err != nil {
			return err
		}
		if s.Spec != p.Spec || s.Next.UnixMilli() != p.From.UnixMilli() {
			return nil
		}
		if p.Next.IsZero() || (s.Limit > 0 && s.Iterations >= s.Limit) {
			status = backend.SchedulerEnded
			_, err := tx.Exec(ctx, b.q(`DELETE FROM {s}.schedulers WHERE queue = $1 AND id = $2`), p.Queue, p.ID)
			return err
		}
		tick := time.UnixMilli(p.Next.UnixMilli())
		jobID := backend.SchedulerJobID(p.ID, tick)
		if _, err := tx.Exec(ctx, b.q(`
			UPDATE {s}.schedulers SET last_job_id = next_job_id, next_ms = $3, next_job_id = $4, iterations = iterations + 1
			WHERE queue = $1 AND id = $2`), p.Queue, p.ID, tick.UnixMilli(), jobID); err != nil {
			return err
		}
		status = backend.SchedulerAdvanced
		return b.addTick(ctx, tx, p.Queue, jobID, &s.Template, tick)
	})
	if err != nil {
		return 0, err
	}
	return status, nil
}

// addTick adds the job of a tick in tx: delayed until the tick (its due
// time set to the tick exactly), or ready for a tick already past.
func (b *Backend) addTick(ctx context.Context, tx pgx.Tx, queue, jobID string, tpl *backend.SchedulerTemplate, tick time.Time) error {
	var now time.Time
	if err := tx.QueryRow(ctx, `SELECT clock_timestamp()`).Scan(&now); err != nil {
		return err
	}
	it := backend.JobAddItem{ID: jobID, Name: tpl.Name, Data: tpl.Data, Options: tpl.Options}
	it.Options.Delay = max(tick.Sub(now), 0)
	res, err := b.add(ctx, tx, queue, []backend.JobAddItem{it})
	if err != nil {
		return err
	}
	if res[0].Status != backend.AddCreated {
		return nil
	}
	if it.Options.Delay > 0 {
		if _, err := tx.Exec(ctx, b.q(`UPDATE {s}.jobs SET due_at = $3 WHERE queue = $1 AND id = $2 AND state = 'delayed'`),
			queue, jobID, tick); err != nil {
			return err
		}
	}
	return b.ready(tx, queue)
}

// dropPending removes a scheduler's pending job unless it started.
func (b *Backend) dropPending(ctx context.Context, tx pgx.Tx, queue, id string) error {
	tag, err := tx.Exec(ctx, b.q(`DELETE FROM {s}.jobs WHERE queue = $1 AND id = $2
		AND state IN ('waiting', 'prioritized', 'paused', 'delayed', 'gwaiting', 'gpaused')`), queue, id)
	if err != nil || tag.RowsAffected() == 0 {
		return err
	}
	_, err = tx.Exec(ctx, b.q(`INSERT INTO {s}.events (queue, type, job_id) VALUES ($1, 'removed', $2)`), queue, id)
	return err
}

// SchedulerGet implements backend.Schedulers.
func (b *Backend) SchedulerGet(ctx context.Context, p *backend.SchedulerGetParams) (*backend.SchedulerGetResult, error) {
	if err := b.usable(ctx); err != nil {
		return nil, err
	}
	res := &backend.SchedulerGetResult{}
	err := b.pool.QueryRow(ctx, `SELECT clock_timestamp()`).Scan(&res.Now)
	if err != nil {
		return nil, b.fail(ctx, err)
	}
	s, err := scanSched(b.pool.QueryRow(ctx, b.q(`SELECT `+schedCols+` FROM {s}.schedulers s WHERE s.queue = $1 AND s.id = $2`), p.Queue, p.ID))
	if errors.Is(err, pgx.ErrNoRows) {
		return res, nil
	}
	if err != nil {
		return nil, b.fail(ctx, err)
	}
	res.Scheduler = s
	return res, nil
}

// SchedulerList implements backend.Schedulers.
func (b *Backend) SchedulerList(ctx context.Context, p *backend.QueueParams) (*backend.SchedulerListResult, error) {
	if err := b.usable(ctx); err != nil {
		return nil, err
	}
	res := &backend.SchedulerListResult{Schedulers: []*backend.Scheduler{}}
	if err := b.pool.QueryRow(ctx, `SELECT clock_timestamp()`).Scan(&res.Now); err != nil {
		return nil, b.fail(ctx, err)
	}
	rows, err := b.pool.Query(ctx, b.q(`SELECT `+schedCols+` FROM {s}.schedulers s WHERE s.queue = $1 ORDER BY s.id COLLATE "C"`), p.Queue)
	if err != nil {
		return nil, b.fail(ctx, err)
	}
	defer rows.Close()
	for rows.Next() {
		s, err := scanSched(rows)
		if err != nil {
			return nil, b.fail(ctx, err)
		}
		res.Schedulers = append(res.Schedulers, s)
	}
	return res, b.fail(ctx, rows.Err())
}

// SchedulerRemove implements backend.Schedulers.
func (b *Backend) SchedulerRemove(ctx context.Context, p *backend.SchedulerRemoveParams) (bool, error) {
	var found bool
	err := b.inTx(ctx, func(tx pgx.Tx) error {
		found = false
		var pending string
		err := tx.QueryRow(ctx, b.q(`DELETE FROM {s}.schedulers WHERE queue = $1 AND id = $2 RETURNING next_job_id`), p.Queue, p.ID).Scan(&pending)
		if errors.Is(err, pgx.ErrNoRows) {
			return nil
		}
		if err != nil {
			return err
		}
		found = true
		if err := b.dropPending(ctx, tx, p.Queue, pending); err != nil {
			return err
		}
		return b.ready(tx, p.Queue) // a grouped pending job's group may put its next in line
	})
	return found, err
}
