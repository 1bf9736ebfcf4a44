package main

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"

	"github.com/fila-go/fila"
	"github.com/fila-go/fila/examples/whatsapp/cloudapi"
)

// inboundHandler records each inbound message in its conversation and
// routes it: a read receipt to the outbound queue, then media to the media
// queue and everything else that can be answered to the reply queue.
type inboundHandler struct {
	queues *queues
	store  Store
	log    *slog.Logger
	// noFlows is set once the backend answered AddFlow with
	// ErrUnsupported: media messages then take the single media job.
	noFlows     atomic.Bool
	noFlowsOnce sync.Once
}

// route is where an inbound message goes.
type route string

const (
	routeReply route = "reply" // answer it
	routeMedia route = "media" // look up its file, then answer it
	routeNone  route = "none"  // record it only: reactions, system messages
)

func (h *inboundHandler) handle(ctx context.Context, job *fila.Job, in InboundJob) (any, error) {
	m := in.Message
	user := m.From
	if user == "" {
		user = in.ContactWaID
	}
	if user == "" {
		h.log.Warn("inbound message has no sender ID; it cannot be answered", "message", m.ID, "type", m.Type)
		return map[string]string{"route": string(routeNone)}, nil
	}
	at := cloudapi.ParseTimestamp(m.Timestamp)
	if at.IsZero() {
		at = in.ReceivedAt
	}
	rec := StoredMessage{ID: m.ID, WaID: user, Direction: Inbound, Type: m.Type, Text: summary(m), At: at}
	if err := h.store.SaveMessage(ctx, rec); err != nil {
		return nil, err
	}
	r := routeOf(m)
	h.log.Info("message received", "message", m.ID, "from", user, "type", m.Type, "route", r)
	if r == routeNone {
		return map[string]string{"route": string(r)}, nil
	}
	read := OutboundJob{PhoneNumberID: in.PhoneNumberID, MessageID: m.ID, ReceivedAt: in.ReceivedAt}
	if err := addOnce(ctx, h.queues.outbound, jobRead, readKey(m.ID), "", read); err != nil {
		return nil, err
	}
	reply := ReplyJob{
		PhoneNumberID: in.PhoneNumberID, To: user, Name: in.ContactName, MessageID: m.ID, Type: m.Type,
		Text: summary(m), Location: m.Location, ReceivedAt: in.ReceivedAt,
	}
	if r == routeMedia {
		reply.Media = mediaRef(m)
		if err := h.addMedia(ctx, user, reply); err != nil {
			return nil, err
		}
	} else if err := addOnce(ctx, h.queues.reply, jobReply, replyKey(m.ID), user, reply); err != nil {
		return nil, err
	}
	return map[string]string{"route": string(r)}, nil
}

// routeOf decides where a message goes.
func routeOf(m cloudapi.Message) route {
	switch m.Type {
	case cloudapi.TypeReaction, cloudapi.TypeSystem:
		return routeNone
	}
	if mediaRef(m) != nil {
		return routeMedia
	}
	return routeReply
}

// mediaOf returns a media message's file, or nil.
func mediaOf(m cloudapi.Message) *cloudapi.Media {
	var md *cloudapi.Media
	switch m.Type {
	case cloudapi.TypeImage:
		md = m.Image
	case cloudapi.TypeAudio:
		md = m.Audio
	case cloudapi.TypeVideo:
		md = m.Video
	case cloudapi.TypeDocument:
		md = m.Document
	case cloudapi.TypeSticker:
		md = m.Sticker
	}
	if md == nil || md.ID == "" {
		return nil
	}
	return md
}

func mediaRef(m cloudapi.Message) *MediaRef {
	md := mediaOf(m)
	if md == nil {
		return nil
	}
	return &MediaRef{ID: md.ID, MimeType: md.MimeType, Caption: md.Caption, Filename: md.Filename}
}

// summary is a message's text for the conversation store and the
// responder: the text, a button's title, a caption, or a placeholder.
func summary(m cloudapi.Message) string {
	switch {
	case m.Text != nil:
		return m.Text.Body
	case m.Interactive != nil && m.Interactive.ButtonReply != nil:
		return m.Interactive.ButtonReply.Title
	case m.Interactive != nil && m.Interactive.ListReply != nil:
		return m.Interactive.ListReply.Title
	case m.Button != nil:
		return m.Button.Text
	case m.Reaction != nil:
		return m.Reaction.Emoji
	case m.Location != nil:
		return fmt.Sprintf("[location %.5f,%.5f %s]", m.Location.Latitude, m.Location.Longitude, m.Location.Name)
	}
	if md := mediaOf(m); md != nil {
		if md.Caption != "" {
			return md.Caption
		}
		return "[" + m.Type + "]"
	}
	return "[" + m.Type + "]"
}
