package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/fila-go/fila/backend"
)

// JobGet implements backend.Backend.
func (b *Backend) JobGet(ctx context.Context, p *backend.JobGetParams) (*backend.Job, error) {
	if err := b.usable(ctx); err != nil {
		return nil, err
	}
	j, err := scanJob(b.pool.QueryRow(ctx, b.q(`SELECT `+jobCols+` FROM {s}.jobs WHERE queue = $1 AND id = $2`), p.Queue, p.ID))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, backend.ErrJobNotFound
	}
	return j, b.fail(ctx, err)
}

// listOrder is the order JobList returns each state in.
var listOrder = map[backend.State]string{
	backend.StateWaiting:         "ord",
	backend.StatePaused:          "ord",
	backend.StatePrioritized:     "priority, ord",
	backend.StateDelayed:         "due_at, ord",
	backend.StateWaitingChildren: "ord",
	backend.StateActive:          "processed_at, ord",
	backend.StateCompleted:       "ord DESC",
	backend.StateFailed:          "ord DESC",
}

// JobList implements backend.Backend.
func (b *Backend) JobList(ctx context.Context, p *backend.JobListParams) ([]*backend.Job, error) {
	if err := b.usable(ctx); err != nil {
		return nil, err
	}
	order, ok := listOrder[p.State]
	if !ok {
		return nil, fmt.Errorf("fila/postgres: list jobs of %q: unknown state %q", p.Queue, p.State)
	}
	limit := p.Limit
	if limit <= 0 {
		limit = 100
	}
	rows, err := b.pool.Query(ctx, b.q(`SELECT `+jobCols+` FROM {s}.jobs WHERE queue = $1 AND state = ANY($2) ORDER BY `+order+` OFFSET $3 LIMIT $4`),
		p.Queue, storedStates(p.State), max(p.Offset, 0), limit)
	if err != nil {
		return nil, b.fail(ctx, err)
	}
	jobs, err := scanJobs(rows)
	return jobs, b.fail(ctx, err)
}

// exists returns ErrJobNotFound unless the job exists (locking it for the
// rest of tx) and returns its state.
func (b *Backend) exists(ctx context.Context, tx pgx.Tx, queue, id string) (backend.State, error) {
	var state string
	err := tx.QueryRow(ctx, b.q(`SELECT state FROM {s}.jobs WHERE queue = $1 AND id = $2 FOR UPDATE`), queue, id).Scan(&state)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", backend.ErrJobNotFound
	}
	return visibleState(state), err
}

// JobUpdateProgress implements backend.Backend.
func (b *Backend) JobUpdateProgress(ctx context.Context, p *backend.JobUpdateProgressParams) error {
	return b.inTx(ctx, func(tx pgx.Tx) error {
		var id string
		err := tx.QueryRow(ctx, b.q(`
			WITH upd AS (UPDATE {s}.jobs SET progress = $3::bytea WHERE queue = $1 AND id = $2 RETURNING id)
			INSERT INTO {s}.events (queue, type, job_id, data) SELECT $1, 'progress', id, $3::bytea FROM upd RETURNING job_id`),
			p.Queue, p.ID, p.Progress).Scan(&id)
		if errors.Is(err, pgx.ErrNoRows) {
			return backend.ErrJobNotFound
		}
		return err
	})
}

// JobLogAdd implements backend.Backend.
func (b *Backend) JobLogAdd(ctx context.Context, p *backend.JobLogAddParams) (int, error) {
	var n int
	err := b.inTx(ctx, func(tx pgx.Tx) error {
		if _, err := b.exists(ctx, tx, p.Queue, p.ID); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, b.q(`INSERT INTO {s}.logs (queue, job_id, line) VALUES ($1, $2, $3)`), p.Queue, p.ID, p.Line); err != nil {
			return err
		}
		if p.Keep > 0 {
			if _, err := tx.Exec(ctx, b.q(`DELETE FROM {s}.logs WHERE queue = $1 AND job_id = $2 AND n IN (
				SELECT n FROM {s}.logs WHERE queue = $1 AND job_id = $2 ORDER BY n DESC OFFSET $3)`), p.Queue, p.ID, p.Keep); err != nil {
				return err
			}
		}
		return tx.QueryRow(ctx, b.q(`SELECT count(*) FROM {s}.logs WHERE queue = $1 AND job_id = $2`), p.Queue, p.ID).Scan(&n)
	})
	return n, err
}

