package fila

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/fila-go/fila/backend"
)

// ErrSchedulerNotFound: no scheduler with that ID in the queue.
var ErrSchedulerNotFound = errors.New("fila: scheduler not found")

// Scheduler is a stored job scheduler: a Schedule and the job each of its
// ticks adds. Each tick's job has the ID "sched:<scheduler ID>:<tick in
// Unix ms>" (see backend.SchedulerJobID), so it is added once however many
// processes race to add it.
type Scheduler struct {
	ID       string
	Schedule Schedule
	Name     string
	Data     []byte
	Options  JobOptions
	// Next is the tick of the pending job NextJobID; NextJobState is that
	// job's state, "" when it no longer exists.
	Next         time.Time
	NextJobID    string
	NextJobState State
	// Iterations counts the jobs added since the scheduler was created or
	// last changed, the pending one included.
	Iterations int
	// LastJobID is the job of the tick before Next, if any.
	LastJobID string
	// Lag is how long the pending job is overdue: the backend's clock
	// minus Next, while the job has not started; 0 otherwise. A lag that
	// keeps growing means no worker is taking the queue's jobs.
	Lag time.Duration
}

func (q *Queue) schedulers(op string) (backend.Schedulers, error) {
	if q.nameErr != nil {
		return nil, q.errorf(op, q.nameErr)
	}
	sb, ok := q.be.(backend.Schedulers)
	if !ok {
		return nil, q.errorf(op, backend.ErrUnsupported)
	}
	return sb, nil
}

// UpsertScheduler creates or changes the scheduler id: from now on, each
// tick of s adds a job named name with data and opts (nil for the queue's
// defaults; JobID, Dedup and Delay are the scheduler's to set). Upserting
// the same ID with the same schedule and job changes nothing, so every
// process may upsert its schedulers at start-up; a changed one replaces the
// pending job (unless it already runs) with the new schedule's first.
// Invalid input (a bad pattern, an unknown TZ, both or neither of Every and
// Pattern, Every below MinEvery, End before Start or past) is a
// *ValidationError naming the field, and nothing is stored.
//
// Ticks are computed from the backend's clock: the first when the
// scheduler is upserted, each next one when a worker claims the job of the
// previous tick, so a worker must run on the queue for the schedule to go
// on. After downtime the pending job runs once as the catch-up and the
// schedule resumes at the next tick after it (no burst of missed ticks).
func (q *Queue) UpsertScheduler(ctx context.Context, id string, s Schedule, name string, data []byte, opts *JobOptions) (*Scheduler, error) {
	const op = "upsert scheduler in"
	sb, err := q.schedulers(op)
	if err != nil {
		return nil, err
	}
	tk, tmpl, sp, err := q.schedulerInput(id, s, name, data, opts)
	if err != nil {
		return nil, q.errorf(op, err)
	}
	for range 20 {
		got, err := sb.SchedulerGet(ctx, &backend.SchedulerGetParams{Queue: q.name, ID: id})
		if err != nil {
			return nil, q.errorf(op, err)
		}
		prev := ""
		if cur := got.Scheduler; cur != nil {
			prev = cur.Spec
			if cur.Spec == sp {
				if cur.NextJobState != "" {
					return q.scheduler(cur, got.Now)
				}
				// The pending job is gone (removed by hand, or finished
				// without its advance): move on from its tick.
				st, err := sb.SchedulerAdvance(ctx, &backend.SchedulerAdvanceParams{Queue: q.name, ID: id, Spec: sp,
					From: cur.Next, Next: tk.after(cur.Next, got.Now)})
				if err != nil {
					return nil, q.errorf(op, err)
				}
				if st == backend.SchedulerStale {
					continue
				}
				return q.Scheduler(ctx, id)
			}
		}
		first := tk.first(got.Now)
		if first.IsZero() {
			return nil, q.errorf(op, invalid("End", "%v leaves no tick after the backend's now, %v", s.End, got.Now))
		}
		res, err := sb.SchedulerUpsert(ctx, &backend.SchedulerUpsertParams{Queue: q.name, ID: id, Spec: sp,
			Template: tmpl, Limit: s.Limit, Next: first, Prev: prev})
		if err != nil {
			return nil, q.errorf(op, err)
		}
		if !res.Conflict {
			return q.Scheduler(ctx, id)
		}
	}
	return nil, q.errorf(op, fmt.Errorf("scheduler %q kept changing under concurrent upserts", id))
}

