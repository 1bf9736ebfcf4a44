package postgres

import (
	"context"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
)

// waker holds one LISTEN connection per Backend and wakes the calls blocked
// on a queue when a notification names it. It connects on the first wait,
// reconnects with a backoff when the connection drops, and wakes every
// waiter after a reconnect (notifications sent meanwhile were lost).
type waker struct {
	cfg     *pgx.ConnConfig
	channel string

	mu      sync.Mutex
	waiters map[string]chan struct{}
	started bool
	closed  bool
	stop    context.CancelFunc
	done    chan struct{}
}

func newWaker(cfg *pgx.ConnConfig, channel string) *waker {
	return &waker{cfg: cfg.Copy(), channel: channel, waiters: map[string]chan struct{}{}}
}

// ch returns a channel closed at the next notification for queue (or
// close). Take it before looking at the queue, so a notification sent
// between the look and the wait is not missed.
func (w *waker) ch(queue string) <-chan struct{} {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.started && !w.closed {
		w.started = true
		ctx, cancel := context.WithCancel(context.Background())
		w.stop, w.done = cancel, make(chan struct{})
		go w.run(ctx)
	}
	c, ok := w.waiters[queue]
	if !ok {
		c = make(chan struct{})
		if w.closed {
			close(c)
			return c
		}
		w.waiters[queue] = c
	}
	return c
}

// wakeQueue wakes the waiters of one queue, or of all queues for "".
func (w *waker) wakeQueue(queue string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for q, c := range w.waiters {
		if queue == "" || q == queue {
			close(c)
			delete(w.waiters, q)
		}
	}
}

func (w *waker) isClosed() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.closed
}

func (w *waker) close() {
	w.mu.Lock()
	if w.closed {
		w.mu.Unlock()
		return
	}
	w.closed = true
	stop, done := w.stop, w.done
	w.mu.Unlock()
	w.wakeQueue("")
	if stop != nil {
		stop()
		<-done
	}
}

// run listens until ctx ends, reconnecting after failures.
func (w *waker) run(ctx context.Context) {
	defer close(w.done)
	backoff := 50 * time.Millisecond
	for ctx.Err() == nil {
		err := w.listen(ctx)
		if ctx.Err() != nil {
			return
		}
		if err != nil {
			select {
			case <-ctx.Done():
				return
			case <-time.After(backoff):
			}
			backoff = min(2*backoff, 2*time.Second)
		}
		w.wakeQueue("") // anything sent while we were away is lost: look again
	}
}

func (w *waker) listen(ctx context.Context) error {
	conn, err := pgx.ConnectConfig(ctx, w.cfg)
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(ctx, "LISTEN "+pgx.Identifier{w.channel}.Sanitize()); err != nil {
		return err
	}
	w.wakeQueue("") // listening now: waiters that started before look again
	for {
		n, err := conn.WaitForNotification(ctx)
		if err != nil {
			return err
		}
		w.wakeQueue(n.Payload)
	}
}
