package fila

import (
	"context"
	"fmt"
	"maps"
	"time"

	"github.com/fila-go/fila/backend"
)

// Queue adds jobs to a named queue and inspects and operates it. It is
// cheap, safe for concurrent use, and holds no connection of its own: many
// Queue values may share one backend.
type Queue struct {
	be       backend.Backend
	name     string
	opts     QueueOptions
	maxData  int
	nameErr  error // a bad name is reported by every call
	defaults JobOptions
}

// Counts holds the number of jobs in each state.
type Counts = backend.Counts

// NewQueue returns a handle on the named queue. A nil backend panics. A
// malformed name is reported as a *ValidationError by every method.
// At most one QueueOptions may be given.
func NewQueue(b backend.Backend, name string, opts ...QueueOptions) *Queue {
	if b == nil {
		panic("fila: NewQueue: nil backend")
	}
	if len(opts) > 1 {
		panic("fila: NewQueue: more than one QueueOptions")
	}
	q := &Queue{be: b, name: name, nameErr: validateQueueName(name)}
	if len(opts) == 1 {
		q.opts = opts[0]
	}
	q.defaults = q.opts.Defaults
	q.defaults.JobID, q.defaults.Dedup = "", nil
	switch {
	case q.opts.MaxDataSize == 0:
		q.maxData = DefaultMaxDataSize
	case q.opts.MaxDataSize < 0:
		q.maxData = -1
	default:
		q.maxData = q.opts.MaxDataSize
	}
	return q
}

// Name returns the queue's name.
func (q *Queue) Name() string { return q.name }

// Backend returns the backend the queue uses.
func (q *Queue) Backend() backend.Backend { return q.be }

func (q *Queue) errorf(op string, err error) error {
	return fmt.Errorf("fila: %s %q: %w", op, q.name, err)
}

// BulkJob is one job of AddBulk.
type BulkJob struct {
	Name    string
	Data    []byte
	Options *JobOptions
}

// Add adds one job. opts may be nil. Invalid options fail here, as a
// *ValidationError naming the field, and nothing is added. An existing
// JobID returns that job with Existed set; a repeated Dedup ID returns a job
// with only ID and Deduplicated set.
//
// A ctx already done returns its error and adds nothing. A ctx that ends
// while Add waits for the backend returns ctx.Err() at once, and then the
// job may or may not have been added: retrying with the same JobID is safe
// (it returns the job with Existed set instead of adding a second one).
func (q *Queue) Add(ctx context.Context, name string, data []byte, opts *JobOptions) (*Job, error) {
	jobs, err := q.addJobs(ctx, "add job to", []BulkJob{{Name: name, Data: data, Options: opts}})
	if err != nil {
		return nil, err
	}
	return jobs[0], nil
}

// AddBulk adds several jobs in one call (pipelined where the backend can).
// Every job is validated first: one bad job fails the call and none is
// added. Each job is added atomically on its own. Contexts work as with
// Add: when ctx ends during the call, any of the jobs may have been added.
func (q *Queue) AddBulk(ctx context.Context, jobs []BulkJob) ([]*Job, error) {
	return q.addJobs(ctx, "add jobs to", jobs)
}