// schedulerInput validates an upsert's input and returns the ticker, the
// job template and the stored spec.
func (q *Queue) schedulerInput(id string, s Schedule, name string, data []byte, opts *JobOptions) (*ticker, backend.SchedulerTemplate, string, error) {
	var tmpl backend.SchedulerTemplate
	if err := validateText("scheduler ID", id); err != nil {
		return nil, tmpl, "", err
	}
	tk, err := newTicker(s)
	if err != nil {
		return nil, tmpl, "", err
	}
	if opts != nil {
		switch {
		case opts.JobID != "":
			return nil, tmpl, "", invalid("JobID", "is set by the scheduler (sched:<id>:<tick>)")
		case opts.Dedup != nil:
			return nil, tmpl, "", invalid("Dedup", "cannot be used with a scheduler")
		case opts.Delay != 0:
			return nil, tmpl, "", invalid("Delay", "cannot be used with a scheduler: its ticks say when jobs run")
		}
	}
	// The AddHooks do not run on the template: they act on each added job
	// (a trace context of the upsert would be wrong for every tick's job).
	j := &BulkJob{Name: name, Data: data, Options: opts}
	o, err := q.jobOptions(j)
	if err != nil {
		return nil, tmpl, "", err
	}
	it, err := q.addItem(j, o)
	if err != nil {
		return nil, tmpl, "", err
	}
	it.Options.Delay = 0
	tmpl = backend.SchedulerTemplate{Name: it.Name, Data: it.Data, Options: it.Options}
	b, err := json.Marshal(tmpl)
	if err != nil {
		return nil, tmpl, "", err
	}
	sum := sha256.Sum256(b)
	return tk, tmpl, s.spec(hex.EncodeToString(sum[:8])).encode(), nil
}

// Scheduler returns one scheduler, or an error matching
// ErrSchedulerNotFound.
func (q *Queue) Scheduler(ctx context.Context, id string) (*Scheduler, error) {
	const op = "get scheduler from"
	sb, err := q.schedulers(op)
	if err != nil {
		return nil, err
	}
	got, err := sb.SchedulerGet(ctx, &backend.SchedulerGetParams{Queue: q.name, ID: id})
	if err != nil {
		return nil, q.errorf(op, err)
	}
	if got.Scheduler == nil {
		return nil, q.errorf(op, fmt.Errorf("%w: %q", ErrSchedulerNotFound, id))
	}
	return q.scheduler(got.Scheduler, got.Now)
}

// Schedulers returns the queue's schedulers, sorted by ID.
func (q *Queue) Schedulers(ctx context.Context) ([]*Scheduler, error) {
	const op = "list schedulers of"
	sb, err := q.schedulers(op)
	if err != nil {
		return nil, err
	}
	got, err := sb.SchedulerList(ctx, &backend.QueueParams{Queue: q.name})
	if err != nil {
		return nil, q.errorf(op, err)
	}
	out := make([]*Scheduler, 0, len(got.Schedulers))
	for _, s := range got.Schedulers {
		c, err := q.scheduler(s, got.Now)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, nil
}

// RemoveScheduler removes a scheduler and its pending job (a job that
// already runs is left to finish). It reports whether there was one.
func (q *Queue) RemoveScheduler(ctx context.Context, id string) (bool, error) {
	const op = "remove scheduler from"
	sb, err := q.schedulers(op)
	if err != nil {
		return false, err
	}
	ok, err := sb.SchedulerRemove(ctx, &backend.SchedulerRemoveParams{Queue: q.name, ID: id})
	if err != nil {
		return false, q.errorf(op, err)
	}
	return ok, nil
}

func (q *Queue) scheduler(s *backend.Scheduler, now time.Time) (*Scheduler, error) {
	sp, err := decodeSpec(s.Spec)
	if err != nil {
		return nil, q.errorf("read scheduler from", fmt.Errorf("scheduler %q: stored spec: %w", s.ID, err))
	}
	out := &Scheduler{ID: s.ID, Schedule: sp.schedule(), Name: s.Template.Name, Data: s.Template.Data,
		Options: jobOptionsFrom(s.Template.Options), Next: s.Next, NextJobID: s.NextJobID, NextJobState: s.NextJobState,
		Iterations: s.Iterations, LastJobID: s.LastJobID}
	switch s.NextJobState {
	case backend.StateWaiting, backend.StatePrioritized, backend.StatePaused, backend.StateDelayed:
		out.Lag = max(now.Sub(s.Next), 0)
	}
	return out, nil
}

// UpsertSchedulerJSON is UpsertScheduler with the job data encoded from v
// as JSON, for handlers built with JSONProcessor.
func UpsertSchedulerJSON[T any](ctx context.Context, q *Queue, id string, s Schedule, name string, v T, opts *JobOptions) (*Scheduler, error) {
	data, err := json.Marshal(v)
	if err != nil {
		return nil, q.errorf("upsert scheduler in", invalid("data", "does not encode as JSON: %v", err))
	}
	return q.UpsertScheduler(ctx, id, s, name, data, opts)
}
