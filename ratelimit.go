package fila

import (
	"time"

	"github.com/fila-go/fila/backend"
)

// Limit is a global rate limit, enforced by the backend across every worker
// and process of a queue: at most Max jobs start in any window of length Per.
// It is exact, not a fixed-window approximation: the backend keeps the start
// times of the last Max jobs (a sliding log), so memory per queue grows with
// Max.
type Limit = backend.Limit

func validateLimit(l *Limit) error {
	if l == nil {
		return nil
	}
	if l.Max <= 0 {
		return invalid("Limiter.Max", "must be > 0, got %d", l.Max)
	}
	if l.Per <= 0 {
		return invalid("Limiter.Per", "must be > 0, got %s", l.Per)
	}
	return nil
}

// Local rate limits are a golang.org/x/time/rate.Limiter given as
// WorkerOptions.LocalLimiter: a token bucket per worker (or shared by the
// workers of one process), waited on before each claim.
//
// On-demand limits come from a handler returning RateLimited(d), or from
// Queue.RateLimit and Worker.RateLimit: claims stop queue-wide for d.

// maxRateLimit bounds an on-demand rate limit, so a bogus Retry-After value
// cannot stop a queue for years.
const maxRateLimit = 24 * time.Hour
