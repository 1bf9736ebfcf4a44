package redisbackend

import (
	"errors"
	"fmt"
	"strings"

	"github.com/fila-go/fila/backend"
)

// permanentPrefixes start the Redis error replies that retrying cannot
// fix: credentials refused or lacking a permission, a server without a
// command fila needs (older than Redis 6.2, or a proxy that forbids it),
// and a NOSCRIPT that outlived the EVAL fallback (a proxy that accepts
// neither EVALSHA nor EVAL of fila's scripts).
var permanentPrefixes = []string{
	"WRONGPASS", // AUTH with a wrong user name or password (Redis 6+)
	"NOAUTH",    // the server requires AUTH and none was sent
	"NOPERM",    // the ACL user may not run this command or touch this key
	"NOSCRIPT",
	"ERR unknown command",
	"ERR unknown subcommand",
	"ERR invalid password", // AUTH against Redis before 6
	"ERR AUTH <password> called without any password configured",
	"ERR Client sent AUTH, but no password is set",
}

// permanentFragments appear inside script errors of a server too old for
// a command a script calls.
var permanentFragments = []string{"unknown redis command", "unknown command"}

// classify marks a go-redis error that retrying cannot fix with
// backend.ErrPermanent, keeping the server's text. Others (network
// errors, timeouts, LOADING, BUSY, failovers) pass unchanged: the worker
// retries them with backoff.
func classify(err error) error {
	if err == nil || errors.Is(err, backend.ErrPermanent) {
		return err
	}
	msg := err.Error()
	for _, p := range permanentPrefixes {
		if strings.HasPrefix(msg, p) {
			return &permanentError{err: err}
		}
	}
	lower := strings.ToLower(msg)
	for _, f := range permanentFragments {
		if strings.Contains(lower, f) {
			return &permanentError{err: err}
		}
	}
	return err
}

// permanentError is a server error that matches backend.ErrPermanent and
// still unwraps to the go-redis error.
type permanentError struct{ err error }

func (e *permanentError) Error() string { return fmt.Sprintf("%v (%v)", e.err, backend.ErrPermanent) }

func (e *permanentError) Unwrap() []error { return []error{e.err, backend.ErrPermanent} }
