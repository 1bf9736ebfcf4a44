package cloudapi

import (
	"strconv"
	"time"
)

// Inbound describes one inbound message for TextNotification and
// MediaNotification: the business number it was sent to and the user who
// sent it.
type Inbound struct {
	PhoneNumberID string
	DisplayNumber string
	From          string // the user's WhatsApp ID
	Name          string // the user's profile name
	ID            string // the wamid
	At            time.Time
}

// TextNotification builds the webhook body Meta sends for one inbound text
// message. The demo, the fake Graph API and the load generator use it to
// produce deliveries shaped like Meta's.
func TextNotification(in Inbound, body string) Notification {
	m := in.message(TypeText)
	m.Text = &Text{Body: body}
	return in.notification(m)
}

// MediaNotification builds the webhook body for one inbound media message
// of type kind (TypeImage, TypeAudio, TypeDocument, ...).
func MediaNotification(in Inbound, kind string, media Media) Notification {
	m := in.message(kind)
	switch kind {
	case TypeImage:
		m.Image = &media
	case TypeAudio:
		m.Audio = &media
	case TypeVideo:
		m.Video = &media
	case TypeSticker:
		m.Sticker = &media
	default:
		m.Document = &media
	}
	return in.notification(m)
}

// StatusNotification builds the webhook body for one status of a message
// the business sent.
func StatusNotification(phoneNumberID string, s Status) Notification {
	return Notification{Object: ObjectWhatsApp, Entry: []Entry{{ID: "WABA", Changes: []Change{{
		Field: FieldMessages,
		Value: Value{
			MessagingProduct: "whatsapp",
			Metadata:         Metadata{PhoneNumberID: phoneNumberID},
			Statuses:         []Status{s},
		},
	}}}}}
}

func (in Inbound) message(kind string) Message {
	return Message{From: in.From, ID: in.ID, Timestamp: Timestamp(in.At), Type: kind}
}

func (in Inbound) notification(m Message) Notification {
	return Notification{Object: ObjectWhatsApp, Entry: []Entry{{ID: "WABA", Changes: []Change{{
		Field: FieldMessages,
		Value: Value{
			MessagingProduct: "whatsapp",
			Metadata:         Metadata{DisplayPhoneNumber: in.DisplayNumber, PhoneNumberID: in.PhoneNumberID},
			Contacts:         []Contact{{Profile: Profile{Name: in.Name}, WaID: in.From}},
			Messages:         []Message{m},
		},
	}}}}}
}

// Timestamp formats t as the webhook timestamps are: Unix seconds, as a
// string.
func Timestamp(t time.Time) string { return strconv.FormatInt(t.Unix(), 10) }

// ParseTimestamp reads a webhook timestamp; the zero time when it is not
// one.
func ParseTimestamp(s string) time.Time {
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return time.Time{}
	}
	return time.Unix(n, 0)
}
