package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/fila-go/fila/backend"
)

var _ backend.Flows = (*Backend)(nil)

// Flows. A parent waits in state waiting-children; each child carries its
// parent (jobs.flow_parent) and a row in flow_links. The triggers of
// migration 003 apply a child's final outcome (a completion, or a failure
// with no retry left, whichever call made it: a worker's, CompleteTx, a
// cancel, a stalled check) to its parent in the same transaction, and
// handle removals; they fire only for flow jobs.

// flowParentSQL adds a node that has children, waiting for them.
const flowParentSQL = `
WITH t AS (SELECT clock_timestamp() AS now),
qu AS (
	INSERT INTO {s}.queues (name, listed)
	SELECT $1, true WHERE NOT EXISTS (SELECT 1 FROM {s}.queues WHERE name = $1 AND listed)
	ON CONFLICT (name) DO UPDATE SET listed = true),
ins AS (
	INSERT INTO {s}.jobs (queue, id, name, data, options, state, priority, ord, added_at, flow_parent, flow_kids)
	SELECT $1, CASE WHEN $2::text = '' THEN nextval('{s}.job_ids')::text ELSE $2::text END, $3, $4::bytea, $5::jsonb,
		'waiting-children', $6::int, nextval('{s}.job_ord'), t.now, $7, $8
	FROM t
	ON CONFLICT (queue, id) DO NOTHING
	RETURNING id, added_at),
ev AS (INSERT INTO {s}.events (queue, type, job_id, at, data) SELECT $1, 'added', id, added_at, convert_to('waiting-children', 'UTF8') FROM ins)
SELECT id, added_at FROM ins`

