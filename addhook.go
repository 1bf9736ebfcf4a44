package fila

import (
	"context"
	"maps"
	"slices"
)

// Adding is one job on its way into a queue, as an AddHook sees it.
type Adding struct {
	Queue string
	Name  string
	Data  []byte // read only
	// Options are the job's options with the queue's Defaults applied. A
	// hook may change them; they are validated after every hook ran. Meta
	// is the add's own copy (nil when the job has none), never the
	// caller's map, so a hook may write to it or replace it.
	Options *JobOptions
}

// AddHook lets code outside fila act on each job Add and AddBulk store,
// before it is stored: a tracing package injects the trace context into
// Options.Meta and starts a producer span. It runs in the caller's
// goroutine with the add's context. The func it returns, if not nil, is
// called once the add has ended, with the job (as Add returns it) or the
// error that failed the call (then the job is nil and nothing was stored
// when the error is a *ValidationError). In AddBulk every hook sees every
// job before anything is stored.
type AddHook func(ctx context.Context, a *Adding) (done func(*Job, error))

// hookEnd is one hook's end of the add of job (an index into the call's jobs).
type hookEnd struct {
	job int
	end func(*Job, error)
}

// runAddHooks runs the queue's hooks on job i and returns its options as
// they left them, and the ends so far plus theirs, the last hook's first.
// The options come and go by value: a pointer to item's copy would make it
// escape to the heap on every add, hooks or not.
func (q *Queue) runAddHooks(ctx context.Context, i int, name string, data []byte, o JobOptions, ends []hookEnd) (JobOptions, []hookEnd) {
	o.Meta = maps.Clone(o.Meta)
	a := &Adding{Queue: q.name, Name: name, Data: data, Options: &o}
	first := len(ends)
	for _, h := range q.opts.AddHooks {
		if end := h(ctx, a); end != nil {
			ends = append(ends, hookEnd{job: i, end: end})
		}
	}
	slices.Reverse(ends[first:])
	return o, ends
}

// endAddHooks reports the call's outcome to every hook end.
func endAddHooks(ends []hookEnd, jobs []*Job, err error) {
	for _, e := range ends {
		if err != nil {
			e.end(nil, err)
		} else {
			e.end(jobs[e.job], nil)
		}
	}
}
