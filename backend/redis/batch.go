package redisbackend

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
)

// batcher merges concurrent calls of one script into shared script calls
// (group commit). A caller that finds fewer than maxInFlight batches running
// leads: it runs every call waiting at that moment as one batch, hands the
// results out, and passes the lead to a caller that arrived meanwhile, so
// no caller keeps serving others. A lone caller runs alone at once: there
// is no timer and no added latency. (Callers whose context can end never
// lead on their own goroutine, so that they can return when it ends; see
// do.) Under concurrency, calls
// that arrive while batches are in flight share the next one, which spreads
// a script call's fixed cost (the round trip, the queue switches) over many
// jobs; keeping a few batches in flight keeps Redis and the client busy at
// the same time instead of taking turns.
//
// Each item stays atomic on its own inside the script; a batch is not a
// transaction.
type batcher struct {
	max  int
	exec func(ctx context.Context, items [][]any) ([]any, error)

	mu       sync.Mutex
	queue    []*batchCall
	inFlight int
}

// maxInFlight bounds the batches of one batcher running at once. Two keep
// Redis and the client busy at the same time; more make smaller batches,
// and each batch has a fixed cost in Redis (fila-bench process at c=100:
// 2 in flight ran 5% faster than 4, at c=10 3% slower).
const maxInFlight = 2

type batchCall struct {
	args  []any
	reply any
	err   error
	wake  chan batchWake // nil for a caller that leads at once
	// canEnd: the caller's context can end, so it may leave while it
	// waits; such a caller is never handed the lead (see lead).
	canEnd bool
	state  atomic.Int32 // callWaiting, callServed or callLeft (call.go)
	// left receives the result of a call whose caller left after its
	// batch was taken; nil when there is nothing to undo.
	left func(any, error)
}

// batchWake tells a waiting caller its reply is set, or that it leads
// batch (which holds it).
type batchWake struct {
	lead  bool
	batch []*batchCall
}

// do runs one item through the batcher and returns its reply, within
// ctx's bounds (call.go): a context already done fails at once and the
// item is not sent; one that ends while the caller waits returns ctx.Err()
// at once, and the item is dropped if its batch has not been taken yet,
// or else runs with it and its result goes to left. A caller whose context
// cannot end leads on its own goroutine as before; a batch led for a
// caller that can leave runs on a goroutine of its own.
func (bt *batcher) do(ctx context.Context, args []any, left func(any, error)) (any, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	c := &batchCall{args: args, left: left, canEnd: ctx.Done() != nil}
	bt.mu.Lock()
	if bt.inFlight < maxInFlight {
		bt.inFlight++
		batch := bt.takeLocked(c)
		bt.mu.Unlock()
		if !c.canEnd {
			bt.lead(ctx, c, batch)
			return c.reply, c.err
		}
		c.wake = make(chan batchWake, 1)
		go bt.lead(context.WithoutCancel(ctx), nil, batch)
	} else {
		c.wake = make(chan batchWake, 1)
		bt.queue = append(bt.queue, c)
		bt.mu.Unlock()
	}
	if !c.canEnd {
		if w := <-c.wake; w.lead {
			bt.lead(ctx, c, w.batch)
		}
		return c.reply, c.err
	}
	select {
	case <-c.wake:
		return c.reply, c.err
	case <-ctx.Done():
		if !c.state.CompareAndSwap(callWaiting, callLeft) {
			<-c.wake // served in that same instant
			return c.reply, c.err
		}
		bt.mu.Lock()
		if i := slices.Index(bt.queue, c); i >= 0 {
			bt.queue = slices.Delete(bt.queue, i, i+1) // not taken: never sent
		}
		bt.mu.Unlock()
		return nil, ctx.Err()
	}
}

// lead runs batch and then, while calls wait, the next batches: it hands
// each to a waiting caller whose context cannot end (no caller keeps
// serving others), or, with none, runs it itself when it is a goroutine of
// its own (self nil) and on a new goroutine otherwise. self is the caller
// leading on its own goroutine, which takes its reply directly.
func (bt *batcher) lead(ctx context.Context, self *batchCall, batch []*batchCall) {
	for {
		bt.run(ctx, self, batch)
		// Take the next batch under the lock, so no other leader can take
		// the same calls.
		bt.mu.Lock()
		if len(bt.queue) == 0 {
			bt.inFlight--
			bt.mu.Unlock()
			return
		}
		next := bt.takeLocked(nil)
		bt.mu.Unlock()
		for _, n := range next {
			if !n.canEnd {
				n.state.Store(callServed) // it cannot leave
				n.wake <- batchWake{lead: true, batch: next}
				return
			}
		}
		if self != nil {
			go bt.lead(context.WithoutCancel(ctx), nil, next)
			return
		}
		batch = next
	}
}

// run executes one batch and hands each call its reply; a call whose
// caller left gets its result passed to its left instead.
func (bt *batcher) run(ctx context.Context, self *batchCall, batch []*batchCall) {
	items := make([][]any, len(batch))
	for i, b := range batch {
		items[i] = b.args
	}
	// The batch runs for every caller in it, so one caller's cancellation
	// must not fail the others' calls: ctx never ends here (do and lead
	// pass a context that cannot end).
	replies, err := bt.exec(ctx, items)
	if err == nil && len(replies) != len(batch) {
		err = fmt.Errorf("redis: batch of %d got %d replies", len(batch), len(replies))
	}
	for i, b := range batch {
		if err != nil {
			b.err = err
		} else {
			b.reply = replies[i]
		}
		switch {
		case b == self:
		case b.state.CompareAndSwap(callWaiting, callServed):
			b.wake <- batchWake{}
		case b.left != nil:
			b.left(b.reply, b.err)
		}
	}
}

// takeLocked removes a batch from the front of the queue: lead (if not nil)
// first, then waiting calls up to max.
func (bt *batcher) takeLocked(lead *batchCall) []*batchCall {
	n := min(len(bt.queue), bt.max)
	if lead != nil {
		n = min(len(bt.queue), bt.max-1)
	}
	batch := make([]*batchCall, 0, n+1)
	if lead != nil {
		batch = append(batch, lead)
	}
	batch = append(batch, bt.queue[:n]...)
	bt.queue = bt.queue[n:]
	if len(bt.queue) == 0 {
		bt.queue = nil // let the next append start a fresh array
	}
	return batch
}
