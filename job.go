package fila

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/fila-go/fila/backend"
)

// Job is one unit of work and what is known about it. A Job is a snapshot:
// fields do not change after it is returned; GetJob reads a fresh one.
type Job struct {
	ID      string
	Name    string
	Data    []byte
	Options JobOptions // as stored; JobID and Dedup are not kept
	State   State

	AddedAt     time.Time
	DueAt       time.Time // delayed jobs: when they become ready
	ProcessedAt time.Time // when the latest attempt started
	FinishedAt  time.Time // when it completed or failed for good

	// AttemptsMade counts attempts that ended in success or failure;
	// AttemptsStarted also counts attempts handed back unfinished (shutdown,
	// rate limit, a prefetched job handed back after PrefetchHold) or lost
	// to a crashed worker.
	AttemptsMade    int
	AttemptsStarted int
	StalledCount    int

	ReturnValue  json.RawMessage // the handler's result, JSON-encoded
	FailedReason string
	Stacktrace   []string // stacks of the latest failed attempts that had one (panics)
	Progress     json.RawMessage

	// Existed is set by Add when JobOptions.JobID named a job that already
	// existed: this is that job, and nothing was added.
	Existed bool
	// Deduplicated is set by Add when the Dedup ID was seen within its TTL:
	// nothing was added, and ID is the job that first used the dedup ID
	// (it may have been removed since; only ID is set).
	Deduplicated bool

	be    backend.Backend
	queue string
	token string // the worker's lock, on the job a handler receives (WaitForChildren)
	moved bool   // WaitForChildren moved the job to waiting-children
}

func newJob(be backend.Backend, queue string, j *backend.Job) *Job {
	return &Job{
		ID: j.ID, Name: j.Name, Data: j.Data, Options: jobOptionsFrom(j.Options), State: j.State,
		AddedAt: j.AddedAt, DueAt: j.DueAt, ProcessedAt: j.ProcessedAt, FinishedAt: j.FinishedAt,
		AttemptsMade: j.AttemptsMade, AttemptsStarted: j.AttemptsStarted, StalledCount: j.StalledCount,
		ReturnValue: j.ReturnValue, FailedReason: j.FailedReason, Stacktrace: j.Stacktrace, Progress: j.Progress,
		be: be, queue: queue,
	}
}

// Queue returns the name of the job's queue.
func (j *Job) Queue() string { return j.queue }

// Decode unmarshals the job's JSON payload into v.
func (j *Job) Decode(v any) error {
	if err := json.Unmarshal(j.Data, v); err != nil {
		return fmt.Errorf("fila: decode job %q in %q: %w", j.ID, j.queue, err)
	}
	return nil
}

// DecodeReturnValue unmarshals the job's JSON result into v.
func (j *Job) DecodeReturnValue(v any) error {
	if len(j.ReturnValue) == 0 {
		return fmt.Errorf("fila: job %q in %q has no return value", j.ID, j.queue)
	}
	if err := json.Unmarshal(j.ReturnValue, v); err != nil {
		return fmt.Errorf("fila: decode return value of job %q in %q: %w", j.ID, j.queue, err)
	}
	return nil
}

// UpdateProgress stores v (JSON-encoded) as the job's progress and records a
// progress event. Call it from inside a handler, or on any job.
func (j *Job) UpdateProgress(ctx context.Context, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("fila: progress of job %q in %q: %w", j.ID, j.queue, err)
	}
	if err := j.be.JobUpdateProgress(ctx, &backend.JobUpdateProgressParams{Queue: j.queue, ID: j.ID, Progress: b}); err != nil {
		return fmt.Errorf("fila: progress of job %q in %q: %w", j.ID, j.queue, err)
	}
	j.Progress = b
	return nil
}

// Log appends a line to the job's log, kept with the job (the newest
// Options.KeepLogs lines when that is set).
func (j *Job) Log(ctx context.Context, format string, args ...any) error {
	line := format
	if len(args) > 0 {
		line = fmt.Sprintf(format, args...)
	}
	_, err := j.be.JobLogAdd(ctx, &backend.JobLogAddParams{Queue: j.queue, ID: j.ID, Line: line, Keep: j.Options.KeepLogs})
	if err != nil {
		return fmt.Errorf("fila: log to job %q in %q: %w", j.ID, j.queue, err)
	}
	return nil
}