// JobLogs implements backend.Backend.
func (b *Backend) JobLogs(ctx context.Context, p *backend.JobLogsParams) ([]string, int, error) {
	var lines []string
	var total int
	err := b.inTx(ctx, func(tx pgx.Tx) error {
		if _, err := b.exists(ctx, tx, p.Queue, p.ID); err != nil {
			return err
		}
		if err := tx.QueryRow(ctx, b.q(`SELECT count(*) FROM {s}.logs WHERE queue = $1 AND job_id = $2`), p.Queue, p.ID).Scan(&total); err != nil {
			return err
		}
		var limit *int
		if p.Limit > 0 {
			limit = &p.Limit
		}
		rows, err := tx.Query(ctx, b.q(`SELECT line FROM {s}.logs WHERE queue = $1 AND job_id = $2 ORDER BY n OFFSET $3 LIMIT $4`),
			p.Queue, p.ID, max(p.Offset, 0), limit)
		if err != nil {
			return err
		}
		lines, err = pgx.CollectRows(rows, pgx.RowTo[string])
		return err
	})
	return lines, total, err
}

// JobRemove implements backend.Backend.
func (b *Backend) JobRemove(ctx context.Context, p *backend.JobRemoveParams) error {
	return b.inTx(ctx, func(tx pgx.Tx) error {
		state, err := b.exists(ctx, tx, p.Queue, p.ID)
		if err != nil {
			return err
		}
		if state == backend.StateActive {
			return fmt.Errorf("fila/postgres: remove job %q of %q: %w", p.ID, p.Queue, backend.ErrJobActive)
		}
		var flow bool // a flow's child (its parent may be ready) or parent (its children are removed), in any queue
		err = tx.QueryRow(ctx, b.q(`DELETE FROM {s}.jobs WHERE queue = $1 AND id = $2 RETURNING flow_parent IS NOT NULL OR flow_kids > 0`),
			p.Queue, p.ID).Scan(&flow)
		if err != nil {
			return err
		}
		_, err = tx.Exec(ctx, b.q(`INSERT INTO {s}.events (queue, type, job_id) VALUES ($1, 'removed', $2)`), p.Queue, p.ID)
		if err != nil {
			return err
		}
		if flow {
			if err := b.flowWoke(ctx, tx); err != nil {
				return err
			}
		}
		return b.ready(tx, p.Queue) // a group's next job may be ready
	})
}

// requeueSQL returns finished jobs to ready with their attempts reset.
const requeueSet = `state = ` + readyState + `, ord = nextval('{s}.job_ord'), attempts_made = 0, attempts_started = 0,
	stalled_count = 0, failed_reason = '', stacktrace = NULL, return_value = NULL, finished_at = NULL, processed_at = NULL, due_at = NULL, cancel_token = NULL`

// JobRetry implements backend.Backend.
func (b *Backend) JobRetry(ctx context.Context, p *backend.JobRetryParams) error {
	return b.inTx(ctx, func(tx pgx.Tx) error {
		state, err := b.exists(ctx, tx, p.Queue, p.ID)
		if err != nil {
			return err
		}
		if state != backend.StateFailed && state != backend.StateCompleted {
			return &backend.StateError{JobID: p.ID, State: state, Want: []backend.State{backend.StateFailed, backend.StateCompleted}}
		}
		if _, err := tx.Exec(ctx, b.q(`UPDATE {s}.jobs j SET `+requeueSet+` WHERE queue = $1 AND id = $2`), p.Queue, p.ID); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, b.q(`INSERT INTO {s}.events (queue, type, job_id) VALUES ($1, 'waiting', $2)`), p.Queue, p.ID); err != nil {
			return err
		}
		return b.ready(tx, p.Queue)
	})
}

// JobPromote implements backend.Backend.
func (b *Backend) JobPromote(ctx context.Context, p *backend.JobPromoteParams) error {
	return b.inTx(ctx, func(tx pgx.Tx) error {
		state, err := b.exists(ctx, tx, p.Queue, p.ID)
		if err != nil {
			return err
		}
		if state != backend.StateDelayed {
			return &backend.StateError{JobID: p.ID, State: state, Want: []backend.State{backend.StateDelayed}}
		}
		if _, err := tx.Exec(ctx, b.q(`UPDATE {s}.jobs j SET state = `+readyState+`, ord = nextval('{s}.job_ord'), due_at = NULL
			WHERE queue = $1 AND id = $2`), p.Queue, p.ID); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, b.q(`INSERT INTO {s}.events (queue, type, job_id) VALUES ($1, 'promoted', $2)`), p.Queue, p.ID); err != nil {
			return err
		}
		return b.ready(tx, p.Queue)
	})
}
