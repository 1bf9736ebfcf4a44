package dashboard

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/fila-go/fila"
)

// chartMinutes is the span of the throughput chart and of the metrics read
// for it.
const chartMinutes = 60

// snapshot is every queue's metrics at one moment: what the overview shows
// and what the pages poll.
type snapshot struct {
	At     time.Time
	Queues []queueSnap
}

// queueSnap is one queue in a snapshot. Err is set, and Metrics nil, when
// the queue could not be read (the error itself goes to the log).
type queueSnap struct {
	Name    string
	Metrics *fila.QueueMetrics
	Err     string
}

// poller shares one snapshot between every request: it reads the backend
// again only when the snapshot is older than interval, and concurrent
// requests for a stale snapshot wait for a single read. It runs no
// goroutine of its own, so an idle dashboard costs nothing.
type poller struct {
	queues   []*fila.Queue
	interval time.Duration
	timeout  time.Duration // bounds one read
	now      func() time.Time
	log      *slog.Logger

	mu       sync.Mutex
	cur      *snapshot
	inflight chan struct{} // closed when the running read ends; nil when none runs
	reads    int           // backend reads so far, for tests
}

func newPoller(queues []*fila.Queue, interval, timeout time.Duration, now func() time.Time, log *slog.Logger) *poller {
	return &poller{queues: queues, interval: interval, timeout: timeout, now: now, log: log}
}

// get returns a snapshot at most interval old, reading one if needed.
func (p *poller) get(ctx context.Context) (*snapshot, error) {
	for {
		p.mu.Lock()
		if p.cur != nil && p.now().Sub(p.cur.At) < p.interval {
			s := p.cur
			p.mu.Unlock()
			return s, nil
		}
		if wait := p.inflight; wait != nil {
			p.mu.Unlock()
			select {
			case <-wait:
				continue
			case <-ctx.Done():
				return nil, ctx.Err()
			}
		}
		done := make(chan struct{})
		p.inflight = done
		p.reads++
		p.mu.Unlock()

		// The read outlives one impatient caller: others may be waiting on it.
		s := p.read(context.WithoutCancel(ctx))
		p.mu.Lock()
		p.cur, p.inflight = s, nil
		p.mu.Unlock()
		close(done)
		return s, nil
	}
}

// read takes a snapshot: per queue, fila.Queue.Metrics (counts, switches,
// throughput), which is three backend calls.
func (p *poller) read(ctx context.Context) *snapshot {
	ctx, cancel := context.WithTimeout(ctx, p.timeout)
	defer cancel()
	s := &snapshot{At: p.now(), Queues: make([]queueSnap, len(p.queues))}
	var wg sync.WaitGroup
	sem := make(chan struct{}, 4)
	for i, q := range p.queues {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			qs := queueSnap{Name: q.Name()}
			m, err := q.Metrics(ctx, chartMinutes)
			if err != nil {
				p.log.ErrorContext(ctx, "dashboard: read queue metrics", "queue", q.Name(), "err", err)
				qs.Err = backendFailed
			} else {
				qs.Metrics = m
			}
			s.Queues[i] = qs
		}()
	}
	wg.Wait()
	return s
}

// readCount returns how many backend reads the poller made.
func (p *poller) readCount() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.reads
}

// queue returns one queue's entry, or false.
func (s *snapshot) queue(name string) (queueSnap, bool) {
	for _, q := range s.Queues {
		if q.Name == name {
			return q, true
		}
	}
	return queueSnap{}, false
}

// invalidate makes the next get read the backend: an action changed it.
func (p *poller) invalidate() {
	p.mu.Lock()
	p.cur = nil
	p.mu.Unlock()
}
