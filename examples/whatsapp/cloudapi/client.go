package cloudapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
	"unicode/utf8"
)

// DefaultBaseURL is Meta's Graph API with the version the app was written
// against.
const DefaultBaseURL = "https://graph.facebook.com/v25.0"

// maxResponse bounds how much of a Graph API answer is read.
const maxResponse = 1 << 20

// Client calls the Graph API endpoints the app needs. It is safe for
// concurrent use.
type Client struct {
	base  string
	token string
	hc    *http.Client
}

// NewClient returns a client for the Graph API at baseURL (for example
// DefaultBaseURL, or a fake's URL) that authenticates with token. hc must
// not be nil: give it a timeout.
func NewClient(baseURL, token string, hc *http.Client) *Client {
	if hc == nil {
		panic("cloudapi: NewClient: nil http.Client")
	}
	return &Client{base: strings.TrimRight(baseURL, "/"), token: token, hc: hc}
}

// OutgoingText is a text message to send.
type OutgoingText struct {
	To   string // the user's WhatsApp ID or E.164 number
	Body string // at most MaxTextLen characters
	// ReplyTo, when set, quotes the inbound message this answers.
	ReplyTo string
	// CallbackData comes back in the message's status webhooks (at most
	// 512 bytes): the app puts its send's idempotency key there.
	CallbackData string
}

// SendText sends a text message from the business number phoneNumberID and
// returns the wamid Meta gave it.
func (c *Client) SendText(ctx context.Context, phoneNumberID string, m OutgoingText) (string, error) {
	op := fmt.Sprintf("send text to %q", m.To)
	if n := utf8.RuneCountInString(m.Body); n == 0 || n > MaxTextLen {
		return "", fmt.Errorf("cloudapi: %s: body is %d characters, want 1 to %d", op, n, MaxTextLen)
	}
	req := MessagesRequest{
		MessagingProduct: "whatsapp", RecipientType: "individual", To: m.To, Type: TypeText,
		Text: &TextBody{Body: m.Body}, BizOpaqueCallbackData: m.CallbackData,
	}
	if m.ReplyTo != "" {
		req.Context = &ReplyTo{MessageID: m.ReplyTo}
	}
	var res SendResponse
	if err := c.do(ctx, op, http.MethodPost, c.messagesURL(phoneNumberID), req, &res); err != nil {
		return "", err
	}
	if len(res.Messages) == 0 || res.Messages[0].ID == "" {
		return "", fmt.Errorf("cloudapi: %s: the answer has no message ID", op)
	}
	return res.Messages[0].ID, nil
}

// MarkRead marks an inbound message (and the earlier ones of its
// conversation) read, showing the user blue ticks.
func (c *Client) MarkRead(ctx context.Context, phoneNumberID, messageID string) error {
	op := fmt.Sprintf("mark message %q read", messageID)
	req := MessagesRequest{MessagingProduct: "whatsapp", Status: StatusRead, MessageID: messageID}
	var res SuccessResponse
	if err := c.do(ctx, op, http.MethodPost, c.messagesURL(phoneNumberID), req, &res); err != nil {
		return err
	}
	if !res.Success {
		return fmt.Errorf("cloudapi: %s: the answer did not say success", op)
	}
	return nil
}

// Media looks up an inbound media file: its short-lived download URL and
// what it is.
func (c *Client) Media(ctx context.Context, mediaID string) (*MediaInfo, error) {
	op := fmt.Sprintf("look up media %q", mediaID)
	var res MediaInfo
	if err := c.do(ctx, op, http.MethodGet, c.base+"/"+url.PathEscape(mediaID), nil, &res); err != nil {
		return nil, err
	}
	if res.URL == "" {
		return nil, fmt.Errorf("cloudapi: %s: the answer has no URL", op)
	}
	return &res, nil
}

func (c *Client) messagesURL(phoneNumberID string) string {
	return c.base + "/" + url.PathEscape(phoneNumberID) + "/messages"
}

// do sends one request and decodes a 2xx answer into out; any other status
// becomes an *APIError.
func (c *Client) do(ctx context.Context, op, method, u string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := encode(in)
		if err != nil {
			return fmt.Errorf("cloudapi: %s: %w", op, err)
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, body)
	if err != nil {
		return fmt.Errorf("cloudapi: %s: %w", op, err)
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return fmt.Errorf("cloudapi: %s: %w", op, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxResponse))
	if err != nil {
		return fmt.Errorf("cloudapi: %s: read answer: %w", op, err)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return apiError(op, resp, raw)
	}
	if err := json.Unmarshal(raw, out); err != nil {
		return fmt.Errorf("cloudapi: %s: decode answer: %w", op, err)
	}
	return nil
}

// apiError builds the error of a non-2xx answer, from its Graph error body
// when it has one.
func apiError(op string, resp *http.Response, raw []byte) *APIError {
	e := &APIError{
		Op: op, HTTPStatus: resp.StatusCode,
		RetryAfter: parseRetryAfter(resp.Header.Get("Retry-After"), time.Now()),
	}
	var body ErrorResponse
	if err := json.Unmarshal(raw, &body); err == nil && (body.Error.Code != 0 || body.Error.Message != "") {
		g := body.Error
		e.Code, e.Subcode, e.Type, e.Message, e.TraceID = g.Code, g.ErrorSubcode, g.Type, g.Message, g.FBTraceID
		if g.ErrorData != nil {
			e.Details = g.ErrorData.Details
		}
		return e
	}
	e.Message = strings.TrimSpace(string(raw[:min(len(raw), 200)]))
	if e.Message == "" {
		e.Message = http.StatusText(resp.StatusCode)
	}
	return e
}

// AsAPIError returns the *APIError in err's chain, if any.
func AsAPIError(err error) (*APIError, bool) {
	var e *APIError
	ok := errors.As(err, &e)
	return e, ok
}

// ErrMediaTooLarge is returned by DownloadTo for a file over its limit.
var ErrMediaTooLarge = errors.New("cloudapi: media file over the size limit")

// DownloadTo streams a media file from the short-lived URL Media returned,
// with the access token, into w, and returns its size. A file longer than
// limit bytes is ErrMediaTooLarge, after limit+1 bytes went to w.
func (c *Client) DownloadTo(ctx context.Context, u string, w io.Writer, limit int64) (int64, error) {
	op := "download media"
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return 0, fmt.Errorf("cloudapi: %s: %w", op, err)
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	resp, err := c.hc.Do(req)
	if err != nil {
		return 0, fmt.Errorf("cloudapi: %s: %w", op, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		raw, _ := io.ReadAll(io.LimitReader(resp.Body, maxResponse))
		return 0, apiError(op, resp, raw)
	}
	n, err := io.Copy(w, io.LimitReader(resp.Body, limit+1))
	if err != nil {
		return n, fmt.Errorf("cloudapi: %s: %w", op, err)
	}
	if n > limit {
		return n, fmt.Errorf("%w: %s: more than %d bytes", ErrMediaTooLarge, op, limit)
	}
	return n, nil
}
