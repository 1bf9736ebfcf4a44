package otelfila

import (
	"context"

	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"github.com/fila-go/fila"
)

// AddHook is a fila.AddHook (put it in QueueOptions.AddHooks). For each
// job added it starts a producer span "send <queue>" under the span in the
// add's context, writes that span's context into the job's metadata with
// the Propagator, and ends the span when the add returns, with the job ID
// (messaging.message.id) or the error (status Error). When the tracer
// records nothing (a no-op provider) it writes nothing.
func (t *Telemetry) AddHook(ctx context.Context, a *fila.Adding) func(*fila.Job, error) {
	ctx, span := t.tracer.Start(ctx, "send "+a.Queue,
		trace.WithSpanKind(trace.SpanKindProducer),
		trace.WithAttributes(
			keySystem.String("fila"),
			keyDestination.String(a.Queue),
			keyOperation.String("send"),
			keyOpType.String("send"),
			keyJobName.String(a.Name),
		))
	if !span.SpanContext().IsValid() {
		span.End()
		return nil
	}
	if a.Options.Meta == nil {
		a.Options.Meta = make(map[string]string, 2)
	}
	t.propagator.Inject(ctx, propagation.MapCarrier(a.Options.Meta))
	return func(j *fila.Job, err error) {
		if err != nil {
			span.RecordError(err)
			span.SetStatus(codes.Error, err.Error())
		} else {
			span.SetAttributes(keyMessageID.String(j.ID))
		}
		span.End()
	}
}
