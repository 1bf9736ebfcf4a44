package backend

import "time"

// EventType names what happened to a job.
type EventType string

// The events a backend records, one per transition.
const (
	EventAdded     EventType = "added"     // added to waiting or prioritized
	EventDelayed   EventType = "delayed"   // added as delayed; Data is the due time in Unix ms
	EventActive    EventType = "active"    // claimed by a worker
	EventProgress  EventType = "progress"  // progress updated; Data is the JSON progress
	EventCompleted EventType = "completed" // finished; Data is the JSON return value
	EventRetried   EventType = "retried"   // an attempt failed and another is scheduled; Data is the reason
	EventFailed    EventType = "failed"    // failed for good; Data is the reason
	EventStalled   EventType = "stalled"   // recovered from a worker that lost its lock
	EventReleased  EventType = "released"  // handed back to waiting unfinished (shutdown, rate limit)
	EventPromoted  EventType = "promoted"  // moved from delayed to waiting ahead of time
	EventRemoved   EventType = "removed"   // removed by JobRemove; retention, clean, drain and obliterate emit none
	EventWaiting   EventType = "waiting"   // returned to waiting by a retry call
	EventPaused    EventType = "paused"    // the queue was paused (JobID empty)
	EventResumed   EventType = "resumed"   // the queue was resumed (JobID empty)
)

// Event is one entry in a queue's event log.
type Event struct {
	ID    string // cursor: read again with After = ID to get what followed
	Type  EventType
	JobID string
	Time  time.Time
	Data  string
}

// EventsReadParams asks for the events after a cursor.
type EventsReadParams struct {
	Queue string
	// After is a cursor from EventsCursor or from an Event's ID. Empty means
	// "from now": only events recorded after the call started.
	After string
	// Count caps the events returned; 0 means the backend's default.
	Count int
	// Wait, when positive, blocks up to this long for at least one event.
	Wait time.Duration
}
