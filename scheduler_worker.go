package fila

import (
	"context"
	"time"

	"github.com/fila-go/fila/backend"
)

// advanceTimeout bounds a worker's move of a scheduler to its next tick.
const advanceTimeout = 10 * time.Second

// advanceScheduler moves the scheduler whose tick job j is to its next
// tick, adding that tick's job, when j is the scheduler's pending job.
// Workers call it when they claim such a job, before the handler runs: a
// claim is the one event every tick's job goes through, and it comes from
// the backend's clock (j.ProcessedAt), so a worker's own clock never
// decides a tick. Every worker and process may call it for the same job:
// the backend's compare-and-set lets one advance through. A worker that
// dies between the claim and the advance leaves the job to the stalled
// check, whose next claim advances it.
func (w *Worker) advanceScheduler(j *Job) {
	id, tick, ok := backend.ParseSchedulerJobID(j.ID)
	if !ok {
		return
	}
	sb, ok := w.be.(backend.Schedulers)
	if !ok {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), advanceTimeout)
	defer cancel()
	for try := range 3 {
		err := advanceFrom(ctx, sb, w.queue, id, tick, j.ProcessedAt)
		if err == nil {
			return
		}
		w.log.Warn("scheduler: advance failed", "scheduler", id, "job", j.ID, "try", try+1, "err", err)
		select {
		case <-ctx.Done():
			return
		case <-time.After(time.Duration(try+1) * 100 * time.Millisecond):
		}
	}
}

// advanceFrom moves scheduler id from tick to its next tick after now
// (backend clock), if tick is still its pending one.
func advanceFrom(ctx context.Context, sb backend.Schedulers, queue, id string, tick, now time.Time) error {
	got, err := sb.SchedulerGet(ctx, &backend.SchedulerGetParams{Queue: queue, ID: id})
	if err != nil {
		return err
	}
	cur := got.Scheduler
	if cur == nil || cur.Next.UnixMilli() != tick.UnixMilli() {
		return nil // moved on already, changed, or removed
	}
	sp, err := decodeSpec(cur.Spec)
	if err != nil {
		return err
	}
	tk, err := newTicker(sp.schedule())
	if err != nil {
		return err
	}
	if now.IsZero() {
		now = got.Now
	}
	_, err = sb.SchedulerAdvance(ctx, &backend.SchedulerAdvanceParams{Queue: queue, ID: id, Spec: cur.Spec,
		From: tick, Next: tk.after(tick, now)})
	return err
}
