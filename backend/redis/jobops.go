package redisbackend

import (
	"context"
	"errors"

	"github.com/fila-go/fila/backend"
)

// JobUpdateProgress implements backend.Backend.
func (b *Backend) JobUpdateProgress(ctx context.Context, p *backend.JobUpdateProgressParams) error {
	v, err := b.run(ctx, b.s.progress, b.queue(p.Queue), p.ID, string(p.Progress))
	if err != nil {
		return err
	}
	return code(v, p.ID)
}

// JobLogAdd implements backend.Backend.
func (b *Backend) JobLogAdd(ctx context.Context, p *backend.JobLogAddParams) (int, error) {
	v, err := b.run(ctx, b.s.log, b.queue(p.Queue), p.ID, p.Line, p.Keep)
	if err != nil {
		return 0, err
	}
	if err := code(v, p.ID); err != nil {
		return 0, err
	}
	return int(num(v)), nil
}

// JobLogs implements backend.Backend.
func (b *Backend) JobLogs(ctx context.Context, p *backend.JobLogsParams) ([]string, int, error) {
	v, err := b.run(ctx, b.s.logs, b.queue(p.Queue), p.ID, p.Offset, p.Limit)
	if err != nil {
		return nil, 0, err
	}
	if err := code(v, p.ID); err != nil {
		return nil, 0, err
	}
	arr := v.([]any)
	lines := make([]string, 0, len(arr)-1)
	for _, e := range arr[1:] {
		lines = append(lines, str(e))
	}
	return lines, int(num(arr[0])), nil
}

// JobRemove implements backend.Backend.
func (b *Backend) JobRemove(ctx context.Context, p *backend.JobRemoveParams) error {
	v, err := b.run(ctx, b.s.remove, b.queue(p.Queue), p.ID)
	if err != nil {
		return err
	}
	return code(v, p.ID)
}

// JobRetry implements backend.Backend.
func (b *Backend) JobRetry(ctx context.Context, p *backend.JobRetryParams) error {
	v, err := b.run(ctx, b.s.retry, b.queue(p.Queue), "id", p.ID)
	if err != nil {
		return err
	}
	if err := code(v, p.ID); err != nil {
		var se *backend.StateError
		if errors.As(err, &se) {
			se.Want = []backend.State{backend.StateFailed, backend.StateCompleted}
		}
		return err
	}
	return nil
}

// JobPromote implements backend.Backend.
func (b *Backend) JobPromote(ctx context.Context, p *backend.JobPromoteParams) error {
	v, err := b.run(ctx, b.s.promote, b.queue(p.Queue), p.ID)
	if err != nil {
		return err
	}
	if err := code(v, p.ID); err != nil {
		var se *backend.StateError
		if errors.As(err, &se) {
			se.Want = []backend.State{backend.StateDelayed}
		}
		return err
	}
	return nil
}