func (q *Queue) addJobs(ctx context.Context, op string, jobs []BulkJob) (out []*Job, err error) {
	if q.nameErr != nil {
		return nil, q.errorf(op, q.nameErr)
	}
	var ends []hookEnd // AddHooks' ends, reported once the call is over
	defer func() {
		if len(ends) > 0 {
			endAddHooks(ends, out, err)
		}
	}()
	items := make([]backend.JobAddItem, len(jobs))
	for i := range jobs {
		var it backend.JobAddItem
		it, ends, err = q.item(ctx, i, &jobs[i], ends)
		if err != nil {
			if len(jobs) > 1 {
				err = fmt.Errorf("job %d: %w", i, err)
			}
			return nil, q.errorf(op, err)
		}
		if it.Options.Group != "" {
			if _, err := q.groups(op); err != nil { // a backend without groups would run it ungrouped
				return nil, err
			}
		}
		items[i] = it
	}
	if len(items) == 0 {
		return []*Job{}, nil
	}
	res, err := q.be.JobAdd(ctx, &backend.JobAddParams{Queue: q.name, Jobs: items})
	if err != nil {
		return nil, q.errorf(op, err)
	}
	out = make([]*Job, len(res))
	for i, r := range res {
		switch r.Status {
		case backend.AddGroupFull:
			return nil, q.errorf(op, &GroupFullError{Group: items[i].Options.Group})
		case backend.AddDeduplicated:
			out[i] = &Job{ID: r.ID, Name: items[i].Name, Deduplicated: true, be: q.be, queue: q.name}
		case backend.AddExists:
			j, err := q.GetJob(ctx, r.ID)
			if err != nil {
				return nil, err
			}
			j.Existed = true
			out[i] = j
		default:
			it := &items[i]
			out[i] = &Job{
				ID: r.ID, Name: it.Name, Data: it.Data, Options: jobOptionsFrom(it.Options), State: r.State,
				AddedAt: r.AddedAt, be: q.be, queue: q.name,
			}
			out[i].Options.Meta = maps.Clone(it.Options.Meta) // a snapshot: not the caller's map
			if r.State == StateDelayed {
				out[i].DueAt = r.AddedAt.Add(it.Options.Delay)
			}
		}
	}
	return out, nil
}

// item validates job i, after the AddHooks ran on it, and converts it for
// the backend.
func (q *Queue) item(ctx context.Context, i int, j *BulkJob, ends []hookEnd) (backend.JobAddItem, []hookEnd, error) {
	o, err := q.jobOptions(j)
	if err != nil {
		return backend.JobAddItem{}, ends, err
	}
	if len(q.opts.AddHooks) > 0 {
		o, ends = q.runAddHooks(ctx, i, j.Name, j.Data, o, ends)
	}
	it, err := q.addItem(j, o)
	return it, ends, err
}

// jobOptions checks a job's name and data and returns its options with the
// queue's defaults.
func (q *Queue) jobOptions(j *BulkJob) (JobOptions, error) {
	if err := validateText("job name", j.Name); err != nil {
		return JobOptions{}, err
	}
	if q.maxData >= 0 && len(j.Data) > q.maxData {
		size, limit := formatBytes(len(j.Data)), formatBytes(q.maxData)
		if size == limit { // rounding hid the difference: "1 MiB, limit 1 MiB"
			size, limit = fmt.Sprintf("%d B", len(j.Data)), fmt.Sprintf("%d B", q.maxData)
		}
		return JobOptions{}, invalid("data", "is %s, limit %s", size, limit)
	}
	var o JobOptions
	if j.Options != nil {
		o = *j.Options
	}
	return o.withDefaults(&q.defaults), nil
}

// addItem validates the final options and converts the job for the backend.
func (q *Queue) addItem(j *BulkJob, o JobOptions) (backend.JobAddItem, error) {
	if err := o.validate(); err != nil {
		return backend.JobAddItem{}, err
	}
	it := backend.JobAddItem{ID: o.JobID, Name: j.Name, Data: j.Data, Options: o.stored()}
	if o.Dedup != nil {
		d := *o.Dedup
		it.Dedup = &d
	}
	return it, nil
}

// GetJob returns a job, or an error matching ErrJobNotFound.
func (q *Queue) GetJob(ctx context.Context, id string) (*Job, error) {
	if q.nameErr != nil {
		return nil, q.errorf("get job from", q.nameErr)
	}
	bj, err := q.be.JobGet(ctx, &backend.JobGetParams{Queue: q.name, ID: id})
	if err != nil {
		return nil, fmt.Errorf("fila: get job %q from %q: %w", id, q.name, err)
	}
	return newJob(q.be, q.name, bj), nil
}

