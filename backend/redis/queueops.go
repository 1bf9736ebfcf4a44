package redisbackend

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/fila-go/fila/backend"
)

// QueueCounts implements backend.Backend.
func (b *Backend) QueueCounts(ctx context.Context, p *backend.QueueParams) (*backend.Counts, error) {
	v, err := b.run(ctx, b.s.counts, b.queue(p.Queue))
	if err != nil {
		return nil, err
	}
	a, ok := v.([]any)
	if !ok || len(a) != 8 {
		return nil, fmt.Errorf("redis: malformed counts reply %v", v)
	}
	return &backend.Counts{
		Waiting: num(a[0]), Prioritized: num(a[1]), Paused: num(a[2]), Delayed: num(a[3]),
		Active: num(a[4]), Completed: num(a[5]), Failed: num(a[6]), WaitingChildren: num(a[7]),
	}, nil
}

// QueueInfo implements backend.Backend.
func (b *Backend) QueueInfo(ctx context.Context, p *backend.QueueParams) (*backend.QueueInfo, error) {
	v, err := b.run(ctx, b.s.info, b.queue(p.Queue))
	if err != nil {
		return nil, err
	}
	a, ok := v.([]any)
	if !ok || len(a) != 2 {
		return nil, fmt.Errorf("redis: malformed info reply %v", v)
	}
	return &backend.QueueInfo{Paused: num(a[0]) == 1, RateLimitedFor: time.Duration(num(a[1])) * time.Millisecond}, nil
}

// QueueList implements backend.Backend. Queues are registered by the first
// add of each process, so a queue whose jobs were all added before fila
// kept a registry is not listed.
func (b *Backend) QueueList(ctx context.Context) ([]string, error) {
	if b.closed.Load() {
		return nil, backend.ErrClosed
	}
	v, err := b.eval(ctx, b.s.registry, []string{b.registryKey()}, []any{"list"}, nil)
	if err != nil {
		return nil, fmt.Errorf("redis: %w", err)
	}
	arr, _ := v.([]any)
	names := make([]string, 0, len(arr))
	for _, e := range arr {
		names = append(names, str(e))
	}
	slices.Sort(names)
	return names, nil
}

// QueuePause implements backend.Backend.
func (b *Backend) QueuePause(ctx context.Context, p *backend.QueuePauseParams) error {
	flag := 0
	if p.Paused {
		flag = 1
	}
	_, err := b.run(ctx, b.s.pause, b.queue(p.Queue), flag)
	return err
}

// QueueRateLimit implements backend.Backend.
func (b *Backend) QueueRateLimit(ctx context.Context, p *backend.QueueRateLimitParams) error {
	_, err := b.run(ctx, b.s.ratelimit, b.queue(p.Queue), ms(p.For))
	return err
}

// QueueDrain implements backend.Backend. It works in calls of at most 5,000
// removals so Redis is never blocked long.
func (b *Backend) QueueDrain(ctx context.Context, p *backend.QueueDrainParams) (int, error) {
	q := b.queue(p.Queue)
	delayed := 0
	if p.Delayed {
		delayed = 1
	}
	total := 0
	for {
		v, err := b.run(ctx, b.s.drain, q, delayed, 5000)
		if err != nil {
			return total, err
		}
		a := v.([]any)
		total += int(num(a[0]))
		if num(a[1]) == 0 {
			return total, nil
		}
	}
}

// QueueClean implements backend.Backend, in calls of at most 1,000 removals.
func (b *Backend) QueueClean(ctx context.Context, p *backend.QueueCleanParams) ([]string, error) {
	if p.State == backend.StateActive {
		return nil, &backend.StateError{State: backend.StateActive}
	}
	letter := stateLetter(p.State)
	if letter == "" {
		return nil, fmt.Errorf("redis: clean: unknown state %q", p.State)
	}
	q := b.queue(p.Queue)
	removed := []string{}
	for p.Limit <= 0 || len(removed) < p.Limit {
		batch := 1000
		if p.Limit > 0 {
			batch = min(batch, p.Limit-len(removed))
		}
		v, err := b.run(ctx, b.s.clean, q, letter, ms(p.Age), batch)
		if err != nil {
			return removed, err
		}
		arr, _ := v.([]any)
		for _, e := range arr {
			removed = append(removed, str(e))
		}
		if len(arr) < batch {
			break
		}
	}
	return removed, nil
}

// QueueRetryJobs implements backend.Backend.
func (b *Backend) QueueRetryJobs(ctx context.Context, p *backend.QueueRetryJobsParams) (int, error) {
	letter := "F"
	switch p.State {
	case backend.StateFailed:
	case backend.StateCompleted:
		letter = "C"
	default:
		return 0, &backend.StateError{State: p.State, Want: []backend.State{backend.StateFailed, backend.StateCompleted}}
	}
	limit := p.Limit
	if limit <= 0 {
		limit = 1000
	}
	v, err := b.run(ctx, b.s.retry, b.queue(p.Queue), "bulk", letter, limit)
	if err != nil {
		return 0, err
	}
	return int(num(v)), nil
}

// QueueObliterate implements backend.Backend.
func (b *Backend) QueueObliterate(ctx context.Context, p *backend.QueueObliterateParams) error {
	force := 0
	if p.Force {
		force = 1
	}
	q := b.queue(p.Queue)
	// Forgotten before the call, since a caller that leaves mid-call (its
	// context ended) may still obliterate the queue, and again after it,
	// since an add meanwhile may have registered it before the removal.
	// Forgetting too much only costs a re-registration.
	q.registered.Store(false)
	q.dueAt.Store(0)
	v, err := b.run(ctx, b.s.obliterate, q, force)
	if err != nil {
		return err
	}
	if err := code(v, ""); err != nil {
		return err
	}
	if _, err := b.eval(ctx, b.s.registry, []string{b.registryKey()}, []any{"remove", p.Queue}, nil); err != nil {
		return fmt.Errorf("redis: %w", err)
	}
	q.registered.Store(false)
	q.dueAt.Store(0)
	return nil
}

// QueueMetrics implements backend.Backend.
func (b *Backend) QueueMetrics(ctx context.Context, p *backend.QueueMetricsParams) (*backend.Metrics, error) {
	n := p.Minutes
	if n <= 0 || n > b.opts.metricsMinutes {
		n = b.opts.metricsMinutes
	}
	v, err := b.run(ctx, b.s.metrics, b.queue(p.Queue), n)
	if err != nil {
		return nil, err
	}
	a := v.([]any)
	now := num(a[0])
	m := &backend.Metrics{At: msTime(now), Completed: make([]int64, n), Failed: make([]int64, n)}
	cur, head := now/60000, num(a[1])
	if head < 0 {
		return m, nil
	}
	// The series: zeros for minutes after the head minute, the head's counts,
	// then the stored past minutes.
	k := int(cur - head)
	if k >= 0 && k < n {
		m.Completed[k], m.Failed[k] = num(a[2]), num(a[3])
	}
	for i, e := range a[4:] {
		pos := k + 1 + i
		if pos < 0 || pos >= n {
			continue
		}
		c, f, _ := strings.Cut(str(e), " ")
		m.Completed[pos], _ = strconv.ParseInt(c, 10, 64)
		m.Failed[pos], _ = strconv.ParseInt(f, 10, 64)
	}
	return m, nil
}
