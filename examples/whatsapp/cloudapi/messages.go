package cloudapi

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
)

// MaxTextLen is the longest text message body, in characters.
const MaxTextLen = 4096

// MessagesRequest is the body of POST /<phone-number-id>/messages. The same
// endpoint sends messages (Type and its content set) and marks messages
// read (Status "read" and MessageID set).
type MessagesRequest struct {
	MessagingProduct      string           `json:"messaging_product"`
	RecipientType         string           `json:"recipient_type,omitempty"`
	To                    string           `json:"to,omitempty"`
	Type                  string           `json:"type,omitempty"`
	Text                  *TextBody        `json:"text,omitempty"`
	Context               *ReplyTo         `json:"context,omitempty"`
	BizOpaqueCallbackData string           `json:"biz_opaque_callback_data,omitempty"`
	Status                string           `json:"status,omitempty"`
	MessageID             string           `json:"message_id,omitempty"`
	TypingIndicator       *TypingIndicator `json:"typing_indicator,omitempty"`
}

// TextBody is the content of a text message.
type TextBody struct {
	PreviewURL bool   `json:"preview_url"`
	Body       string `json:"body"`
}

// ReplyTo quotes the message a reply answers.
type ReplyTo struct {
	MessageID string `json:"message_id"`
}

// TypingIndicator shows "typing…" along with a read receipt.
type TypingIndicator struct {
	Type string `json:"type"`
}

// SendResponse is the answer to a successful send.
type SendResponse struct {
	MessagingProduct string           `json:"messaging_product"`
	Contacts         []SentContact    `json:"contacts"`
	Messages         []SentMessageRef `json:"messages"`
}

// SentContact maps the "to" of a send to the user's WhatsApp ID.
type SentContact struct {
	Input string `json:"input"`
	WaID  string `json:"wa_id"`
}

// SentMessageRef is the wamid Meta gave a sent message.
type SentMessageRef struct {
	ID            string `json:"id"`
	MessageStatus string `json:"message_status,omitempty"`
}

// SuccessResponse is the answer to a successful read receipt.
type SuccessResponse struct {
	Success bool `json:"success"`
}

// MediaInfo is the answer to GET /<media-id>: a short-lived download URL
// (fetched with the same bearer token) and what the file is.
type MediaInfo struct {
	MessagingProduct string `json:"messaging_product"`
	URL              string `json:"url"`
	MimeType         string `json:"mime_type"`
	SHA256           string `json:"sha256"`
	FileSize         Size   `json:"file_size"`
	ID               string `json:"id"`
}

// Size is a byte count that decodes from a JSON number or a string of
// digits: Meta's examples show file_size both ways.
type Size int64

// UnmarshalJSON implements json.Unmarshaler.
func (s *Size) UnmarshalJSON(b []byte) error {
	b = bytes.Trim(b, `"`)
	if len(b) == 0 || string(b) == "null" {
		*s = 0
		return nil
	}
	n, err := strconv.ParseInt(string(b), 10, 64)
	if err != nil {
		return fmt.Errorf("cloudapi: file size %q is not a number", b)
	}
	*s = Size(n)
	return nil
}

// ErrorResponse is the body of a failed Graph API call.
type ErrorResponse struct {
	Error GraphError `json:"error"`
}

// GraphError is the error object of a failed Graph API call.
type GraphError struct {
	Message      string     `json:"message"`
	Type         string     `json:"type,omitempty"`
	Code         int        `json:"code"`
	ErrorSubcode int        `json:"error_subcode,omitempty"`
	ErrorData    *ErrorData `json:"error_data,omitempty"`
	FBTraceID    string     `json:"fbtrace_id,omitempty"`
}

// encode marshals a request body.
func encode(v any) ([]byte, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("encode request: %w", err)
	}
	return b, nil
}
