package postgres

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/fila-go/fila/backend"
)

// Events live in the events table, kept for Options.EventRetention. They
// are read in (transaction ID, event ID) order, and only up to the oldest
// transaction still running (pg_snapshot_xmin), so an event that commits
// late never appears behind a cursor a reader already passed. A cursor is
// "<xid>-<id>".

// eventsWait bounds how long a read waits for running transactions older
// than the newest event to end, before it returns what is safe to return.
const eventsWait = 2 * time.Second

// eventsRecheck is how often a blocked read looks again without a
// notification (notifications come only with jobs becoming ready).
const eventsRecheck = 250 * time.Millisecond

type cursor struct {
	xid string
	id  int64
}

func parseCursor(s string) (cursor, error) {
	x, id, ok := strings.Cut(s, "-")
	n, err := strconv.ParseInt(id, 10, 64)
	if !ok || err != nil {
		return cursor{}, fmt.Errorf("fila/postgres: bad event cursor %q", s)
	}
	if _, err := strconv.ParseUint(x, 10, 64); err != nil {
		return cursor{}, fmt.Errorf("fila/postgres: bad event cursor %q", s)
	}
	return cursor{xid: x, id: n}, nil
}

// EventsCursor implements backend.Backend.
func (b *Backend) EventsCursor(ctx context.Context, p *backend.QueueParams) (string, error) {
	if err := b.usable(ctx); err != nil {
		return "", err
	}
	var x string
	var id int64
	err := b.pool.QueryRow(ctx, b.q(`SELECT xid::text, id FROM {s}.events WHERE queue = $1 ORDER BY xid DESC, id DESC LIMIT 1`), p.Queue).Scan(&x, &id)
	if errors.Is(err, pgx.ErrNoRows) {
		return "0-0", nil
	}
	if err != nil {
		return "", b.fail(ctx, err)
	}
	return x + "-" + strconv.FormatInt(id, 10), nil
}

// EventsRead implements backend.Backend.
func (b *Backend) EventsRead(ctx context.Context, p *backend.EventsReadParams) ([]backend.Event, error) {
	if err := b.usable(ctx); err != nil {
		return nil, err
	}
	after := p.After
	if after == "" {
		var err error
		if after, err = b.EventsCursor(ctx, &backend.QueueParams{Queue: p.Queue}); err != nil {
			return nil, err
		}
	}
	cur, err := parseCursor(after)
	if err != nil {
		return nil, err
	}
	count := p.Count
	if count <= 0 {
		count = 1000
	}
	start := time.Now()
	deadline := start.Add(p.Wait)
	for {
		wake := b.wake.ch(p.Queue)
		evs, pending, err := b.readEvents(ctx, p.Queue, cur, count)
		if err != nil {
			return nil, err
		}
		if pending && len(evs) < count && time.Since(start) < eventsWait {
			// Older transactions are still running: wait for them, so the
			// events come back in order.
			if err := sleepCtx(ctx, 5*time.Millisecond); err != nil {
				return nil, err
			}
			continue
		}
		left := time.Until(deadline)
		if len(evs) > 0 || left <= 0 {
			return evs, nil
		}
		timer := time.NewTimer(min(left, eventsRecheck))
		select {
		case <-ctx.Done():
			timer.Stop()
			return nil, ctx.Err()
		case <-wake:
			timer.Stop()
			if b.wake.isClosed() {
				return nil, backend.ErrClosed
			}
		case <-timer.C:
		}
	}
}

// readEvents returns the events after cur that are safe to return, and
// whether more wait behind running transactions.
func (b *Backend) readEvents(ctx context.Context, queue string, cur cursor, count int) ([]backend.Event, bool, error) {
	rows, err := b.pool.Query(ctx, b.q(`
		SELECT xid::text, id, type, job_id, at, data, xid < pg_snapshot_xmin(pg_current_snapshot())
		FROM {s}.events WHERE queue = $1 AND (xid, id) > ($2::text::xid8, $3::bigint)
		ORDER BY xid, id LIMIT $4`), queue, cur.xid, cur.id, count)
	if err != nil {
		return nil, false, b.fail(ctx, err)
	}
	defer rows.Close()
	var evs []backend.Event
	for rows.Next() {
		var x, typ, job string
		var id int64
		var at time.Time
		var data []byte
		var safe bool
		if err := rows.Scan(&x, &id, &typ, &job, &at, &data, &safe); err != nil {
			return nil, false, b.fail(ctx, err)
		}
		if !safe {
			return evs, true, nil
		}
		evs = append(evs, backend.Event{ID: x + "-" + strconv.FormatInt(id, 10), Type: backend.EventType(typ), JobID: job, Time: at, Data: string(data)})
	}
	return evs, false, b.fail(ctx, rows.Err())
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
