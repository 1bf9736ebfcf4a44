package fila

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/fila-go/fila/backend"
)

// Groups (JobOptions.Group) give one queue per-key ordering and fairness:
// at most GroupOptions.Concurrency jobs of one group run at once, across
// every worker and process; a group's jobs run in FIFO order; and groups
// are served round-robin, each taking one place in the queue's waiting
// line like one ungrouped job, so a group with thousands of jobs waiting
// delays a group with one by at most one turn. See docs/groups.md.

// ErrGroupFull matches every *GroupFullError.
var ErrGroupFull = errors.New("fila: group is full")

// GroupFullError reports an add refused because its group already holds
// GroupOptions.MaxSize waiting jobs. Nothing was stored.
type GroupFullError struct {
	Group string
}

func (e *GroupFullError) Error() string {
	return fmt.Sprintf("group %q holds its maximum of waiting jobs (GroupOptions.MaxSize): %v", e.Group, ErrGroupFull)
}

// Is makes errors.Is(err, ErrGroupFull) true.
func (e *GroupFullError) Is(target error) bool { return target == ErrGroupFull }

// ErrUnsupported: the backend lacks an optional feature (such as groups).
var ErrUnsupported = backend.ErrUnsupported

// GroupOptions are a queue's rules for its groups, stored with the queue so
// every process sees them.
type GroupOptions struct {
	// Concurrency is the most jobs of one group active at once, across all
	// workers; 0 means 1: strict FIFO per group.
	Concurrency int
	// MaxSize is the most waiting jobs a group may hold: an Add beyond it
	// fails with a *GroupFullError and stores nothing. 0 = no limit.
	MaxSize int
}

// GroupCounts are one group's numbers.
type GroupCounts = backend.GroupCounts

// maxGroupLen bounds a group ID.
const maxGroupLen = 128

// validateGroup accepts 1-128 bytes of UTF-8 without spaces or control
// characters.
func validateGroup(g string) error {
	if len(g) > maxGroupLen {
		return invalid("Group", "is %d bytes, limit %d", len(g), maxGroupLen)
	}
	if !utf8.ValidString(g) {
		return invalid("Group", "%q is not valid UTF-8", g)
	}
	if i := strings.IndexFunc(g, func(r rune) bool { return r <= 0x20 || r == 0x7f }); i >= 0 {
		return invalid("Group", "%q has a space or control character at byte %d", g, i)
	}
	return nil
}

func (q *Queue) groups(op string) (backend.Groups, error) {
	if q.nameErr != nil {
		return nil, q.errorf(op, q.nameErr)
	}
	g, ok := q.be.(backend.Groups)
	if !ok {
		return nil, q.errorf(op, ErrUnsupported)
	}
	return g, nil
}

// SetGroupOptions stores the queue's group options. They hold across
// processes and apply from the next claim (MaxSize: the next Add).
func (q *Queue) SetGroupOptions(ctx context.Context, o GroupOptions) error {
	g, err := q.groups("set group options of")
	if err != nil {
		return err
	}
	if o.Concurrency < 0 {
		return q.errorf("set group options of", invalid("GroupOptions.Concurrency", "must be >= 0, got %d", o.Concurrency))
	}
	if o.MaxSize < 0 {
		return q.errorf("set group options of", invalid("GroupOptions.MaxSize", "must be >= 0, got %d", o.MaxSize))
	}
	p := &backend.GroupOptionsParams{Queue: q.name, Options: backend.GroupOptions{Concurrency: max(o.Concurrency, 1), MaxSize: o.MaxSize}}
	if err := g.GroupOptionsSet(ctx, p); err != nil {
		return q.errorf("set group options of", err)
	}
	return nil
}

// GroupOptions returns the queue's group options.
func (q *Queue) GroupOptions(ctx context.Context) (GroupOptions, error) {
	g, err := q.groups("get group options of")
	if err != nil {
		return GroupOptions{}, err
	}
	o, err := g.GroupOptionsGet(ctx, &backend.QueueParams{Queue: q.name})
	if err != nil {
		return GroupOptions{}, q.errorf("get group options of", err)
	}
	return GroupOptions{Concurrency: o.Concurrency, MaxSize: o.MaxSize}, nil
}

// GroupCounts returns one group's waiting and active counts.
func (q *Queue) GroupCounts(ctx context.Context, group string) (*GroupCounts, error) {
	g, err := q.groups("count group of")
	if err != nil {
		return nil, err
	}
	if group == "" {
		return nil, q.errorf("count group of", invalid("group", "is empty"))
	}
	if err := validateGroup(group); err != nil {
		return nil, q.errorf("count group of", err)
	}
	c, err := g.GroupCounts(ctx, &backend.GroupParams{Queue: q.name, Group: group})
	if err != nil {
		return nil, q.errorf("count group of", err)
	}
	return c, nil
}
