package main

import (
	"time"

	"github.com/fila-go/fila/examples/whatsapp/cloudapi"
)

// InboundJob is one inbound message as a webhook delivered it, with what
// is needed to answer it. Its job ID is the message's wamid.
type InboundJob struct {
	PhoneNumberID string           `json:"phone_number_id"`
	ContactName   string           `json:"contact_name,omitempty"`
	ContactWaID   string           `json:"contact_wa_id,omitempty"`
	Message       cloudapi.Message `json:"message"`
	ReceivedAt    time.Time        `json:"received_at"`
}

// ReplyJob asks the Responder to answer one inbound message.
type ReplyJob struct {
	PhoneNumberID string             `json:"phone_number_id"`
	To            string             `json:"to"`
	Name          string             `json:"name,omitempty"`
	MessageID     string             `json:"message_id"`
	Type          string             `json:"type"`
	Text          string             `json:"text,omitempty"`
	Media         *MediaRef          `json:"media,omitempty"`
	Location      *cloudapi.Location `json:"location,omitempty"`
	ReceivedAt    time.Time          `json:"received_at"`
}

// MediaRef is what the app knows about an inbound media file. URL and
// Size are filled in by the media queue's Graph API lookup; the URL is
// short-lived and needs the access token.
type MediaRef struct {
	ID       string `json:"id"`
	MimeType string `json:"mime_type,omitempty"`
	Caption  string `json:"caption,omitempty"`
	Filename string `json:"filename,omitempty"`
	URL      string `json:"url,omitempty"`
	Size     int64  `json:"size,omitempty"`
	// Set by the media flow's children (mediaflow.go): the checksum the
	// download verified, an image's size, the scan's reason to reject
	// the file, or why it could not be fetched.
	SHA256      string `json:"sha256,omitempty"`
	Width       int    `json:"width,omitempty"`
	Height      int    `json:"height,omitempty"`
	Rejected    string `json:"rejected,omitempty"`
	Unavailable string `json:"unavailable,omitempty"`
}

// MediaJob is a media queue job: the single job that looks up an inbound
// media file then queues its reply, or (Flow) a job of the media flow.
type MediaJob struct {
	Reply ReplyJob `json:"reply"`
	Flow  bool     `json:"flow,omitempty"`
}

// OutboundJob is one Graph API call: a text reply (job name "send") or a
// read receipt ("read").
type OutboundJob struct {
	PhoneNumberID string    `json:"phone_number_id"`
	To            string    `json:"to,omitempty"`
	Text          string    `json:"text,omitempty"`
	ReplyTo       string    `json:"reply_to,omitempty"`
	MessageID     string    `json:"message_id,omitempty"` // read: the message to mark
	ReceivedAt    time.Time `json:"received_at"`          // when the inbound message arrived
}

// StatusJob is one delivery receipt for a message the app sent.
type StatusJob struct {
	PhoneNumberID string          `json:"phone_number_id"`
	Status        cloudapi.Status `json:"status"`
}

// Job IDs of the follow-ups of an inbound message: each is derived from
// the message's wamid, so every follow-up is added at most once.
func replyKey(wamid string) string { return "reply:" + wamid }
func mediaKey(wamid string) string { return "media:" + wamid }
func sendKey(wamid string) string  { return "send:" + wamid }
func readKey(wamid string) string  { return "read:" + wamid }
