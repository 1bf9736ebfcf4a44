// Package backend is the contract between fila and its storage.
//
// A Backend stores jobs and performs each state transition of the job
// lifecycle as one atomic step. Policy (retries, backoff, concurrency, lock
// renewal schedules, shutdown) lives in package fila; a backend only moves
// jobs between states and remembers them. Package fila imports this package,
// backends import it, and no backend imports fila.
//
// Every backend must pass the conformance suite in backend/backendtest.
//
// Times: the backend's clock decides every timestamp, due time and lock
// expiry (Redis uses its TIME inside scripts), so callers pass durations, not
// instants, and clock skew between worker processes does not matter.
package backend

import "context"

// Backend is the storage contract. Methods are named NounVerb and take a
// params struct so fields can be added without breaking implementations'
// callers. A nil error means the transition happened; the sentinel errors in
// errors.go report the expected refusals.
//
// Contexts: every method called with a context already done (cancelled or
// past its deadline) returns ctx.Err() and changes nothing. A context that
// ends while the method waits (for storage, or for a job) makes it return
// ctx.Err() promptly, whatever the storage client's own timeout settings;
// a change it had already sent may still take effect. A claim that ends
// that way must not keep its job: the backend hands it back (or, if it
// cannot, the job's lock expires and StalledCheck returns it).
type Backend interface {
	// JobAdd adds jobs to a queue. Each job is added atomically on its own;
	// a batch is not one transaction, but every job either lands whole or
	// not at all. Results come back in the order of p.Jobs.
	JobAdd(ctx context.Context, p *JobAddParams) ([]JobAddResult, error)

	// JobGet returns one job, or ErrJobNotFound.
	JobGet(ctx context.Context, p *JobGetParams) (*Job, error)

	// JobList returns jobs in one state, in the order they will run
	// (waiting, prioritized, paused, delayed), in claim order, oldest first
	// (active), or newest first (completed, failed), skipping Offset and
	// returning at most Limit.
	JobList(ctx context.Context, p *JobListParams) ([]*Job, error)

	// JobClaim moves the next job from waiting (or prioritized) to active
	// under a lock held by p.Token for p.LockDuration, counting a started
	// attempt. Delayed jobs that are due are promoted first. When nothing is
	// ready it blocks up to p.Wait (never by polling in a loop), and returns
	// a nil Job when the wait ends empty. A paused queue, an exhausted
	// p.Limit, or a queue-wide rate limit yield no job; the last two set
	// RetryAfter.
	JobClaim(ctx context.Context, p *JobClaimParams) (*JobClaimResult, error)

	// JobComplete moves an active job held by p.Token to completed, records
	// its return value, applies p.Retention and, when p.Next is set, claims
	// the next job in the same step (without blocking). ErrLockLost when the
	// token does not hold the lock.
	JobComplete(ctx context.Context, p *JobCompleteParams) (*JobClaimResult, error)

	// JobFail ends an active job's attempt with a failure: to delayed (or
	// waiting, for no delay) when p.Retry, to failed otherwise (applying
	// p.Retention). Like JobComplete it checks the token and may claim the
	// next job.
	JobFail(ctx context.Context, p *JobFailParams) (*JobClaimResult, error)

	// JobRelease hands an active job back to the consuming end of waiting
	// without counting an attempt (shutdown, rate limit). ErrLockLost when
	// the token does not hold the lock.
	JobRelease(ctx context.Context, p *JobReleaseParams) error

	// JobExtendLocks renews the locks of several active jobs for
	// p.Duration and returns the IDs whose lock the token no longer holds.
	JobExtendLocks(ctx context.Context, p *JobExtendLocksParams) (lost []string, err error)

	// JobUpdateProgress stores a job's progress (JSON) and records an event.
	JobUpdateProgress(ctx context.Context, p *JobUpdateProgressParams) error

	// JobLogAdd appends a line to a job's log, keeping the newest p.Keep
	// lines when p.Keep > 0. It returns the number of lines kept.
	JobLogAdd(ctx context.Context, p *JobLogAddParams) (int, error)

	// JobLogs returns a page of a job's log, oldest first, and the total
	// number of lines.
	JobLogs(ctx context.Context, p *JobLogsParams) (lines []string, total int, err error)

	// JobRemove deletes a job that is not active, with its logs.
	// ErrJobActive for an active job; ErrJobNotFound when missing.
	JobRemove(ctx context.Context, p *JobRemoveParams) error

	// JobRetry moves a failed or completed job back to waiting with its
	// attempt counters reset. A StateError for any other state.
	JobRetry(ctx context.Context, p *JobRetryParams) error

	// JobPromote moves a delayed job to waiting now. A StateError when the
	// job is not delayed.
	JobPromote(ctx context.Context, p *JobPromoteParams) error

	// QueueCounts returns the number of jobs in each state.
	QueueCounts(ctx context.Context, p *QueueParams) (*Counts, error)

	// QueueInfo returns a queue's switches: paused, rate limited.
	QueueInfo(ctx context.Context, p *QueueParams) (*QueueInfo, error)

	// QueueList returns the names of the queues the backend has seen jobs
	// added to, sorted.
	QueueList(ctx context.Context) ([]string, error)

	// QueuePause pauses (claims stop, adds still land) or resumes a queue.
	QueuePause(ctx context.Context, p *QueuePauseParams) error

	// QueueRateLimit stops claims on a queue for p.For, queue-wide and across
	// processes (a third-party API said 429).
	QueueRateLimit(ctx context.Context, p *QueueRateLimitParams) error

	// QueueDrain removes every waiting, prioritized and paused job, every
	// flow parent waiting for children (with its unfinished children, as
	// JobRemove), and the delayed jobs when p.Delayed. Active and finished
	// jobs stay. A drained (or cleaned) flow child is removed as JobRemove
	// removes it: its parent stops waiting for it.
	QueueDrain(ctx context.Context, p *QueueDrainParams) (int, error)

	// QueueClean removes up to p.Limit jobs in p.State that are older than
	// p.Age (finish time for completed and failed, add time otherwise) and
	// returns their IDs. Active jobs cannot be cleaned.
	QueueClean(ctx context.Context, p *QueueCleanParams) ([]string, error)

	// QueueRetryJobs moves up to p.Limit jobs from p.State (failed or
	// completed) back to waiting and returns how many moved.
	QueueRetryJobs(ctx context.Context, p *QueueRetryJobsParams) (int, error)

	// QueueObliterate removes a queue and every job in it. ErrQueueActive
	// when jobs are active and p.Force is false. The queue's ID sequence is
	// kept, so a generated job ID is never handed out twice.
	QueueObliterate(ctx context.Context, p *QueueObliterateParams) error

	// QueueMetrics returns completed and failed counts per minute, recorded
	// by JobComplete and JobFail, for at most the backend's bounded history.
	QueueMetrics(ctx context.Context, p *QueueMetricsParams) (*Metrics, error)

	// StalledCheck recovers jobs whose lock has expired, in two phases: a
	// job found active without a lock is marked on one check and, if still
	// unlocked on the next, returned to waiting (or failed, past
	// p.MaxStalledCount). At most one check per p.Interval runs per queue
	// across all processes; the others return Skipped.
	StalledCheck(ctx context.Context, p *StalledCheckParams) (*StalledCheckResult, error)

	// EventsRead returns events after a cursor, blocking up to p.Wait for
	// the first one.
	//
	// A backend may record events only while someone reads them: from an
	// EventsCursor or EventsRead call on the queue until five minutes after
	// the last one (Redis and Upstash do, which spares every add and finish
	// a stream write when nobody listens; memory records them always). A
	// reader that stops reading for longer may miss events.
	EventsRead(ctx context.Context, p *EventsReadParams) ([]Event, error)

	// EventsCursor returns a cursor at the newest event: reading after it
	// yields only events recorded later.
	EventsCursor(ctx context.Context, p *QueueParams) (string, error)

	// Ping checks that the storage answers.
	Ping(ctx context.Context) error

	// Close releases what the backend itself opened. It does not close a
	// client the caller passed in. Blocked claims and event reads return.
	Close() error
}
