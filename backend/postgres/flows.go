package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/fila-go/fila/backend"
)

var _ backend.Flows = (*Backend)(nil)

// Flows. A parent waits in state waiting-children; each child carries its
// parent (jobs.flow_parent, and jobs.flow_parent_queue when the parent is
// in another queue) and a row in flow_links. The triggers of migrations
// 003 to 005 apply a child's final outcome (a completion, or a failure
// with no retry left, whichever call made it: a worker's, CompleteTx, a
// cancel, a stalled check) to its parent, in whatever queue, in the same
// transaction, and handle removals; they fire only for flow jobs. A
// trigger that makes a job ready records its queue (flow_wake); the call
// reads the list before it commits (flowWoke) and signals each queue
// after.

// flowParentSQL adds a node that has children, waiting for them.
const flowParentSQL = `
WITH t AS (SELECT clock_timestamp() AS now),
qu AS (
	INSERT INTO {s}.queues (name, listed)
	SELECT $1, true WHERE NOT EXISTS (SELECT 1 FROM {s}.queues WHERE name = $1 AND listed)
	ON CONFLICT (name) DO UPDATE SET listed = true),
ins AS (
	INSERT INTO {s}.jobs (queue, id, name, data, options, state, priority, ord, added_at, flow_parent, flow_parent_queue, flow_kids)
	SELECT $1, CASE WHEN $2::text = '' THEN nextval('{s}.job_ids')::text ELSE $2::text END, $3, $4::bytea, $5::jsonb,
		'waiting-children', $6::int, nextval('{s}.job_ord'), t.now, $7, $8, $9
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
	nodes := []backend.FlowNode{p.Root}
	var out []backend.JobAddResult
	err := b.inTx(ctx, func(tx pgx.Tx) error {
		out = nil
		if err := b.flowFree(ctx, tx, nodes); err != nil {
			return err
		}
		if _, err := b.flowAdd(ctx, tx, &p.Root, nil, &out); err != nil {
			return err
		}
		for _, q := range flowQueues(nodes) {
			if err := b.ready(tx, q); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// flowQueues returns the queues of the trees' nodes, each once.
func flowQueues(nodes []backend.FlowNode) []string {
	seen := map[string]bool{}
	var out []string
	var walk func(f *backend.FlowNode)
	walk = func(f *backend.FlowNode) {
		if !seen[f.Queue] {
			seen[f.Queue] = true
			out = append(out, f.Queue)
		}
		for i := range f.Children {
			walk(&f.Children[i])
		}
	}
	for i := range nodes {
		walk(&nodes[i])
	}
	return out
}

// flowFree refuses checked trees whose IDs exist in their nodes' queues,
// or whose grouped leaves would overfill their group, before anything is
// stored.
func (b *Backend) flowFree(ctx context.Context, tx pgx.Tx, nodes []backend.FlowNode) error {
	var queues, ids []string
	type group struct{ queue, name string }
	leaves := map[group]int{}
	var walk func(f *backend.FlowNode)
	walk = func(f *backend.FlowNode) {
		if f.Job.ID != "" {
			queues, ids = append(queues, f.Queue), append(ids, f.Job.ID)
		}
		if g := f.Job.Options.Group; g != "" && len(f.Children) == 0 {
			leaves[group{f.Queue, g}]++
		}
		for i := range f.Children {
			walk(&f.Children[i])
		}
	}
	for i := range nodes {
		walk(&nodes[i])
	}
	if len(ids) > 0 {
		var queue, id string
		err := tx.QueryRow(ctx, b.q(`SELECT j.queue, j.id FROM {s}.jobs j JOIN unnest($1::text[], $2::text[]) AS n(queue, id)
			ON j.queue = n.queue AND j.id = n.id LIMIT 1`), queues, ids).Scan(&queue, &id)
		if err == nil {
			return fmt.Errorf("fila/postgres: flow: %w: job ID %q exists in queue %q", backend.ErrInvalidFlow, id, queue)
		}
		if !errors.Is(err, pgx.ErrNoRows) {
			return err
		}
	}
	for g, n := range leaves {
		var full bool
		if err := tx.QueryRow(ctx, b.q(`
			SELECT group_max_size > 0 AND group_max_size < $3 + (SELECT count(*) FROM {s}.jobs
				WHERE queue = $1 AND grp = $2 AND state IN ('waiting', 'paused', 'gwaiting', 'gpaused'))
			FROM {s}.queues WHERE name = $1`), g.queue, g.name, n).Scan(&full); err != nil && !errors.Is(err, pgx.ErrNoRows) {
			return err
		}
		if full {
			return fmt.Errorf("fila/postgres: flow: %w: group %q of queue %q is full", backend.ErrInvalidFlow, g.name, g.queue)
		}
	}
	return nil
}

// flowRef names a job of a flow: its queue and ID.
type flowRef struct{ queue, id string }

// parentQueue is what a child of queue child stores as its parent's
// queue: NULL for its own (as rows written before migration 004 say).
func (r *flowRef) parentQueue(child string) *string {
	if r.queue == child {
		return nil
	}
	return &r.queue
}

// flowAdd stores checked node f (its Queue set) under parent (nil for a
// root), then its children, appending results depth-first, and returns
// f's ID.
func (b *Backend) flowAdd(ctx context.Context, tx pgx.Tx, f *backend.FlowNode, parent *flowRef, out *[]backend.JobAddResult) (string, error) {
	var r backend.JobAddResult
	var parentID, parentQueue *string
	if parent != nil {
		parentID, parentQueue = &parent.id, parent.parentQueue(f.Queue)
	}
	if len(f.Children) == 0 {
		res, err := b.add(ctx, tx, f.Queue, []backend.JobAddItem{f.Job})
		if err != nil {
			return "", err
		}
		if r = res[0]; r.Status != backend.AddCreated {
			return "", fmt.Errorf("fila/postgres: flow in %q: %w: job %q not stored (status %v)", f.Queue, backend.ErrInvalidFlow, f.Job.Name, r.Status)
		}
		if parent != nil {
			if _, err := tx.Exec(ctx, b.q(`UPDATE {s}.jobs SET flow_parent = $3, flow_parent_queue = $4 WHERE queue = $1 AND id = $2`),
				f.Queue, r.ID, parentID, parentQueue); err != nil {
				return "", err
			}
		}
	} else {
		args, err := addArgs(f.Queue, &f.Job)
		if err != nil {
			return "", err
		}
		err = tx.QueryRow(ctx, b.q(flowParentSQL), args[0], args[1], args[2], args[3], args[4], args[5], parentID, parentQueue, len(f.Children)).
			Scan(&r.ID, &r.AddedAt)
		if errors.Is(err, pgx.ErrNoRows) {
			return "", fmt.Errorf("fila/postgres: flow in %q: %w: job ID %q exists", f.Queue, backend.ErrInvalidFlow, f.Job.ID)
		}
		if err != nil {
			return "", err
		}
		r.Status, r.State = backend.AddCreated, backend.StateWaitingChildren
	}
	if parent != nil {
		if _, err := tx.Exec(ctx, b.q(`INSERT INTO {s}.flow_links (queue, child, parent, parent_queue, policy) VALUES ($1, $2, $3, $4, $5)`),
			f.Queue, r.ID, parentID, parentQueue, string(f.OnFailure)); err != nil {
			return "", err
		}
	}
	*out = append(*out, r)
	self := &flowRef{queue: f.Queue, id: r.ID}
	for i := range f.Children {
		if _, err := b.flowAdd(ctx, tx, &f.Children[i], self, out); err != nil {
			return "", err
		}
	}
	return r.ID, nil
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
		rows, err := tx.Query(ctx, b.q(`SELECT queue, child, kind, value, reason FROM {s}.flow_links
			WHERE coalesce(parent_queue, queue) = $1 AND parent = $2`), p.Queue, p.ID)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var queue, child string
			var kind, reason *string
			var value []byte
			if err := rows.Scan(&queue, &child, &kind, &value, &reason); err != nil {
				return err
			}
			key := backend.ChildKey(p.Queue, queue, child)
			out.Total++
			switch {
			case kind == nil:
				out.Pending++
			case *kind == "value":
				out.Values[key] = value
			case *kind == "failed" && reason != nil:
				out.Failed[key] = *reason
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
	var out []backend.JobAddResult
	err := b.inTx(ctx, func(tx pgx.Tx) error {
		out = nil
		tag, err := tx.Exec(ctx, b.q(`
			UPDATE {s}.jobs j SET state = 'waiting-children', token = NULL, lock_until = NULL, flow_kids = j.flow_kids + $4
			WHERE `+held), p.Queue, p.ID, p.Token, len(root.Children))
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return b.lockLost(ctx, tx, p.Queue, p.ID)
		}
		if err := b.flowFree(ctx, tx, root.Children); err != nil {
			return err
		}
		self := &flowRef{queue: p.Queue, id: p.ID}
		for i := range root.Children {
			if _, err := b.flowAdd(ctx, tx, &root.Children[i], self, &out); err != nil {
				return err
			}
		}
		if _, err := tx.Exec(ctx, b.q(`INSERT INTO {s}.events (queue, type, job_id, data) VALUES ($1, 'waiting', $2, convert_to('waiting-children', 'UTF8'))`),
			p.Queue, p.ID); err != nil {
			return err
		}
		for _, q := range flowQueues([]backend.FlowNode{root}) {
			if err := b.ready(tx, q); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// FlowsSpanQueues implements backend.FlowsAcrossQueues: a tree's jobs may
// be in any queues of the schema, linked in one transaction.
func (b *Backend) FlowsSpanQueues() bool { return true }

// flowWoken is the JSON array of the queues the flow triggers made a job
// ready in during this transaction (flow_wake, migration 004).
const flowWoken = `coalesce(nullif(current_setting('fila.flow_wake', true), ''), '[]')::jsonb`

// flowWoke signals, once tx commits, every queue a flow trigger made a
// job ready in during tx: a child's outcome may release its parent in
// another queue. Only calls that touched a flow job call it.
func (b *Backend) flowWoke(ctx context.Context, tx pgx.Tx) error {
	queues, err := scanWoken(tx.QueryRow(ctx, `SELECT `+flowWoken))
	if err != nil {
		return err
	}
	for _, q := range queues {
		if err := b.ready(tx, q); err != nil {
			return err
		}
	}
	return nil
}

// scanWoken reads a row of flowWoken.
func scanWoken(row pgx.Row) ([]string, error) {
	var raw []byte
	if err := row.Scan(&raw); err != nil {
		return nil, err
	}
	var queues []string
	if err := json.Unmarshal(raw, &queues); err != nil {
		return nil, fmt.Errorf("fila/postgres: read the queues flows woke: %w", err)
	}
	return queues, nil
}
