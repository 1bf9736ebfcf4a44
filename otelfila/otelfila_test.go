package otelfila_test

import (
	"context"
	"errors"
	"sort"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"
	"go.uber.org/goleak"

	"github.com/fila-go/fila"
	"github.com/fila-go/fila/backend"
	"github.com/fila-go/fila/backend/memory"
	redisbackend "github.com/fila-go/fila/backend/redis"
	"github.com/fila-go/fila/otelfila"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const waitFor = 10 * time.Second

// bundle is a memory backend, a queue with the AddHook, and the in-memory
// span recorder and metric reader behind a Telemetry.
type bundle struct {
	ctx    context.Context
	be     backend.Backend
	queue  *fila.Queue
	tel    *otelfila.Telemetry
	spans  *tracetest.SpanRecorder
	reader *sdkmetric.ManualReader
	tp     *sdktrace.TracerProvider
}

func setup(t *testing.T) *bundle {
	t.Helper()
	be := memory.New()
	t.Cleanup(func() { _ = be.Close() })
	return setupOn(t, be)
}

func setupOn(t *testing.T, be backend.Backend) *bundle {
	t.Helper()
	spans := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(spans))
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()); _ = mp.Shutdown(context.Background()) })
	tel, err := otelfila.New(otelfila.Config{TracerProvider: tp, MeterProvider: mp})
	require.NoError(t, err)
	q := fila.NewQueue(be, "outbound", fila.QueueOptions{AddHooks: []fila.AddHook{tel.AddHook}})
	return &bundle{ctx: context.Background(), be: be, queue: q, tel: tel, spans: spans, reader: reader, tp: tp}
}

// run starts a worker with the middleware until the test ends.
func (b *bundle) run(t *testing.T, p fila.Processor) {
	t.Helper()
	w, err := fila.NewWorker(b.be, "outbound", p, fila.WorkerOptions{Middleware: []fila.Middleware{b.tel.Middleware}})
	require.NoError(t, err)
	done := make(chan error, 1)
	go func() { done <- w.Run(context.Background()) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), waitFor)
		defer cancel()
		require.NoError(t, w.Close(ctx))
		require.NoError(t, <-done)
	})
}

// addInSpan adds a job inside a span of its own and returns the job and
// that span's context.
func (b *bundle) addInSpan(t *testing.T, opts *fila.JobOptions) (*fila.Job, trace.SpanContext) {
	t.Helper()
	ctx, span := b.tp.Tracer("test").Start(b.ctx, "http request")
	defer span.End()
	j, err := b.queue.Add(ctx, "send", []byte(`{}`), opts)
	require.NoError(t, err)
	return j, span.SpanContext()
}

func wait(t *testing.T, j *fila.Job) (*fila.Job, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	fin, err := j.WaitUntilFinished(ctx)
	require.False(t, errors.Is(err, context.DeadlineExceeded), "job did not finish")
	return fin, err
}

// named returns the ended spans with that name, in start order.
func (b *bundle) named(name string) []sdktrace.ReadOnlySpan {
	var out []sdktrace.ReadOnlySpan
	for _, s := range b.spans.Ended() {
		if s.Name() == name {
			out = append(out, s)
		}
	}
	sort.Slice(out, func(i, k int) bool { return out[i].StartTime().Before(out[k].StartTime()) })
	return out
}

func attrs(s sdktrace.ReadOnlySpan) map[attribute.Key]attribute.Value {
	m := map[attribute.Key]attribute.Value{}
	for _, kv := range s.Attributes() {
		m[kv.Key] = kv.Value
	}
	return m
}

func ok(context.Context, *fila.Job) (any, error) { return "ok", nil }

