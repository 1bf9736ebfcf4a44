package redisbackend

import (
	"context"
	"fmt"
	"sync"
)

// batcher merges concurrent calls of one script into shared script calls
// (group commit). A caller that finds fewer than maxInFlight batches running
// leads: it runs every call waiting at that moment as one batch, hands the
// results out, and passes the lead to the first caller that arrived
// meanwhile, so no caller keeps serving others. A lone caller runs alone at
// once: there is no timer and no added latency. Under concurrency, calls
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
}

// batchWake tells a waiting caller its reply is set, or that it leads
// batch (which it heads).
type batchWake struct {
	lead  bool
	batch []*batchCall
}

// do runs one item through the batcher and returns its reply.
func (bt *batcher) do(ctx context.Context, args []any) (any, error) {
	c := &batchCall{args: args}
	var batch []*batchCall
	bt.mu.Lock()
	if bt.inFlight < maxInFlight {
		bt.inFlight++
		batch = bt.takeLocked(c)
		bt.mu.Unlock()
	} else {
		c.wake = make(chan batchWake, 1)
		bt.queue = append(bt.queue, c)
		bt.mu.Unlock()
		w := <-c.wake
		if !w.lead {
			return c.reply, c.err
		}
		batch = w.batch
	}

	items := make([][]any, len(batch))
	for i, b := range batch {
		items[i] = b.args
	}
	// The batch runs for every caller in it, so one caller's cancellation
	// must not fail the others' calls; the client's timeouts still apply.
	replies, err := bt.exec(context.WithoutCancel(ctx), items)
	if err == nil && len(replies) != len(batch) {
		err = fmt.Errorf("redis: batch of %d got %d replies", len(batch), len(replies))
	}
	for i, b := range batch {
		if err != nil {
			b.err = err
		} else {
			b.reply = replies[i]
		}
		if b != c {
			b.wake <- batchWake{}
		}
	}

	// Hand the lead on, with its batch decided here, under the lock, so no
	// other leader can take the same calls.
	bt.mu.Lock()
	if len(bt.queue) == 0 {
		bt.inFlight--
		bt.mu.Unlock()
		return c.reply, c.err
	}
	next := bt.takeLocked(nil)
	bt.mu.Unlock()
	next[0].wake <- batchWake{lead: true, batch: next}
	return c.reply, c.err
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
