package main

import (
	"context"

	"github.com/fila-go/fila/examples/whatsapp/cloudapi"
)

// Responder answers one inbound message. It is where an AI model plugs
// in: Incoming carries the conversation so far, Respond runs inside a
// reply job (60s timeout by default, retried with backoff on an error,
// failed at once on fila.Unrecoverable), and it must honor ctx. The
// answer is sent at most once per inbound message, even if the job runs
// again and a model answers differently the second time.
type Responder interface {
	Respond(ctx context.Context, in Incoming) (Answer, error)
}

// Incoming is a message to answer.
type Incoming struct {
	From      string // the user's WhatsApp ID
	Name      string // the user's profile name, if known
	MessageID string // its wamid
	Type      string // cloudapi.TypeText, TypeImage, ...
	Text      string // the text, a button's title, a media caption
	Media     *MediaRef
	Location  *cloudapi.Location
	// History is the conversation, oldest first, ending with this message.
	History []StoredMessage
}

// Answer is what to send back. An empty Text sends nothing.
type Answer struct {
	Text string
}
