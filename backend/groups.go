package backend

import (
	"context"
	"time"
)

// Groups is the optional interface of backends that run grouped jobs
// (JobOptions.Group) with a per-group concurrency and round-robin between
// groups. memory, redis, upstash and postgres implement it.
//
// Rules every implementation keeps:
//   - A group's waiting jobs run in FIFO order (LIFO jobs go to the front).
//   - At most GroupOptions.Concurrency jobs of one group are active at
//     once. A job failed with a retry keeps its slot until it runs again
//     (with a delay: while delayed), and runs before the group's other
//     waiting jobs, so with concurrency 1 the group's order is kept.
//   - Fairness: a group with waiting jobs and a free slot takes one place in
//     the queue's waiting line, like one ungrouped job; each claim of it
//     takes one job and, if the group can run another, puts the group back
//     at the far end of the line. So groups are served round-robin, and
//     ungrouped jobs and groups share the line in arrival order.
//   - Claims stay blocking and their cost does not grow with the number of
//     groups.
type Groups interface {
	// GroupOptionsSet stores the group options of a queue, for every
	// process. They apply from the next claim (and, for MaxSize, add).
	GroupOptionsSet(ctx context.Context, p *GroupOptionsParams) error

	// GroupOptionsGet returns a queue's group options (the defaults when
	// none were set).
	GroupOptionsGet(ctx context.Context, p *QueueParams) (*GroupOptions, error)

	// GroupCounts returns one group's counts.
	GroupCounts(ctx context.Context, p *GroupParams) (*GroupCounts, error)

	// GroupRateLimit holds one group back for p.For (a longer hold already
	// set stays): its jobs wait, other groups run. A handler's
	// RateLimitedGroup calls it, then hands its job back with JobRelease.
	GroupRateLimit(ctx context.Context, p *GroupRateLimitParams) error

	// GroupPause pauses (its jobs wait, adds still land) or resumes one
	// group; other groups run.
	GroupPause(ctx context.Context, p *GroupPauseParams) error

	// GroupList returns up to p.Limit groups that have waiting or active
	// jobs, a limit or a pause, the most waiting first (ties by name). It
	// reads every group: an admin call.
	GroupList(ctx context.Context, p *GroupListParams) ([]GroupInfo, error)

	// GroupJobs returns a page of one group's waiting jobs, in run order.
	GroupJobs(ctx context.Context, p *GroupJobsParams) ([]*Job, error)

	// GroupDrain removes one group's waiting jobs and returns how many.
	// Its active jobs, and retries keeping their slot, stay.
	GroupDrain(ctx context.Context, p *GroupParams) (int, error)
}

// GroupPauseParams pauses or resumes one group.
type GroupPauseParams struct {
	Queue  string
	Group  string
	Paused bool
}

// GroupListParams asks for the busiest groups.
type GroupListParams struct {
	Queue string
	Limit int // 0 means 100
}

// GroupInfo is one group and its counts.
type GroupInfo struct {
	Group string `json:"group"`
	GroupCounts
}

// GroupJobsParams asks for a page of one group's waiting jobs.
type GroupJobsParams struct {
	Queue  string
	Group  string
	Offset int
	Limit  int // 0 means 100
}

// GroupRateLimitParams holds a group back.
type GroupRateLimitParams struct {
	Queue string
	Group string
	For   time.Duration
}

// GroupOptions are a queue's rules for its groups.
type GroupOptions struct {
	// Concurrency is the most jobs of one group active at once, across
	// every worker; 0 means 1 (strict FIFO per group).
	Concurrency int
	// MaxSize is the most waiting jobs of one group; an add beyond it is
	// refused (AddGroupFull) and stores nothing. 0 = no limit.
	MaxSize int
	// Rate, when Max > 0, limits each group to Max starts per Per: a
	// group's starts are spaced at least Per/Max apart (so no window of
	// length Per holds more than Max), across every worker.
	Rate Limit
}

// GroupOptionsParams sets a queue's group options.
type GroupOptionsParams struct {
	Queue   string
	Options GroupOptions
}

// GroupParams names one group of a queue.
type GroupParams struct {
	Queue string
	Group string
}

// GroupCounts are one group's numbers.
type GroupCounts struct {
	Waiting int64 `json:"waiting"` // ready to run, in the group's line
	// Active counts the group's running jobs and its retries that keep
	// their slot while they wait for their backoff.
	Active int64 `json:"active"`
	// LimitedFor is the time left before the group may start a job again
	// (its Rate, or a GroupRateLimit), or 0.
	LimitedFor time.Duration `json:"limited_for_ns"`
	Paused     bool          `json:"paused"`
}
