package redisbackend

import (
	"context"

	"github.com/fila-go/fila/backend"
)

// StalledCheck implements backend.Backend.
func (b *Backend) StalledCheck(ctx context.Context, p *backend.StalledCheckParams) (*backend.StalledCheckResult, error) {
	maxJobs := p.MaxJobs
	if maxJobs <= 0 {
		maxJobs = 1000
	}
	q := b.queue(p.Queue)
	v, err := b.run(ctx, b.s.stalled, q, p.MaxStalledCount, ms(p.Interval), maxJobs)
	if err != nil {
		return nil, err
	}
	a := v.([]any)
	if num(a[0]) == -1 {
		return &backend.StalledCheckResult{Skipped: true}, nil
	}
	res := &backend.StalledCheckResult{}
	for _, e := range a[1].([]any) {
		res.Stalled = append(res.Stalled, str(e))
	}
	for _, e := range a[2].([]any) {
		res.Failed = append(res.Failed, str(e))
	}
	if len(res.Stalled) > 0 {
		// Only a check that requeued jobs wakes this process's polling
		// claims: an idle worker's periodic check that found nothing
		// would otherwise cost a claim each time (on Upstash, a billed
		// command every StalledInterval on top of the idle polls).
		q.signal()
	}
	return res, nil
}
