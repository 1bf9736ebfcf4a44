package fila

import (
	"math"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/fila-go/fila/backend"
)

// JobOptions are the per-job settings of Add. The zero value (or a nil
// pointer) runs the job once, now, in FIFO order, and keeps it when it ends.
// Fields left zero take the queue's defaults (QueueOptions.Defaults).
type JobOptions struct {
	// JobID makes the add idempotent: adding an ID that exists returns that
	// job and changes nothing. Empty: the backend assigns a numeric ID, so a
	// custom ID may not be all digits.
	JobID string
	// Dedup drops the add when its ID was seen within its TTL, even if that
	// first job has since finished and been removed.
	Dedup *Dedup
	// Delay holds the job back this long before it can run.
	Delay time.Duration
	// Priority 0 means none; 1 is the highest. Prioritized jobs run after
	// every waiting job without priority, lowest number first, FIFO among
	// equals. At most MaxPriority.
	Priority int
	// LIFO puts the job at the front of the waiting line. It orders only
	// jobs without a priority: Add rejects LIFO with a Priority (set here or
	// by the queue's Defaults) with ErrInvalid.
	LIFO bool
	// Attempts is the total number of tries, counting the first; 0 means 1.
	Attempts int
	// Backoff is the delay before each retry; the zero value retries at once.
	Backoff Backoff
	// Timeout ends an attempt that runs longer, as a failure; 0 = no limit.
	Timeout time.Duration
	// RemoveOnComplete and RemoveOnFail say which finished jobs to keep.
	RemoveOnComplete Retention
	RemoveOnFail     Retention
	// KeepLogs keeps only the newest KeepLogs lines of Job.Log; 0 = all.
	KeepLogs int
	// Group puts the job in a group (e.g. a customer's phone number): the
	// queue runs at most GroupOptions.Concurrency jobs of one group at once,
	// in the group's FIFO order, and serves groups round-robin (groups.go).
	// 1-128 bytes of UTF-8 without spaces or control characters. A grouped
	// job cannot have a Priority.
	Group string
	// Meta is metadata stored with the job and returned on Job.Options.Meta,
	// unchanged by retries: small string pairs such as a trace context
	// (W3C traceparent). At most MaxMetaEntries entries and MaxMetaBytes
	// bytes; keys are 1-256 bytes of text, values UTF-8. nil (the default)
	// stores nothing; an empty map reads back as nil.
	Meta map[string]string
}

// MaxPriority is the largest Priority value.
const MaxPriority = 1 << 21

// Backoff is the delay before a failed job's next attempt: fixed,
// exponential (Delay x 2^(attempt-1)), or custom (the worker's
// BackoffStrategy).
type Backoff = backend.Backoff

// BackoffType names a backoff rule.
type BackoffType = backend.BackoffType

// The backoff rules.
const (
	BackoffFixed       = backend.BackoffFixed
	BackoffExponential = backend.BackoffExponential
	BackoffCustom      = backend.BackoffCustom
)

// Retention says which finished jobs to keep. Use RemoveJob, KeepLast,
// KeepFor (or set both KeepLast and KeepFor) or KeepAll. The zero value is
// the default: the newest DefaultKeepCompleted completed jobs and the
// newest DefaultKeepFailed failed ones, so a queue's memory stays bounded
// under a steady stream of jobs (keeping every job, BullMQ's default, is
// its users' most common memory complaint).
type Retention = backend.Retention

// The default retention of finished jobs (see Retention).
const (
	DefaultKeepCompleted = backend.DefaultKeepCompleted
	DefaultKeepFailed    = backend.DefaultKeepFailed
)

// RemoveJob removes a job as soon as it finishes.
var RemoveJob = Retention{Remove: true}

// KeepAll keeps every finished job until it is removed (Queue.Clean,
// Job.Remove). Memory then grows with every job: on Upstash a queue's
// completed or failed set passes 64 MB near 600,000 jobs.
var KeepAll = Retention{KeepAll: true}

// KeepLast keeps the newest n finished jobs.
func KeepLast(n int) Retention { return Retention{KeepLast: n} }

// KeepFor keeps finished jobs for d after they finish.
func KeepFor(d time.Duration) Retention { return Retention{KeepFor: d} }

// Dedup names a deduplication key and how long it is remembered.
type Dedup = backend.Dedup

// State is a job's place in its lifecycle.
type State = backend.State