func TestTracing(t *testing.T) {
	t.Parallel()

	t.Run("a job added inside a span is processed in a span of the same trace, child of the producer span", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		j, req := b.addInSpan(t, nil)
		require.Contains(t, j.Options.Meta, "traceparent")
		b.run(t, ok)
		_, err := wait(t, j)
		require.NoError(t, err)

		send := b.named("send outbound")
		require.Len(t, send, 1)
		require.Equal(t, trace.SpanKindProducer, send[0].SpanKind())
		require.Equal(t, req.TraceID(), send[0].SpanContext().TraceID())
		require.Equal(t, req.SpanID(), send[0].Parent().SpanID(), "the producer span is a child of the request's")
		pa := attrs(send[0])
		require.Equal(t, "fila", pa["messaging.system"].AsString())
		require.Equal(t, "outbound", pa["messaging.destination.name"].AsString())
		require.Equal(t, j.ID, pa["messaging.message.id"].AsString())

		proc := b.named("process outbound")
		require.Len(t, proc, 1)
		require.Equal(t, trace.SpanKindConsumer, proc[0].SpanKind())
		require.Equal(t, req.TraceID(), proc[0].SpanContext().TraceID(), "same trace")
		require.Equal(t, send[0].SpanContext().SpanID(), proc[0].Parent().SpanID(), "child of the producer span")
		require.True(t, proc[0].Parent().IsRemote())
		ca := attrs(proc[0])
		require.Equal(t, "fila", ca["messaging.system"].AsString())
		require.Equal(t, "outbound", ca["messaging.destination.name"].AsString())
		require.Equal(t, j.ID, ca["messaging.message.id"].AsString())
		require.Equal(t, "send", ca["fila.job.name"].AsString())
		require.Equal(t, int64(1), ca["fila.job.attempt"].AsInt64())
		require.Equal(t, otelfila.OutcomeCompleted, ca["fila.job.outcome"].AsString())
		require.Equal(t, codes.Unset, proc[0].Status().Code)
	})

	t.Run("the handler's context carries the consumer span", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		j, _ := b.addInSpan(t, nil)
		seen := make(chan trace.SpanContext, 1)
		b.run(t, func(ctx context.Context, _ *fila.Job) (any, error) {
			seen <- trace.SpanContextFromContext(ctx)
			return nil, nil
		})
		_, err := wait(t, j)
		require.NoError(t, err)
		proc := b.named("process outbound")
		require.Len(t, proc, 1)
		require.Equal(t, proc[0].SpanContext().SpanID(), (<-seen).SpanID())
	})

	t.Run("a retry adds a span per attempt; failed attempts have status Error", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		j, req := b.addInSpan(t, &fila.JobOptions{Attempts: 3})
		b.run(t, func(_ context.Context, j *fila.Job) (any, error) {
			if j.AttemptsMade < 2 {
				return nil, errors.New("upstream 503")
			}
			return nil, nil
		})
		_, err := wait(t, j)
		require.NoError(t, err)
		proc := b.named("process outbound")
		require.Len(t, proc, 3)
		send := b.named("send outbound")[0]
		for i, s := range proc {
			a := attrs(s)
			require.Equal(t, int64(i+1), a["fila.job.attempt"].AsInt64())
			require.Equal(t, req.TraceID(), s.SpanContext().TraceID())
			require.Equal(t, send.SpanContext().SpanID(), s.Parent().SpanID())
		}
		require.Equal(t, otelfila.OutcomeRetry, attrs(proc[0])["fila.job.outcome"].AsString())
		require.Equal(t, codes.Error, proc[0].Status().Code)
		require.Equal(t, "upstream 503", proc[0].Status().Description)
		require.Len(t, proc[0].Events(), 1, "the error is recorded as an exception event")
		require.Equal(t, otelfila.OutcomeRetry, attrs(proc[1])["fila.job.outcome"].AsString())
		require.Equal(t, otelfila.OutcomeCompleted, attrs(proc[2])["fila.job.outcome"].AsString())
		require.Equal(t, codes.Unset, proc[2].Status().Code)
	})

	t.Run("a final failure sets the error status and outcome failed", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		j, _ := b.addInSpan(t, &fila.JobOptions{Attempts: 5})
		b.run(t, func(context.Context, *fila.Job) (any, error) {
			return nil, fila.Unrecoverable(errors.New("bad number"))
		})
		_, err := wait(t, j)
		var jf *fila.JobFailedError
		require.ErrorAs(t, err, &jf)
		proc := b.named("process outbound")
		require.Len(t, proc, 1, "Unrecoverable: no retry")
		require.Equal(t, codes.Error, proc[0].Status().Code)
		require.Equal(t, otelfila.OutcomeFailed, attrs(proc[0])["fila.job.outcome"].AsString())
	})

	t.Run("a panic ends the span with status Error and the worker still fails the attempt", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		j, _ := b.addInSpan(t, nil)
		b.run(t, func(context.Context, *fila.Job) (any, error) { panic("nil map") })
		fin, err := wait(t, j)
		require.Error(t, err)
		require.Equal(t, fila.StateFailed, fin.State)
		proc := b.named("process outbound")
		require.Len(t, proc, 1)
		require.Equal(t, codes.Error, proc[0].Status().Code)
		require.Equal(t, "panic: nil map", proc[0].Status().Description)
		require.Equal(t, otelfila.OutcomePanic, attrs(proc[0])["fila.job.outcome"].AsString())
	})

	t.Run("a failed add ends its producer span with the error and stores nothing", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		_, err := b.queue.Add(b.ctx, "send", nil, &fila.JobOptions{Attempts: -1})
		require.ErrorIs(t, err, fila.ErrInvalid)
		send := b.named("send outbound")
		require.Len(t, send, 1)
		require.Equal(t, codes.Error, send[0].Status().Code)
		c, err := b.queue.Counts(b.ctx)
		require.NoError(t, err)
		require.Equal(t, fila.Counts{}, *c)
	})

	t.Run("with a tracer that records nothing, no metadata is written", func(t *testing.T) {
		t.Parallel()
		be := memory.New()
		t.Cleanup(func() { _ = be.Close() })
		tel, err := otelfila.New(otelfila.Config{TracerProvider: noop.NewTracerProvider()})
		require.NoError(t, err)
		q := fila.NewQueue(be, "outbound", fila.QueueOptions{AddHooks: []fila.AddHook{tel.AddHook}})
		j, err := q.Add(context.Background(), "send", nil, nil)
		require.NoError(t, err)
		require.Nil(t, j.Options.Meta)
	})

	t.Run("the trace context survives the Redis record (miniredis)", func(t *testing.T) {
		t.Parallel()
		mr := miniredis.RunT(t)
		rdb := redis.NewClient(&redis.Options{Addr: mr.Addr()})
		be := redisbackend.New(rdb)
		t.Cleanup(func() { _ = be.Close(); _ = rdb.Close() })
		b := setupOn(t, be)
		j, req := b.addInSpan(t, &fila.JobOptions{Attempts: 2})
		b.run(t, func(_ context.Context, j *fila.Job) (any, error) {
			if j.AttemptsMade == 0 {
				return nil, errors.New("once")
			}
			return nil, nil
		})
		_, err := wait(t, j)
		require.NoError(t, err)
		proc := b.named("process outbound")
		require.Len(t, proc, 2)
		for _, s := range proc {
			require.Equal(t, req.TraceID(), s.SpanContext().TraceID())
			require.Equal(t, b.named("send outbound")[0].SpanContext().SpanID(), s.Parent().SpanID())
		}
	})
}

