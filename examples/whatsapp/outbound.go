package main

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/fila-go/fila"
	"github.com/fila-go/fila/examples/whatsapp/cloudapi"
)

// outboundHandler makes the app's Graph API calls: text replies and read
// receipts. Its queue is globally rate limited, and jobError decides what
// a failure does.
type outboundHandler struct {
	graph  *cloudapi.Client
	store  Store
	queues *queues // for the daily summary's figures
	log    *slog.Logger
}

// sendResult is a send job's return value.
type sendResult struct {
	MessageID string `json:"message_id"`
	// AlreadySent is set when an earlier run of the job had sent it.
	AlreadySent bool `json:"already_sent,omitempty"`
}

func (h *outboundHandler) handle(ctx context.Context, job *fila.Job, o OutboundJob) (any, error) {
	switch job.Name {
	case jobSend:
		return h.send(ctx, job, o)
	case jobSummary:
		text, err := summaryText(ctx, h.queues)
		if err != nil {
			return nil, err
		}
		o.Text = text
		return h.send(ctx, job, o)
	case jobRead:
		if err := h.graph.MarkRead(ctx, o.PhoneNumberID, o.MessageID); err != nil {
			return nil, jobError(err)
		}
		h.log.Debug("message marked read", "message", o.MessageID)
		return map[string]string{"read": o.MessageID}, nil
	}
	return nil, fila.Unrecoverable(fmt.Errorf("outbound job %q has unknown name %q", job.ID, job.Name))
}

// send sends a text once per job: the job's ID is its idempotency key. The
// store remembers which message a key sent (from the send's answer, and
// from status webhooks that echo the key as callback data), so a job that
// runs again after its worker died between sending and completing does not
// send twice. Only a crash in the instant between Meta's answer and the
// store's write, with no status webhook before the rerun, can still send
// twice: Meta's API has no idempotency key, so exactly-once is not
// possible, and a duplicate beats a lost reply.
func (h *outboundHandler) send(ctx context.Context, job *fila.Job, o OutboundJob) (any, error) {
	if id, err := h.store.SentMessageID(ctx, job.ID); err != nil {
		return nil, err
	} else if id != "" {
		h.log.Info("reply was already sent by an earlier run; not sending again", "job", job.ID, "id", id)
		return sendResult{MessageID: id, AlreadySent: true}, nil
	}
	id, err := h.graph.SendText(ctx, o.PhoneNumberID, cloudapi.OutgoingText{
		To: o.To, Body: o.Text, ReplyTo: o.ReplyTo, CallbackData: job.ID,
	})
	if err != nil {
		return nil, jobError(err)
	}
	rec := StoredMessage{ID: id, WaID: o.To, Direction: Outbound, Type: cloudapi.TypeText, Text: o.Text, At: time.Now(), Key: job.ID}
	if err := h.store.SaveMessage(ctx, rec); err != nil {
		// The message is out: failing the job would send it again.
		h.log.Error("reply sent but not recorded", "job", job.ID, "id", id, "err", err)
	}
	args := []any{"to", o.To, "id", id, "reply_to", o.ReplyTo}
	if !o.ReceivedAt.IsZero() {
		args = append(args, "since_webhook", time.Since(o.ReceivedAt).Round(time.Millisecond))
	}
	h.log.Info("reply sent", args...)
	return sendResult{MessageID: id}, nil
}
