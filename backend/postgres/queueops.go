package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/fila-go/fila/backend"
)

// QueueCounts implements backend.Backend.
func (b *Backend) QueueCounts(ctx context.Context, p *backend.QueueParams) (*backend.Counts, error) {
	if err := b.usable(ctx); err != nil {
		return nil, err
	}
	rows, err := b.pool.Query(ctx, b.q(`SELECT state, count(*) FROM {s}.jobs WHERE queue = $1 GROUP BY state`), p.Queue)
	if err != nil {
		return nil, b.fail(ctx, err)
	}
	defer rows.Close()
	c := &backend.Counts{}
	for rows.Next() {
		var state string
		var n int64
		if err := rows.Scan(&state, &n); err != nil {
			return nil, b.fail(ctx, err)
		}
		switch visibleState(state) {
		case backend.StateWaiting:
			c.Waiting += n
		case backend.StatePrioritized:
			c.Prioritized = n
		case backend.StatePaused:
			c.Paused += n
		case backend.StateDelayed:
			c.Delayed = n
		case backend.StateWaitingChildren:
			c.WaitingChildren = n
		case backend.StateActive:
			c.Active = n
		case backend.StateCompleted:
			c.Completed = n
		case backend.StateFailed:
			c.Failed = n
		}
	}
	return c, b.fail(ctx, rows.Err())
}

// QueueInfo implements backend.Backend.
func (b *Backend) QueueInfo(ctx context.Context, p *backend.QueueParams) (*backend.QueueInfo, error) {
	if err := b.usable(ctx); err != nil {
		return nil, err
	}
	var info backend.QueueInfo
	var limited float64
	err := b.pool.QueryRow(ctx, b.q(`
		SELECT coalesce(bool_or(paused), false),
			coalesce(max(extract(epoch FROM rate_limited_until - clock_timestamp()) * 1000), 0)::float8
		FROM {s}.queues WHERE name = $1`), p.Queue).Scan(&info.Paused, &limited)
	if err != nil {
		return nil, b.fail(ctx, err)
	}
	info.RateLimitedFor = max(durMS(limited), 0)
	return &info, nil
}

// QueueList implements backend.Backend.
func (b *Backend) QueueList(ctx context.Context) ([]string, error) {
	if err := b.usable(ctx); err != nil {
		return nil, err
	}
	rows, err := b.pool.Query(ctx, b.q(`SELECT name FROM {s}.queues WHERE listed ORDER BY name COLLATE "C"`))
	if err != nil {
		return nil, b.fail(ctx, err)
	}
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	return names, b.fail(ctx, err)
}

// QueuePause implements backend.Backend. Pausing moves waiting jobs to
// paused (prioritized ones stay, unclaimable); resuming moves them back and
// wakes blocked claims.
func (b *Backend) QueuePause(ctx context.Context, p *backend.QueuePauseParams) error {
	return b.inTx(ctx, func(tx pgx.Tx) error {
		var changed bool
		err := tx.QueryRow(ctx, b.q(`
			WITH old AS (SELECT paused FROM {s}.queues WHERE name = $1 FOR UPDATE),
			up AS (INSERT INTO {s}.queues (name, paused) VALUES ($1, $2) ON CONFLICT (name) DO UPDATE SET paused = $2)
			SELECT coalesce((SELECT paused FROM old), false) <> $2`), p.Queue, p.Paused).Scan(&changed)
		if err != nil || !changed {
			return err
		}
		from, to, ev := backend.StateWaiting, backend.StatePaused, backend.EventPaused
		if !p.Paused {
			from, to, ev = to, from, backend.EventResumed
		}
		// Grouped jobs waiting in their group (gwaiting) pause too (gpaused).
		if _, err := tx.Exec(ctx, b.q(`UPDATE {s}.jobs SET state = CASE state WHEN $2 THEN $3 ELSE 'g' || $3 END
			WHERE queue = $1 AND state IN ($2, 'g' || $2)`), p.Queue, string(from), string(to)); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, b.q(`INSERT INTO {s}.events (queue, type, job_id) VALUES ($1, $2, '')`), p.Queue, string(ev)); err != nil {
			return err
		}
		return b.ready(tx, p.Queue)
	})
}

