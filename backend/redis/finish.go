package redisbackend

import (
	"context"

	"github.com/fila-go/fila/backend"
)

// finishItemArgs are one item of finish.lua: the outcome (a complete's 3
// values, a fail's 7), retention (the zero Retention resolved to the
// default: backend.Retention.Limits), and the next claim's token followed, when
// there is one, by its lock and limiter. Every argument costs Redis an
// object and the script a string, so an item carries only what it uses.
func finishItemArgs(outcome []any, r backend.Retention, next *backend.JobClaimParams) []any {
	item := make([]any, 0, len(outcome)+7)
	item = append(item, outcome...)
	rm, keepLast, keepFor := r.Limits(outcome[0] == "f")
	remove := 0
	if rm {
		remove = 1
	}
	item = append(item, remove, keepLast, ms(keepFor))
	if next == nil {
		return append(item, "")
	}
	return append(item, claimArgs(next)...)
}

// JobComplete implements backend.Backend.
func (b *Backend) JobComplete(ctx context.Context, p *backend.JobCompleteParams) (*backend.JobClaimResult, error) {
	item := finishItemArgs([]any{"c", p.ID, p.Token, string(p.ReturnValue)}, p.Retention, p.Next)
	return b.finishItem(ctx, b.queue(p.Queue), p.ID, p.Next, item)
}

// JobFail implements backend.Backend.
func (b *Backend) JobFail(ctx context.Context, p *backend.JobFailParams) (*backend.JobClaimResult, error) {
	keep := p.KeepStacktraces
	if keep <= 0 {
		keep = 10
	}
	retry := 0
	if p.Retry {
		retry = 1
	}
	item := finishItemArgs([]any{"f", p.ID, p.Token, p.Reason, p.Stacktrace, keep, retry, ms(p.RetryDelay)}, p.Retention, p.Next)
	return b.finishItem(ctx, b.queue(p.Queue), p.ID, p.Next, item)
}

func (b *Backend) finishItem(ctx context.Context, q *queueInfo, id string, next *backend.JobClaimParams, item []any) (*backend.JobClaimResult, error) {
	if b.closed.Load() {
		return nil, backend.ErrClosed
	}
	var left func(any, error)
	if next != nil {
		left = b.handBackLeft(ctx, next.Queue, next.Token)
	}
	v, err := q.finishes.do(ctx, item, left)
	if err != nil {
		return nil, err
	}
	if err := code(v, id); err != nil {
		return nil, err
	}
	if next == nil {
		return &backend.JobClaimResult{}, nil
	}
	return b.claimResult(ctx, q, next, v)
}

// JobRelease implements backend.Backend.
func (b *Backend) JobRelease(ctx context.Context, p *backend.JobReleaseParams) error {
	v, err := b.run(ctx, b.s.release, b.queue(p.Queue), p.ID, p.Token)
	if err != nil {
		return err
	}
	return code(v, p.ID)
}

// JobExtendLocks implements backend.Backend.
func (b *Backend) JobExtendLocks(ctx context.Context, p *backend.JobExtendLocksParams) ([]string, error) {
	args := make([]any, 0, 1+2*len(p.Locks))
	args = append(args, ms(p.Duration))
	for _, l := range p.Locks {
		args = append(args, l.ID, l.Token)
	}
	v, err := b.run(ctx, b.s.extend, b.queue(p.Queue), args...)
	if err != nil {
		return nil, err
	}
	arr, _ := v.([]any)
	lost := make([]string, 0, len(arr))
	for _, e := range arr {
		lost = append(lost, str(e))
	}
	return lost, nil
}
