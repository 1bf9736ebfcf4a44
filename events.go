package fila

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/fila-go/fila/backend"
)

// Event is one entry of a queue's event log.
type Event = backend.Event

// EventType names what happened.
type EventType = backend.EventType

// The event types.
const (
	EventAdded     = backend.EventAdded
	EventDelayed   = backend.EventDelayed
	EventActive    = backend.EventActive
	EventProgress  = backend.EventProgress
	EventCompleted = backend.EventCompleted
	EventRetried   = backend.EventRetried
	EventFailed    = backend.EventFailed
	EventStalled   = backend.EventStalled
	EventReleased  = backend.EventReleased
	EventPromoted  = backend.EventPromoted
	EventRemoved   = backend.EventRemoved
	EventWaiting   = backend.EventWaiting
	EventPaused    = backend.EventPaused
	EventResumed   = backend.EventResumed
)

// Subscription delivers a queue's events, in order, on C.
type Subscription struct {
	// C receives the events. It is closed when the subscription ends.
	C <-chan Event

	cancel context.CancelFunc
	done   chan struct{}
	mu     sync.Mutex
	err    error
}

// eventsWait bounds one blocking read of the event log.
const eventsWait = 30 * time.Second

// Subscribe streams the queue's events from now on, until ctx ends or
// Close. A subscriber that falls further behind than the backend's event
// log length (10,000 by default) misses the oldest events.
func (q *Queue) Subscribe(ctx context.Context) (*Subscription, error) {
	if q.nameErr != nil {
		return nil, q.errorf("subscribe to", q.nameErr)
	}
	cursor, err := q.be.EventsCursor(ctx, &backend.QueueParams{Queue: q.name})
	if err != nil {
		return nil, q.errorf("subscribe to", err)
	}
	ctx, cancel := context.WithCancel(ctx)
	c := make(chan Event, 256)
	s := &Subscription{C: c, cancel: cancel, done: make(chan struct{})}
	go s.run(ctx, q, cursor, c)
	return s, nil
}

func (s *Subscription) run(ctx context.Context, q *Queue, cursor string, c chan<- Event) {
	defer close(s.done)
	defer close(c)
	failures := 0
	for {
		evs, err := q.be.EventsRead(ctx, &backend.EventsReadParams{Queue: q.name, After: cursor, Wait: eventsWait, Count: 1000})
		if ctx.Err() != nil {
			return
		}
		if err != nil {
			if errors.Is(err, backend.ErrClosed) {
				s.setErr(q.errorf("subscribe to", err))
				return
			}
			failures++
			if !sleep(ctx, errorBackoff(failures)) {
				return
			}
			continue
		}
		failures = 0
		for _, ev := range evs {
			select {
			case c <- ev:
				cursor = ev.ID
			case <-ctx.Done():
				return
			}
		}
	}
}

func (s *Subscription) setErr(err error) {
	s.mu.Lock()
	s.err = err
	s.mu.Unlock()
}

// Err reports why the subscription ended early (the backend closed), or nil.
func (s *Subscription) Err() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err
}

// Close ends the subscription and waits for its reader to stop.
func (s *Subscription) Close() error {
	s.cancel()
	<-s.done
	return nil
}
