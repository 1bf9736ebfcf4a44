// Package otelfila traces and measures fila jobs with OpenTelemetry.
//
// It lives in its own Go module so fila itself does not depend on
// OpenTelemetry. Three pieces, each optional:
//
//   - AddHook, a fila.AddHook: each Add records a producer span ("send
//     <queue>") and writes the W3C trace context (traceparent, tracestate)
//     into the job's metadata (JobOptions.Meta).
//   - Middleware wraps a fila.Processor: each attempt runs in a consumer
//     span ("process <queue>") that is a child of the producer span, so a
//     request's trace continues into the job it enqueued, one span per
//     attempt; and it records the job duration histogram and the processed
//     counter by outcome.
//   - ObserveQueues reports each queue's job counts by state as gauges.
//
// Wiring:
//
//	tel, err := otelfila.New(otelfila.Config{}) // the global providers
//	q := fila.NewQueue(be, "outbound", fila.QueueOptions{AddHooks: []fila.AddHook{tel.AddHook}})
//	w, err := fila.NewWorker(be, "outbound", tel.Middleware(handler), fila.WorkerOptions{})
//	reg, err := tel.ObserveQueues(q) // reg.Unregister() to stop
package otelfila

import (
	"errors"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
)

// ScopeName is the instrumentation scope of the tracer and meter.
const ScopeName = "github.com/fila-go/fila/otelfila"

// Config chooses where spans and metrics go. The zero value uses the
// global providers (otel.GetTracerProvider, otel.GetMeterProvider) and the
// W3C trace context propagator.
type Config struct {
	TracerProvider trace.TracerProvider
	MeterProvider  metric.MeterProvider
	// Propagator writes the trace context into job metadata and reads it
	// back. nil: propagation.TraceContext{} (traceparent, tracestate);
	// not the global propagator, which is a no-op until set. Whatever it
	// writes counts against fila.MaxMetaEntries and fila.MaxMetaBytes.
	Propagator propagation.TextMapPropagator
}

// Telemetry holds the tracer and instruments; build it once with New and
// share it between queues and workers.
type Telemetry struct {
	tracer     trace.Tracer
	meter      metric.Meter
	propagator propagation.TextMapPropagator

	duration  metric.Float64Histogram
	processed metric.Int64Counter
	depth     metric.Int64ObservableGauge
}

// Attribute keys. The messaging.* ones follow OpenTelemetry's messaging
// semantic conventions; fila.* are this package's own.
const (
	keySystem      = attribute.Key("messaging.system")           // always "fila"
	keyDestination = attribute.Key("messaging.destination.name") // the queue
	keyOperation   = attribute.Key("messaging.operation.name")   // "send" or "process"
	keyOpType      = attribute.Key("messaging.operation.type")   // "send" or "process"
	keyMessageID   = attribute.Key("messaging.message.id")       // the job ID
	keyJobName     = attribute.Key("fila.job.name")
	keyAttempt     = attribute.Key("fila.job.attempt") // 1 for the first attempt
	keyOutcome     = attribute.Key("fila.job.outcome") // see the Outcome constants
	keyState       = attribute.Key("fila.job.state")   // the queue depth gauge's state
)

// New builds the tracer and the instruments: the histogram
// fila.job.duration (seconds, by queue, job name and outcome), the counter
// fila.jobs.processed (by the same) and the gauge fila.queue.jobs (by queue
// and state, see ObserveQueues).
func New(cfg Config) (*Telemetry, error) {
	tp, mp, prop := cfg.TracerProvider, cfg.MeterProvider, cfg.Propagator
	if tp == nil {
		tp = otel.GetTracerProvider()
	}
	if mp == nil {
		mp = otel.GetMeterProvider()
	}
	if prop == nil {
		prop = propagation.TraceContext{}
	}
	t := &Telemetry{tracer: tp.Tracer(ScopeName), meter: mp.Meter(ScopeName), propagator: prop}
	var err1, err2, err3 error
	t.duration, err1 = t.meter.Float64Histogram("fila.job.duration", metric.WithUnit("s"),
		metric.WithDescription("How long a job's attempt ran in its handler."))
	t.processed, err2 = t.meter.Int64Counter("fila.jobs.processed", metric.WithUnit("{job}"),
		metric.WithDescription("Job attempts processed, by outcome."))
	t.depth, err3 = t.meter.Int64ObservableGauge("fila.queue.jobs", metric.WithUnit("{job}"),
		metric.WithDescription("Jobs in a queue, by state."))
	if err := errors.Join(err1, err2, err3); err != nil {
		return nil, err
	}
	return t, nil
}
