package postgres

import (
	"context"
	"encoding/json"
	"errors"

	"github.com/jackc/pgx/v5"

	"github.com/fila-go/fila/backend"
)

var _ backend.Cancellers = (*Backend)(nil)

// cancelSQL fails job $2 with the reason $3: attempts count the running
// attempt of an active job, whose token is kept in cancel_token (so
// JobCancelled can answer) while its lock is revoked.
const cancelSQL = `
WITH t AS (SELECT clock_timestamp() AS now),
upd AS (
	UPDATE {s}.jobs j SET state = 'failed', failed_reason = $3, finished_at = t.now, due_at = NULL,
		attempts_made = j.attempts_made + CASE WHEN j.state = 'active' THEN 1 ELSE 0 END,
		cancel_token = CASE WHEN j.state = 'active' THEN j.token END,
		token = NULL, lock_until = NULL, stall_marked = false, ord = nextval('{s}.job_ord')
	FROM t WHERE j.queue = $1 AND j.id = $2
	RETURNING j.id, t.now AS at),
ev AS (INSERT INTO {s}.events (queue, type, job_id, at, data) SELECT $1, 'failed', id, at, convert_to($3, 'UTF8') FROM upd),
m AS (INSERT INTO {s}.metrics (queue, minute, failed) SELECT $1, date_trunc('minute', at), 1 FROM upd)
SELECT count(*) FROM upd`

// JobCancel implements backend.Cancellers.
func (b *Backend) JobCancel(ctx context.Context, p *backend.JobCancelParams) (backend.State, error) {
	var was backend.State
	err := b.inTx(ctx, func(tx pgx.Tx) error {
		var state string
		var opts []byte
		var child bool // a flow's child: its failure may release or fail its parent, in any queue
		err := tx.QueryRow(ctx, b.q(`SELECT state, options, flow_parent IS NOT NULL FROM {s}.jobs WHERE queue = $1 AND id = $2 FOR UPDATE`), p.Queue, p.ID).
			Scan(&state, &opts, &child)
		if errors.Is(err, pgx.ErrNoRows) {
			return backend.ErrJobNotFound
		}
		if err != nil {
			return err
		}
		was = visibleState(state)
		if was == backend.StateCompleted || was == backend.StateFailed {
			return &backend.StateError{JobID: p.ID, State: was, Want: []backend.State{
				backend.StateWaiting, backend.StatePrioritized, backend.StatePaused, backend.StateDelayed, backend.StateActive,
			}}
		}
		var o backend.JobOptions
		if err := json.Unmarshal(opts, &o); err != nil {
			return &backend.CorruptJobError{JobID: p.ID, Reason: "options: " + err.Error()}
		}
		r := o.RemoveOnFail
		if remove, _, _ := r.Limits(true); remove && was == backend.StateActive {
			r = backend.Retention{} // kept, so JobCancelled can answer
		}
		var n int
		if err := tx.QueryRow(ctx, b.q(cancelSQL), p.Queue, p.ID, backend.CancelledReason).Scan(&n); err != nil {
			return err
		}
		if err := b.retain(ctx, tx, p.Queue, p.ID, backend.StateFailed, r); err != nil {
			return err
		}
		if child {
			if err := b.flowWoke(ctx, tx); err != nil {
				return err
			}
		}
		return b.ready(tx, p.Queue) // a group's next job may be ready
	})
	if err != nil {
		return "", err
	}
	return was, nil
}

// JobCancelled implements backend.Cancellers.
func (b *Backend) JobCancelled(ctx context.Context, p *backend.JobCancelledParams) ([]string, error) {
	if err := b.usable(ctx); err != nil {
		return nil, err
	}
	if len(p.Locks) == 0 {
		return nil, nil
	}
	ids := make([]string, len(p.Locks))
	for i, l := range p.Locks {
		ids[i] = l.ID
	}
	rows, err := b.pool.Query(ctx, b.q(`SELECT id, cancel_token FROM {s}.jobs
		WHERE queue = $1 AND id = ANY($2::text[]) AND state = 'failed' AND cancel_token IS NOT NULL`), p.Queue, ids)
	if err != nil {
		return nil, b.fail(ctx, err)
	}
	revoked := map[string]string{}
	for rows.Next() {
		var id, tok string
		if err := rows.Scan(&id, &tok); err != nil {
			rows.Close()
			return nil, b.fail(ctx, err)
		}
		revoked[id] = tok
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, b.fail(ctx, err)
	}
	var out []string
	seen := map[string]bool{}
	for _, l := range p.Locks {
		if tok, ok := revoked[l.ID]; ok && tok == l.Token && !seen[l.ID] {
			seen[l.ID] = true
			out = append(out, l.ID)
		}
	}
	return out, nil
}