// The job states.
const (
	StateWaiting     = backend.StateWaiting
	StatePrioritized = backend.StatePrioritized
	StatePaused      = backend.StatePaused
	StateDelayed     = backend.StateDelayed
	StateActive      = backend.StateActive
	StateCompleted   = backend.StateCompleted
	StateFailed      = backend.StateFailed
)

// QueueOptions tunes a Queue. The zero value gives the documented defaults.
type QueueOptions struct {
	// Defaults fill the fields an Add leaves zero (never JobID or Dedup).
	Defaults JobOptions
	// MaxDataSize is the largest job payload in bytes; 0 means 1 MiB,
	// negative means no limit.
	MaxDataSize int
	// AddHooks run on each job Add and AddBulk store, in order, before it
	// is validated and stored (see AddHook); their ends run in reverse
	// order. None by default.
	AddHooks []AddHook
}

// DefaultMaxDataSize is the payload limit when QueueOptions.MaxDataSize is 0.
const DefaultMaxDataSize = 1 << 20

// Name and ID limits.
const (
	maxNameLen = 128 // queue names
	maxIDLen   = 256 // job names, job IDs, dedup IDs
)

// validateQueueName accepts 1-128 characters of [A-Za-z0-9._-]: names become
// part of storage keys, so they may not carry separators or hash-tag braces.
func validateQueueName(name string) error {
	if name == "" {
		return invalid("queue name", "is empty")
	}
	if len(name) > maxNameLen {
		return invalid("queue name", "is %d bytes, limit %d", len(name), maxNameLen)
	}
	pos := 0 // 1-based character position, as a reader counts
	for i, r := range name {
		pos++
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '_' || r == '-' {
			continue
		}
		const allowed = "use letters, digits, '.', '_' and '-'"
		if r == utf8.RuneError {
			if _, size := utf8.DecodeRuneInString(name[i:]); size == 1 {
				return invalid("queue name", "%q has the invalid UTF-8 byte 0x%02x at character %d; %s", name, name[i], pos, allowed)
			}
		}
		return invalid("queue name", "%q has %q at character %d; %s", name, r, pos, allowed)
	}
	return nil
}

// validateText accepts 1-256 bytes of UTF-8 with no control characters.
func validateText(field, s string) error {
	if s == "" {
		return invalid(field, "is empty")
	}
	if len(s) > maxIDLen {
		return invalid(field, "is %d bytes, limit %d", len(s), maxIDLen)
	}
	if !utf8.ValidString(s) {
		return invalid(field, "%q is not valid UTF-8", s)
	}
	for _, r := range s {
		if r < 0x20 || r == 0x7f {
			return invalid(field, "%q has a control character", s)
		}
	}
	return nil
}

func validateJobID(id string) error {
	if err := validateText("JobID", id); err != nil {
		return err
	}
	for i := 0; i < len(id); i++ {
		if id[i] < '0' || id[i] > '9' {
			return nil
		}
	}
	return invalid("JobID", "%q is all digits; numeric IDs are reserved for generated IDs", id)
}

func validateRetention(field string, r Retention) error {
	if r.KeepAll && (r.Remove || r.KeepLast != 0 || r.KeepFor != 0) {
		return invalid(field+".KeepAll", "must be set alone, got %+v", r)
	}
	if r.KeepLast < 0 {
		return invalid(field+".KeepLast", "must be >= 0, got %d", r.KeepLast)
	}
	if r.KeepFor < 0 {
		return invalid(field+".KeepFor", "must be >= 0, got %s", r.KeepFor)
	}
	return nil
}

func validateBackoff(b Backoff) error {
	switch b.Type {
	case "", BackoffFixed, BackoffExponential, BackoffCustom:
	default:
		return invalid("Backoff.Type", "%q is unknown; use %q, %q or %q", b.Type, BackoffFixed, BackoffExponential, BackoffCustom)
	}
	if b.Delay < 0 {
		return invalid("Backoff.Delay", "must be >= 0, got %s", b.Delay)
	}
	if !(b.Jitter >= 0 && b.Jitter <= 1) { // also rejects NaN
		return invalid("Backoff.Jitter", "must be in [0, 1], got %g", b.Jitter)
	}
	return nil
}

