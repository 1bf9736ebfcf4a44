package redisbackend

import (
	"context"
	"errors"
	"fmt"

	"github.com/fila-go/fila/backend"
)

// JobAdd implements backend.Backend. Jobs are sent in batches of
// WithAddBatch per script call, all batches in one pipeline.
func (b *Backend) JobAdd(ctx context.Context, p *backend.JobAddParams) ([]backend.JobAddResult, error) {
	q := b.queue(p.Queue)
	if b.closed.Load() {
		return nil, backend.ErrClosed
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	items := make([][]any, len(p.Jobs))
	for i := range p.Jobs {
		args, err := addArgs(&p.Jobs[i])
		if err != nil {
			return nil, fmt.Errorf("redis: encode job %d: %w", i, err)
		}
		items[i] = args
	}
	var replies []any
	if len(items) == 1 {
		v, err := q.adds.do(ctx, items[0], nil)
		if err != nil {
			return nil, err
		}
		replies = []any{[]any{v}}
	} else {
		var calls [][]any
		for start := 0; start < len(items); start += b.opts.addBatch {
			args := append(append([]any{}, b.fixedArgs(q)...), flatten(items[start:min(start+b.opts.addBatch, len(items))])...)
			calls = append(calls, args)
		}
		var left func(any, error)
		if ctx.Done() != nil {
			// Jobs added for a caller that left still wake local claims.
			left = func(_ any, err error) {
				if err == nil {
					q.signal()
				}
			}
		}
		var err error
		replies, err = b.evalBatch(ctx, b.s.add, q.keysFor(b.s.add), calls, left)
		if err = b.layoutChecked(q, err); err != nil {
			return nil, fmt.Errorf("redis: add: %w", err)
		}
	}
	out := make([]backend.JobAddResult, 0, len(p.Jobs))
	for _, r := range replies {
		arr, _ := r.([]any)
		for _, e := range arr {
			v, _ := e.([]any)
			if len(v) != 4 {
				return nil, fmt.Errorf("redis: malformed add reply %v", e)
			}
			res := backend.JobAddResult{Status: backend.AddStatus(num(v[0])), ID: str(v[1])}
			if res.Status == backend.AddCreated || res.Status == backend.AddExists {
				res.State = stateLetters[stateByte(str(v[2]))]
				res.AddedAt = msTime(num(v[3]))
			}
			out = append(out, res)
		}
	}
	if len(out) != len(p.Jobs) {
		return nil, fmt.Errorf("redis: add returned %d results for %d jobs", len(out), len(p.Jobs))
	}
	q.signal()
	b.register(ctx, p.Queue, q)
	return out, nil
}

// register records the queue name in the registry set once per process,
// and for a queue under a hash tag of WithHashTag the tag in the queue's
// default layout's meta, which makes a backend without the tag refuse the
// queue (ErrHashTag) instead of reading empty keys.
func (b *Backend) register(ctx context.Context, name string, q *queueInfo) {
	if q.registered.Load() {
		return
	}
	if def := defaultBase(b.opts.prefix, name); q.base() != def {
		meta := def + keyNames[keyMeta]
		if _, err := b.eval(ctx, b.s.registry, []string{meta}, []any{"tag", hashTag(q.base())}, nil); err != nil {
			return
		}
	}
	if _, err := b.eval(ctx, b.s.registry, []string{b.registryKey()}, []any{"add", name}, nil); err == nil {
		q.registered.Store(true)
	}
}

// addArgs are one job's 7 values of add.lua.
func addArgs(it *backend.JobAddItem) ([]any, error) {
	body, err := encodeBody(it.Name, it.Data, &it.Options)
	if err != nil {
		return nil, err
	}
	did, ttl := "", int64(0)
	if it.Dedup != nil {
		did, ttl = it.Dedup.ID, ms(it.Dedup.TTL)
	}
	lifo := "0"
	if it.Options.LIFO {
		lifo = "1"
	}
	if g := it.Options.Group; g != "" { // add.lua: 2 or 3 (LIFO) and the group
		lifo = string(rune(lifo[0]+2)) + g
	}
	return []any{it.ID, it.Options.Priority, lifo, ms(it.Options.Delay), did, ttl, body}, nil
}

// add1Args returns add1.lua's arguments for the arguments addArgs made,
// when the job is one add1.lua takes: no delay, no dedup id, no group.
func add1Args(args []any) ([]any, bool) {
	lifo, _ := args[2].(string)
	if len(lifo) != 1 || args[3] != int64(0) || args[4] != "" {
		return nil, false
	}
	return []any{args[0], args[1], lifo, args[6]}, true
}

// JobGet implements backend.Backend.
func (b *Backend) JobGet(ctx context.Context, p *backend.JobGetParams) (*backend.Job, error) {
	v, err := b.run(ctx, b.s.get, b.queue(p.Queue), p.ID)
	if err != nil {
		return nil, err
	}
	if err := code(v, p.ID); err != nil {
		return nil, err
	}
	return decodeJob(str(v))
}

// JobList implements backend.Backend.
func (b *Backend) JobList(ctx context.Context, p *backend.JobListParams) ([]*backend.Job, error) {
	letter := stateLetter(p.State)
	if letter == "" {
		return nil, fmt.Errorf("redis: list: unknown state %q", p.State)
	}
	limit := p.Limit
	if limit <= 0 {
		limit = 100
	}
	v, err := b.run(ctx, b.s.list, b.queue(p.Queue), letter, p.Offset, limit)
	if err != nil {
		return nil, err
	}
	arr, _ := v.([]any)
	out := make([]*backend.Job, 0, len(arr))
	for _, e := range arr {
		j, err := decodeJob(str(e))
		var bad *backend.CorruptJobError
		switch {
		case errors.As(err, &bad):
			// Listed as far as it decodes, so one corrupt job does not hide
			// the page; claiming it moves it to failed with this reason.
			j.FailedReason = bad.Error()
		case err != nil:
			return nil, err
		}
		out = append(out, j)
	}
	return out, nil
}