// QueueRateLimit implements backend.Backend.
func (b *Backend) QueueRateLimit(ctx context.Context, p *backend.QueueRateLimitParams) error {
	if err := b.usable(ctx); err != nil {
		return err
	}
	_, err := b.pool.Exec(ctx, b.q(`
		INSERT INTO {s}.queues (name, rate_limited_until) VALUES ($1, clock_timestamp() + $2::float8 * interval '1 millisecond')
		ON CONFLICT (name) DO UPDATE SET rate_limited_until = EXCLUDED.rate_limited_until`), p.Queue, ms(p.For))
	return b.fail(ctx, err)
}

// QueueDrain implements backend.Backend.
func (b *Backend) QueueDrain(ctx context.Context, p *backend.QueueDrainParams) (int, error) {
	if err := b.usable(ctx); err != nil {
		return 0, err
	}
	// A flow parent waiting for children has not started either; its
	// deletion takes its unfinished children with it (the flow_deleted
	// trigger, as for JobRemove), and a drained child's parent stops
	// waiting for it.
	states := []string{"waiting", "prioritized", "paused", "gwaiting", "gpaused", "waiting-children"}
	if p.Delayed {
		states = append(states, "delayed")
	}
	var n int
	err := b.withWoken(ctx, func(batch *pgx.Batch) {
		batch.Queue(b.q(`DELETE FROM {s}.jobs WHERE queue = $1 AND state = ANY($2)`), p.Queue, states)
	}, func(br pgx.BatchResults) error {
		tag, err := br.Exec()
		n = int(tag.RowsAffected())
		return err
	})
	return n, b.fail(ctx, err)
}

// withWoken runs the statements queue adds to a batch, and reads their
// results with read, in one round trip and one implicit transaction, and
// then what the flow triggers made ready (a removed child may release its
// parent, in any queue); it signals those queues once the batch
// committed.
func (b *Backend) withWoken(ctx context.Context, queue func(*pgx.Batch), read func(pgx.BatchResults) error) error {
	batch := &pgx.Batch{}
	queue(batch)
	batch.Queue(`SELECT ` + flowWoken)
	br := b.pool.SendBatch(ctx, batch)
	err := read(br)
	var woken []string
	if err == nil {
		woken, err = scanWoken(br.QueryRow())
	}
	if cerr := br.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	for _, q := range woken {
		b.notify.signal(q)
	}
	return nil
}

// QueueClean implements backend.Backend: oldest first, by finish time for
// finished jobs and add time otherwise.
func (b *Backend) QueueClean(ctx context.Context, p *backend.QueueCleanParams) ([]string, error) {
	if err := b.usable(ctx); err != nil {
		return nil, err
	}
	if !p.State.Valid() || p.State == backend.StateActive {
		return nil, fmt.Errorf("fila/postgres: clean %q: cannot clean state %q", p.Queue, p.State)
	}
	at := "added_at"
	if p.State == backend.StateCompleted || p.State == backend.StateFailed {
		at = "finished_at"
	}
	var limit *int
	if p.Limit > 0 {
		limit = &p.Limit
	}
	var ids []string
	err := b.withWoken(ctx, func(batch *pgx.Batch) {
		batch.Queue(b.q(`
		WITH d AS (
			SELECT id FROM {s}.jobs WHERE queue = $1 AND state = ANY($2) AND `+at+` <= clock_timestamp() - $3::float8 * interval '1 millisecond'
			ORDER BY `+at+`, ord LIMIT $4 FOR UPDATE SKIP LOCKED),
		del AS (DELETE FROM {s}.jobs j USING d WHERE j.queue = $1 AND j.id = d.id RETURNING j.id, j.`+at+` AS at, j.ord)
		SELECT id FROM del ORDER BY at, ord`), p.Queue, storedStates(p.State), ms(p.Age), limit)
	}, func(br pgx.BatchResults) error {
		rows, err := br.Query()
		if err != nil {
			return err
		}
		ids, err = pgx.CollectRows(rows, pgx.RowTo[string])
		return err
	})
	if err != nil {
		return nil, b.fail(ctx, err)
	}
	return ids, nil
}

