package otelfila

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"github.com/fila-go/fila"
)

// The outcomes of an attempt (attribute fila.job.outcome), as the worker
// will treat the handler's result.
const (
	OutcomeCompleted   = "completed"    // the handler succeeded
	OutcomeRetry       = "retry"        // it failed and attempts are left
	OutcomeFailed      = "failed"       // it failed for good: no attempts left, or Unrecoverable
	OutcomeRateLimited = "rate_limited" // it returned fila.RateLimited: handed back unspent
	OutcomeInterrupted = "interrupted"  // the worker's shutdown deadline ended it: handed back
	OutcomePanic       = "panic"        // it panicked (the worker fails or retries the attempt)
)

// Middleware wraps a processor so each attempt runs in a consumer span
// "process <queue>", a child of the span whose context the job's metadata
// carries (the producer span AddHook recorded), or of the span in the
// worker's context when the job carries none. The span has the
// messaging.* attributes, fila.job.attempt and fila.job.outcome, and
// status Error when the attempt failed. Each attempt also records
// fila.job.duration and fila.jobs.processed.
//
// The outcome is worked out from the error as the worker does it, except
// that a custom BackoffStrategy's decision to stop retrying is not seen:
// such an attempt is reported as "retry".
func (t *Telemetry) Middleware(next fila.Processor) fila.Processor {
	return func(ctx context.Context, job *fila.Job) (val any, err error) {
		parent := ctx
		if len(job.Options.Meta) > 0 {
			parent = t.propagator.Extract(ctx, propagation.MapCarrier(job.Options.Meta))
		}
		attempt := job.AttemptsMade + 1
		ctx, span := t.tracer.Start(parent, "process "+job.Queue(),
			trace.WithSpanKind(trace.SpanKindConsumer),
			trace.WithAttributes(
				keySystem.String("fila"),
				keyDestination.String(job.Queue()),
				keyOperation.String("process"),
				keyOpType.String("process"),
				keyMessageID.String(job.ID),
				keyJobName.String(job.Name),
				keyAttempt.Int(attempt),
			))
		start := time.Now()
		outcome := OutcomePanic
		defer func() {
			if outcome == OutcomePanic {
				r := recover()
				span.SetStatus(codes.Error, fmt.Sprint("panic: ", r))
				t.end(ctx, span, job, outcome, start)
				panic(r) // the worker recovers it and records the stack
			}
		}()
		val, err = next(ctx, job)
		outcome = outcomeOf(ctx, job, attempt, err)
		if err != nil {
			span.RecordError(err)
			span.SetStatus(codes.Error, err.Error())
		}
		t.end(ctx, span, job, outcome, start)
		return val, err
	}
}

// end records the attempt's metrics and ends its span.
func (t *Telemetry) end(ctx context.Context, span trace.Span, job *fila.Job, outcome string, start time.Time) {
	span.SetAttributes(keyOutcome.String(outcome))
	span.End()
	attrs := metric.WithAttributeSet(attribute.NewSet(
		keySystem.String("fila"), keyDestination.String(job.Queue()), keyJobName.String(job.Name), keyOutcome.String(outcome)))
	t.duration.Record(ctx, time.Since(start).Seconds(), attrs)
	t.processed.Add(ctx, 1, attrs)
}

// outcomeOf mirrors the worker's decision on a handler's result.
func outcomeOf(ctx context.Context, job *fila.Job, attempt int, err error) string {
	var rl *fila.RateLimitError
	switch {
	case err == nil:
		return OutcomeCompleted
	case errors.Is(context.Cause(ctx), fila.ErrShutdown):
		return OutcomeInterrupted
	case errors.As(err, &rl):
		return OutcomeRateLimited
	case fila.IsUnrecoverable(err) || attempt >= max(job.Options.Attempts, 1):
		return OutcomeFailed
	}
	return OutcomeRetry
}
