package redisbackend

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/fila-go/fila/backend"
)

// claimArgs are ARGV 3-6 of claim.lua (and the tail of complete and fail).
func claimArgs(p *backend.JobClaimParams) []any {
	lmax, lper := 0, int64(0)
	if p.Limit != nil && p.Limit.Max > 0 {
		lmax, lper = p.Limit.Max, ms(p.Limit.Per)
	}
	return []any{p.Token, ms(p.LockDuration), lmax, lper}
}

// claimResult decodes a claim reply and updates the queue's cached next
// delayed due time. A job whose record does not decode is failed on the
// spot (its claim holds the lock) and reported as corrupt.
func (b *Backend) claimResult(ctx context.Context, q *queueInfo, p *backend.JobClaimParams, v any) (*backend.JobClaimResult, error) {
	if reply, ok := v.(string); ok {
		j, err := decodeJob(reply)
		var bad *backend.CorruptJobError
		if errors.As(err, &bad) {
			// A job that cannot be decoded fails for good, kept for inspection.
			item := finishItemArgs([]any{"f", j.ID, p.Token, bad.Error(), "", 10, 0, 0}, backend.Retention{}, nil)
			if _, ferr := q.finishes.do(ctx, item, nil); ferr != nil {
				return nil, ferr
			}
			return &backend.JobClaimResult{}, nil
		}
		if err != nil {
			return nil, err
		}
		q.poll.Store(0)
		return &backend.JobClaimResult{Job: j}, nil
	}
	arr, ok := v.([]any)
	if !ok || len(arr) < 2 {
		if err := code(v, ""); err != nil {
			return nil, err
		}
		return nil, fmt.Errorf("redis: malformed claim reply %v", v)
	}
	switch num(arr[0]) {
	case 0:
		due := num(arr[1])
		if due < 0 {
			q.setDue(-1)
		} else {
			q.setDue(b.mono() + int64(time.Duration(due)*time.Millisecond))
		}
		return &backend.JobClaimResult{}, nil
	case 2:
		// The reply says nothing of the delayed set, whose wake marker a
		// rate-limited claim may have taken (a job or a group's wake due
		// during the limit): the next claim runs the script first.
		q.dueAt.Store(0)
		return &backend.JobClaimResult{RetryAfter: time.Duration(num(arr[1])) * time.Millisecond}, nil
	}
	return nil, code(v, "")
}

// JobClaim implements backend.Backend. It runs the claim script when a
// delayed job may be due (or nothing is known yet), and otherwise waits:
// blocking on BLMOVE wait -> active (bounded by the block timeout, the next
// delayed job and p.Wait, so an idle worker sends one command per block),
// or, on a transport that cannot block, polling with an interval that grows
// while the queue stays idle.
func (b *Backend) JobClaim(ctx context.Context, p *backend.JobClaimParams) (*backend.JobClaimResult, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	q := b.queue(p.Queue)
	// A claim whose caller leaves (ctx ends) before the reply hands its job
	// back as soon as the reply comes (call.go).
	left := b.handBackLeft(ctx, p.Queue, p.Token)
	deadline := time.Now().Add(p.Wait)
	for {
		due := q.dueAt.Load()
		if p.Wait <= 0 || b.blocker == nil || due == 0 || (due > 0 && b.mono() >= due) {
			v, err := b.runLeft(ctx, b.s.claim, q, left, claimArgs(p)...)
			if err != nil {
				return nil, err
			}
			res, err := b.claimResult(ctx, q, p, v)
			if err != nil || res.Job != nil || res.RetryAfter > 0 || p.Wait <= 0 {
				return res, err
			}
			due = q.dueAt.Load()
		}
		wait := time.Until(deadline)
		if due > 0 {
			wait = min(wait, time.Duration(due-b.mono()))
		}
		if b.blocker == nil {
			if time.Until(deadline) <= 0 {
				return &backend.JobClaimResult{}, nil
			}
			if err := b.pollWait(ctx, q, min(wait, b.nextPoll(q))); err != nil {
				return nil, err
			}
			continue
		}
		wait = min(wait, b.opts.blockTimeout)
		if wait <= 0 {
			if time.Until(deadline) <= 0 {
				return &backend.JobClaimResult{}, nil
			}
			q.dueAt.Store(0) // due now: claim again
			continue
		}
		id, err := b.blockUntilSooner(ctx, q, wait)
		if err != nil {
			if ctx.Err() != nil {
				if id != "" {
					b.unclaim(q, id)
				}
				return nil, ctx.Err()
			}
			if b.closed.Load() {
				return nil, backend.ErrClosed
			}
			return nil, fmt.Errorf("redis: %w", err)
		}
		if id == "" {
			continue // timed out: the loop re-checks the due time and the deadline
		}
		args := append([]any{id}, claimArgs(p)...)
		v, err := b.runLeft(ctx, b.s.claimMoved, q, left, args...)
		if err != nil {
			return nil, err
		}
		res, err := b.claimResult(ctx, q, p, v)
		if err != nil || res.Job != nil || res.RetryAfter > 0 {
			return res, err
		}
	}
}

// errSooner ends a blocked claim whose bound a sooner delayed job changed.
var errSooner = errors.New("a delayed job is due sooner")

// blockUntilSooner runs BLMOVE for up to wait, ended early (like a timeout)
// when this process learns of a sooner delayed job (queueInfo.setDue). It
// returns the moved id, or "" when the block ended without one.
func (b *Backend) blockUntilSooner(ctx context.Context, q *queueInfo, wait time.Duration) (string, error) {
	sooner := q.soonerChan()
	bctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	go func() {
		select {
		case <-sooner:
			cancel(errSooner)
		case <-bctx.Done():
		}
	}()
	id, err := b.blocker.BLMove(bctx, q.keys[keyWait], q.keys[keyActive], wait)
	if err != nil && ctx.Err() == nil && errors.Is(context.Cause(bctx), errSooner) {
		return id, nil // a job moved in that instant is claimed as usual
	}
	return id, err
}

// nextPoll returns how long an idle polling claim sleeps, doubling the
// queue's interval up to the maximum; a claimed job resets it.
func (b *Backend) nextPoll(q *queueInfo) time.Duration {
	for {
		cur := time.Duration(q.poll.Load())
		next := min(max(cur*2, b.opts.pollMin), b.opts.pollMax)
		if q.poll.CompareAndSwap(int64(cur), int64(next)) {
			return max(cur, b.opts.pollMin)
		}
	}
}

// pollWait sleeps d between polls, or less: a local change to the queue
// (q.signal) ends it early. It fails when ctx ends or the backend closes.
// q may be nil (no local wake-ups).
func (b *Backend) pollWait(ctx context.Context, q *queueInfo, d time.Duration) error {
	var wake chan struct{}
	if q != nil {
		wake = q.wakeChan()
	}
	t := time.NewTimer(max(d, 0))
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-wake:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-b.done:
		return backend.ErrClosed
	}
}

// unclaim hands back an id that a cancelled BLMOVE moved to active.
func (b *Backend) unclaim(q *queueInfo, id string) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, _ = b.run(ctx, b.s.unclaim, q, id) // on failure the stalled check returns it
}
