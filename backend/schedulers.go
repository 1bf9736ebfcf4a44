package backend

import (
	"context"
	"strconv"
	"strings"
	"time"
)

// Schedulers is implemented by backends that store job schedulers: records
// that produce one job per tick of a recurring schedule. Package fila
// computes the ticks (it parses cron patterns); the backend stores each
// scheduler, adds the job of its pending tick atomically with every change
// to the record, and guards every change with a compare-and-set, so any
// number of processes upserting and advancing the same scheduler produce
// exactly one job per tick. Times come from the backend's clock: the Now
// of SchedulerGet and SchedulerList, and a claimed job's ProcessedAt, are
// the only clocks fila computes ticks from.
//
// The job of a tick has the deterministic ID SchedulerJobID(id, tick); it
// is added delayed until its tick (or ready, for a tick already past).
type Schedulers interface {
	// SchedulerUpsert stores a scheduler and adds the job of its first
	// tick p.Next, if the stored scheduler's Spec is still p.Prev ("" for
	// none): otherwise nothing changes and the result says Conflict. A
	// replaced scheduler's pending job is removed first unless it is
	// active (a running job is never touched).
	SchedulerUpsert(ctx context.Context, p *SchedulerUpsertParams) (*SchedulerUpsertResult, error)

	// SchedulerAdvance moves a scheduler from its pending tick p.From to
	// p.Next and adds the job of p.Next, if the stored Spec is p.Spec and
	// the stored Next is p.From; otherwise it changes nothing and reports
	// SchedulerStale. A zero p.Next, or a scheduler whose Limit of jobs is
	// reached, ends it: the record is removed (SchedulerEnded).
	SchedulerAdvance(ctx context.Context, p *SchedulerAdvanceParams) (SchedulerStatus, error)

	// SchedulerGet returns one scheduler (nil when there is none) and the
	// backend's clock.
	SchedulerGet(ctx context.Context, p *SchedulerGetParams) (*SchedulerGetResult, error)

	// SchedulerList returns every scheduler of a queue, sorted by ID, and
	// the backend's clock.
	SchedulerList(ctx context.Context, p *QueueParams) (*SchedulerListResult, error)

	// SchedulerRemove removes a scheduler and its pending job unless that
	// job is active. It reports whether there was a scheduler.
	SchedulerRemove(ctx context.Context, p *SchedulerRemoveParams) (bool, error)
}

// Scheduler is a stored scheduler.
type Scheduler struct {
	ID string
	// Spec describes the schedule and the job template; the backend
	// stores it and compares it, but does not read it.
	Spec     string
	Template SchedulerTemplate
	// Limit is how many jobs the scheduler adds in all; 0 = no limit.
	Limit int
	// Next is the tick of the pending job, NextJobID that job's ID and
	// NextJobState its state ("" when the job no longer exists).
	Next         time.Time
	NextJobID    string
	NextJobState State
	// Iterations counts the jobs added since the last upsert that changed
	// the scheduler, the pending one included.
	Iterations int
	// LastJobID is the job of the tick before Next, if any.
	LastJobID string
}

// SchedulerTemplate is the job each tick adds. Options.Delay is ignored:
// the tick decides when the job is ready.
type SchedulerTemplate struct {
	Name    string
	Data    []byte
	Options JobOptions
}

// SchedulerUpsertParams creates or replaces a scheduler.
type SchedulerUpsertParams struct {
	Queue    string
	ID       string
	Spec     string
	Template SchedulerTemplate
	Limit    int
	Next     time.Time // the first tick
	Prev     string    // the Spec the stored scheduler must have; "" = none stored
}

// SchedulerUpsertResult reports an upsert.
type SchedulerUpsertResult struct {
	// Conflict: the stored Spec was not p.Prev; nothing changed.
	Conflict bool
	// Replaced: a stored scheduler was replaced.
	Replaced bool
}

// SchedulerAdvanceParams moves a scheduler to its next tick.
type SchedulerAdvanceParams struct {
	Queue string
	ID    string
	Spec  string
	From  time.Time
	Next  time.Time // zero: the scheduler ends
}

// SchedulerStatus says what an advance did.
type SchedulerStatus int

// The outcomes of SchedulerAdvance.
const (
	SchedulerAdvanced SchedulerStatus = iota // the job of Next was added
	SchedulerStale                           // another call moved or changed it first, or it is gone
	SchedulerEnded                           // no more ticks: the scheduler was removed
)

// SchedulerGetParams names a scheduler.
type SchedulerGetParams struct {
	Queue string
	ID    string
}

// SchedulerGetResult is a scheduler, or nil, and the backend's clock.
type SchedulerGetResult struct {
	Scheduler *Scheduler
	Now       time.Time
}

// SchedulerListResult is a queue's schedulers and the backend's clock.
type SchedulerListResult struct {
	Schedulers []*Scheduler
	Now        time.Time
}

// SchedulerRemoveParams names a scheduler to remove.
type SchedulerRemoveParams struct {
	Queue string
	ID    string
}

// SchedulerJobPrefix starts the ID of every job a scheduler adds.
const SchedulerJobPrefix = "sched:"

// SchedulerJobID is the ID of the job scheduler id adds for tick:
// "sched:<id>:<tick in unix ms>". Adding it twice adds one job.
func SchedulerJobID(id string, tick time.Time) string {
	return SchedulerJobPrefix + id + ":" + strconv.FormatInt(tick.UnixMilli(), 10)
}

// ParseSchedulerJobID returns the scheduler and tick of a job ID made by
// SchedulerJobID; ok is false for any other ID.
func ParseSchedulerJobID(jobID string) (id string, tick time.Time, ok bool) {
	rest, found := strings.CutPrefix(jobID, SchedulerJobPrefix)
	if !found {
		return "", time.Time{}, false
	}
	i := strings.LastIndexByte(rest, ':')
	if i <= 0 {
		return "", time.Time{}, false
	}
	ms, err := strconv.ParseInt(rest[i+1:], 10, 64)
	if err != nil || ms < 0 {
		return "", time.Time{}, false
	}
	return rest[:i], time.UnixMilli(ms), true
}
