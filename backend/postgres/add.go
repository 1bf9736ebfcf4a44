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

// addSQL adds one job: it lists the queue (locking its row only the first
// time), inserts the job unless its ID exists, and records its event, in
// one statement on one clock reading.
const addSQL = `
WITH t AS (SELECT clock_timestamp() AS now),
qu AS (
	INSERT INTO {s}.queues (name, listed)
	SELECT $1, true WHERE NOT EXISTS (SELECT 1 FROM {s}.queues WHERE name = $1 AND listed)
	ON CONFLICT (name) DO UPDATE SET listed = true
	RETURNING paused),
ins AS (
	INSERT INTO {s}.jobs (queue, id, name, data, options, state, priority, ord, added_at, due_at)
	SELECT $1, CASE WHEN $2::text = '' THEN nextval('{s}.job_ids')::text ELSE $2::text END, $3, $4::bytea, $5::jsonb,
		CASE WHEN $8::float8 > 0 THEN 'delayed'
			WHEN $6::int > 0 THEN 'prioritized'
			WHEN coalesce((SELECT paused FROM qu), (SELECT paused FROM {s}.queues WHERE name = $1), false) THEN 'paused'
			ELSE 'waiting' END,
		$6::int, CASE WHEN $7::bool THEN -nextval('{s}.job_ord') ELSE nextval('{s}.job_ord') END,
		t.now, CASE WHEN $8::float8 > 0 THEN t.now + $8::float8 * interval '1 millisecond' END
	FROM t
	ON CONFLICT (queue, id) DO NOTHING
	RETURNING id, state, added_at, due_at),
ev AS (
	INSERT INTO {s}.events (queue, type, job_id, at, data)
	SELECT $1, CASE WHEN state = 'delayed' THEN 'delayed' ELSE 'added' END, id, added_at,
		CASE WHEN state = 'delayed' THEN convert_to(floor(extract(epoch FROM due_at) * 1000)::bigint::text, 'UTF8') END
	FROM ins)
SELECT id, state, added_at FROM ins`

// dedupSQL claims a dedup ID for a job unless it was claimed within its TTL.
const dedupSQL = `
INSERT INTO {s}.dedup (queue, dedup_id, job_id, expires_at)
VALUES ($1, $2, $3, clock_timestamp() + $4::float8 * interval '1 millisecond')
ON CONFLICT (queue, dedup_id) DO UPDATE SET job_id = EXCLUDED.job_id, expires_at = EXCLUDED.expires_at
	WHERE {s}.dedup.expires_at <= clock_timestamp()
RETURNING job_id`

func addArgs(queue string, it *backend.JobAddItem) ([]any, error) {
	opts, err := json.Marshal(it.Options)
	if err != nil {
		return nil, fmt.Errorf("fila/postgres: encode options: %w", err)
	}
	return []any{queue, it.ID, it.Name, it.Data, opts, it.Options.Priority, it.Options.LIFO, ms(it.Options.Delay)}, nil
}

// JobAdd implements backend.Backend.
func (b *Backend) JobAdd(ctx context.Context, p *backend.JobAddParams) ([]backend.JobAddResult, error) {
	if err := b.usable(ctx); err != nil {
		return nil, err
	}
	if tx := sqlTxFrom(ctx); tx != nil {
		res, err := b.add(ctx, sqlTxQuerier{tx}, p.Queue, p.Jobs)
		if err == nil {
			_, err = tx.ExecContext(ctx, "SELECT pg_notify($1, $2)", b.channel, p.Queue)
		}
		return res, b.fail(ctx, err)
	}
	if tx := txFrom(ctx); tx != nil {
		// Notified inside the caller's transaction: only its commit can tell.
		res, err := b.add(ctx, tx, p.Queue, p.Jobs)
		if err == nil {
			_, err = tx.Exec(ctx, "SELECT pg_notify($1, $2)", b.channel, p.Queue)
		}
		return res, b.fail(ctx, err)
	}
	var res []backend.JobAddResult
	var err error
	for try := 1; ; try++ {
		if hasDedup(p.Jobs) { // the dedup ID and its job land together
			err = pgx.BeginFunc(ctx, b.pool, func(tx pgx.Tx) error {
				res, err = b.add(ctx, tx, p.Queue, p.Jobs)
				return err
			})
		} else {
			res, err = b.add(ctx, b.pool, p.Queue, p.Jobs) // one implicit transaction
		}
		// Grouped adds lock their groups' rows: two adds (or an add and a
		// finish) locking two groups in opposite orders can deadlock, and
		// the one PostgreSQL rolled back runs again.
		if try >= deadlockTries || !isDeadlock(err) || ctx.Err() != nil {
			break
		}
	}
	if err == nil {
		b.notify.signal(p.Queue)
	}
	return res, b.fail(ctx, err)
}

