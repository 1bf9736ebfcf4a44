package memory

import (
	"context"
	"strconv"
	"time"

	"github.com/fila-go/fila/backend"
)

// EventsRead implements backend.Backend.
func (b *Backend) EventsRead(ctx context.Context, p *backend.EventsReadParams) ([]backend.Event, error) {
	count := p.Count
	if count <= 0 {
		count = 100
	}
	var after uint64
	fromNow := p.After == ""
	if !fromNow {
		n, err := strconv.ParseUint(p.After, 10, 64)
		if err != nil {
			return nil, &cursorError{p.After}
		}
		after = n
	}
	var timer *time.Timer
	defer func() {
		if timer != nil {
			timer.Stop()
		}
	}()
	deadline := time.Now().Add(p.Wait)
	for {
		q, err := b.lock(ctx, p.Queue)
		if err != nil {
			return nil, err
		}
		if fromNow {
			after, fromNow = q.events.last, false
		}
		evs := q.events.after(after, count)
		wait := time.Until(deadline)
		if len(evs) > 0 || wait <= 0 {
			q.unlock()
			return evs, nil
		}
		if q.changed == nil {
			q.changed = make(chan struct{})
		}
		changed := q.changed
		q.unlock()
		if timer == nil {
			timer = time.NewTimer(wait)
		} else {
			timer.Reset(wait)
		}
		select {
		case <-changed:
		case <-timer.C:
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-b.closed:
			return nil, backend.ErrClosed
		}
	}
}

type cursorError struct{ cursor string }

func (e *cursorError) Error() string { return "invalid event cursor " + strconv.Quote(e.cursor) }

// EventsCursor implements backend.Backend.
func (b *Backend) EventsCursor(ctx context.Context, p *backend.QueueParams) (string, error) {
	q, err := b.lock(ctx, p.Queue)
	if err != nil {
		return "", err
	}
	defer q.unlock()
	return formatSeq(q.events.last), nil
}

// Ping implements backend.Backend.
func (b *Backend) Ping(ctx context.Context) error {
	select {
	case <-b.closed:
		return backend.ErrClosed
	default:
		return ctx.Err()
	}
}

// Close implements backend.Backend. Blocked calls return ErrClosed.
func (b *Backend) Close() error {
	b.once.Do(func() { close(b.closed) })
	return nil
}
