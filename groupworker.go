package fila

import (
	"context"
	"errors"
	"time"

	"github.com/fila-go/fila/backend"
)

// groupLimitOf returns the delay of a RateLimitedGroup error.
func groupLimitOf(err error) (time.Duration, bool) {
	var gl *GroupRateLimitError
	if !errors.As(err, &gl) {
		return 0, false
	}
	return gl.Delay, true
}

// groupLimited holds the job's group back for d and hands the job back
// unspent, to the front of its group. A job without a group (or a backend
// without groups) rate limits the whole queue, as RateLimited does.
func (w *Worker) groupLimited(aj *activeJob, d time.Duration) {
	gb, ok := w.be.(backend.Groups)
	if aj.job.Options.Group == "" || !ok {
		w.rateLimited(aj, d)
		return
	}
	d = handlerLimit(d)
	err := w.retrying(func(ctx context.Context) error {
		return gb.GroupRateLimit(ctx, &backend.GroupRateLimitParams{Queue: w.queue, Group: aj.job.Options.Group, For: d})
	})
	if err == nil {
		err = w.retrying(func(ctx context.Context) error {
			return w.be.JobRelease(ctx, &backend.JobReleaseParams{Queue: w.queue, ID: aj.job.ID, Token: aj.token})
		})
	}
	if err != nil {
		w.log.Warn("could not hand back group-rate-limited job", "job", aj.job.ID, "group", aj.job.Options.Group, "err", err)
		return
	}
	w.stats.released.Add(1)
	w.log.Info("group rate limited by handler", "job", aj.job.ID, "group", aj.job.Options.Group, "for", d)
}
