package upstash

import (
	"errors"
	"fmt"
	"strings"

	"github.com/fila-go/fila/backend"
)

// Sentinel errors, matched with errors.Is against the *Error values the Conn
// returns. The texts they match are Upstash's documented error messages
// (upstash/docs redis/troubleshooting), found anywhere in the answer and in
// any case, so a proxy that wraps them ("Failed to execute Redis command:
// ERR max requests limit exceeded...") still maps.
var (
	// ErrUnauthorized: the service refused the credentials: HTTP 401, or
	// "WRONGPASS invalid or missing auth token" / "NOAUTH Authentication
	// required" in any status. The token is missing or wrong (or it is the
	// read-only token, which cannot run fila's scripts). It also matches
	// backend.ErrPermanent: retrying cannot fix it, so a worker stops.
	ErrUnauthorized = errors.New("upstash: unauthorized (check UPSTASH_REDIS_REST_TOKEN)")
	// ErrMonthlyLimit: "ERR max requests limit exceeded", the plan's
	// monthly command quota (500K on the free plan) is used up. It also
	// matches backend.ErrQuota.
	ErrMonthlyLimit = errors.New("upstash: monthly request limit exceeded")
	// ErrDailyLimit: "ERR max daily request limit exceeded", the daily
	// command limit of older free databases. It also matches
	// backend.ErrQuota.
	ErrDailyLimit = errors.New("upstash: daily request limit exceeded")
	// ErrRateLimited: the per-second request limit (10,000/s on the free
	// and pay-as-you-go plans): HTTP 429, or an error text naming a limit
	// "per second" as exceeded (Upstash does not document its exact
	// wording). It also matches backend.ErrQuota.
	ErrRateLimited = errors.New("upstash: requests per second limit exceeded")
	// ErrRecordTooLarge: "ERR max single record size exceeded", a write
	// would make one key larger than the plan allows (100 MB on the free
	// and pay-as-you-go plans). Not a quota and not permanent: removing
	// finished jobs (Clean, retention) shrinks the record again.
	ErrRecordTooLarge = errors.New("upstash: max single record size exceeded")
	// ErrRequestTooLarge: one request is over the service's size limit
	// (10 MB on the free and pay-as-you-go plans): "ERR max request size
	// exceeded" or HTTP 413 from the service, or refused by the Conn
	// before sending when one script call alone is over
	// Config.MaxRequestBytes (EvalBatch splits pipelines below it, but a
	// call cannot be split).
	ErrRequestTooLarge = errors.New("upstash: request too large")
	// ErrMalformedReply: the body of an answer is not the REST protocol's
	// JSON (a proxy's error page, a truncated body, a string that is not
	// base64).
	ErrMalformedReply = errors.New("upstash: malformed reply")
)

// Error is an error answer of the REST service, or a reply that could not be
// read, for one command or pipeline.
type Error struct {
	// Command names what was sent: "EVALSHA claim", "PING",
	// "pipeline of 3 EVALSHA add".
	Command string
	// Status is the HTTP status code: 400 for a Redis error (a script error,
	// an unknown command), 401 for a bad token, 5xx for a failing service;
	// 200 for an error inline in a pipeline or a malformed 200 body; 0 for
	// a request refused before sending.
	Status int
	// Message is the service's {"error": ...} text, or what was wrong with
	// the body.
	Message string

	malformed bool
	tooLarge  bool // refused before sending: over Config.MaxRequestBytes
}

func (e *Error) Error() string {
	if e.Status == 0 {
		return fmt.Sprintf("upstash: %s: %s", e.Command, e.Message)
	}
	return fmt.Sprintf("upstash: %s: HTTP %d: %s", e.Command, e.Status, e.Message)
}

// Is matches the sentinel errors of this package and the error classes of
// package backend: ErrUnauthorized is backend.ErrPermanent, and the three
// request limits are backend.ErrQuota.
func (e *Error) Is(target error) bool {
	switch target {
	case ErrUnauthorized, backend.ErrPermanent:
		return e.unauthorized()
	case backend.ErrQuota:
		return e.monthly() || e.daily() || e.rateLimited()
	case ErrMonthlyLimit:
		return e.monthly()
	case ErrDailyLimit:
		return e.daily()
	case ErrRateLimited:
		return e.rateLimited()
	case ErrRecordTooLarge:
		return has(e.Message, "max single record size exceeded")
	case ErrRequestTooLarge:
		return e.tooLarge || has(e.Message, "max request size exceeded") || e.Status == 413
	case ErrMalformedReply:
		return e.malformed
	}
	return false
}

func (e *Error) unauthorized() bool {
	return e.Status == 401 || has(e.Message, "WRONGPASS") || has(e.Message, "NOAUTH")
}

func (e *Error) monthly() bool { return has(e.Message, "max requests limit exceeded") }

func (e *Error) daily() bool { return has(e.Message, "max daily request limit exceeded") }

func (e *Error) rateLimited() bool {
	return e.Status == 429 || (has(e.Message, "per second") && has(e.Message, "exceeded"))
}

// has reports whether msg contains word, ignoring case.
func has(msg, word string) bool {
	return strings.Contains(strings.ToUpper(msg), strings.ToUpper(word))
}

// noScript reports a Redis NOSCRIPT answer: the server does not have the
// script (a flushed cache, a fresh database), so EVAL must send it. Like
// Upstash's own client it looks for the word anywhere and in any case, so
// an answer a proxy wrapped ("Failed to execute Redis command: NOSCRIPT
// No matching script", in an HTTP 500) still falls back to EVAL.
func noScript(msg string) bool { return has(msg, "NOSCRIPT") }