// add adds items to queue through qr: the pool (each call its own implicit
// transaction) or the caller's transaction. Without dedup IDs every job
// goes in one pipelined round trip.
func (b *Backend) add(ctx context.Context, qr rowQuerier, queue string, items []backend.JobAddItem) ([]backend.JobAddResult, error) {
	res := make([]backend.JobAddResult, len(items))
	created := make([]bool, len(items))
	bq, batches := qr.(querier)
	if hasDedup(items) || !batches { // a *sql.Tx (WithSQLTx) has no batch: one statement per job
		for i := range items {
			if err := b.addOne(ctx, qr, queue, &items[i], &res[i], &created[i]); err != nil {
				return nil, err
			}
		}
	} else {
		batch := &pgx.Batch{}
		for i := range items {
			args, err := addArgs(queue, &items[i])
			if err != nil {
				return nil, err
			}
			batch.Queue(b.q(addSQL), args...)
		}
		br := bq.SendBatch(ctx, batch)
		for i := range items {
			if err := scanAdded(br.QueryRow(), &res[i], &created[i]); err != nil {
				br.Close()
				return nil, err
			}
		}
		if err := br.Close(); err != nil {
			return nil, err
		}
	}
	for i := range items {
		if created[i] || res[i].Status == backend.AddDeduplicated {
			continue
		}
		// The ID existed: report that job as it is now.
		id := res[i].ID
		if id == "" {
			id = items[i].ID
		}
		var state string
		err := qr.QueryRow(ctx, b.q(`SELECT state, added_at FROM {s}.jobs WHERE queue = $1 AND id = $2`), queue, id).
			Scan(&state, &res[i].AddedAt)
		if errors.Is(err, pgx.ErrNoRows) && items[i].Options.Group != "" {
			// The group trigger skipped the insert: the group holds MaxSize.
			res[i] = backend.JobAddResult{Status: backend.AddGroupFull}
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("fila/postgres: add job %q to %q: it existed and then vanished: %w", id, queue, err)
		}
		res[i].Status, res[i].ID, res[i].State = backend.AddExists, id, visibleState(state)
	}
	return res, nil
}

// scanAdded reads addSQL's row, if any: none means the ID existed.
func scanAdded(row pgx.Row, r *backend.JobAddResult, created *bool) error {
	var state string
	err := row.Scan(&r.ID, &state, &r.AddedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil
	}
	if err != nil {
		return err
	}
	r.Status, r.State, *created = backend.AddCreated, visibleState(state), true
	return nil
}

// addOne adds one item that may carry a dedup ID.
func (b *Backend) addOne(ctx context.Context, qr rowQuerier, queue string, it *backend.JobAddItem, r *backend.JobAddResult, created *bool) error {
	item := *it
	if item.Dedup != nil {
		if item.ID == "" {
			if err := qr.QueryRow(ctx, b.q(`SELECT nextval('{s}.job_ids')::text`)).Scan(&item.ID); err != nil {
				return err
			}
		}
		var owner string
		err := qr.QueryRow(ctx, b.q(dedupSQL), queue, item.Dedup.ID, item.ID, ms(max(item.Dedup.TTL, time.Millisecond))).Scan(&owner)
		if errors.Is(err, pgx.ErrNoRows) {
			if err := qr.QueryRow(ctx, b.q(`SELECT job_id FROM {s}.dedup WHERE queue = $1 AND dedup_id = $2`), queue, item.Dedup.ID).Scan(&r.ID); err != nil {
				return err
			}
			r.Status = backend.AddDeduplicated
			return nil
		}
		if err != nil {
			return err
		}
	}
	args, err := addArgs(queue, &item)
	if err != nil {
		return err
	}
	if err := scanAdded(qr.QueryRow(ctx, b.q(addSQL), args...), r, created); err != nil {
		return err
	}
	if !*created {
		r.ID = item.ID // for the AddExists look-up
	}
	return nil
}

func hasDedup(items []backend.JobAddItem) bool {
	for i := range items {
		if items[i].Dedup != nil {
			return true
		}
	}
	return false
}
