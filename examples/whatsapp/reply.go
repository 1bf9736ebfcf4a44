package main

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/fila-go/fila"
	"github.com/fila-go/fila/examples/whatsapp/cloudapi"
)

// replyHandler asks the Responder for an answer and queues its send.
type replyHandler struct {
	queues    *queues
	store     Store
	responder Responder
	log       *slog.Logger
}

func (h *replyHandler) handle(ctx context.Context, job *fila.Job, r ReplyJob) (any, error) {
	history, err := h.store.History(ctx, r.To, historyLen)
	if err != nil {
		return nil, err
	}
	ans, err := h.responder.Respond(ctx, Incoming{
		From: r.To, Name: r.Name, MessageID: r.MessageID, Type: r.Type, Text: r.Text,
		Media: r.Media, Location: r.Location, History: history,
	})
	if err != nil {
		return nil, fmt.Errorf("responder: answer message %q: %w", r.MessageID, err)
	}
	text := clip(ans.Text, cloudapi.MaxTextLen)
	if text == "" {
		h.log.Info("no answer for message", "message", r.MessageID)
		return map[string]string{"answer": ""}, nil
	}
	send := OutboundJob{PhoneNumberID: r.PhoneNumberID, To: r.To, Text: text, ReplyTo: r.MessageID, ReceivedAt: r.ReceivedAt}
	if err := addOnce(ctx, h.queues.outbound, jobSend, sendKey(r.MessageID), r.To, send); err != nil {
		return nil, err
	}
	h.log.Info("answer queued", "message", r.MessageID, "to", r.To, "answer", text)
	return map[string]string{"answer": text}, nil
}
