package memory

import (
	"container/list"
	"context"
	"time"

	"github.com/fila-go/fila/backend"
)

// JobClaim implements backend.Backend.
func (b *Backend) JobClaim(ctx context.Context, p *backend.JobClaimParams) (*backend.JobClaimResult, error) {
	var deadline time.Time
	if p.Wait > 0 {
		deadline = time.Now().Add(p.Wait)
	}
	var timer *time.Timer
	defer func() {
		if timer != nil {
			timer.Stop()
		}
	}()
	for {
		q, err := b.lock(ctx, p.Queue)
		if err != nil {
			return nil, err
		}
		now := b.now()
		res := q.claim(p, now)
		if res.Job != nil || res.RetryAfter > 0 || p.Wait <= 0 {
			q.unlock()
			return res, nil
		}
		wait := time.Until(deadline)
		if wait <= 0 {
			q.unlock()
			return res, nil
		}
		// Paused too: a due delayed job still moves (to paused) on time.
		if next := q.delayed.peek(); next != nil {
			wait = min(wait, next.job.DueAt.Sub(now))
		}
		if next := q.wakeGroups(now); !next.IsZero() {
			wait = min(wait, next.Sub(now))
		}
		ready := q.readyChan()
		q.unlock()

		if timer == nil {
			timer = time.NewTimer(wait)
		} else {
			timer.Reset(wait)
		}
		select {
		case <-ready:
		case <-timer.C:
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-b.closed:
			return nil, backend.ErrClosed
		}
	}
}

// claim takes the next ready job, if the queue's switches allow it.
func (q *queue) claim(p *backend.JobClaimParams, now time.Time) *backend.JobClaimResult {
	q.promoteDue(now)
	q.wakeGroups(now)
	if q.paused {
		return &backend.JobClaimResult{}
	}
	if d := q.limitedUntil.Sub(now); d > 0 {
		return &backend.JobClaimResult{RetryAfter: d}
	}
	var e *entry
	for e == nil {
		if front := q.wait.Front(); front != nil {
			e = front.Value.(*entry)
		} else {
			e = q.prioritized.peek()
		}
		if e == nil {
			return &backend.JobClaimResult{}
		}
		if e.isToken() && !q.groupReady(e.grp) {
			q.dropToken(e.grp)
			q.syncGroup(e.grp)
			e = nil
		}
	}
	if p.Limit != nil && p.Limit.Max > 0 {
		if d := q.limiter.take(p.Limit, now); d > 0 {
			return &backend.JobClaimResult{RetryAfter: d}
		}
	}
	if e.isToken() {
		e = q.groupTake(e)
	} else {
		q.detach(e)
	}
	e.job.State = backend.StateActive
	e.job.ProcessedAt = now
	e.job.AttemptsStarted++
	e.token = p.Token
	e.lockUntil = now.Add(p.LockDuration)
	q.active[e.job.ID] = e
	q.emit(backend.EventActive, e.job.ID, now, "")
	return &backend.JobClaimResult{Job: q.snapshot(e)}
}

// held returns the active entry whose lock token holds, or ErrLockLost.
func (q *queue) held(id, token string, now time.Time) (*entry, error) {
	e := q.jobs[id]
	if e == nil {
		return nil, backend.ErrJobNotFound
	}
	if e.job.State != backend.StateActive || e.token != token || !e.lockUntil.After(now) {
		return nil, backend.ErrLockLost
	}
	return e, nil
}

// JobComplete implements backend.Backend.
func (b *Backend) JobComplete(ctx context.Context, p *backend.JobCompleteParams) (*backend.JobClaimResult, error) {
	q, err := b.lock(ctx, p.Queue)
	if err != nil {
		return nil, err
	}
	defer q.unlock()
	now := b.now()
	e, err := q.held(p.ID, p.Token, now)
	if err != nil {
		return nil, err
	}
	q.detach(e)
	e.job.AttemptsMade++
	e.job.ReturnValue = cloneBytes(p.ReturnValue)
	e.job.FinishedAt = now
	e.job.State = backend.StateCompleted
	q.leaveSlot(e)
	q.metrics.add(now, false)
	q.emit(backend.EventCompleted, e.job.ID, now, string(p.ReturnValue))
	q.finish(e, q.completed, p.Retention, now)
	q.childFinished(e, true, now)
	return q.next(p.Next, now), nil
}

