package otelfila

import (
	"context"
	"errors"

	"go.opentelemetry.io/otel/metric"

	"github.com/fila-go/fila"
)

// ObserveQueues reports the job counts of the queues (Queue.Counts) as the
// gauge fila.queue.jobs, one point per queue and state (fila.job.state:
// waiting, prioritized, paused, delayed, active, completed, failed), read
// at each collection. A queue whose counts cannot be read is left out of
// that collection and its error returned to the reader. Call Unregister on
// the result to stop.
func (t *Telemetry) ObserveQueues(queues ...*fila.Queue) (metric.Registration, error) {
	return t.meter.RegisterCallback(func(ctx context.Context, o metric.Observer) error {
		var errs []error
		for _, q := range queues {
			c, err := q.Counts(ctx)
			if err != nil {
				errs = append(errs, err)
				continue
			}
			for _, s := range []fila.State{fila.StateWaiting, fila.StatePrioritized, fila.StatePaused,
				fila.StateDelayed, fila.StateActive, fila.StateCompleted, fila.StateFailed} {
				o.ObserveInt64(t.depth, c.Get(s), metric.WithAttributes(
					keySystem.String("fila"), keyDestination.String(q.Name()), keyState.String(string(s))))
			}
		}
		return errors.Join(errs...)
	}, t.depth)
}
