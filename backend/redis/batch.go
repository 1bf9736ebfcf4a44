package redisbackend

import (
	"context"
	"fmt"
	"sync"
)

// batcher merges concurrent calls of one script into a single script call
// (group commit). The first caller to arrive leads: it runs every call
// waiting at that moment as one batch, hands the results out, and passes
// the lead to the first caller that arrived meanwhile, so no caller keeps
// serving others. A lone caller runs alone at once: there is no timer and
// no added latency; under concurrency, calls that arrive while a batch is
// in flight share the next one, which spreads a script call's fixed cost
// (the round trip, the Lua prelude, the queue switches) over many jobs.
//
// Each item stays atomic on its own inside the script; a batch is not a
// transaction.
type batcher struct {
	max  int
	exec func(ctx context.Context, items [][]any) ([]any, error)

	mu    sync.Mutex
	queue []*batchCall
	busy  bool
}

type batchCall struct {
	args  []any
	reply any
	err   error
	wake  chan bool // true: lead the next batch; false: your reply is set (nil for a leader)
}

// do runs one item through the batcher and returns its reply.
func (bt *batcher) do(ctx context.Context, args []any) (any, error) {
	c := &batchCall{args: args}
	bt.mu.Lock()
	lead := !bt.busy
	if !lead {
		c.wake = make(chan bool, 1) // only a waiting caller needs one
	}
	bt.queue = append(bt.queue, c)
	bt.busy = true
	bt.mu.Unlock()
	if !lead && !<-c.wake {
		return c.reply, c.err
	}

	bt.mu.Lock()
	n := min(len(bt.queue), bt.max)
	batch := bt.queue[:n:n]
	bt.queue = bt.queue[n:]
	if len(bt.queue) == 0 {
		bt.queue = nil // let the next append start a fresh array
	}
	bt.mu.Unlock()

	items := make([][]any, n)
	for i, b := range batch {
		items[i] = b.args
	}
	// The batch runs for every caller in it, so one caller's cancellation
	// must not fail the others' calls; the client's timeouts still apply.
	replies, err := bt.exec(context.WithoutCancel(ctx), items)
	if err == nil && len(replies) != n {
		err = fmt.Errorf("redis: batch of %d got %d replies", n, len(replies))
	}
	for i, b := range batch {
		if err != nil {
			b.err = err
		} else {
			b.reply = replies[i]
		}
		if b != c {
			b.wake <- false
		}
	}

	bt.mu.Lock()
	if len(bt.queue) > 0 {
		bt.queue[0].wake <- true
	} else {
		bt.busy = false
	}
	bt.mu.Unlock()
	return c.reply, c.err
}
