package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/fila-go/fila"
	"github.com/fila-go/fila/backend"
)

// queues are the app's five queues, each with its job defaults.
type queues struct {
	inbound, reply, outbound, status, media *fila.Queue
}

func newQueues(be backend.Backend, s Settings) *queues {
	q := func(name string, qs QueueSettings) *fila.Queue {
		return fila.NewQueue(be, name, fila.QueueOptions{Defaults: qs.Job})
	}
	return &queues{
		inbound:  q(queueInbound, s.Inbound),
		reply:    q(queueReply, s.Reply),
		outbound: q(queueOutbound, s.Outbound),
		status:   q(queueStatus, s.Status),
		media:    q(queueMedia, s.Media),
	}
}

// all returns the queues in pipeline order.
func (q *queues) all() []*fila.Queue {
	return []*fila.Queue{q.inbound, q.media, q.reply, q.outbound, q.status}
}

// addOnce adds a follow-up job whose ID and dedup ID are key, so a handler
// that runs again (a retry, a crashed worker) never adds it twice, however
// long the first one has been gone. A key fila refuses is a bug in the
// payload, which no retry fixes.
//
// group ("" = none) is the customer the job belongs to (see Settings):
// customerGroup of a wa_id.
func addOnce[T any](ctx context.Context, q *fila.Queue, name, key, group string, v T) error {
	_, err := fila.AddJSON(ctx, q, name, v, &fila.JobOptions{JobID: key, Dedup: &fila.Dedup{ID: key, TTL: dedupTTL}, Group: customerGroup(group)})
	if errors.Is(err, fila.ErrInvalid) {
		return fila.Unrecoverable(fmt.Errorf("add %s job %q: %w", name, key, err))
	}
	if err != nil {
		return fmt.Errorf("add %s job %q: %w", name, key, err)
	}
	return nil
}

// customerGroup is the group of a customer's jobs: the wa_id, when it is
// one (digits, at most 32); otherwise none, so a malformed sender still
// gets its message handled, without the ordering.
func customerGroup(waID string) string {
	if waID == "" || len(waID) > 32 {
		return ""
	}
	for i := 0; i < len(waID); i++ {
		if waID[i] < '0' || waID[i] > '9' {
			return ""
		}
	}
	return waID
}
