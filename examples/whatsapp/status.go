package main

import (
	"context"
	"fmt"
	"log/slog"
	"strings"

	"github.com/fila-go/fila"
	"github.com/fila-go/fila/examples/whatsapp/cloudapi"
)

// statusHandler applies delivery receipts to the conversation store.
type statusHandler struct {
	store Store
	log   *slog.Logger
}

func (h *statusHandler) handle(ctx context.Context, job *fila.Job, s StatusJob) (any, error) {
	st := s.Status
	u := StatusUpdate{
		MessageID: st.ID, WaID: st.RecipientID, Status: st.Status, At: cloudapi.ParseTimestamp(st.Timestamp),
		CallbackData: st.BizOpaqueCallbackData,
	}
	if st.Status == cloudapi.StatusFailed {
		u.Error = describeErrors(st.Errors)
		args := []any{"message", st.ID, "to", st.RecipientID, "err", u.Error}
		for _, e := range st.Errors {
			if e.Code == cloudapi.CodeReengagement {
				args = append(args, "hint", "more than 24 hours since the user's last message: send an approved template instead")
			}
		}
		h.log.Warn("message failed", args...)
	}
	applied, err := h.store.UpdateStatus(ctx, u)
	if err != nil {
		return nil, err
	}
	h.log.Info("status received", "message", st.ID, "status", st.Status, "applied", applied)
	return map[string]any{"status": st.Status, "applied": applied}, nil
}

func describeErrors(errs []cloudapi.Error) string {
	parts := make([]string, 0, len(errs))
	for _, e := range errs {
		s := fmt.Sprintf("%d %s", e.Code, e.Title)
		if e.ErrorData != nil && e.ErrorData.Details != "" {
			s += ": " + e.ErrorData.Details
		}
		parts = append(parts, s)
	}
	if len(parts) == 0 {
		return "failed without an error"
	}
	return strings.Join(parts, "; ")
}
