package main

import (
	"context"
	"errors"
	"time"

	"github.com/fila-go/fila/examples/whatsapp/cloudapi"
)

// Direction says who sent a message.
type Direction string

// The directions.
const (
	Inbound  Direction = "in"  // from the user
	Outbound Direction = "out" // from the app
)

// historyLen is how many messages of a conversation a responder sees and
// a store keeps.
const historyLen = 50

// sentTTL is how long the store remembers which message a send job sent.
const sentTTL = dedupTTL

// ErrMessageNotFound is returned by Store.Message for an unknown message.
var ErrMessageNotFound = errors.New("conversation store: message not found")

// StoredMessage is one message of a conversation as the app remembers it.
type StoredMessage struct {
	ID        string    `json:"id"`    // the wamid
	WaID      string    `json:"wa_id"` // the user's WhatsApp ID
	Direction Direction `json:"direction"`
	Type      string    `json:"type"`
	Text      string    `json:"text"` // the text, or a summary of other types
	At        time.Time `json:"at"`
	// Key is, for a message the app sent, the send job that sent it.
	Key string `json:"key,omitempty"`
	// Status is the latest delivery status of a message the app sent.
	Status   string    `json:"status,omitempty"`
	StatusAt time.Time `json:"status_at,omitzero"`
	Error    string    `json:"error,omitempty"` // why a failed message failed
}

// StatusUpdate is a delivery receipt to apply.
type StatusUpdate struct {
	MessageID string
	WaID      string // the recipient
	Status    string
	At        time.Time
	Error     string
	// CallbackData is the biz_opaque_callback_data the send carried: the
	// send job's key. It tells the store that job's message reached Meta.
	CallbackData string
}

// Store keeps conversations: what each user and the app said, and how far
// the app's messages got. The memory store serves one process; with Redis
// or Upstash the Redis store shares it between processes. A real
// deployment would keep conversations in its own database behind this
// interface.
type Store interface {
	// SaveMessage records a message in its conversation. Saving the same
	// message ID again updates it and does not repeat it in the history.
	// For an outbound message with a Key, it also records that the send
	// job Key sent it (see SentMessageID).
	SaveMessage(ctx context.Context, m StoredMessage) error
	// History returns the newest n messages of a user's conversation,
	// oldest first.
	History(ctx context.Context, waID string, n int) ([]StoredMessage, error)
	// Message returns one message, or ErrMessageNotFound.
	Message(ctx context.Context, waID, id string) (StoredMessage, error)
	// UpdateStatus applies a receipt unless the message already has a
	// later one (receipts come out of order and more than once), and
	// reports whether it did. A receipt for a message not saved yet is
	// kept for it.
	UpdateStatus(ctx context.Context, u StatusUpdate) (bool, error)
	// SentMessageID returns the wamid the send job key produced, or ""
	// when it has not sent one: a send job that runs again checks it so a
	// message is not sent twice.
	SentMessageID(ctx context.Context, key string) (string, error)
}

// statusRank orders delivery statuses: a receipt never moves a message
// back (a late "delivered" after "read"). Failed is final. Unknown
// statuses rank lowest.
func statusRank(s string) int {
	switch s {
	case cloudapi.StatusSent:
		return 1
	case cloudapi.StatusDelivered:
		return 2
	case cloudapi.StatusRead:
		return 3
	case "played":
		return 4
	case cloudapi.StatusFailed:
		return 5
	}
	return 0
}
