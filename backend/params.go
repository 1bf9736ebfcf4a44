package backend

import "time"

// QueueParams names a queue.
type QueueParams struct {
	Queue string
}

// JobAddParams carries one or more jobs to add to a queue.
type JobAddParams struct {
	Queue string
	Jobs  []JobAddItem
}

// JobAddItem is one job to add. An empty ID asks the backend for a fresh one.
type JobAddItem struct {
	ID      string
	Name    string
	Data    []byte
	Options JobOptions
	Dedup   *Dedup
}

// AddStatus says what an add did.
type AddStatus int

// The outcomes of adding one job.
const (
	AddCreated      AddStatus = iota // a new job was stored
	AddExists                        // a job with that ID exists; nothing changed
	AddDeduplicated                  // the dedup ID was seen within its TTL; nothing stored
	AddGroupFull                     // the job's group holds GroupOptions.MaxSize waiting jobs; nothing stored
)

// JobAddResult reports one add.
type JobAddResult struct {
	Status AddStatus
	// ID is the new job's ID; for AddExists the existing job's; for
	// AddDeduplicated the ID of the job that first used the dedup ID (that job
	// may have been removed since).
	ID      string
	State   State     // the job's state after the add (not set for AddDeduplicated)
	AddedAt time.Time // when the job was added (not set for AddDeduplicated)
}

// JobGetParams names a job.
type JobGetParams struct {
	Queue string
	ID    string
}

// JobListParams asks for a page of jobs in one state.
type JobListParams struct {
	Queue  string
	State  State
	Offset int
	Limit  int // 0 means 100
}

// JobClaimParams asks for the next job.
type JobClaimParams struct {
	Queue        string
	Token        string        // the lock token the claimant will present
	LockDuration time.Duration // how long the lock lives unless renewed
	Limit        *Limit        // global rate limit to apply, or nil
	Wait         time.Duration // block up to this long when nothing is ready; 0 = do not block
}

// JobClaimResult is a claimed job, or nil with an optional hint.
type JobClaimResult struct {
	Job *Job
	// RetryAfter, when positive, says the queue is rate limited for this
	// long; claiming sooner will yield nothing.
	RetryAfter time.Duration
}

// JobCompleteParams finishes an attempt with success.
type JobCompleteParams struct {
	Queue       string
	ID          string
	Token       string
	ReturnValue []byte // JSON
	Retention   Retention
	Next        *JobClaimParams // claim the next job in the same step; Wait is ignored
}

// JobFailParams finishes an attempt with a failure.
type JobFailParams struct {
	Queue      string
	ID         string
	Token      string
	Reason     string
	Stacktrace string // this attempt's stack, if any
	// KeepStacktraces caps the stored stacks, newest kept; 0 means 10.
	KeepStacktraces int
	Retry           bool          // schedule another attempt
	RetryDelay      time.Duration // after this long; 0 = waiting now
	Retention       Retention     // applied when the job fails for good
	Next            *JobClaimParams
}

// JobReleaseParams hands an active job back without counting an attempt.
type JobReleaseParams struct {
	Queue string
	ID    string
	Token string
}

// JobLock names one held lock.
type JobLock struct {
	ID    string
	Token string
}

// JobExtendLocksParams renews several locks.
type JobExtendLocksParams struct {
	Queue    string
	Locks    []JobLock
	Duration time.Duration
}

// JobUpdateProgressParams stores a job's progress.
type JobUpdateProgressParams struct {
	Queue    string
	ID       string
	Progress []byte // JSON
}

// JobLogAddParams appends one log line.
type JobLogAddParams struct {
	Queue string
	ID    string
	Line  string
	Keep  int // keep the newest Keep lines; 0 = all
}

// JobLogsParams asks for a page of a job's log.
type JobLogsParams struct {
	Queue  string
	ID     string
	Offset int
	Limit  int // 0 means all
}

// JobRemoveParams names a job to remove.
type JobRemoveParams struct {
	Queue string
	ID    string
}

// JobRetryParams names a finished job to run again.
type JobRetryParams struct {
	Queue string
	ID    string
}

// JobPromoteParams names a delayed job to run now.
type JobPromoteParams struct {
	Queue string
	ID    string
}

// Counts holds the number of jobs in each state.
type Counts struct {
	Waiting     int64 `json:"waiting"`
	Prioritized int64 `json:"prioritized"`
	Paused      int64 `json:"paused"`
	Delayed     int64 `json:"delayed"`
	Active      int64 `json:"active"`
	Completed   int64 `json:"completed"`
	Failed      int64 `json:"failed"`
	// WaitingChildren counts flow parents waiting for their children
	// (backends with Flows; 0 elsewhere).
	WaitingChildren int64 `json:"waiting_children,omitempty"`
}

// Get returns the count for one state.
func (c *Counts) Get(s State) int64 {
	switch s {
	case StateWaiting:
		return c.Waiting
	case StatePrioritized:
		return c.Prioritized
	case StatePaused:
		return c.Paused
	case StateDelayed:
		return c.Delayed
	case StateActive:
		return c.Active
	case StateCompleted:
		return c.Completed
	case StateFailed:
		return c.Failed
	case StateWaitingChildren:
		return c.WaitingChildren
	}
	return 0
}

// QueueInfo holds a queue's switches.
type QueueInfo struct {
	Paused bool
	// RateLimitedFor is the time left on a QueueRateLimit, or 0.
	RateLimitedFor time.Duration
}

// QueuePauseParams pauses or resumes a queue.
type QueuePauseParams struct {
	Queue  string
	Paused bool
}

// QueueRateLimitParams stops claims for a while.
type QueueRateLimitParams struct {
	Queue string
	For   time.Duration
}

// QueueDrainParams removes the jobs that have not started.
type QueueDrainParams struct {
	Queue   string
	Delayed bool // also remove delayed jobs
}

// QueueCleanParams removes old jobs in one state.
type QueueCleanParams struct {
	Queue string
	State State
	Age   time.Duration // only jobs older than this; 0 = all
	Limit int           // at most this many; 0 = no limit
}

// QueueRetryJobsParams retries finished jobs in bulk.
type QueueRetryJobsParams struct {
	Queue string
	State State // StateFailed or StateCompleted
	Limit int   // 0 means 1000
}

// QueueObliterateParams removes a whole queue.
type QueueObliterateParams struct {
	Queue string
	Force bool // remove even with active jobs
}

// QueueMetricsParams asks for per-minute throughput.
type QueueMetricsParams struct {
	Queue   string
	Minutes int // how many minutes, newest first; 0 = all kept
}

// Metrics holds per-minute finished counts, newest first: index 0 is the
// minute that contains At, index 1 the minute before, and so on.
type Metrics struct {
	At        time.Time
	Completed []int64
	Failed    []int64
}

// StalledCheckParams runs one stalled-job check.
type StalledCheckParams struct {
	Queue           string
	MaxStalledCount int           // stalls allowed before the job fails
	Interval        time.Duration // at most one check per Interval per queue
	MaxJobs         int           // bound on jobs marked per call (every active job is looked at); 0 = 1000
}

// StalledCheckResult says what a check did.
type StalledCheckResult struct {
	Skipped bool     // another check ran within the interval
	Stalled []string // returned to waiting
	Failed  []string // failed for stalling too often
}
