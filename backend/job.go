package backend

import "time"

// State is where a job sits in its lifecycle.
type State string

// The states a job can be in. A job is in exactly one of them.
const (
	StateWaiting     State = "waiting"     // ready to run, FIFO or LIFO
	StatePrioritized State = "prioritized" // ready to run, ordered by priority
	StateDelayed     State = "delayed"     // waiting for its due time (a delay or a retry backoff)
	StateActive      State = "active"      // claimed by a worker that holds its lock
	StateCompleted   State = "completed"   // finished with success
	StateFailed      State = "failed"      // finished with a failure, no attempts left
	StatePaused      State = "paused"      // ready to run, but its queue is paused
)

// States lists every state in lifecycle order. StateWaitingChildren
// (flows.go) holds jobs only on backends that implement Flows; the others
// count and list none.
var States = []State{StateWaiting, StatePrioritized, StatePaused, StateDelayed, StateWaitingChildren, StateActive, StateCompleted, StateFailed}

// Valid reports whether s is one of the known states.
func (s State) Valid() bool {
	for _, k := range States {
		if s == k {
			return true
		}
	}
	return false
}

// Job is the stored form of a job, as a backend returns it.
type Job struct {
	ID      string
	Name    string
	Data    []byte
	Options JobOptions
	State   State

	AddedAt     time.Time // when the job was added (backend clock)
	DueAt       time.Time // for a delayed job: when it becomes ready
	ProcessedAt time.Time // when the current or last attempt started
	FinishedAt  time.Time // when it completed or failed for good

	// AttemptsStarted counts claims; AttemptsMade counts attempts that ended
	// with a result (completed or failed). A job handed back at shutdown or by a
	// rate limit has started an attempt but not made one.
	AttemptsStarted int
	AttemptsMade    int
	// StalledCount counts the times the job was recovered from a worker that
	// lost its lock.
	StalledCount int

	ReturnValue  []byte   // JSON, set on completion
	FailedReason string   // the last failure's message
	Stacktrace   []string // the most recent failures' stacks, oldest first
	Progress     []byte   // JSON, set by UpdateProgress
}

// JobOptions are the per-job settings a backend stores with the job. The
// backend acts on Priority, LIFO and Delay when the job is added; the rest is
// stored for the worker, which applies it.
type JobOptions struct {
	Priority int           // 0: none; otherwise lower runs first, after every priority-0 job
	LIFO     bool          // add to the consuming end of the waiting list
	Delay    time.Duration // run no earlier than this long after the add
	// Group puts the job in a group ("" = none): see Groups. Priority must
	// be 0 for a grouped job.
	Group string

	Attempts int           // total attempts allowed (1 = no retries)
	Backoff  Backoff       // delay between failed attempts
	Timeout  time.Duration // per-attempt time limit; 0 = none
	KeepLogs int           // the newest log lines to keep; 0 = all

	RemoveOnComplete Retention
	RemoveOnFail     Retention

	// Meta is the job's metadata: small string pairs stored with the job
	// and returned unchanged (a trace context, a tenant). nil when the job
	// has none; a backend stores nothing extra for it then. fila bounds it
	// before the add (MaxMetaEntries, MaxMetaBytes in package fila).
	Meta map[string]string
}

// BackoffType names how the delay between attempts grows.
type BackoffType string

// The backoff types. BackoffCustom defers to the worker's BackoffStrategy.
const (
	BackoffFixed       BackoffType = "fixed"
	BackoffExponential BackoffType = "exponential"
	BackoffCustom      BackoffType = "custom"
)

// Backoff describes the delay before a failed job's next attempt.
type Backoff struct {
	Type  BackoffType
	Delay time.Duration
	// Jitter in [0, 1] randomizes the delay down by up to that fraction:
	// 0.5 picks a delay between 50% and 100% of the computed one.
	Jitter float64
}

// The default retention, which every backend applies to a job finishing
// with the zero Retention: keep the newest DefaultKeepCompleted completed
// jobs and the newest DefaultKeepFailed failed ones (failures are kept
// longer, for inspection and retry). Keeping every finished job, BullMQ's
// default, is the most common memory complaint of its users: a steady
// stream of jobs fills Redis until it refuses writes (Upstash refuses a key
// over 100 MB). Ask for that with Retention{KeepAll: true}.
const (
	DefaultKeepCompleted = 1000
	DefaultKeepFailed    = 5000
)

// Retention says which finished jobs a queue keeps. The zero value is the
// default (DefaultKeepCompleted, DefaultKeepFailed). KeepLast and KeepFor
// combine: a job is kept while both allow it.
type Retention struct {
	Remove   bool          // remove the job as soon as it finishes
	KeepLast int           // keep only the newest KeepLast finished jobs; 0 = no count limit
	KeepFor  time.Duration // keep finished jobs this long; 0 = no age limit
	KeepAll  bool          // keep every finished job; set alone
}

// Limits is the rule a backend applies to a job finishing as completed
// (failed false) or failed: remove it at once, or keep the newest keepLast
// (0: no count limit) for keepFor (0: no age limit). It resolves the zero
// value to the default and KeepAll to no limits.
func (r Retention) Limits(failed bool) (remove bool, keepLast int, keepFor time.Duration) {
	switch {
	case r.KeepAll:
		return false, 0, 0
	case r == Retention{} && failed:
		return false, DefaultKeepFailed, 0
	case r == Retention{}:
		return false, DefaultKeepCompleted, 0
	}
	return r.Remove, r.KeepLast, r.KeepFor
}

// Dedup drops an add whose ID was seen within TTL, whether or not the first
// job still exists.
type Dedup struct {
	ID  string
	TTL time.Duration
}

// Limit is a global rate limit: at most Max jobs start in any window of
// length Per, across every worker of the queue.
type Limit struct {
	Max int
	Per time.Duration
}
