package redisbackend

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/fila-go/fila/backend"
)

// ErrLayout is returned by every call on a queue whose stored layout
// (its job bucket count, see WithJobBuckets) differs from the backend's:
// the backend would look for the queue's jobs in the wrong keys. It also
// matches backend.ErrPermanent, so a worker stops instead of retrying.
var ErrLayout = errors.New("queue layout differs from the backend's")

// LayoutError is ErrLayout with the queue and both bucket counts.
type LayoutError struct {
	Queue   string
	Stored  string // the queue's bucket count, as stored in its meta
	Backend string // the backend's WithJobBuckets count
}

func (e *LayoutError) Error() string {
	return fmt.Sprintf("queue %q keeps its jobs in %s bucket(s), this backend in %s (redisbackend.WithJobBuckets): %v",
		e.Queue, e.Stored, e.Backend, ErrLayout)
}

// Unwrap makes errors.Is match ErrLayout and backend.ErrPermanent.
func (e *LayoutError) Unwrap() []error { return []error{ErrLayout, backend.ErrPermanent} }

// ErrLinkedQueues is returned by every call on a queue that holds flows
// across queues (added by a backend that links queues, e.g. Upstash with
// GlobalLock) from a backend whose scripts may touch only the keys they
// declare (Upstash's key locking): they could not reach the other queues.
// It matches backend.ErrPermanent, so a worker stops instead of retrying.
// Every such call is refused before it changes anything.
var ErrLinkedQueues = errors.New("queue holds flows across queues, which scripts under key locking cannot reach")

// LinkedQueuesError is ErrLinkedQueues with the queue.
type LinkedQueuesError struct{ Queue string }

func (e *LinkedQueuesError) Error() string {
	return fmt.Sprintf("queue %q: %v: set upstash.Config.GlobalLock in every process of the queues (fila CLI: -global-lock)", e.Queue, ErrLinkedQueues)
}

// Unwrap makes errors.Is match ErrLinkedQueues and backend.ErrPermanent.
func (e *LinkedQueuesError) Unwrap() []error { return []error{ErrLinkedQueues, backend.ErrPermanent} }

// ErrHashTag is returned by every call on a queue that a backend with
// WithHashTag keeps under a hash tag, from a backend that looks for it
// without the tag (the fila CLI without -hash-tags, a process configured
// differently): it would read and write empty keys. It matches
// backend.ErrPermanent. A process checks it on its first call on a queue.
var ErrHashTag = errors.New("queue kept under a hash tag this backend was not given")

// HashTagError is ErrHashTag with the queue and its tag.
type HashTagError struct{ Queue, Tag string }

func (e *HashTagError) Error() string {
	return fmt.Sprintf("queue %q is kept under hash tag %q (redisbackend.WithHashTag): %v; give it the same tag (fila CLI: -hash-tags '%s=%s')",
		e.Queue, e.Tag, ErrHashTag, e.Queue, e.Tag)
}

// Unwrap makes errors.Is match ErrHashTag and backend.ErrPermanent.
func (e *HashTagError) Unwrap() []error { return []error{ErrHashTag, backend.ErrPermanent} }

// taggedReply reads the error lib.lua's check_layout raises for a queue
// kept under a hash tag: "FILA_TAGGED <len>:<tag> queue=<name>", the name
// empty for the call's own queue.
func taggedReply(msg string) (tag, queue string, ok bool) {
	_, rest, ok := strings.Cut(msg, "FILA_TAGGED ")
	if !ok {
		return "", "", false
	}
	n, rest, ok := strings.Cut(rest, ":")
	size, err := strconv.Atoi(n)
	if !ok || err != nil || size > len(rest) {
		return "", "", false
	}
	tag, rest = rest[:size], rest[size:]
	if m := queueReply.FindStringSubmatch(rest); m != nil {
		queue = m[1]
	}
	return tag, queue, true
}

// queueName matches a queue name in a check_layout error.
const queueName = `[A-Za-z0-9._-]+`

// queueReply reads the queue a check_layout error names.
var queueReply = regexp.MustCompile(`^ queue=(` + queueName + `)`)

// layoutReply is the error lib.lua's check_layout raises.
var layoutReply = regexp.MustCompile(`FILA_LAYOUT stored=(\d+) backend=(\d+)(?: queue=(` + queueName + `))?`)

// fixedArgs returns ARGV[1] and ARGV[2] for a call on q. Until a call on
// q succeeded in this process, ARGV[2] ends in 'L', which makes lib.lua
// check (and on a new queue record) the queue's job bucket count before
// the script changes anything. The check costs no extra command; a
// process that already checked a queue is not told if the queue is later
// deleted by hand and made again with another count (obliterate keeps
// the count).
func (b *Backend) fixedArgs(q *queueInfo) []any {
	if q.laidOut.Load() {
		return b.fixed
	}
	return b.fixedCheck
}

// layoutChecked records the outcome of a call on q: a success means its
// layout was checked; a check_layout error becomes a *LayoutError.
func (b *Backend) layoutChecked(q *queueInfo, err error) error {
	if err == nil {
		q.laidOut.Store(true)
		return nil
	}
	if m := layoutReply.FindStringSubmatch(err.Error()); m != nil {
		name := q.name
		if m[3] != "" { // another queue of a flow (lua/flow_add.lua)
			name = m[3]
		}
		return &LayoutError{Queue: name, Stored: m[1], Backend: m[2]}
	}
	if tag, queue, ok := taggedReply(err.Error()); ok {
		if queue == "" {
			queue = q.name
		}
		return &HashTagError{Queue: queue, Tag: tag}
	}
	if strings.Contains(err.Error(), "FILA_XQ") {
		return &LinkedQueuesError{Queue: q.name}
	}
	return err
}
