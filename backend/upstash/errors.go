package upstash

import (
	"errors"
	"fmt"
	"strings"

	"github.com/fila-go/fila/backend"
)

// Sentinel errors, matched with errors.Is against the *Error values the Conn
// returns.
var (
	// ErrUnauthorized: the service answered 401, the token is missing or
	// wrong (or it is the read-only token, which cannot run fila's scripts).
	ErrUnauthorized = errors.New("upstash: unauthorized (check UPSTASH_REDIS_REST_TOKEN)")
	// ErrQuotaExceeded: the database's request quota (the free tier's
	// monthly commands, or a daily or per-second limit) is used up.
	ErrQuotaExceeded = errors.New("upstash: request quota exceeded")
	// ErrRequestTooLarge: one request was over the service's size limit
	// (10 MB on the free and pay-as-you-go plans). EvalBatch splits its
	// pipelines below Config.MaxRequestBytes, so this means a single script
	// call (one AddBulk batch of large jobs) is too big on its own.
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
	// 200 for an error inline in a pipeline or a malformed 200 body.
	Status int
	// Message is the service's {"error": ...} text, or what was wrong with
	// the body.
	Message string

	malformed bool
}

func (e *Error) Error() string {
	return fmt.Sprintf("upstash: %s: HTTP %d: %s", e.Command, e.Status, e.Message)
}

// Is matches the sentinel errors of this package, and the classes a
// worker acts on: a refused token is backend.ErrPermanent (Run ends), a
// spent quota backend.ErrQuota (the worker backs off longer).
func (e *Error) Is(target error) bool {
	switch target {
	case ErrUnauthorized:
		return e.Status == 401
	case backend.ErrPermanent:
		return e.Is(ErrUnauthorized)
	case backend.ErrQuota:
		return e.Is(ErrQuotaExceeded)
	case ErrQuotaExceeded:
		return strings.Contains(e.Message, "max requests limit exceeded") ||
			strings.Contains(e.Message, "max daily request limit exceeded") ||
			strings.Contains(e.Message, "max requests per second") || e.Status == 429
	case ErrRequestTooLarge:
		return strings.Contains(e.Message, "max request size exceeded") || e.Status == 413
	case ErrMalformedReply:
		return e.malformed
	}
	return false
}

// noScript reports a Redis NOSCRIPT answer: the server does not have the
// script (a flushed cache, a fresh database), so EVAL must send it.
func noScript(msg string) bool { return strings.HasPrefix(msg, "NOSCRIPT") }