// JobFail implements backend.Backend.
func (b *Backend) JobFail(ctx context.Context, p *backend.JobFailParams) (*backend.JobClaimResult, error) {
	q, err := b.lock(ctx, p.Queue)
	if err != nil {
		return nil, err
	}
	defer q.unlock()
	now := b.now()
	e, err := q.held(p.ID, p.Token, now)
	if err != nil {
		return nil, err
	}
	q.detach(e)
	e.job.AttemptsMade++
	e.job.FailedReason = p.Reason
	if p.Stacktrace != "" {
		keep := p.KeepStacktraces
		if keep <= 0 {
			keep = 10
		}
		e.job.Stacktrace = append(e.job.Stacktrace, p.Stacktrace)
		if n := len(e.job.Stacktrace); n > keep {
			e.job.Stacktrace = append([]string(nil), e.job.Stacktrace[n-keep:]...)
		}
	}
	switch {
	case p.Retry && p.RetryDelay > 0:
		e.job.State = backend.StateDelayed
		e.job.DueAt = now.Add(p.RetryDelay)
		q.delayed.push(e)
		q.emit(backend.EventRetried, e.job.ID, now, p.Reason)
		q.signalReady()
	case p.Retry:
		q.promoteDue(now) // jobs due before this retry queue ahead of it
		q.requeue(e)
		q.emit(backend.EventRetried, e.job.ID, now, p.Reason)
	default:
		q.failJob(e, p.Retention, now)
	}
	return q.next(p.Next, now), nil
}

// failJob moves a detached entry to failed for good.
func (q *queue) failJob(e *entry, r backend.Retention, now time.Time) {
	q.leaveSlot(e)
	e.job.FinishedAt = now
	e.job.State = backend.StateFailed
	q.metrics.add(now, true)
	q.emit(backend.EventFailed, e.job.ID, now, e.job.FailedReason)
	q.finish(e, q.failed, r, now)
	q.childFinished(e, false, now)
}

// finish files a finished entry and applies retention to its list.
func (q *queue) finish(e *entry, l *list.List, r backend.Retention, now time.Time) {
	remove, keepLast, keepFor := r.Limits(l == q.failed)
	if remove {
		delete(q.jobs, e.job.ID)
		return
	}
	e.elem = l.PushBack(e)
	if keepLast > 0 {
		for l.Len() > keepLast {
			q.delete(l.Front().Value.(*entry))
		}
	}
	if keepFor > 0 {
		cut := now.Add(-keepFor)
		for el := l.Front(); el != nil; el = l.Front() {
			old := el.Value.(*entry)
			if old.job.FinishedAt.After(cut) {
				break
			}
			q.delete(old)
		}
	}
}

func (q *queue) next(p *backend.JobClaimParams, now time.Time) *backend.JobClaimResult {
	if p == nil {
		return &backend.JobClaimResult{}
	}
	return q.claim(p, now)
}

// JobRelease implements backend.Backend.
func (b *Backend) JobRelease(ctx context.Context, p *backend.JobReleaseParams) error {
	q, err := b.lock(ctx, p.Queue)
	if err != nil {
		return err
	}
	defer q.unlock()
	now := b.now()
	e, err := q.held(p.ID, p.Token, now)
	if err != nil {
		return err
	}
	q.detach(e)
	q.makeReady(e, true)
	q.emit(backend.EventReleased, e.job.ID, now, "")
	return nil
}

// JobExtendLocks implements backend.Backend.
func (b *Backend) JobExtendLocks(ctx context.Context, p *backend.JobExtendLocksParams) ([]string, error) {
	q, err := b.lock(ctx, p.Queue)
	if err != nil {
		return nil, err
	}
	defer q.unlock()
	now := b.now()
	var lost []string
	for _, l := range p.Locks {
		e, err := q.held(l.ID, l.Token, now)
		if err != nil {
			lost = append(lost, l.ID)
			continue
		}
		e.lockUntil = now.Add(p.Duration)
		delete(q.stalledMarks, l.ID)
	}
	return lost, nil
}