// FlowAdd implements backend.Flows.
func (b *Backend) FlowAdd(ctx context.Context, p *backend.FlowAddParams) ([]backend.JobAddResult, error) {
	if err := backend.CheckFlow(p.Queue, &p.Root); err != nil {
		return nil, err
	}
	if err := backend.OneQueue(&p.Root, "this version of the postgres backend links jobs of one queue only"); err != nil {
		return nil, err
	}
	var out []backend.JobAddResult
	err := b.inTx(ctx, func(tx pgx.Tx) error {
		out = nil
		if err := b.flowFree(ctx, tx, p.Queue, []backend.FlowNode{p.Root}); err != nil {
			return err
		}
		_, err := b.flowAdd(ctx, tx, p.Queue, &p.Root, nil, &out)
		if err != nil {
			return err
		}
		return b.ready(tx, p.Queue)
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// flowFree refuses trees whose IDs exist, or whose grouped leaves would
// overfill their group, before anything is stored.
func (b *Backend) flowFree(ctx context.Context, tx pgx.Tx, queue string, nodes []backend.FlowNode) error {
	var ids []string
	leaves := map[string]int{}
	var walk func(f *backend.FlowNode)
	walk = func(f *backend.FlowNode) {
		if f.Job.ID != "" {
			ids = append(ids, f.Job.ID)
		}
		if g := f.Job.Options.Group; g != "" && len(f.Children) == 0 {
			leaves[g]++
		}
		for i := range f.Children {
			walk(&f.Children[i])
		}
	}
	for i := range nodes {
		walk(&nodes[i])
	}
	var taken *string
	if err := tx.QueryRow(ctx, b.q(`SELECT min(id) FROM {s}.jobs WHERE queue = $1 AND id = ANY($2::text[])`), queue, ids).Scan(&taken); err != nil {
		return err
	}
	if taken != nil {
		return fmt.Errorf("fila/postgres: flow in %q: %w: job ID %q exists", queue, backend.ErrInvalidFlow, *taken)
	}
	for g, n := range leaves {
		var full bool
		if err := tx.QueryRow(ctx, b.q(`
			SELECT group_max_size > 0 AND group_max_size < $3 + (SELECT count(*) FROM {s}.jobs
				WHERE queue = $1 AND grp = $2 AND state IN ('waiting', 'paused', 'gwaiting', 'gpaused'))
			FROM {s}.queues WHERE name = $1`), queue, g, n).Scan(&full); err != nil && !errors.Is(err, pgx.ErrNoRows) {
			return err
		}
		if full {
			return fmt.Errorf("fila/postgres: flow in %q: %w: group %q is full", queue, backend.ErrInvalidFlow, g)
		}
	}
	return nil
}

// flowAdd stores node f under parent (nil for a root), then its children,
// appending results depth-first, and returns f's ID.
func (b *Backend) flowAdd(ctx context.Context, tx pgx.Tx, queue string, f *backend.FlowNode, parent *string, out *[]backend.JobAddResult) (string, error) {
	var r backend.JobAddResult
	if len(f.Children) == 0 {
		res, err := b.add(ctx, tx, queue, []backend.JobAddItem{f.Job})
		if err != nil {
			return "", err
		}
		if r = res[0]; r.Status != backend.AddCreated {
			return "", fmt.Errorf("fila/postgres: flow in %q: %w: job %q not stored (status %v)", queue, backend.ErrInvalidFlow, f.Job.Name, r.Status)
		}
		if parent != nil {
			if _, err := tx.Exec(ctx, b.q(`UPDATE {s}.jobs SET flow_parent = $3 WHERE queue = $1 AND id = $2`), queue, r.ID, *parent); err != nil {
				return "", err
			}
		}
	} else {
		args, err := addArgs(queue, &f.Job)
		if err != nil {
			return "", err
		}
		err = tx.QueryRow(ctx, b.q(flowParentSQL), args[0], args[1], args[2], args[3], args[4], args[5], parent, len(f.Children)).
			Scan(&r.ID, &r.AddedAt)
		if errors.Is(err, pgx.ErrNoRows) {
			return "", fmt.Errorf("fila/postgres: flow in %q: %w: job ID %q exists", queue, backend.ErrInvalidFlow, f.Job.ID)
		}
		if err != nil {
			return "", err
		}
		r.Status, r.State = backend.AddCreated, backend.StateWaitingChildren
	}
	if parent != nil {
		if _, err := tx.Exec(ctx, b.q(`INSERT INTO {s}.flow_links (queue, child, parent, policy) VALUES ($1, $2, $3, $4)`),
			queue, r.ID, *parent, string(f.OnFailure)); err != nil {
			return "", err
		}
	}
	*out = append(*out, r)
	id := r.ID
	for i := range f.Children {
		if _, err := b.flowAdd(ctx, tx, queue, &f.Children[i], &id, out); err != nil {
			return "", err
		}
	}
	return id, nil
}

// FlowChildren implements backend.Flows.
func (b *Backend) FlowChildren(ctx context.Context, p *backend.JobGetParams) (*backend.FlowChildren, error) {
	var out *backend.FlowChildren
	err := b.inTx(ctx, func(tx pgx.Tx) error {
		out = &backend.FlowChildren{Values: map[string][]byte{}, Failed: map[string]string{}}
		var one int
		err := tx.QueryRow(ctx, b.q(`SELECT 1 FROM {s}.jobs WHERE queue = $1 AND id = $2`), p.Queue, p.ID).Scan(&one)
		if errors.Is(err, pgx.ErrNoRows) {
			return backend.ErrJobNotFound
		}
		if err != nil {
			return err
		}
		rows, err := tx.Query(ctx, b.q(`SELECT child, kind, value, reason FROM {s}.flow_links WHERE queue = $1 AND parent = $2`), p.Queue, p.ID)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var child string
			var kind, reason *string
			var value []byte
			if err := rows.Scan(&child, &kind, &value, &reason); err != nil {
				return err
			}
			out.Total++
			switch {
			case kind == nil:
				out.Pending++
			case *kind == "value":
				out.Values[child] = value
			case *kind == "failed" && reason != nil:
				out.Failed[child] = *reason
			}
		}
		return rows.Err()
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// FlowWaitChildren implements backend.Flows.
func (b *Backend) FlowWaitChildren(ctx context.Context, p *backend.FlowWaitChildrenParams) ([]backend.JobAddResult, error) {
	if len(p.Children) == 0 {
		return nil, fmt.Errorf("fila/postgres: job %q of %q: %w: no children", p.ID, p.Queue, backend.ErrInvalidFlow)
	}
	root := backend.FlowNode{Queue: p.Queue, Children: p.Children}
	if err := backend.CheckFlow(p.Queue, &root); err != nil {
		return nil, err
	}
	if err := backend.OneQueue(&root, "this version of the postgres backend links jobs of one queue only"); err != nil {
		return nil, err
	}
	var out []backend.JobAddResult
	err := b.inTx(ctx, func(tx pgx.Tx) error {
		out = nil
		tag, err := tx.Exec(ctx, b.q(`
			UPDATE {s}.jobs j SET state = 'waiting-children', token = NULL, lock_until = NULL, flow_kids = j.flow_kids + $4
			WHERE `+held), p.Queue, p.ID, p.Token, len(p.Children))
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return b.lockLost(ctx, tx, p.Queue, p.ID)
		}
		if err := b.flowFree(ctx, tx, p.Queue, p.Children); err != nil {
			return err
		}
		id := p.ID
		for i := range p.Children {
			if _, err := b.flowAdd(ctx, tx, p.Queue, &p.Children[i], &id, &out); err != nil {
				return err
			}
		}
		if _, err := tx.Exec(ctx, b.q(`INSERT INTO {s}.events (queue, type, job_id, data) VALUES ($1, 'waiting', $2, convert_to('waiting-children', 'UTF8'))`),
			p.Queue, p.ID); err != nil {
			return err
		}
		return b.ready(tx, p.Queue)
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// FlowsSpanQueues implements backend.FlowsAcrossQueues: not in this
// version.
func (b *Backend) FlowsSpanQueues() bool { return false }
