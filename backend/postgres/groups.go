package postgres

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/fila-go/fila/backend"
)

var _ backend.Groups = (*Backend)(nil)

// Job groups. A grouped job waits in its group (stored state gwaiting,
// shown as waiting) except for one: the group's place in the queue's
// waiting line, a job in state waiting with the line's order key of when
// the group took its place. A claim takes it like any job (claimSQL is
// unchanged), and the triggers of migration 003 keep the rest: when the
// group's place is taken, a slot frees or a job comes to the front of the
// group, group_sync puts the group's front job at the far end of the line
// if the group can run another (round-robin); a group limited by its Rate
// or a GroupRateLimit records when it is due back (groups.wake_at), which
// every claim's promotion (promoteSQL) looks at and a blocked claim waits
// for. The triggers fire only for grouped jobs, so an ungrouped job pays
// for none of it.

// GroupOptionsSet implements backend.Groups. A raised concurrency frees
// slots at once: every group with waiting jobs is synced.
func (b *Backend) GroupOptionsSet(ctx context.Context, p *backend.GroupOptionsParams) error {
	o := p.Options
	return b.inTx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, b.q(`
			INSERT INTO {s}.queues (name, group_concurrency, group_max_size, group_rate_max, group_rate_per_ms)
			VALUES ($1, $2, $3, $4, $5)
			ON CONFLICT (name) DO UPDATE SET group_concurrency = EXCLUDED.group_concurrency, group_max_size = EXCLUDED.group_max_size,
				group_rate_max = EXCLUDED.group_rate_max, group_rate_per_ms = EXCLUDED.group_rate_per_ms`),
			p.Queue, max(o.Concurrency, 1), max(o.MaxSize, 0), max(o.Rate.Max, 0), ms(max(o.Rate.Per, 0))); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, b.q(`SELECT {s}.group_sync($1, g.name) FROM (
			SELECT DISTINCT grp AS name FROM {s}.jobs WHERE queue = $1 AND grp IS NOT NULL AND state IN ('gwaiting', 'gpaused')
			ORDER BY 1) g`), p.Queue); err != nil {
			return err
		}
		return b.ready(tx, p.Queue)
	})
}

// GroupOptionsGet implements backend.Groups.
func (b *Backend) GroupOptionsGet(ctx context.Context, p *backend.QueueParams) (*backend.GroupOptions, error) {
	if err := b.usable(ctx); err != nil {
		return nil, err
	}
	o := &backend.GroupOptions{Concurrency: 1}
	var per float64
	err := b.pool.QueryRow(ctx, b.q(`SELECT group_concurrency, group_max_size, group_rate_max, group_rate_per_ms FROM {s}.queues WHERE name = $1`),
		p.Queue).Scan(&o.Concurrency, &o.MaxSize, &o.Rate.Max, &per)
	if errors.Is(err, pgx.ErrNoRows) {
		return o, nil
	}
	if err != nil {
		return nil, b.fail(ctx, err)
	}
	o.Rate.Per = durMS(per).Round(time.Microsecond)
	return o, nil
}

// groupCountsSQL returns the counts of the groups named in $2 (every group
// of the queue when NULL).
const groupCountsSQL = `
SELECT g.name,
	(SELECT count(*) FROM {s}.jobs j WHERE j.queue = g.queue AND j.grp = g.name AND j.state IN ('waiting', 'paused', 'gwaiting', 'gpaused')),
	(SELECT count(*) FROM {s}.jobs j WHERE j.queue = g.queue AND j.grp = g.name AND (j.state = 'active' OR j.gslot)),
	coalesce(greatest(extract(epoch FROM g.until - clock_timestamp()) * 1000, 0), 0)::float8,
	g.paused
FROM {s}.groups g WHERE g.queue = $1 AND ($2::text IS NULL OR g.name = $2)`

func scanGroup(row pgx.Row) (backend.GroupInfo, error) {
	var gi backend.GroupInfo
	var limited float64
	err := row.Scan(&gi.Group, &gi.Waiting, &gi.Active, &limited, &gi.Paused)
	gi.LimitedFor = durMS(limited)
	return gi, err
}

// GroupCounts implements backend.Groups.
func (b *Backend) GroupCounts(ctx context.Context, p *backend.GroupParams) (*backend.GroupCounts, error) {
	if err := b.usable(ctx); err != nil {
		return nil, err
	}
	gi, err := scanGroup(b.pool.QueryRow(ctx, b.q(groupCountsSQL), p.Queue, p.Group))
	if errors.Is(err, pgx.ErrNoRows) {
		return &backend.GroupCounts{}, nil
	}
	if err != nil {
		return nil, b.fail(ctx, err)
	}
	return &gi.GroupCounts, nil
}

