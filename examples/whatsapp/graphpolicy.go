package main

import (
	"errors"
	"time"

	"github.com/fila-go/fila"
	"github.com/fila-go/fila/examples/whatsapp/cloudapi"
)

// jobError turns a failed Graph API call into what the worker does with
// the job:
//
//   - Meta asked to slow down (HTTP 429, or codes 130429, 80007, 4):
//     fila.RateLimited, which stops claims on the whole queue, in every
//     process, for Retry-After or the code's default wait, and puts the job
//     back without spending an attempt;
//   - the pair rate limit (131056, too many messages to one user):
//     fila.RateLimitedGroup, which holds back that recipient's group only
//     (Retry-After or 6s) and puts the job back, first in its group,
//     without spending an attempt; the queue goes on sending to others;
//   - a server error, one of Meta's "try again" codes, or no answer at all
//     (network error, timeout): the error itself, retried with the queue's
//     exponential backoff while attempts remain;
//   - any other 4xx (a bad parameter, outside the 24-hour window, an
//     invalid token): fila.Unrecoverable, failed at once, since sending the
//     same request again cannot succeed. Failed jobs are kept for 7 days;
//     Queue.RetryFailed runs them again once the cause is fixed.
func jobError(err error) error {
	e, ok := cloudapi.AsAPIError(err)
	switch {
	case !ok || e.Temporary():
		return err
	case e.Code == cloudapi.CodePairRateLimit:
		// One user's limit: only this user's sends wait, in order; the
		// queue keeps sending to everyone else.
		return errors.Join(fila.RateLimitedGroup(rateLimitWait(e)), err)
	case e.RateLimited():
		return errors.Join(fila.RateLimited(rateLimitWait(e)), err)
	}
	return fila.Unrecoverable(err)
}

// outboundBackoff is the outbound worker's BackoffStrategy: a job that hit
// the pair rate limit (131056) waits Retry-After or at least 6s, doubling
// with each attempt; any other failure backs off exponentially from the
// job's Backoff.Delay.
func outboundBackoff(attempt int, err error, job *fila.Job) time.Duration {
	d := job.Options.Backoff.Delay << min(attempt-1, 20)
	if e, ok := cloudapi.AsAPIError(err); ok && e.Code == cloudapi.CodePairRateLimit {
		d = max(rateLimitWait(e), 6*time.Second<<min(attempt-1, 10))
	}
	return d
}

// rateLimitWait is how long to stop a queue for a rate-limit answer:
// Retry-After when Meta sent one, otherwise a default for the code.
func rateLimitWait(e *cloudapi.APIError) time.Duration {
	if e.RetryAfter > 0 {
		return e.RetryAfter
	}
	switch e.Code {
	case cloudapi.CodeThroughput:
		// Throughput is counted per second per number: a short pause.
		return 2 * time.Second
	case cloudapi.CodePairRateLimit:
		// About one message per 6 s to the same user.
		return 6 * time.Second
	case cloudapi.CodeWABARateLimit, cloudapi.CodeAppRateLimit:
		// Call-count limits reset over the hour: check once a minute.
		return time.Minute
	}
	return 5 * time.Second
}
