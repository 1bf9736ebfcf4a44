package redisbackend

import (
	"context"
	"errors"

	"github.com/fila-go/fila/backend"
)

var _ backend.Cancellers = (*Backend)(nil)

// JobCancel implements backend.Cancellers (lua/cancel.lua).
func (b *Backend) JobCancel(ctx context.Context, p *backend.JobCancelParams) (backend.State, error) {
	v, err := b.run(ctx, b.s.cancel, b.queue(p.Queue), p.ID)
	if err != nil {
		return "", err
	}
	if err := code(v, p.ID); err != nil {
		var se *backend.StateError
		if errors.As(err, &se) {
			se.Want = []backend.State{backend.StateWaiting, backend.StatePrioritized, backend.StatePaused, backend.StateDelayed, backend.StateActive}
		}
		return "", err
	}
	arr, _ := v.([]any)
	if len(arr) != 2 {
		return "", errors.New("redis: malformed cancel reply")
	}
	st, ok := stateLetters[stateByte(str(arr[1]))]
	if !ok {
		return "", errors.New("redis: malformed cancel reply")
	}
	return st, nil
}

// JobCancelled implements backend.Cancellers (lua/cancelled.lua).
func (b *Backend) JobCancelled(ctx context.Context, p *backend.JobCancelledParams) ([]string, error) {
	if len(p.Locks) == 0 {
		return nil, ctx.Err()
	}
	args := make([]any, 0, 2*len(p.Locks))
	for _, l := range p.Locks {
		args = append(args, l.ID, l.Token)
	}
	v, err := b.run(ctx, b.s.cancelled, b.queue(p.Queue), args...)
	if err != nil {
		return nil, err
	}
	arr, _ := v.([]any)
	ids := make([]string, 0, len(arr))
	for _, e := range arr {
		ids = append(ids, str(e))
	}
	return ids, nil
}