// GroupRateLimit implements backend.Groups: the group's place in the line
// steps back into the group until the limit passes.
func (b *Backend) GroupRateLimit(ctx context.Context, p *backend.GroupRateLimitParams) error {
	return b.inTx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, b.q(`SELECT {s}.group_lock($1, $2)`), p.Queue, p.Group); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, b.q(`
			UPDATE {s}.groups SET until = greatest(until, clock_timestamp() + $3::float8 * interval '1 millisecond')
			WHERE queue = $1 AND name = $2`), p.Queue, p.Group, ms(p.For)); err != nil {
			return err
		}
		if err := b.groupStepBack(ctx, tx, p.Queue, p.Group); err != nil {
			return err
		}
		return b.ready(tx, p.Queue) // blocked claims learn the group's due time
	})
}

// groupStepBack moves the group's place in the line back into the group
// (a job being claimed right now is skipped: it starts) and syncs it.
func (b *Backend) groupStepBack(ctx context.Context, tx pgx.Tx, queue, group string) error {
	if _, err := tx.Exec(ctx, b.q(`
		UPDATE {s}.jobs SET state = 'g' || state WHERE queue = $1 AND id IN (
			SELECT id FROM {s}.jobs WHERE queue = $1 AND grp = $2 AND state IN ('waiting', 'paused') FOR UPDATE SKIP LOCKED)`),
		queue, group); err != nil {
		return err
	}
	_, err := tx.Exec(ctx, b.q(`SELECT {s}.group_sync($1, $2)`), queue, group)
	return err
}

// GroupPause implements backend.Groups.
func (b *Backend) GroupPause(ctx context.Context, p *backend.GroupPauseParams) error {
	return b.inTx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, b.q(`SELECT {s}.group_lock($1, $2)`), p.Queue, p.Group); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, b.q(`UPDATE {s}.groups SET paused = $3 WHERE queue = $1 AND name = $2`), p.Queue, p.Group, p.Paused); err != nil {
			return err
		}
		if err := b.groupStepBack(ctx, tx, p.Queue, p.Group); err != nil {
			return err
		}
		return b.ready(tx, p.Queue)
	})
}

// GroupList implements backend.Groups.
func (b *Backend) GroupList(ctx context.Context, p *backend.GroupListParams) ([]backend.GroupInfo, error) {
	if err := b.usable(ctx); err != nil {
		return nil, err
	}
	limit := p.Limit
	if limit <= 0 {
		limit = 100
	}
	rows, err := b.pool.Query(ctx, b.q(`SELECT * FROM (`+groupCountsSQL+`) c(name, waiting, active, limited, paused)
		WHERE waiting > 0 OR active > 0 OR limited > 0 OR paused
		ORDER BY waiting DESC, name COLLATE "C" LIMIT $3`), p.Queue, nil, limit)
	if err != nil {
		return nil, b.fail(ctx, err)
	}
	defer rows.Close()
	out := []backend.GroupInfo{}
	for rows.Next() {
		gi, err := scanGroup(rows)
		if err != nil {
			return nil, b.fail(ctx, err)
		}
		out = append(out, gi)
	}
	return out, b.fail(ctx, rows.Err())
}

// GroupJobs implements backend.Groups.
func (b *Backend) GroupJobs(ctx context.Context, p *backend.GroupJobsParams) ([]*backend.Job, error) {
	if err := b.usable(ctx); err != nil {
		return nil, err
	}
	limit := p.Limit
	if limit <= 0 {
		limit = 100
	}
	rows, err := b.pool.Query(ctx, b.q(`SELECT `+jobCols+` FROM {s}.jobs
		WHERE queue = $1 AND grp = $2 AND state IN ('waiting', 'paused', 'gwaiting', 'gpaused')
		ORDER BY gord OFFSET $3 LIMIT $4`), p.Queue, p.Group, max(p.Offset, 0), limit)
	if err != nil {
		return nil, b.fail(ctx, err)
	}
	jobs, err := scanJobs(rows)
	if err != nil {
		return nil, b.fail(ctx, err)
	}
	if jobs == nil {
		jobs = []*backend.Job{}
	}
	return jobs, nil
}

// GroupDrain implements backend.Groups: the group's waiting jobs go; its
// active jobs and its retries keeping their slot stay.
func (b *Backend) GroupDrain(ctx context.Context, p *backend.GroupParams) (int, error) {
	var n int
	err := b.inTx(ctx, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, b.q(`
			WITH d AS (DELETE FROM {s}.jobs WHERE queue = $1 AND grp = $2 AND state IN ('waiting', 'paused', 'gwaiting', 'gpaused') RETURNING id)
			INSERT INTO {s}.events (queue, type, job_id) SELECT $1, 'removed', id FROM d RETURNING job_id`), p.Queue, p.Group)
		if err != nil {
			return err
		}
		ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
		n = len(ids)
		if err != nil {
			return err
		}
		return b.flowWoke(ctx, tx) // a drained flow child may release its parent, in any queue
	})
	return n, err
}
