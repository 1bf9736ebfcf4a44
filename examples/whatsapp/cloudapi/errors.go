package cloudapi

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Graph API error codes the app branches on (Meta advises branching on the
// code and error_data.details, never on the message text).
const (
	// CodeAppRateLimit: the app made too many Graph API calls.
	CodeAppRateLimit = 4
	// CodeWABARateLimit: the WhatsApp Business Account hit its hourly
	// Business Management API limit.
	CodeWABARateLimit = 80007
	// CodeThroughput: the business number's messages-per-second
	// throughput was exceeded (HTTP 400).
	CodeThroughput = 130429
	// CodePairRateLimit: too many messages to the same user in a short
	// time (about one every 6 s; reported as HTTP 429).
	CodePairRateLimit = 131056
	// CodeReengagement: outside the 24-hour customer service window; only
	// an approved template may be sent.
	CodeReengagement = 131047
	// CodeInvalidParameter: a parameter is not valid (for example marking
	// an unknown or too old message read).
	CodeInvalidParameter = 131009
	// CodeSpamRateLimit: sending is restricted because of quality.
	CodeSpamRateLimit = 131048
	// CodeAccessToken: the access token is invalid or expired.
	CodeAccessToken = 190
	// CodeServiceUnavailable, CodeSomethingWentWrong and
	// CodeTemporaryService are Meta's "try again later" codes.
	CodeServiceUnavailable = 131016
	CodeSomethingWentWrong = 131000
	CodeTemporaryService   = 2
)

// APIError is a Graph API call that was answered with an error status.
type APIError struct {
	Op         string // what was attempted, with its subject
	HTTPStatus int
	Code       int // the Graph error code; 0 when the body had none
	Subcode    int
	Type       string
	Message    string
	Details    string // error_data.details
	TraceID    string // fbtrace_id, for Meta support
	// RetryAfter is the wait a Retry-After header asked for; 0 when absent.
	RetryAfter time.Duration
}

// Error describes the call and Meta's answer: HTTP status, code, message
// and details.
func (e *APIError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "cloudapi: %s: HTTP %d", e.Op, e.HTTPStatus)
	if e.Code != 0 {
		fmt.Fprintf(&b, ", code %d", e.Code)
	}
	if e.Message != "" {
		fmt.Fprintf(&b, ": %s", e.Message)
	}
	if e.Details != "" {
		fmt.Fprintf(&b, " (%s)", e.Details)
	}
	return b.String()
}

// RateLimited reports whether Meta asked the caller to slow down: HTTP 429
// or one of the throughput and call-count codes.
func (e *APIError) RateLimited() bool {
	if e.HTTPStatus == http.StatusTooManyRequests {
		return true
	}
	switch e.Code {
	case CodeThroughput, CodePairRateLimit, CodeWABARateLimit, CodeAppRateLimit:
		return true
	}
	return false
}

// Temporary reports whether the same call may succeed later unchanged: a
// server error or one of Meta's "try again later" codes.
func (e *APIError) Temporary() bool {
	if e.HTTPStatus >= 500 {
		return true
	}
	switch e.Code {
	case CodeTemporaryService, CodeServiceUnavailable, CodeSomethingWentWrong:
		return true
	}
	return false
}

// parseRetryAfter reads a Retry-After header: seconds, or an HTTP date.
// It returns 0 for a missing or unreadable value.
func parseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if s, err := strconv.Atoi(v); err == nil {
		return max(time.Duration(s)*time.Second, 0)
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(t.Sub(now), 0)
	}
	return 0
}