// QueueRetryJobs implements backend.Backend: the oldest finished first.
func (b *Backend) QueueRetryJobs(ctx context.Context, p *backend.QueueRetryJobsParams) (int, error) {
	if p.State != backend.StateFailed && p.State != backend.StateCompleted {
		return 0, fmt.Errorf("fila/postgres: retry jobs of %q: state must be failed or completed, not %q", p.Queue, p.State)
	}
	limit := p.Limit
	if limit <= 0 {
		limit = 1000
	}
	var n int
	err := b.inTx(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, b.q(`
			WITH r AS (SELECT id FROM {s}.jobs WHERE queue = $1 AND state = $2 ORDER BY ord LIMIT $3 FOR UPDATE SKIP LOCKED)
			UPDATE {s}.jobs j SET `+requeueSet+` FROM r WHERE j.queue = $1 AND j.id = r.id`), p.Queue, string(p.State), limit)
		if err != nil {
			return err
		}
		n = int(tag.RowsAffected())
		return b.ready(tx, p.Queue)
	})
	return n, err
}

// QueueObliterate implements backend.Backend. Generated IDs come from one
// sequence for the whole schema, so none is handed out twice.
func (b *Backend) QueueObliterate(ctx context.Context, p *backend.QueueObliterateParams) error {
	return b.inTx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, b.q(`INSERT INTO {s}.queues (name) VALUES ($1) ON CONFLICT (name) DO NOTHING;`), p.Queue); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, b.q(`SELECT 1 FROM {s}.queues WHERE name = $1 FOR UPDATE`), p.Queue); err != nil {
			return err
		}
		if !p.Force {
			var active int
			if err := tx.QueryRow(ctx, b.q(`SELECT count(*) FROM {s}.jobs WHERE queue = $1 AND state = 'active'`), p.Queue).Scan(&active); err != nil {
				return err
			}
			if active > 0 {
				return fmt.Errorf("fila/postgres: obliterate %q: %d active: %w", p.Queue, active, backend.ErrQueueActive)
			}
		}
		for _, sql := range []string{
			`DELETE FROM {s}.jobs WHERE queue = $1`,
			`DELETE FROM {s}.dedup WHERE queue = $1`,
			`DELETE FROM {s}.limiter WHERE queue = $1`,
			`DELETE FROM {s}.metrics WHERE queue = $1`,
			`DELETE FROM {s}.stalled_checks WHERE queue = $1`,
			`DELETE FROM {s}.schedulers WHERE queue = $1`,
			`DELETE FROM {s}.groups WHERE queue = $1`,
			`DELETE FROM {s}.flow_links WHERE queue = $1`,
			`DELETE FROM {s}.flow_links WHERE coalesce(parent_queue, queue) = $1`,
			`DELETE FROM {s}.queues WHERE name = $1`,
		} {
			if _, err := tx.Exec(ctx, b.q(sql), p.Queue); err != nil {
				return err
			}
		}
		return b.flowWoke(ctx, tx) // a removed child may release its parent in another queue
	})
}

// QueueMetrics implements backend.Backend.
func (b *Backend) QueueMetrics(ctx context.Context, p *backend.QueueMetricsParams) (*backend.Metrics, error) {
	if err := b.usable(ctx); err != nil {
		return nil, err
	}
	n := p.Minutes
	if n <= 0 || n > b.opts.MetricsHistory {
		n = b.opts.MetricsHistory
	}
	var now time.Time
	if err := b.pool.QueryRow(ctx, `SELECT clock_timestamp()`).Scan(&now); err != nil {
		return nil, b.fail(ctx, err)
	}
	rows, err := b.pool.Query(ctx, b.q(`
		SELECT (extract(epoch FROM date_trunc('minute', $2::timestamptz) - minute) / 60)::int AS ago, sum(completed), sum(failed)
		FROM {s}.metrics WHERE queue = $1 AND minute > date_trunc('minute', $2::timestamptz) - $3::int * interval '1 minute'
		GROUP BY minute`), p.Queue, now, n)
	if err != nil {
		return nil, b.fail(ctx, err)
	}
	defer rows.Close()
	m := &backend.Metrics{At: now, Completed: make([]int64, n), Failed: make([]int64, n)}
	for rows.Next() {
		var ago int
		var c, f int64
		if err := rows.Scan(&ago, &c, &f); err != nil {
			return nil, b.fail(ctx, err)
		}
		if ago >= 0 && ago < n {
			m.Completed[ago], m.Failed[ago] = c, f
		}
	}
	return m, b.fail(ctx, rows.Err())
}
