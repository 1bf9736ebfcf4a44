package fila

import (
	"math"
	"math/rand/v2"
	"time"
)

// BackoffStrategy computes the delay before the next attempt of a job whose
// Backoff.Type is BackoffCustom. attempt is the number of attempts made so
// far (1 after the first failure) and err the failure. A negative result
// fails the job now, with no more attempts.
type BackoffStrategy func(attempt int, err error, job *Job) time.Duration

// maxBackoff bounds computed delays so exponential growth cannot overflow.
const maxBackoff = 365 * 24 * time.Hour

// retryDelay returns the delay before the next attempt after a failure that
// made attempt attempts, and whether to retry at all. It is the retry policy
// in one place: attempts left, Unrecoverable, and the backoff rule.
func retryDelay(job *Job, attempt int, err error, custom BackoffStrategy) (time.Duration, bool) {
	if attempt >= job.Options.Attempts || IsUnrecoverable(err) {
		return 0, false
	}
	b := job.Options.Backoff
	var d time.Duration
	switch b.Type {
	case BackoffFixed, "":
		d = b.Delay
	case BackoffExponential:
		d = exponential(b.Delay, attempt)
	case BackoffCustom:
		if custom == nil {
			d = b.Delay // documented fallback: no strategy on the worker means fixed Delay
		} else if d = custom(attempt, err, job); d < 0 {
			return 0, false
		}
	}
	return jitter(min(d, maxBackoff), b.Jitter), true
}

// exponential returns base x 2^(attempt-1), capped at maxBackoff.
func exponential(base time.Duration, attempt int) time.Duration {
	if base <= 0 {
		return 0
	}
	f := float64(base) * math.Pow(2, float64(attempt-1))
	if f >= float64(maxBackoff) {
		return maxBackoff
	}
	return time.Duration(f)
}

// jitter shortens d by a random fraction of up to j.
func jitter(d time.Duration, j float64) time.Duration {
	if j <= 0 || d <= 0 {
		return d
	}
	return d - time.Duration(rand.Float64()*j*float64(d))
}
