package postgres

import (
	"context"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
)

// Notifications. NOTIFY inside a transaction takes a lock that serializes
// the commits of all notifying transactions in the cluster, held until the
// commit is durable: notifying from every add would queue adds behind one
// another's disk flushes. So a transition of the backend's own signals its
// queue after it commits: the waiting calls of this process wake at once,
// and a goroutine sends one NOTIFY per signalled queue (coalescing
// signals that come while it sends) in a transaction of its own with
// synchronous_commit off (a notification needs no durability). A process
// that dies between a commit and its NOTIFY leaves other processes to
// their FallbackRecheck. Adds inside the caller's transaction (WithTx)
// notify inside it: only their commit can tell.

// notifier sends the coalesced notifications.
type notifier struct {
	b *Backend

	mu      sync.Mutex
	pending map[string]bool
	kick    chan struct{}
	started bool
	stop    context.CancelFunc
	done    chan struct{}

	txMu  sync.Mutex
	txSig map[pgx.Tx][]string // queues to signal when the transaction commits
}

func newNotifier(b *Backend) *notifier {
	return &notifier{b: b, pending: map[string]bool{}, kick: make(chan struct{}, 1), txSig: map[pgx.Tx][]string{}}
}

// signal wakes the queue's waiting calls here and, soon, everywhere.
func (n *notifier) signal(queue string) {
	n.b.wake.wakeQueue(queue)
	n.mu.Lock()
	if n.b.wake.isClosed() {
		n.mu.Unlock()
		return
	}
	n.pending[queue] = true
	if !n.started {
		n.started = true
		ctx, cancel := context.WithCancel(context.Background())
		n.stop, n.done = cancel, make(chan struct{})
		go n.run(ctx)
	}
	n.mu.Unlock()
	select {
	case n.kick <- struct{}{}:
	default:
	}
}

func (n *notifier) run(ctx context.Context) {
	defer close(n.done)
	for {
		select {
		case <-ctx.Done():
			return
		case <-n.kick:
		}
		n.mu.Lock()
		queues := make([]string, 0, len(n.pending))
		for q := range n.pending {
			queues = append(queues, q)
		}
		clear(n.pending)
		n.mu.Unlock()
		batch := &pgx.Batch{}
		for _, q := range queues {
			batch.Queue(`SELECT set_config('synchronous_commit', 'off', true), pg_notify($1, $2)`, n.b.channel, q)
		}
		sctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		_ = n.b.pool.SendBatch(sctx, batch).Close() // lost: receivers re-check within FallbackRecheck
		cancel()
	}
}

func (n *notifier) close() {
	n.mu.Lock()
	stop, done := n.stop, n.done
	n.mu.Unlock()
	if stop != nil {
		stop()
		<-done
	}
}

// afterCommit records that tx's commit should signal queue.
func (n *notifier) afterCommit(tx pgx.Tx, queue string) {
	n.txMu.Lock()
	n.txSig[tx] = append(n.txSig[tx], queue)
	n.txMu.Unlock()
}

// settle signals what tx recorded, when it committed, and forgets it.
func (n *notifier) settle(tx pgx.Tx, committed bool) {
	n.txMu.Lock()
	queues := n.txSig[tx]
	delete(n.txSig, tx)
	n.txMu.Unlock()
	if committed {
		for _, q := range queues {
			n.signal(q)
		}
	}
}