func TestMetrics(t *testing.T) {
	t.Parallel()
	b := setup(t)
	reg, err := b.tel.ObserveQueues(b.queue)
	require.NoError(t, err)
	t.Cleanup(func() { _ = reg.Unregister() })

	good, _ := b.addInSpan(t, nil)
	bad, _ := b.addInSpan(t, &fila.JobOptions{Attempts: 2})
	_, err = b.queue.Add(b.ctx, "later", nil, &fila.JobOptions{Delay: time.Hour})
	require.NoError(t, err)
	b.run(t, func(_ context.Context, j *fila.Job) (any, error) {
		if j.ID == bad.ID {
			return nil, errors.New("boom")
		}
		return nil, nil
	})
	_, err = wait(t, good)
	require.NoError(t, err)
	_, err = wait(t, bad)
	require.Error(t, err)

	var rm metricdata.ResourceMetrics
	require.NoError(t, b.reader.Collect(b.ctx, &rm))
	got := map[string]metricdata.Aggregation{}
	for _, sm := range rm.ScopeMetrics {
		require.Equal(t, otelfila.ScopeName, sm.Scope.Name)
		for _, m := range sm.Metrics {
			got[m.Name] = m.Data
		}
	}

	processed, ok := got["fila.jobs.processed"].(metricdata.Sum[int64])
	require.True(t, ok, "fila.jobs.processed is an int64 sum: %T", got["fila.jobs.processed"])
	byOutcome := map[string]int64{}
	for _, p := range processed.DataPoints {
		o, _ := p.Attributes.Value("fila.job.outcome")
		q, _ := p.Attributes.Value("messaging.destination.name")
		require.Equal(t, "outbound", q.AsString())
		byOutcome[o.AsString()] += p.Value
	}
	require.Equal(t, map[string]int64{"completed": 1, "retry": 1, "failed": 1}, byOutcome)

	dur, ok := got["fila.job.duration"].(metricdata.Histogram[float64])
	require.True(t, ok, "fila.job.duration is a float64 histogram: %T", got["fila.job.duration"])
	var n uint64
	for _, p := range dur.DataPoints {
		n += p.Count
		lo, defined := p.Min.Value()
		require.True(t, defined)
		require.GreaterOrEqual(t, lo, 0.0)
	}
	require.Equal(t, uint64(3), n, "one duration per attempt")

	depth, ok := got["fila.queue.jobs"].(metricdata.Gauge[int64])
	require.True(t, ok, "fila.queue.jobs is an int64 gauge: %T", got["fila.queue.jobs"])
	byState := map[string]int64{}
	for _, p := range depth.DataPoints {
		s, _ := p.Attributes.Value("fila.job.state")
		byState[s.AsString()] = p.Value
	}
	require.Len(t, byState, 7, "every state reported")
	require.Equal(t, int64(1), byState["completed"])
	require.Equal(t, int64(1), byState["failed"])
	require.Equal(t, int64(1), byState["delayed"])
	require.Equal(t, int64(0), byState["waiting"])
}
