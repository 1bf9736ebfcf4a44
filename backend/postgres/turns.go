package postgres

import (
	"context"
	"sync"
	"sync/atomic"

	"github.com/fila-go/fila/backend"
)

// Claim turns. Every claim takes the next ready row of its queue with FOR
// UPDATE SKIP LOCKED, so claimers never wait on each other's rows, but
// each one still walks the same index head past the rows the others hold,
// and each is a transaction of its own (a promotion, the claim's update,
// an event, a commit). A hundred of them at once only contend for the
// server's few cores and for the same few rows: on a 2-core server fila
// processed about 1,300 jobs/s at worker concurrency 100 against 3,400/s
// at 10. So a Backend lets at most Options.ClaimConcurrency of its claims
// talk to the server at once; the others wait in-process for a turn.
//
// A turn covers the server round trips of one claim attempt: JobClaim's
// look (claimOnce), and a JobComplete or JobFail that claims the next job
// (from its first statement to its last; the completion and the claim are
// one transaction). A blocked JobClaim gives its turn back before it
// sleeps on a notification or the fallback re-check. A goroutine never
// holds two turns: the functions a turn covers (claimIn, chain,
// completeFast, inTx) take none themselves. A turn is taken before any
// transaction of the backend's begins, so no goroutine waits for a turn
// while it holds a row lock of the backend's or a pool connection. Lock
// renewals take no turn: a job whose completion waits for one keeps its
// lock. The claims also hold at most ClaimConcurrency pool connections at
// once, where a hundred claimers took a hundred.

// defaultClaimConcurrency is Options.ClaimConcurrency's default.
const defaultClaimConcurrency = 8

// turns is a counting semaphore of claim turns.
type turns struct {
	slots   chan struct{} // one element per turn taken
	closed  chan struct{} // closed by Close: waiters return ErrClosed
	once    sync.Once
	waiting atomic.Int64 // calls waiting for a turn (tests read it)

	// inside, when set (tests), runs as a turn begins, before its round
	// trips; the function it returns runs as the turn ends.
	inside func() (leave func())
}

func newTurns(n int) *turns {
	return &turns{slots: make(chan struct{}, n), closed: make(chan struct{})}
}

// take waits for a turn: it returns nil holding one (give it back with
// give), or ctx's error, or ErrClosed once the backend closed.
func (t *turns) take(ctx context.Context) error {
	select {
	case t.slots <- struct{}{}:
	default:
		t.waiting.Add(1)
		err := t.wait(ctx)
		t.waiting.Add(-1)
		if err != nil {
			return err
		}
	}
	return nil
}

func (t *turns) wait(ctx context.Context) error {
	select {
	case t.slots <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-t.closed:
		return backend.ErrClosed
	}
}

// give returns a turn take returned.
func (t *turns) give() { <-t.slots }

// close wakes the waiters (ErrClosed) and refuses later waits; turns held
// are given back as usual.
func (t *turns) close() { t.once.Do(func() { close(t.closed) }) }

// claimTurn runs fn in a claim turn: the turn is taken first (ctx's error
// or ErrClosed while waiting) and given back when fn returns.
func claimTurn[T any](ctx context.Context, b *Backend, fn func() (T, error)) (T, error) {
	if err := b.turns.take(ctx); err != nil {
		var zero T
		return zero, err
	}
	defer b.turns.give()
	if in := b.turns.inside; in != nil {
		defer in()()
	}
	return fn()
}