// Jobs lists jobs in one state: in run order for waiting, prioritized,
// paused and delayed; in claim order, oldest first, for active; newest
// first for completed and failed. It skips
// offset jobs and returns at most limit (0 means 100).
func (q *Queue) Jobs(ctx context.Context, state State, offset, limit int) ([]*Job, error) {
	if err := q.check(state, offset, limit); err != nil {
		return nil, q.errorf("list jobs of", err)
	}
	bjs, err := q.be.JobList(ctx, &backend.JobListParams{Queue: q.name, State: state, Offset: offset, Limit: limit})
	if err != nil {
		return nil, q.errorf("list jobs of", err)
	}
	out := make([]*Job, len(bjs))
	for i, bj := range bjs {
		out[i] = newJob(q.be, q.name, bj)
	}
	return out, nil
}

func (q *Queue) check(state State, offset, limit int) error {
	switch {
	case q.nameErr != nil:
		return q.nameErr
	case !state.Valid():
		return invalid("state", "%q is unknown", state)
	case offset < 0:
		return invalid("offset", "must be >= 0, got %d", offset)
	case limit < 0:
		return invalid("limit", "must be >= 0, got %d", limit)
	}
	return nil
}

// Logs returns a page of a job's log lines, oldest first, and the total.
// limit 0 returns all.
func (q *Queue) Logs(ctx context.Context, id string, offset, limit int) ([]string, int, error) {
	if err := q.check(StateWaiting, offset, limit); err != nil {
		return nil, 0, q.errorf("read logs of", err)
	}
	lines, total, err := q.be.JobLogs(ctx, &backend.JobLogsParams{Queue: q.name, ID: id, Offset: offset, Limit: limit})
	if err != nil {
		return nil, 0, fmt.Errorf("fila: read logs of job %q in %q: %w", id, q.name, err)
	}
	return lines, total, nil
}

// Counts returns the number of jobs in each state.
func (q *Queue) Counts(ctx context.Context) (*Counts, error) {
	if q.nameErr != nil {
		return nil, q.errorf("count jobs of", q.nameErr)
	}
	c, err := q.be.QueueCounts(ctx, &backend.QueueParams{Queue: q.name})
	if err != nil {
		return nil, q.errorf("count jobs of", err)
	}
	return c, nil
}

// Pause stops workers from claiming jobs of this queue, in every process.
// Adds still land; running jobs finish.
func (q *Queue) Pause(ctx context.Context) error { return q.setPaused(ctx, "pause", true) }

// Resume lets workers claim again after Pause.
func (q *Queue) Resume(ctx context.Context) error { return q.setPaused(ctx, "resume", false) }

func (q *Queue) setPaused(ctx context.Context, op string, paused bool) error {
	if q.nameErr != nil {
		return q.errorf(op, q.nameErr)
	}
	if err := q.be.QueuePause(ctx, &backend.QueuePauseParams{Queue: q.name, Paused: paused}); err != nil {
		return q.errorf(op, err)
	}
	return nil
}

// IsPaused reports whether the queue is paused.
func (q *Queue) IsPaused(ctx context.Context) (bool, error) {
	if q.nameErr != nil {
		return false, q.errorf("read state of", q.nameErr)
	}
	info, err := q.be.QueueInfo(ctx, &backend.QueueParams{Queue: q.name})
	if err != nil {
		return false, q.errorf("read state of", err)
	}
	return info.Paused, nil
}

// RateLimit stops claims on the queue for d, across every worker and
// process: what to do when a third-party API answers 429.
func (q *Queue) RateLimit(ctx context.Context, d time.Duration) error {
	if q.nameErr != nil {
		return q.errorf("rate limit", q.nameErr)
	}
	if d <= 0 {
		return q.errorf("rate limit", invalid("duration", "must be > 0, got %s", d))
	}
	if err := q.be.QueueRateLimit(ctx, &backend.QueueRateLimitParams{Queue: q.name, For: d}); err != nil {
		return q.errorf("rate limit", err)
	}
	return nil
}

