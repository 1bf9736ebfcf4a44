package redisbackend

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/fila-go/fila/backend"
)

var _ backend.Schedulers = (*Backend)(nil)

// schedKeys returns the keys of lua/sched.lua and lua/sched_read.lua: the
// queue's fixed keys, its schedulers hash, then the job buckets.
func (q *queueInfo) schedKeys() []string {
	fixed := len(keyNames)
	keys := make([]string, 0, len(q.keys)+1)
	keys = append(keys, q.keys[:fixed]...)
	keys = append(keys, q.base()+"schedulers")
	return append(keys, q.keys[fixed:]...)
}

// SchedulerUpsert implements backend.Schedulers.
func (b *Backend) SchedulerUpsert(ctx context.Context, p *backend.SchedulerUpsertParams) (*backend.SchedulerUpsertResult, error) {
	o := p.Template.Options
	o.Delay = 0
	body, err := encodeBody(p.Template.Name, p.Template.Data, &o)
	if err != nil {
		return nil, fmt.Errorf("redis: encode scheduler %q: %w", p.ID, err)
	}
	lifo := 0
	if o.LIFO {
		lifo = 1
	}
	q := b.queue(p.Queue)
	v, err := b.run(ctx, b.s.sched, q, "u", p.ID, p.Spec, p.Prev, p.Next.UnixMilli(),
		backend.SchedulerJobID(p.ID, p.Next), p.Limit, o.Priority, lifo, body)
	if err != nil {
		return nil, err
	}
	b.register(ctx, p.Queue, q)
	switch num(v) {
	case -1:
		return &backend.SchedulerUpsertResult{Conflict: true}, nil
	case 1:
		return &backend.SchedulerUpsertResult{Replaced: true}, nil
	}
	return &backend.SchedulerUpsertResult{}, nil
}

// SchedulerAdvance implements backend.Schedulers.
func (b *Backend) SchedulerAdvance(ctx context.Context, p *backend.SchedulerAdvanceParams) (backend.SchedulerStatus, error) {
	next, jid := "", ""
	if !p.Next.IsZero() {
		next, jid = strconv.FormatInt(p.Next.UnixMilli(), 10), backend.SchedulerJobID(p.ID, p.Next)
	}
	v, err := b.run(ctx, b.s.sched, b.queue(p.Queue), "a", p.ID, p.Spec, p.From.UnixMilli(), next, jid)
	if err != nil {
		return 0, err
	}
	switch num(v) {
	case 0:
		return backend.SchedulerAdvanced, nil
	case 2:
		return backend.SchedulerEnded, nil
	}
	return backend.SchedulerStale, nil
}

// SchedulerRemove implements backend.Schedulers.
func (b *Backend) SchedulerRemove(ctx context.Context, p *backend.SchedulerRemoveParams) (bool, error) {
	v, err := b.run(ctx, b.s.sched, b.queue(p.Queue), "r", p.ID)
	if err != nil {
		return false, err
	}
	return num(v) == 1, nil
}

// SchedulerGet implements backend.Schedulers.
func (b *Backend) SchedulerGet(ctx context.Context, p *backend.SchedulerGetParams) (*backend.SchedulerGetResult, error) {
	if p.ID == "" {
		return nil, fmt.Errorf("redis: scheduler get: empty id")
	}
	list, err := b.schedRead(ctx, p.Queue, p.ID)
	if err != nil {
		return nil, err
	}
	res := &backend.SchedulerGetResult{Now: list.Now}
	if len(list.Schedulers) > 0 {
		res.Scheduler = list.Schedulers[0]
	}
	return res, nil
}

// SchedulerList implements backend.Schedulers.
func (b *Backend) SchedulerList(ctx context.Context, p *backend.QueueParams) (*backend.SchedulerListResult, error) {
	res, err := b.schedRead(ctx, p.Queue, "")
	if err != nil {
		return nil, err
	}
	sort.Slice(res.Schedulers, func(i, j int) bool { return res.Schedulers[i].ID < res.Schedulers[j].ID })
	return res, nil
}

func (b *Backend) schedRead(ctx context.Context, queue, id string) (*backend.SchedulerListResult, error) {
	v, err := b.run(ctx, b.s.schedRead, b.queue(queue), id)
	if err != nil {
		return nil, err
	}
	arr, _ := v.([]any)
	if len(arr) == 0 || (len(arr)-1)%3 != 0 {
		return nil, fmt.Errorf("redis: malformed scheduler reply")
	}
	now, err := strconv.ParseInt(str(arr[0]), 10, 64)
	if err != nil {
		return nil, fmt.Errorf("redis: malformed scheduler clock %q", str(arr[0]))
	}
	res := &backend.SchedulerListResult{Now: msTime(now), Schedulers: make([]*backend.Scheduler, 0, (len(arr)-1)/3)}
	for i := 1; i < len(arr); i += 3 {
		s, err := decodeScheduler(str(arr[i]), str(arr[i+1]))
		if err != nil {
			return nil, err
		}
		if l := str(arr[i+2]); l != "" {
			s.NextJobState = stateLetters[l[0]]
		}
		res.Schedulers = append(res.Schedulers, s)
	}
	return res, nil
}

// decodeScheduler parses a scheduler record (lua/sched_lib.lua).
func decodeScheduler(id, raw string) (*backend.Scheduler, error) {
	bad := fmt.Errorf("redis: scheduler %q: malformed record", id)
	f := strings.SplitN(raw, " ", 9)
	if len(f) != 9 {
		return nil, bad
	}
	var n [8]int64
	for i := range n {
		v, err := strconv.ParseInt(f[i], 10, 64)
		if err != nil || v < 0 {
			return nil, bad
		}
		n[i] = v
	}
	rest := f[8]
	sl, jl, ll := n[5], n[6], n[7]
	if sl > int64(len(rest)) || jl > int64(len(rest))-sl || ll > int64(len(rest))-sl-jl {
		return nil, bad
	}
	s := &backend.Scheduler{ID: id, Next: msTime(n[0]), Iterations: int(n[1]), Limit: int(n[2]),
		Spec: rest[:sl], NextJobID: rest[sl : sl+jl], LastJobID: rest[sl+jl : sl+jl+ll]}
	var j backend.Job
	if err := decodeRecord(&j, "0:"+f[3]+":"+f[4]+":"+rest[sl+jl+ll:]); err != nil {
		return nil, fmt.Errorf("redis: scheduler %q: %w", id, err)
	}
	s.Template = backend.SchedulerTemplate{Name: j.Name, Data: j.Data, Options: j.Options}
	return s, nil
}
