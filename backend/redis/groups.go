package redisbackend

import (
	"context"
	"fmt"

	"github.com/fila-go/fila/backend"
)

// Groups: see lua/groups.lua for the layout and docs/groups.md for the
// design. Every group's state lives in fields of the queue's meta hash and
// its line of jobs is linked through the jobs hash, so the scripts touch
// only the keys they are given, on Cluster and on Upstash.

var _ backend.Groups = (*Backend)(nil)

// GroupOptionsSet implements backend.Groups.
func (b *Backend) GroupOptionsSet(ctx context.Context, p *backend.GroupOptionsParams) error {
	_, err := b.run(ctx, b.s.group, b.queue(p.Queue), "set", max(p.Options.Concurrency, 1), max(p.Options.MaxSize, 0))
	return err
}

// GroupOptionsGet implements backend.Groups.
func (b *Backend) GroupOptionsGet(ctx context.Context, p *backend.QueueParams) (*backend.GroupOptions, error) {
	v, err := b.run(ctx, b.s.group, b.queue(p.Queue), "get")
	if err != nil {
		return nil, err
	}
	arr, _ := v.([]any)
	if len(arr) != 2 {
		return nil, fmt.Errorf("redis: malformed group options reply %v", v)
	}
	return &backend.GroupOptions{Concurrency: int(num(arr[0])), MaxSize: int(num(arr[1]))}, nil
}

// GroupCounts implements backend.Groups.
func (b *Backend) GroupCounts(ctx context.Context, p *backend.GroupParams) (*backend.GroupCounts, error) {
	v, err := b.run(ctx, b.s.group, b.queue(p.Queue), "counts", p.Group)
	if err != nil {
		return nil, err
	}
	arr, _ := v.([]any)
	if len(arr) != 2 {
		return nil, fmt.Errorf("redis: malformed group counts reply %v", v)
	}
	return &backend.GroupCounts{Waiting: num(arr[0]), Active: num(arr[1])}, nil
}
