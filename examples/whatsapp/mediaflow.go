package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/fila-go/fila"
)

// A media message is a flow in the media queue where the backend has flows
// (fila.Queue.AddFlow): three children, then the parent.
//
//	media:<wamid>            parent: reads its children's values, queues the reply
//	├── download:<wamid>     fetch the file, count its bytes, check its SHA-256
//	├── thumbnail:<wamid>    decode an image and scale it to a preview
//	└── scan:<wamid>         sniff the content type, check size and executables
//
// Every child has fila.IgnoreFailure: a child that fails for good (after
// its attempts) is recorded, and the parent still answers the user with
// what the others found. A backend without flows (AddFlow returns
// fila.ErrUnsupported) gets the single media job of mediaHandler instead.
const (
	jobDownload  = "download"
	jobThumbnail = "thumbnail"
	jobScan      = "scan"
)

func downloadKey(wamid string) string  { return "download:" + wamid }
func thumbnailKey(wamid string) string { return "thumbnail:" + wamid }
func scanKey(wamid string) string      { return "scan:" + wamid }

// mediaFlow is the tree of one media message; reply.Media is set.
func mediaFlow(reply ReplyJob) (fila.FlowJob, error) {
	data, err := json.Marshal(MediaJob{Reply: reply, Flow: true})
	if err != nil {
		return fila.FlowJob{}, err
	}
	child := func(name, id string) fila.FlowJob {
		return fila.FlowJob{Name: name, Data: data, Options: &fila.JobOptions{JobID: id}, OnChildFailure: fila.IgnoreFailure}
	}
	id := reply.MessageID
	return fila.FlowJob{
		Name: jobMedia, Data: data, Options: &fila.JobOptions{JobID: mediaKey(id)},
		Children: []fila.FlowJob{
			child(jobDownload, downloadKey(id)),
			child(jobThumbnail, thumbnailKey(id)),
			child(jobScan, scanKey(id)),
		},
	}, nil
}

// addMedia queues the work on a media message: its flow, or on a backend
// without flows the single media job (logged once per process).
func (h *inboundHandler) addMedia(ctx context.Context, user string, reply ReplyJob) error {
	if !h.noFlows.Load() {
		err := h.addMediaFlow(ctx, reply)
		if !errors.Is(err, fila.ErrUnsupported) {
			return err
		}
		h.noFlows.Store(true)
		h.noFlowsOnce.Do(func() {
			h.log.Warn("the backend has no flows (AddFlow: ErrUnsupported); media messages are handled by one media job each", "err", err)
		})
	}
	return addOnce(ctx, h.queues.media, jobMedia, mediaKey(reply.MessageID), user, MediaJob{Reply: reply})
}

// addMediaFlow adds a media message's flow once: a handler that runs
// again (a retry, a crashed worker) finds its parent and adds nothing. A
// flow takes no Dedup, so, unlike addOnce, a parent already removed by
// retention would be added again; the inbound job runs again only when it
// did not complete, before its flow's parent could finish.
func (h *inboundHandler) addMediaFlow(ctx context.Context, reply ReplyJob) error {
	q, key := h.queues.media, mediaKey(reply.MessageID)
	exists := func() (bool, error) {
		_, err := q.GetJob(ctx, key)
		if errors.Is(err, fila.ErrJobNotFound) {
			return false, nil
		}
		return err == nil, err
	}
	if ok, err := exists(); ok || err != nil {
		return err
	}
	tree, err := mediaFlow(reply)
	if err != nil {
		return fila.Unrecoverable(fmt.Errorf("media flow of %q: %w", reply.MessageID, err))
	}
	_, err = q.AddFlow(ctx, tree)
	if errors.Is(err, fila.ErrInvalid) {
		// A job ID of the tree is taken: a concurrent run added the flow.
		if ok, gerr := exists(); ok {
			return nil
		} else if gerr != nil {
			return gerr
		}
		return fila.Unrecoverable(fmt.Errorf("add media flow %q: %w", key, err))
	}
	if err != nil {
		return fmt.Errorf("add media flow %q: %w", key, err)
	}
	h.log.Info("media flow added", "message", reply.MessageID, "media", reply.Media.ID)
	return nil
}

// replyFromChildren is the flow parent's run: it reads what its children
// found and queues the reply.
func (h *mediaHandler) replyFromChildren(ctx context.Context, job *fila.Job, r ReplyJob) (any, error) {
	c, err := job.Children(ctx)
	if err != nil {
		return nil, err
	}
	id := r.MessageID
	ref := *r.Media
	var dl DownloadResult
	var th ThumbnailResult
	var sc ScanResult
	for _, v := range []struct {
		key string
		out any
	}{{downloadKey(id), &dl}, {thumbnailKey(id), &th}, {scanKey(id), &sc}} {
		raw, ok := c.Values[v.key]
		if !ok {
			continue
		}
		if err := json.Unmarshal(raw, v.out); err != nil {
			return nil, fila.Unrecoverable(fmt.Errorf("value of child %q: %w", v.key, err))
		}
	}
	if reason, failed := c.Failed[downloadKey(id)]; failed {
		ref.Unavailable = reason
	} else {
		ref.URL, ref.Size, ref.SHA256 = dl.URL, dl.Size, dl.SHA256
		if dl.MimeType != "" {
			ref.MimeType = dl.MimeType
		}
	}
	ref.Width, ref.Height = th.Width, th.Height
	if sc.Verdict == verdictRejected {
		ref.Rejected = sc.Reason
	} else if reason, failed := c.Failed[scanKey(id)]; failed && ref.Unavailable == "" {
		ref.Unavailable = reason
	}
	r.Media = &ref
	if err := addOnce(ctx, h.queues.reply, jobReply, replyKey(id), r.To, r); err != nil {
		return nil, err
	}
	h.log.Info("media flow finished", "message", id, "media", ref.ID, "size", ref.Size, "width", ref.Width, "height", ref.Height,
		"scan", sc.Verdict, "failed_children", len(c.Failed))
	return ref, nil
}