// Drain removes every job that has not started (waiting, prioritized,
// paused, and flow parents waiting for children with their unfinished
// children) and, with delayed, the delayed ones. It returns how many it
// removed. Active and finished jobs stay.
func (q *Queue) Drain(ctx context.Context, delayed bool) (int, error) {
	if q.nameErr != nil {
		return 0, q.errorf("drain", q.nameErr)
	}
	n, err := q.be.QueueDrain(ctx, &backend.QueueDrainParams{Queue: q.name, Delayed: delayed})
	if err != nil {
		return 0, q.errorf("drain", err)
	}
	return n, nil
}

// Clean removes up to limit jobs (0: no limit) in state that are older than
// olderThan: by finish time for completed and failed jobs, by add time
// otherwise, oldest first in the order the state keeps them (waiting jobs
// in claim order). Active jobs cannot be cleaned. It returns the removed IDs.
func (q *Queue) Clean(ctx context.Context, state State, olderThan time.Duration, limit int) ([]string, error) {
	err := q.check(state, 0, limit)
	if err == nil && state == StateActive {
		err = invalid("state", "active jobs cannot be cleaned")
	}
	if err == nil && olderThan < 0 {
		err = invalid("olderThan", "must be >= 0, got %s", olderThan)
	}
	if err != nil {
		return nil, q.errorf("clean", err)
	}
	ids, err := q.be.QueueClean(ctx, &backend.QueueCleanParams{Queue: q.name, State: state, Age: olderThan, Limit: limit})
	if err != nil {
		return nil, q.errorf("clean", err)
	}
	return ids, nil
}

// Obliterate removes the queue and all its jobs, events and metrics. It
// refuses with ErrQueueActive while jobs are active, unless force. It keeps
// the queue's ID sequence (on Redis the one-field hash fila:{queue}:meta),
// so generated job IDs never repeat: an ID stored elsewhere (logs, results,
// a consumer of the event stream) never comes to name a different job.
func (q *Queue) Obliterate(ctx context.Context, force bool) error {
	if q.nameErr != nil {
		return q.errorf("obliterate", q.nameErr)
	}
	if err := q.be.QueueObliterate(ctx, &backend.QueueObliterateParams{Queue: q.name, Force: force}); err != nil {
		return q.errorf("obliterate", err)
	}
	return nil
}

// RetryJob moves a failed (or completed) job back to waiting with its
// attempts reset.
func (q *Queue) RetryJob(ctx context.Context, id string) error {
	return q.jobOp("retry", id, func() error {
		return q.be.JobRetry(ctx, &backend.JobRetryParams{Queue: q.name, ID: id})
	})
}

// Remove deletes a job that is not active, with its logs.
func (q *Queue) Remove(ctx context.Context, id string) error {
	return q.jobOp("remove", id, func() error {
		return q.be.JobRemove(ctx, &backend.JobRemoveParams{Queue: q.name, ID: id})
	})
}

// Promote moves a delayed job to waiting now.
func (q *Queue) Promote(ctx context.Context, id string) error {
	return q.jobOp("promote", id, func() error {
		return q.be.JobPromote(ctx, &backend.JobPromoteParams{Queue: q.name, ID: id})
	})
}

func (q *Queue) jobOp(op, id string, call func() error) error {
	if q.nameErr != nil {
		return q.errorf(op+" job in", q.nameErr)
	}
	if err := call(); err != nil {
		return fmt.Errorf("fila: %s job %q in %q: %w", op, id, q.name, err)
	}
	return nil
}

// RetryFailed moves the jobs that are failed when it starts back to
// waiting, in batches of 1,000, and returns how many moved. Jobs that fail
// again meanwhile are not retried twice.
func (q *Queue) RetryFailed(ctx context.Context) (int, error) {
	c, err := q.Counts(ctx)
	if err != nil {
		return 0, err
	}
	total := 0
	for int64(total) < c.Failed {
		batch := int(min(c.Failed-int64(total), 1000))
		n, err := q.be.QueueRetryJobs(ctx, &backend.QueueRetryJobsParams{Queue: q.name, State: StateFailed, Limit: batch})
		total += n
		if err != nil {
			return total, q.errorf("retry failed jobs in", err)
		}
		if n == 0 {
			break
		}
	}
	return total, nil
}
