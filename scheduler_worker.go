package fila

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/fila-go/fila/backend"
)

// advanceTimeout bounds a worker's move of a scheduler to its next tick.
const advanceTimeout = 10 * time.Second

// SkippedTick is the return value of a tick's job that did not run because
// its scheduler has SkipIfRunning and the previous tick's job was
// unfinished.
type SkippedTick struct {
	Skipped  bool   `json:"skipped"`
	Previous string `json:"previous"` // the unfinished job
}

// advanceScheduler moves the scheduler whose tick job j is to its next
// tick, adding that tick's job, when j is the scheduler's pending job.
// Workers call it when they claim such a job, before the handler runs: a
// claim is the one event every tick's job goes through, and it comes from
// the backend's clock (j.ProcessedAt), so a worker's own clock never
// decides a tick. Every worker and process may call it for the same job:
// the backend's compare-and-set lets one advance through. A worker that
// dies between the claim and the advance leaves the job to the stalled
// check, whose next claim advances it. It returns a *SkippedTick when the
// job must not run (Schedule.SkipIfRunning), else nil.
func (w *Worker) advanceScheduler(j *Job) *SkippedTick {
	id, tick, ok := backend.ParseSchedulerJobID(j.ID)
	if !ok {
		return nil
	}
	sb, ok := w.be.(backend.Schedulers)
	if !ok {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), advanceTimeout)
	defer cancel()
	for try := range 3 {
		skip, err := advanceFrom(ctx, w.be, sb, w.queue, id, tick, j.ProcessedAt)
		if err == nil {
			return skip
		}
		w.log.Warn("scheduler: advance failed", "scheduler", id, "job", j.ID, "try", try+1, "err", err)
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(time.Duration(try+1) * 100 * time.Millisecond):
		}
	}
	return nil
}

// advanceFrom moves scheduler id from tick to its next tick after now
// (backend clock), if tick is still its pending one. With SkipIfRunning it
// reports the tick's job as skipped when the previous tick's job has not
// finished.
func advanceFrom(ctx context.Context, be backend.Backend, sb backend.Schedulers, queue, id string, tick, now time.Time) (*SkippedTick, error) {
	got, err := sb.SchedulerGet(ctx, &backend.SchedulerGetParams{Queue: queue, ID: id})
	if err != nil {
		return nil, err
	}
	cur := got.Scheduler
	if cur == nil || cur.Next.UnixMilli() != tick.UnixMilli() {
		return nil, nil // moved on already, changed, or removed
	}
	sp, err := decodeSpec(cur.Spec)
	if err != nil {
		return nil, err
	}
	tk, err := newTicker(sp.schedule())
	if err != nil {
		return nil, err
	}
	if now.IsZero() {
		now = got.Now
	}
	var skip *SkippedTick
	if sp.SkipIfRunning && cur.LastJobID != "" {
		if skip, err = unfinished(ctx, be, queue, cur.LastJobID); err != nil {
			return nil, err
		}
	}
	_, err = sb.SchedulerAdvance(ctx, &backend.SchedulerAdvanceParams{Queue: queue, ID: id, Spec: cur.Spec,
		From: tick, Next: tk.after(tick, now)})
	if err != nil {
		return nil, err
	}
	return skip, nil
}

// unfinished returns a SkippedTick when the previous tick's job prevID has
// not finished, or was itself skipped for a job that has not. A job that
// no longer exists counts as finished.
func unfinished(ctx context.Context, be backend.Backend, queue, prevID string) (*SkippedTick, error) {
	for range 2 {
		prev, err := be.JobGet(ctx, &backend.JobGetParams{Queue: queue, ID: prevID})
		if errors.Is(err, backend.ErrJobNotFound) {
			return nil, nil
		}
		if err != nil {
			return nil, err
		}
		switch prev.State {
		case backend.StateFailed:
			return nil, nil
		case backend.StateCompleted:
			var st SkippedTick
			if json.Unmarshal(prev.ReturnValue, &st) != nil || !st.Skipped || st.Previous == "" {
				return nil, nil
			}
			prevID = st.Previous // skipped while that one ran: look at it
		default:
			return &SkippedTick{Skipped: true, Previous: prev.ID}, nil
		}
	}
	return nil, nil
}