// finishRecheck is how often WaitUntilFinished re-reads the job while no
// event about it arrives: events can be trimmed or skipped by bulk removals.
const finishRecheck = 5 * time.Second

// WaitUntilFinished blocks until the job completes or fails for good, and
// returns its final state. For a failed job it returns the job and a
// *JobFailedError; for one removed before it finished, ErrJobRemoved. A job
// removed by its retention as it finished is reported from its final event
// (State, FinishedAt, ReturnValue or FailedReason set). It ends with ctx.
func (j *Job) WaitUntilFinished(ctx context.Context) (*Job, error) {
	wrap := func(err error) error { return fmt.Errorf("fila: wait for job %q in %q: %w", j.ID, j.queue, err) }
	if j.Deduplicated {
		return nil, wrap(errors.New("the add was deduplicated"))
	}
	cursor, err := j.be.EventsCursor(ctx, &backend.QueueParams{Queue: j.queue})
	if err != nil {
		return nil, wrap(err)
	}
	var last *backend.Event // the final event seen for this job, if any
	for {
		bj, err := j.be.JobGet(ctx, &backend.JobGetParams{Queue: j.queue, ID: j.ID})
		switch {
		case errors.Is(err, backend.ErrJobNotFound):
			if last == nil { // it may have finished, and gone with its retention, since the last read
				if last, err = finalEventAfter(ctx, j.be, j.queue, cursor, j.ID); err != nil {
					return nil, wrap(err)
				}
			}
			if last != nil && last.Type != backend.EventRemoved {
				return j.fromEvent(last)
			}
			return nil, wrap(ErrJobRemoved)
		case err != nil:
			return nil, wrap(err)
		}
		fin := newJob(j.be, j.queue, bj)
		switch fin.State {
		case StateCompleted:
			return fin, nil
		case StateFailed:
			return fin, &JobFailedError{JobID: j.ID, Reason: fin.FailedReason}
		}
		last = nil
		deadline := time.Now().Add(finishRecheck)
		for last == nil && time.Now().Before(deadline) {
			evs, err := j.be.EventsRead(ctx, &backend.EventsReadParams{
				Queue: j.queue, After: cursor, Wait: time.Until(deadline), Count: 1000,
			})
			if err != nil {
				return nil, wrap(err)
			}
			if len(evs) == 0 {
				break
			}
			cursor = evs[len(evs)-1].ID
			last = finalEvent(evs, j.ID)
		}
	}
}

// fromEvent builds the final snapshot of a job that was removed as it
// finished.
func (j *Job) fromEvent(ev *backend.Event) (*Job, error) {
	fin := *j
	fin.FinishedAt = ev.Time
	if ev.Type == backend.EventFailed {
		fin.State, fin.FailedReason = StateFailed, ev.Data
		return &fin, &JobFailedError{JobID: j.ID, Reason: ev.Data}
	}
	fin.State = StateCompleted
	if ev.Data != "" {
		fin.ReturnValue = json.RawMessage(ev.Data)
	}
	return &fin, nil
}

// finalEventAfter reads, without waiting, every event after cursor and
// returns the first that ends the job's life, or nil.
func finalEventAfter(ctx context.Context, be backend.Backend, queue, cursor, id string) (*backend.Event, error) {
	for {
		evs, err := be.EventsRead(ctx, &backend.EventsReadParams{Queue: queue, After: cursor, Count: 1000})
		if err != nil || len(evs) == 0 {
			return nil, err
		}
		if ev := finalEvent(evs, id); ev != nil {
			return ev, nil
		}
		cursor = evs[len(evs)-1].ID
	}
}

// finalEvent returns the first event that ends the job's life, or nil.
func finalEvent(evs []backend.Event, id string) *backend.Event {
	for i := range evs {
		if evs[i].JobID != id {
			continue
		}
		switch evs[i].Type {
		case backend.EventCompleted, backend.EventFailed, backend.EventRemoved:
			return &evs[i]
		}
	}
	return nil
}
