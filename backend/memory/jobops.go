package memory

import (
	"context"
	"time"

	"github.com/fila-go/fila/backend"
)

// JobUpdateProgress implements backend.Backend.
func (b *Backend) JobUpdateProgress(ctx context.Context, p *backend.JobUpdateProgressParams) error {
	q, err := b.lock(ctx, p.Queue)
	if err != nil {
		return err
	}
	defer q.unlock()
	e := q.jobs[p.ID]
	if e == nil {
		return backend.ErrJobNotFound
	}
	e.job.Progress = cloneBytes(p.Progress)
	q.emit(backend.EventProgress, p.ID, b.now(), string(p.Progress))
	return nil
}

// JobLogAdd implements backend.Backend.
func (b *Backend) JobLogAdd(ctx context.Context, p *backend.JobLogAddParams) (int, error) {
	q, err := b.lock(ctx, p.Queue)
	if err != nil {
		return 0, err
	}
	defer q.unlock()
	e := q.jobs[p.ID]
	if e == nil {
		return 0, backend.ErrJobNotFound
	}
	e.logs = append(e.logs, p.Line)
	if p.Keep > 0 && len(e.logs) > p.Keep {
		e.logs = append([]string(nil), e.logs[len(e.logs)-p.Keep:]...)
	}
	return len(e.logs), nil
}

// JobLogs implements backend.Backend.
func (b *Backend) JobLogs(ctx context.Context, p *backend.JobLogsParams) ([]string, int, error) {
	q, err := b.lock(ctx, p.Queue)
	if err != nil {
		return nil, 0, err
	}
	defer q.unlock()
	e := q.jobs[p.ID]
	if e == nil {
		return nil, 0, backend.ErrJobNotFound
	}
	lines := e.logs
	if p.Offset >= len(lines) {
		return []string{}, len(e.logs), nil
	}
	lines = lines[p.Offset:]
	if p.Limit > 0 && len(lines) > p.Limit {
		lines = lines[:p.Limit]
	}
	return append([]string(nil), lines...), len(e.logs), nil
}

// JobRemove implements backend.Backend.
func (b *Backend) JobRemove(ctx context.Context, p *backend.JobRemoveParams) error {
	q, err := b.lock(ctx, p.Queue)
	if err != nil {
		return err
	}
	defer q.unlock()
	e := q.jobs[p.ID]
	if e == nil {
		return backend.ErrJobNotFound
	}
	if e.job.State == backend.StateActive {
		return backend.ErrJobActive
	}
	q.delete(e)
	q.removeFlow(e, b.now(), false)
	q.emit(backend.EventRemoved, p.ID, b.now(), "")
	return nil
}

// JobRetry implements backend.Backend.
func (b *Backend) JobRetry(ctx context.Context, p *backend.JobRetryParams) error {
	q, err := b.lock(ctx, p.Queue)
	if err != nil {
		return err
	}
	defer q.unlock()
	e := q.jobs[p.ID]
	if e == nil {
		return backend.ErrJobNotFound
	}
	if e.job.State != backend.StateFailed && e.job.State != backend.StateCompleted {
		return &backend.StateError{JobID: p.ID, State: q.stateOf(e), Want: []backend.State{backend.StateFailed, backend.StateCompleted}}
	}
	q.retry(e, b.now())
	return nil
}

// retry resets a finished entry and makes it ready again.
func (q *queue) retry(e *entry, now time.Time) {
	q.detach(e)
	e.job.AttemptsMade, e.job.AttemptsStarted, e.job.StalledCount = 0, 0, 0
	e.job.FailedReason, e.job.Stacktrace, e.job.ReturnValue = "", nil, nil
	e.job.ProcessedAt, e.job.FinishedAt = time.Time{}, time.Time{}
	q.requeue(e)
	q.emit(backend.EventWaiting, e.job.ID, now, "")
}

// JobPromote implements backend.Backend.
func (b *Backend) JobPromote(ctx context.Context, p *backend.JobPromoteParams) error {
	q, err := b.lock(ctx, p.Queue)
	if err != nil {
		return err
	}
	defer q.unlock()
	e := q.jobs[p.ID]
	if e == nil {
		return backend.ErrJobNotFound
	}
	if e.job.State != backend.StateDelayed {
		return &backend.StateError{JobID: p.ID, State: q.stateOf(e), Want: []backend.State{backend.StateDelayed}}
	}
	q.delayed.remove(e)
	q.requeue(e)
	q.emit(backend.EventPromoted, p.ID, b.now(), "")
	return nil
}
