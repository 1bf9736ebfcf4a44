package redisbackend

import (
	"context"
	"sync/atomic"
	"time"

	"github.com/fila-go/fila/backend"
)

// Contexts. go-redis neither ends a command when its context is cancelled
// nor at the context's deadline unless the client sets
// ContextTimeoutEnabled (and then it cuts the reply off, losing it), and
// the REST transport awaits a request that changes state even when its
// context is cancelled. So the backend bounds every call itself, whatever
// the transport and its options:
//
//   - a context already done fails the call before anything is sent, so it
//     changes nothing;
//   - a context that can end (ctx.Done() != nil) has the command run on a
//     goroutine while the caller waits for the reply or the context's end,
//     whichever comes first, and returns ctx.Err() at that end; the command
//     itself still runs to its end, so it may or may not have taken effect;
//   - a context that cannot end (context.Background) runs the command on the
//     caller's goroutine, at no extra cost.
//
// A claim whose caller left is seen to its end and the job it claimed is
// handed back at once (handBack), instead of sitting locked in active until
// the stalled check requeues it.

// Pending-call states: the caller waits, took the reply, or left.
const (
	callWaiting int32 = iota
	callServed
	callLeft
)

// handBackTimeout bounds handing back a job claimed for a caller that left.
const handBackTimeout = 5 * time.Second

// pendingCall is one call run on its own goroutine for a caller that may
// leave.
type pendingCall struct {
	state atomic.Int32
	v     any
	err   error
	done  chan struct{}
}

// bounded runs call on a goroutine and returns its result, or ctx.Err() as
// soon as ctx ends. call gets ctx, or ctx without its cancellation and
// deadline when keep is set (a claim, whose reply must be seen to hand its
// job back). When the caller left first, left (if not nil) gets the
// result on call's goroutine. The caller checks ctx.Done() != nil first:
// a context that cannot end needs none of this.
func bounded(ctx context.Context, keep bool, call func(context.Context) (any, error), left func(any, error)) (any, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	rctx := ctx
	if keep {
		rctx = context.WithoutCancel(ctx)
	}
	pc := &pendingCall{done: make(chan struct{})}
	go func() {
		v, err := call(rctx)
		pc.v, pc.err = v, err
		if pc.state.CompareAndSwap(callWaiting, callServed) {
			close(pc.done)
			return
		}
		if left != nil {
			left(v, err)
		}
	}()
	select {
	case <-pc.done:
	case <-ctx.Done():
		if pc.state.CompareAndSwap(callWaiting, callLeft) {
			return nil, ctx.Err()
		}
		<-pc.done // the reply arrived in that same instant
	}
	if pc.err != nil {
		// A client with ContextTimeoutEnabled fails the command at ctx's
		// deadline (by the socket's clock, a hair before ctx's timer) with
		// its own timeout error: report the context's.
		if dl, ok := ctx.Deadline(); ok && !time.Now().Before(dl) {
			<-ctx.Done()
		}
		if err := ctx.Err(); err != nil {
			return nil, err
		}
	}
	return pc.v, pc.err
}

// eval runs one script over the connection within ctx's bounds (see
// bounded). left, when not nil, receives the result of a call whose caller
// left, and the call then runs to its end whatever ctx's deadline (a claim
// hands its job back, a script that readied jobs wakes local claims).
func (b *Backend) eval(ctx context.Context, s *Script, keys []string, args []any, left func(any, error)) (any, error) {
	if ctx.Done() == nil {
		return b.conn.Eval(ctx, s, keys, args...)
	}
	return bounded(ctx, left != nil, func(ctx context.Context) (any, error) {
		return b.conn.Eval(ctx, s, keys, args...)
	}, left)
}

// evalBatch runs conn.EvalBatch within ctx's bounds (see eval).
func (b *Backend) evalBatch(ctx context.Context, s *Script, keys []string, calls [][]any, left func(any, error)) ([]any, error) {
	if ctx.Done() == nil {
		return b.conn.EvalBatch(ctx, s, keys, calls)
	}
	v, err := bounded(ctx, left != nil, func(ctx context.Context) (any, error) {
		return b.conn.EvalBatch(ctx, s, keys, calls)
	}, left)
	replies, _ := v.([]any)
	return replies, err
}

// ping runs conn.Ping within ctx's bounds (see bounded).
func (b *Backend) ping(ctx context.Context) error {
	if ctx.Done() == nil {
		return b.conn.Ping(ctx)
	}
	_, err := bounded(ctx, false, func(ctx context.Context) (any, error) { return nil, b.conn.Ping(ctx) }, nil)
	return err
}

// handBackLeft returns what a claim whose caller may leave passes to
// eval or the finish batcher: a function that hands the claimed job back,
// or nil when ctx cannot end (nothing to hand back, nothing allocated).
func (b *Backend) handBackLeft(ctx context.Context, queue, token string) func(any, error) {
	if ctx.Done() == nil {
		return nil
	}
	return func(v any, err error) {
		if err == nil {
			b.handBack(queue, token, v)
		}
	}
}

// handBack releases a job that a claim's reply v holds under token, for a
// caller that left before the reply: the job returns to the consuming end
// of waiting without spending an attempt. If the release fails, the job's
// lock expires and the stalled check returns it.
func (b *Backend) handBack(queue, token string, v any) {
	reply, ok := v.(string)
	if !ok {
		return // no job claimed
	}
	j, _ := decodeJob(reply)
	if j == nil || j.ID == "" {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), handBackTimeout)
	defer cancel()
	_ = b.JobRelease(ctx, &backend.JobReleaseParams{Queue: queue, ID: j.ID, Token: token})
}
