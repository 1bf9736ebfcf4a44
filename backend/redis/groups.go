package redisbackend

import (
	"context"
	"fmt"
	"sort"
	"time"

	"github.com/fila-go/fila/backend"
)

// Groups: see lua/groups.lua for the layout and docs/groups.md for the
// design. Every group's state lives in fields of the queue's meta hash and
// its line of jobs is linked through the jobs hash, so the scripts touch
// only the keys they are given, on Cluster and on Upstash.

var _ backend.Groups = (*Backend)(nil)

// GroupOptionsSet implements backend.Groups.
func (b *Backend) GroupOptionsSet(ctx context.Context, p *backend.GroupOptionsParams) error {
	rmax, rper := int64(0), int64(0)
	if p.Options.Rate.Max > 0 && p.Options.Rate.Per > 0 {
		rmax, rper = int64(p.Options.Rate.Max), max(ms(p.Options.Rate.Per), 1)
	}
	_, err := b.run(ctx, b.s.group, b.queue(p.Queue), "set", max(p.Options.Concurrency, 1), max(p.Options.MaxSize, 0), rmax, rper)
	return err
}

// GroupRateLimit implements backend.Groups.
func (b *Backend) GroupRateLimit(ctx context.Context, p *backend.GroupRateLimitParams) error {
	_, err := b.run(ctx, b.s.group, b.queue(p.Queue), "limit", p.Group, max(ms(p.For), 1))
	return err
}

// GroupOptionsGet implements backend.Groups.
func (b *Backend) GroupOptionsGet(ctx context.Context, p *backend.QueueParams) (*backend.GroupOptions, error) {
	v, err := b.run(ctx, b.s.group, b.queue(p.Queue), "get")
	if err != nil {
		return nil, err
	}
	arr, _ := v.([]any)
	if len(arr) != 4 {
		return nil, fmt.Errorf("redis: malformed group options reply %v", v)
	}
	o := &backend.GroupOptions{Concurrency: int(num(arr[0])), MaxSize: int(num(arr[1]))}
	if num(arr[2]) > 0 {
		o.Rate = backend.Limit{Max: int(num(arr[2])), Per: time.Duration(num(arr[3])) * time.Millisecond}
	}
	return o, nil
}

// GroupCounts implements backend.Groups.
func (b *Backend) GroupCounts(ctx context.Context, p *backend.GroupParams) (*backend.GroupCounts, error) {
	v, err := b.run(ctx, b.s.group, b.queue(p.Queue), "counts", p.Group)
	if err != nil {
		return nil, err
	}
	arr, _ := v.([]any)
	if len(arr) != 4 {
		return nil, fmt.Errorf("redis: malformed group counts reply %v", v)
	}
	return &backend.GroupCounts{Waiting: num(arr[0]), Active: num(arr[1]), LimitedFor: time.Duration(num(arr[2])) * time.Millisecond, Paused: num(arr[3]) == 1}, nil
}

// GroupPause implements backend.Groups.
func (b *Backend) GroupPause(ctx context.Context, p *backend.GroupPauseParams) error {
	paused := 0
	if p.Paused {
		paused = 1
	}
	_, err := b.run(ctx, b.s.group, b.queue(p.Queue), "pause", p.Group, paused)
	return err
}

// GroupList implements backend.Groups: a walk over the queue's groups in
// script calls of one HSCAN step each (a few hundred groups), so Redis is
// never held for the whole walk; the calls' tops are merged here. Groups
// changed during the walk may be seen in either state, as with HSCAN.
func (b *Backend) GroupList(ctx context.Context, p *backend.GroupListParams) ([]backend.GroupInfo, error) {
	limit := p.Limit
	if limit <= 0 {
		limit = 100
	}
	q := b.queue(p.Queue)
	var out []backend.GroupInfo
	seen := map[string]bool{} // HSCAN may return a field twice
	cursor := "0"
	for {
		v, err := b.run(ctx, b.s.group, q, "list", limit, cursor)
		if err != nil {
			return nil, err
		}
		arr, _ := v.([]any)
		if len(arr) == 0 || (len(arr)-1)%5 != 0 {
			return nil, fmt.Errorf("redis: malformed group list reply %v", v)
		}
		for i := 1; i < len(arr); i += 5 {
			g := str(arr[i])
			if seen[g] {
				continue
			}
			seen[g] = true
			out = append(out, backend.GroupInfo{Group: g, GroupCounts: backend.GroupCounts{
				Waiting: num(arr[i+1]), Active: num(arr[i+2]), LimitedFor: time.Duration(num(arr[i+3])) * time.Millisecond, Paused: num(arr[i+4]) == 1,
			}})
		}
		sort.Slice(out, func(i, j int) bool {
			if out[i].Waiting != out[j].Waiting {
				return out[i].Waiting > out[j].Waiting
			}
			return out[i].Group < out[j].Group
		})
		if len(out) > limit {
			out = out[:limit]
		}
		if cursor = str(arr[0]); cursor == "0" {
			return out, nil
		}
	}
}

// GroupJobs implements backend.Groups.
func (b *Backend) GroupJobs(ctx context.Context, p *backend.GroupJobsParams) ([]*backend.Job, error) {
	limit := p.Limit
	if limit <= 0 {
		limit = 100
	}
	v, err := b.run(ctx, b.s.group, b.queue(p.Queue), "jobs", p.Group, p.Offset, limit)
	if err != nil {
		return nil, err
	}
	arr, _ := v.([]any)
	out := make([]*backend.Job, 0, len(arr))
	for _, e := range arr {
		j, err := decodeJob(str(e))
		if err != nil {
			return nil, err
		}
		out = append(out, j)
	}
	return out, nil
}

// GroupDrain implements backend.Groups.
func (b *Backend) GroupDrain(ctx context.Context, p *backend.GroupParams) (int, error) {
	v, err := b.run(ctx, b.s.group, b.queue(p.Queue), "drain", p.Group)
	if err != nil {
		return 0, err
	}
	return int(num(v)), nil
}
