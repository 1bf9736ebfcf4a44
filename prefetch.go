package fila

import (
	"context"
	"sync"
	"time"
)

// Prefetch (WorkerOptions.Prefetch): a worker runs Concurrency+Prefetch job
// chains, and a chain needs one of Concurrency handler slots to run its
// job. The gate hands slots out in the order the jobs were claimed: a
// claim enters it as soon as it returns, and a freed slot goes to the
// oldest job still waiting.

// slotGate is a FIFO of the worker's claimed jobs waiting for a handler slot.
type slotGate struct {
	mu     sync.Mutex
	free   int
	queue  []*slotTicket
	closed bool // the worker stops: no more waiting
}

// slotTicket is one claimed job's place at the gate. ready is closed when
// the job gets its slot; gone marks a ticket the drain took out.
type slotTicket struct {
	ready chan struct{}
	aj    *activeJob // set once its chain waits
	gone  bool
}

func newSlotGate(slots int) *slotGate { return &slotGate{free: slots} }

// enter queues a job just claimed.
func (g *slotGate) enter() *slotTicket {
	t := &slotTicket{ready: make(chan struct{})}
	g.mu.Lock()
	if g.free > 0 && len(g.queue) == 0 {
		g.free--
		close(t.ready)
	} else {
		g.queue = append(g.queue, t)
	}
	g.mu.Unlock()
	return t
}

// wait records the job a queued ticket holds; false when the gate has
// closed (the worker stops) and the job must be handed back.
func (g *slotGate) wait(t *slotTicket, aj *activeJob) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	t.aj = aj
	return !g.closed
}

// release frees a slot: the oldest waiting ticket takes it.
func (g *slotGate) release() {
	g.mu.Lock()
	if len(g.queue) > 0 {
		t := g.queue[0]
		g.queue[0] = nil
		g.queue = g.queue[1:]
		close(t.ready)
	} else {
		g.free++
	}
	g.mu.Unlock()
}

// withdraw takes a waiting ticket out of the gate, as take does, and
// reports whether it did: false when it got its slot or was taken
// meanwhile.
func (g *slotGate) withdraw(t *slotTicket) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	for i, q := range g.queue {
		if q == t {
			g.queue = append(g.queue[:i], g.queue[i+1:]...)
			t.gone = true
			return true
		}
	}
	return false
}

// leave gives up a ticket whose job will not run here. A ticket that got
// its slot meanwhile passes the slot on.
func (g *slotGate) leave(t *slotTicket) {
	g.mu.Lock()
	if t.gone {
		g.mu.Unlock()
		return
	}
	for i, q := range g.queue {
		if q == t {
			g.queue = append(g.queue[:i], g.queue[i+1:]...)
			g.mu.Unlock()
			return
		}
	}
	g.mu.Unlock()
	g.release()
}

// close takes every waiting job out of the gate, oldest first, and stops
// new waits.
func (g *slotGate) close() []*activeJob {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.closed = true
	return g.takeLocked()
}

// take takes every waiting job out of the gate, oldest first; the gate
// stays open.
func (g *slotGate) take() []*activeJob {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.takeLocked()
}

// takeLocked takes out the tickets whose chain waits (t.aj set); those
// still on their way to the gate stay.
func (g *slotGate) takeLocked() []*activeJob {
	var out []*activeJob
	kept := g.queue[:0]
	for _, t := range g.queue {
		if t.aj == nil {
			kept = append(kept, t)
			continue
		}
		t.gone = true
		out = append(out, t.aj)
	}
	clear(g.queue[len(kept):])
	g.queue = kept
	return out
}

// queueForSlot gives a job just claimed its place at the gate.
func (w *Worker) queueForSlot(c *claimed) {
	if w.gate != nil {
		c.ticket = w.gate.enter()
	}
}

// waitSlot holds a prefetched job until a handler slot is free. It gives
// the job up instead when the worker stops (handBackPrefetched, or this
// chain, hands it back unstarted), when the drain deadline handed it back,
// when its lock was lost while it waited, or when it waited PrefetchHold
// (holdSlot).
func (w *Worker) waitSlot(aj *activeJob, t *slotTicket) bool {
	select {
	case <-t.ready:
		return true
	default:
	}
	if w.gate.wait(t, aj) {
		if w.holdSlot(aj, t) {
			return true
		}
	} else if aj.state.CompareAndSwap(jobRunning, jobReleased) { // claimed as the worker stopped
		w.release(aj, atShutdown)
	}
	w.gate.leave(t)
	w.untrack(aj)
	return false
}

// holdSlot waits for t's slot, for at most PrefetchHold: a job still
// waiting then goes back to waiting (holdBack). It returns true when the
// job got its slot, false when it went back or its lock was lost.
func (w *Worker) holdSlot(aj *activeJob, t *slotTicket) bool {
	hold := time.NewTimer(w.opts.PrefetchHold)
	defer hold.Stop()
	holdC := hold.C
	for {
		select {
		case <-t.ready:
			return true
		case <-holdC:
			holdC = nil
			if !w.gate.withdraw(t) {
				continue // it got its slot, or a hand-back took it: wait on
			}
			if aj.state.CompareAndSwap(jobRunning, jobReleased) {
				// A slow handler holds the slot: let another worker run it.
				w.holdBack.Store(true)
				w.release(aj, heldBack)
			}
			return false
		case <-aj.ctx.Done():
			if aj.state.CompareAndSwap(jobRunning, jobFinishing) {
				w.log.Warn("job lock lost before it started; it will run again", "job", aj.job.ID)
			}
			return false
		}
	}
}

// handBackPrefetched returns the jobs waiting for a slot to waiting when
// the worker stops, newest first: each goes to the front of its list, so
// they keep their order there.
func (w *Worker) handBackPrefetched() {
	if w.gate == nil {
		return
	}
	w.handBack(w.gate.close(), atShutdown)
}

// handBackWaiting returns the jobs waiting for a slot to waiting, newest
// first, when a handler says the queue is rate limited.
func (w *Worker) handBackWaiting() {
	if w.gate != nil {
		w.handBack(w.gate.take(), afterRateLimit)
	}
}

func (w *Worker) handBack(waiting []*activeJob, why string) {
	for i := len(waiting) - 1; i >= 0; i-- {
		if aj := waiting[i]; aj.state.CompareAndSwap(jobRunning, jobReleased) {
			w.release(aj, why)
		}
	}
}

// freeSlot gives back a handler slot.
func (w *Worker) freeSlot() {
	if w.gate != nil {
		w.gate.release()
	}
}

// awaitHoldBack holds the dispatcher, after a prefetched job was handed
// back (holdBack), until one of the chains of Concurrency ends or the
// worker's handlers are short again, so that a worker behind slow handlers
// claims no job it cannot start. The dispatcher holds a chain token
// itself, hence the <=. It returns false when ctx ends.
func (w *Worker) awaitHoldBack(ctx context.Context) bool {
	for w.gate != nil && w.holdBack.Load() && len(w.sem) > w.opts.Concurrency {
		select {
		case <-w.heldWake:
		case <-ctx.Done():
			return false
		}
	}
	return true
}

// endChain gives back a job chain's token (w.sem) and tells a dispatcher
// in awaitHoldBack that a chain ended.
func (w *Worker) endChain() {
	<-w.sem
	w.wakeHeld()
}

// wakeHeld tells a dispatcher in awaitHoldBack to look again.
func (w *Worker) wakeHeld() {
	if w.heldWake != nil {
		select {
		case w.heldWake <- struct{}{}:
		default:
		}
	}
}
