package memory

import (
	"context"

	"github.com/fila-go/fila/backend"
)

var _ backend.Cancellers = (*Backend)(nil)

// JobCancel implements backend.Cancellers.
func (b *Backend) JobCancel(ctx context.Context, p *backend.JobCancelParams) (backend.State, error) {
	q, err := b.lock(ctx, p.Queue)
	if err != nil {
		return "", err
	}
	defer q.unlock()
	e := q.jobs[p.ID]
	if e == nil {
		return "", backend.ErrJobNotFound
	}
	was := q.stateOf(e)
	if was == backend.StateCompleted || was == backend.StateFailed {
		return "", &backend.StateError{JobID: p.ID, State: was, Want: []backend.State{
			backend.StateWaiting, backend.StatePrioritized, backend.StatePaused, backend.StateDelayed, backend.StateActive,
		}}
	}
	now := b.now()
	token := e.token
	r := e.job.Options.RemoveOnFail
	if was == backend.StateActive {
		e.job.AttemptsMade++
		if remove, _, _ := r.Limits(true); remove {
			r = backend.Retention{} // kept, so JobCancelled can answer
		}
	}
	q.detach(e)
	e.job.FailedReason = backend.CancelledReason
	q.failJob(e, r, now)
	if was == backend.StateActive {
		e.cancelled = token
	}
	return was, nil
}

// JobCancelled implements backend.Cancellers.
func (b *Backend) JobCancelled(ctx context.Context, p *backend.JobCancelledParams) ([]string, error) {
	q, err := b.lock(ctx, p.Queue)
	if err != nil {
		return nil, err
	}
	defer q.unlock()
	var ids []string
	for _, l := range p.Locks {
		if e := q.jobs[l.ID]; e != nil && e.cancelled != "" && e.cancelled == l.Token {
			ids = append(ids, l.ID)
		}
	}
	return ids, nil
}
