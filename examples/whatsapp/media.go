package main

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/fila-go/fila"
	"github.com/fila-go/fila/examples/whatsapp/cloudapi"
)

// mediaHandler runs the media queue. On a backend with flows it runs a
// media message's flow (mediaflow.go): the download, thumbnail and scan
// children, then the parent that queues the reply. Otherwise a single
// media job looks the file up through the Graph API (GET /<media-id>: its
// download URL, type and size), then queues the reply with what it found.
// The URL is short-lived; a responder that needs the bytes downloads them
// at once, with the access token.
type mediaHandler struct {
	queues *queues
	graph  *cloudapi.Client
	log    *slog.Logger
}

func (h *mediaHandler) handle(ctx context.Context, job *fila.Job, m MediaJob) (any, error) {
	r := m.Reply
	if r.Media == nil {
		return nil, fila.Unrecoverable(fmt.Errorf("media job %q has no media", job.ID))
	}
	switch {
	case job.Name == jobDownload:
		return h.download(ctx, r)
	case job.Name == jobThumbnail:
		return h.thumbnail(ctx, r)
	case job.Name == jobScan:
		return h.scan(ctx, r)
	case m.Flow:
		return h.replyFromChildren(ctx, job, r)
	}
	info, err := h.graph.Media(ctx, r.Media.ID)
	if err != nil {
		return nil, jobError(err)
	}
	ref := *r.Media
	ref.URL, ref.Size = info.URL, int64(info.FileSize)
	if info.MimeType != "" {
		ref.MimeType = info.MimeType
	}
	r.Media = &ref
	if err := addOnce(ctx, h.queues.reply, jobReply, replyKey(r.MessageID), r.To, r); err != nil {
		return nil, err
	}
	h.log.Info("media looked up", "message", r.MessageID, "media", ref.ID, "mime_type", ref.MimeType, "size", ref.Size)
	return ref, nil
}
