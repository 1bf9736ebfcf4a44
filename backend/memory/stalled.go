package memory

import (
	"context"
	"strconv"

	"github.com/fila-go/fila/backend"
)

// StalledCheck implements backend.Backend.
func (b *Backend) StalledCheck(ctx context.Context, p *backend.StalledCheckParams) (*backend.StalledCheckResult, error) {
	q, err := b.lock(ctx, p.Queue)
	if err != nil {
		return nil, err
	}
	defer q.unlock()
	now := b.now()
	if !q.lastStalledCheck.IsZero() && now.Sub(q.lastStalledCheck) < p.Interval {
		return &backend.StalledCheckResult{Skipped: true}, nil
	}
	q.lastStalledCheck = now
	maxJobs := p.MaxJobs
	if maxJobs <= 0 {
		maxJobs = 1000
	}
	res := &backend.StalledCheckResult{}
	// Phase two: jobs marked last time and still unlocked are recovered.
	for id := range q.stalledMarks {
		delete(q.stalledMarks, id)
		e := q.active[id]
		if e == nil || e.lockUntil.After(now) {
			continue
		}
		q.detach(e)
		e.job.StalledCount++
		if e.job.StalledCount > p.MaxStalledCount {
			e.job.AttemptsMade++
			e.job.FailedReason = stalledReason(p.MaxStalledCount)
			q.failJob(e, e.job.Options.RemoveOnFail, now)
			res.Failed = append(res.Failed, id)
			continue
		}
		q.makeReady(e, true)
		q.emit(backend.EventStalled, id, now, "")
		res.Stalled = append(res.Stalled, id)
	}
	// Phase one: mark active jobs without a live lock.
	for id, e := range q.active {
		if len(q.stalledMarks) >= maxJobs {
			break
		}
		if !e.lockUntil.After(now) {
			q.stalledMarks[id] = struct{}{}
		}
	}
	return res, nil
}

// stalledReason is the failure reason of a job that stalled too often; every
// backend uses the same words.
func stalledReason(max int) string {
	return "job stalled more than allowable limit (" + strconv.Itoa(max) + ")"
}