// validate checks every field; the first problem is returned.
func (o *JobOptions) validate() error {
	if o.JobID != "" {
		if err := validateJobID(o.JobID); err != nil {
			return err
		}
	}
	if o.Dedup != nil {
		if err := validateText("Dedup.ID", o.Dedup.ID); err != nil {
			return err
		}
		if o.Dedup.TTL <= 0 {
			return invalid("Dedup.TTL", "must be > 0, got %s", o.Dedup.TTL)
		}
	}
	checks := []struct {
		field string
		bad   bool
		value any
	}{
		{"Delay", o.Delay < 0, o.Delay},
		{"Priority", o.Priority < 0, o.Priority},
		{"Attempts", o.Attempts < 0, o.Attempts},
		{"Timeout", o.Timeout < 0, o.Timeout},
		{"KeepLogs", o.KeepLogs < 0, o.KeepLogs},
	}
	for _, c := range checks {
		if c.bad {
			return invalid(c.field, "must be >= 0, got %v", c.value)
		}
	}
	if o.Priority > MaxPriority {
		return invalid("Priority", "must be <= %d, got %d", MaxPriority, o.Priority)
	}
	if o.LIFO && o.Priority != 0 {
		return invalid("LIFO", "cannot be combined with Priority %d: LIFO orders only jobs without a priority (Priority 0); set one or the other", o.Priority)
	}
	if o.Group != "" {
		if err := validateGroup(o.Group); err != nil {
			return err
		}
		if o.Priority != 0 {
			return invalid("Group", "cannot be combined with Priority %d: a group runs its jobs in FIFO order; set one or the other", o.Priority)
		}
	}
	if err := validateBackoff(o.Backoff); err != nil {
		return err
	}
	if err := validateRetention("RemoveOnComplete", o.RemoveOnComplete); err != nil {
		return err
	}
	if err := validateRetention("RemoveOnFail", o.RemoveOnFail); err != nil {
		return err
	}
	return validateMeta(o.Meta)
}

// withDefaults fills the zero fields of o from d.
func (o JobOptions) withDefaults(d *JobOptions) JobOptions {
	if o.Delay == 0 {
		o.Delay = d.Delay
	}
	if o.Priority == 0 {
		o.Priority = d.Priority
	}
	o.LIFO = o.LIFO || d.LIFO
	if o.Attempts == 0 {
		o.Attempts = d.Attempts
	}
	if o.Backoff == (Backoff{}) {
		o.Backoff = d.Backoff
	}
	if o.Timeout == 0 {
		o.Timeout = d.Timeout
	}
	if o.RemoveOnComplete == (Retention{}) {
		o.RemoveOnComplete = d.RemoveOnComplete
	}
	if o.RemoveOnFail == (Retention{}) {
		o.RemoveOnFail = d.RemoveOnFail
	}
	if o.KeepLogs == 0 {
		o.KeepLogs = d.KeepLogs
	}
	if o.Meta == nil {
		o.Meta = d.Meta
	}
	return o
}

// stored converts to the options a backend keeps.
func (o *JobOptions) stored() backend.JobOptions {
	attempts := o.Attempts
	if attempts == 0 {
		attempts = 1
	}
	return backend.JobOptions{
		Priority: o.Priority, LIFO: o.LIFO, Delay: o.Delay, Group: o.Group,
		Attempts: attempts, Backoff: o.Backoff, Timeout: o.Timeout, KeepLogs: o.KeepLogs,
		RemoveOnComplete: o.RemoveOnComplete, RemoveOnFail: o.RemoveOnFail, Meta: o.Meta,
	}
}

// jobOptionsFrom converts stored options back to the public form.
func jobOptionsFrom(s backend.JobOptions) JobOptions {
	return JobOptions{
		Priority: s.Priority, LIFO: s.LIFO, Delay: s.Delay, Group: s.Group,
		Attempts: s.Attempts, Backoff: s.Backoff, Timeout: s.Timeout, KeepLogs: s.KeepLogs,
		RemoveOnComplete: s.RemoveOnComplete, RemoveOnFail: s.RemoveOnFail, Meta: s.Meta,
	}
}

// formatBytes renders a byte count for error messages: 2.1 MiB, 512 B.
func formatBytes(n int) string {
	unit := func(v float64, name string) string {
		return strconv.FormatFloat(math.Round(v*10)/10, 'f', -1, 64) + " " + name
	}
	switch {
	case n >= 1<<20:
		return unit(float64(n)/(1<<20), "MiB")
	case n >= 1<<10:
		return unit(float64(n)/(1<<10), "KiB")
	}
	return strconv.Itoa(n) + " B"
}
