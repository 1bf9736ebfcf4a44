package fila

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
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

// GroupOptions are a queue's rules for its groups, stored with the queue so
// every process sees them.
type GroupOptions struct {
	// Concurrency is the most jobs of one group active at once, across all
	// workers; 0 means 1: strict FIFO per group.
	Concurrency int
	// MaxSize is the most waiting jobs a group may hold: an Add beyond it
	// fails with a *GroupFullError and stores nothing. 0 = no limit.
	MaxSize int
	// Rate, when Max > 0, allows each group Max job starts per Per, across
	// every worker: a group's starts are spaced at least Per/Max apart, so
	// no window of length Per holds more than Max. Other groups run
	// meanwhile. WhatsApp's pair limit: Limit{Max: 1, Per: 6 * time.Second}.
	Rate Limit
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
	if o.Rate.Max < 0 || o.Rate.Per < 0 || (o.Rate.Max > 0) != (o.Rate.Per > 0) {
		return q.errorf("set group options of", invalid("GroupOptions.Rate", "needs Max > 0 and Per > 0 (or both 0), got %+v", o.Rate))
	}
	p := &backend.GroupOptionsParams{Queue: q.name, Options: backend.GroupOptions{Concurrency: max(o.Concurrency, 1), MaxSize: o.MaxSize, Rate: o.Rate}}
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
	return GroupOptions{Concurrency: o.Concurrency, MaxSize: o.MaxSize, Rate: o.Rate}, nil
}

// GroupCounts returns one group's waiting and active counts.
func (q *Queue) GroupCounts(ctx context.Context, group string) (*GroupCounts, error) {
	g, err := q.groups("count group of")
	if err != nil {
		return nil, err
	}
	if err := validateGroupArg(group); err != nil {
		return nil, q.errorf("count group of", err)
	}
	c, err := g.GroupCounts(ctx, &backend.GroupParams{Queue: q.name, Group: group})
	if err != nil {
		return nil, q.errorf("count group of", err)
	}
	return c, nil
}

// RateLimitGroup holds one group back for d (a longer hold already set
// stays), across every worker and process: its jobs wait, other groups
// and ungrouped jobs run. Handlers usually return RateLimitedGroup instead.
func (q *Queue) RateLimitGroup(ctx context.Context, group string, d time.Duration) error {
	g, err := q.groups("rate limit group of")
	if err != nil {
		return err
	}
	if err := validateGroupArg(group); err != nil {
		return q.errorf("rate limit group of", err)
	}
	if d <= 0 {
		return q.errorf("rate limit group of", invalid("d", "must be > 0, got %s", d))
	}
	p := &backend.GroupRateLimitParams{Queue: q.name, Group: group, For: min(d, maxRateLimit)}
	if err := g.GroupRateLimit(ctx, p); err != nil {
		return q.errorf("rate limit group of", err)
	}
	return nil
}

func validateGroupArg(group string) error {
	if group == "" {
		return invalid("group", "is empty")
	}
	return validateGroup(group)
}

// RateLimitedGroup returns an error a handler gives back to say "the
// service refused this job's recipient for now" (WhatsApp 131056, an HTTP
// 429 for one key): the worker holds back the job's group only, for d,
// across every process, and hands the job back to the front of its group
// without spending an attempt. Other groups keep running; RateLimited stays
// for limits on the whole queue. For a job without a group it acts as
// RateLimited.
func RateLimitedGroup(d time.Duration) error { return &GroupRateLimitError{Delay: d} }

// GroupRateLimitError is the error RateLimitedGroup returns. Wrap it to add
// context; the worker finds it with errors.As.
type GroupRateLimitError struct {
	Delay time.Duration
}

func (e *GroupRateLimitError) Error() string {
	return fmt.Sprintf("fila: group rate limited for %s", e.Delay)
}

// GroupInfo is one group and its counts.
type GroupInfo = backend.GroupInfo

// PauseGroup pauses one group, across every process: its jobs wait (adds
// still land), other groups and ungrouped jobs run. Jobs of the group that
// are running finish.
func (q *Queue) PauseGroup(ctx context.Context, group string) error {
	return q.pauseGroup(ctx, "pause group of", group, true)
}

// ResumeGroup resumes a paused group.
func (q *Queue) ResumeGroup(ctx context.Context, group string) error {
	return q.pauseGroup(ctx, "resume group of", group, false)
}

func (q *Queue) pauseGroup(ctx context.Context, op, group string, paused bool) error {
	g, err := q.groups(op)
	if err != nil {
		return err
	}
	if err := validateGroupArg(group); err != nil {
		return q.errorf(op, err)
	}
	if err := g.GroupPause(ctx, &backend.GroupPauseParams{Queue: q.name, Group: group, Paused: paused}); err != nil {
		return q.errorf(op, err)
	}
	return nil
}

// Groups returns up to limit (0 means 100) of the queue's groups that have
// jobs, a limit or a pause, the most waiting first. It reads every group
// of the queue: use it for inspection, not on a hot path.
func (q *Queue) Groups(ctx context.Context, limit int) ([]GroupInfo, error) {
	g, err := q.groups("list groups of")
	if err != nil {
		return nil, err
	}
	if limit < 0 {
		return nil, q.errorf("list groups of", invalid("limit", "must be >= 0, got %d", limit))
	}
	out, err := g.GroupList(ctx, &backend.GroupListParams{Queue: q.name, Limit: limit})
	if err != nil {
		return nil, q.errorf("list groups of", err)
	}
	return out, nil
}

// GroupJobs returns a page of one group's waiting jobs in the order they
// will run, skipping offset and returning at most limit (0 means 100).
func (q *Queue) GroupJobs(ctx context.Context, group string, offset, limit int) ([]*Job, error) {
	g, err := q.groups("list group jobs of")
	if err != nil {
		return nil, err
	}
	if err := validateGroupArg(group); err != nil {
		return nil, q.errorf("list group jobs of", err)
	}
	if offset < 0 || limit < 0 {
		return nil, q.errorf("list group jobs of", invalid("offset", "offset and limit must be >= 0, got %d and %d", offset, limit))
	}
	bjs, err := g.GroupJobs(ctx, &backend.GroupJobsParams{Queue: q.name, Group: group, Offset: offset, Limit: limit})
	if err != nil {
		return nil, q.errorf("list group jobs of", err)
	}
	out := make([]*Job, len(bjs))
	for i, bj := range bjs {
		out[i] = newJob(q.be, q.name, bj)
	}
	return out, nil
}

// DrainGroup removes one group's waiting jobs and returns how many; its
// running jobs (and retries waiting for their backoff) stay.
func (q *Queue) DrainGroup(ctx context.Context, group string) (int, error) {
	g, err := q.groups("drain group of")
	if err != nil {
		return 0, err
	}
	if err := validateGroupArg(group); err != nil {
		return 0, q.errorf("drain group of", err)
	}
	n, err := g.GroupDrain(ctx, &backend.GroupParams{Queue: q.name, Group: group})
	if err != nil {
		return 0, q.errorf("drain group of", err)
	}
	return n, nil
}
