package fila_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/fila-go/fila"
)

// tagger is a middleware that records its tag before and after the route.
func tagger(tag string, mu *sync.Mutex, trail *[]string) fila.Middleware {
	return func(next fila.Processor) fila.Processor {
		return func(ctx context.Context, job *fila.Job) (any, error) {
			mu.Lock()
			*trail = append(*trail, tag+">"+job.Name)
			mu.Unlock()
			v, err := next(ctx, job)
			mu.Lock()
			*trail = append(*trail, "<"+tag)
			mu.Unlock()
			return v, err
		}
	}
}

func TestMux(t *testing.T) {
	t.Parallel()

	t.Run("RoutesEachJobToTheHandlerOfItsName", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		mux := fila.NewMux()
		mux.Handle("resize", func(_ context.Context, j *fila.Job) (any, error) { return "resized " + j.ID, nil })
		fila.HandleJSON(mux, "send", func(_ context.Context, j *fila.Job, m message) (receipt, error) {
			return receipt{ID: j.ID, Chars: len(m.Body)}, nil
		})
		b.startWorker(t, mux.Process, fila.WorkerOptions{Concurrency: 2})

		r := b.add(t, "resize", nil)
		s, err := fila.AddJSON(b.ctx, b.queue, "send", message{To: "+1", Body: "hello"}, nil)
		require.NoError(t, err)

		require.JSONEq(t, `"resized `+r.ID+`"`, string(completed(t, r).ReturnValue))
		var got receipt
		require.NoError(t, completed(t, s).DecodeReturnValue(&got))
		require.Equal(t, receipt{ID: s.ID, Chars: 5}, got, "the typed route decoded the payload")
	})

	t.Run("UnknownNameFailsAtOnceWithoutRetryAndIsLogged", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		mux := fila.NewMux()
		mux.Handle("resize", func(context.Context, *fila.Job) (any, error) { return nil, nil })
		mux.Handle("crop", func(context.Context, *fila.Job) (any, error) { return nil, nil })
		var logs syncBuffer
		var hookErr error
		var hookMu sync.Mutex
		b.startWorker(t, mux.Process, fila.WorkerOptions{
			Logger: slog.New(slog.NewTextHandler(&logs, nil)),
			OnFinished: func(_ *fila.Job, err error) {
				hookMu.Lock()
				hookErr = err
				hookMu.Unlock()
			},
		})

		j := b.add(t, "rotate", &fila.JobOptions{Attempts: 5})
		fin, jf := failed(t, j)
		require.Equal(t, 1, fin.AttemptsMade, "no retry for a name without a route")
		require.Equal(t, `fila: no handler for job name "rotate" (known: ["crop" "resize"])`, jf.Reason)
		// OnFinished runs after the failure is recorded, so the waiter may see it first.
		require.Eventually(t, func() bool {
			hookMu.Lock()
			defer hookMu.Unlock()
			return hookErr != nil
		}, waitFor, time.Millisecond)
		hookMu.Lock()
		defer hookMu.Unlock()
		require.ErrorIs(t, hookErr, fila.ErrUnknownJobName)
		var unk *fila.UnknownJobNameError
		require.ErrorAs(t, hookErr, &unk)
		require.Equal(t, "rotate", unk.Name)
		require.True(t, fila.IsUnrecoverable(hookErr))
		require.Contains(t, logs.String(), "job failed")
		require.Contains(t, logs.String(), "no handler for job name")
	})

	t.Run("UseWrapsEveryRouteAndRouteMiddlewareOnlyItsOwn", func(t *testing.T) {
		t.Parallel()
		var mu sync.Mutex
		var trail []string
		mux := fila.NewMux()
		mux.Use(tagger("all", &mu, &trail))
		mux.Handle("a", func(context.Context, *fila.Job) (any, error) { return nil, nil }, tagger("a1", &mu, &trail), tagger("a2", &mu, &trail))
		mux.Handle("b", func(context.Context, *fila.Job) (any, error) { return nil, nil })
		mux.Use(tagger("late", &mu, &trail)) // wraps routes registered before it too

		_, err := mux.Process(context.Background(), &fila.Job{Name: "a"})
		require.NoError(t, err)
		_, err = mux.Process(context.Background(), &fila.Job{Name: "b"})
		require.NoError(t, err)
		_, err = mux.Process(context.Background(), &fila.Job{Name: "zzz"})
		require.ErrorIs(t, err, fila.ErrUnknownJobName)

		require.Equal(t, []string{
			"all>a", "late>a", "a1>a", "a2>a", "<a2", "<a1", "<late", "<all",
			"all>b", "late>b", "<late", "<all",
		}, trail, "Use middleware outside route middleware, first outermost; none for an unknown name")
	})

	t.Run("RouteMiddlewareCanRejectAJob", func(t *testing.T) {
		t.Parallel()
		denied := errors.New("denied")
		mux := fila.NewMux()
		ran := false
		deny := func(fila.Processor) fila.Processor {
			return func(context.Context, *fila.Job) (any, error) { return nil, denied }
		}
		mux.Handle("a", func(context.Context, *fila.Job) (any, error) { ran = true; return nil, nil }, deny)
		_, err := mux.Process(context.Background(), &fila.Job{Name: "a"})
		require.ErrorIs(t, err, denied)
		require.False(t, ran)
	})

	t.Run("NamesListsTheRoutesSorted", func(t *testing.T) {
		t.Parallel()
		mux := fila.NewMux()
		require.Empty(t, mux.Names())
		noop := func(context.Context, *fila.Job) (any, error) { return nil, nil }
		mux.Handle("send", noop)
		mux.Handle("fetch", noop)
		require.Equal(t, []string{"fetch", "send"}, mux.Names())
	})

	t.Run("RouteAddedAfterAJobRanIsServed", func(t *testing.T) {
		t.Parallel()
		mux := fila.NewMux()
		noop := func(context.Context, *fila.Job) (any, error) { return "ok", nil }
		mux.Handle("a", noop)
		_, err := mux.Process(context.Background(), &fila.Job{Name: "b"})
		require.ErrorIs(t, err, fila.ErrUnknownJobName)
		mux.Handle("b", noop)
		v, err := mux.Process(context.Background(), &fila.Job{Name: "b"})
		require.NoError(t, err)
		require.Equal(t, "ok", v)
	})

	t.Run("ProgrammingErrorsPanicAtRegistration", func(t *testing.T) {
		t.Parallel()
		mux := fila.NewMux()
		noop := func(context.Context, *fila.Job) (any, error) { return nil, nil }
		mux.Handle("a", noop)
		require.PanicsWithValue(t, `fila: Mux.Handle: job name "a" already has a route`, func() { mux.Handle("a", noop) })
		require.PanicsWithValue(t, "fila: Mux.Handle: job name is empty", func() { mux.Handle("", noop) })
		require.PanicsWithValue(t, `fila: Mux.Handle "b": processor is nil`, func() { mux.Handle("b", nil) })
		require.Panics(t, func() {
			fila.HandleJSON[message, any](mux, "c", nil)
		})
		require.Equal(t, []string{"a"}, mux.Names(), "a refused route is not registered")
	})
}

// BenchmarkMux measures what routing adds to a job: the direct processor
// against mux.Process with ten routes and one Use middleware.
func BenchmarkMux(b *testing.B) {
	noop := func(context.Context, *fila.Job) (any, error) { return nil, nil }
	pass := func(next fila.Processor) fila.Processor { return next }
	job := &fila.Job{Name: "route-7"}
	ctx := context.Background()
	b.Run("direct", func(b *testing.B) {
		b.ReportAllocs()
		p := fila.Processor(noop)
		for i := 0; i < b.N; i++ {
			_, _ = p(ctx, job)
		}
	})
	b.Run("mux", func(b *testing.B) {
		b.ReportAllocs()
		mux := fila.NewMux()
		mux.Use(pass)
		for i := range 10 {
			mux.Handle(fmt.Sprintf("route-%d", i), noop)
		}
		for i := 0; i < b.N; i++ {
			_, _ = mux.Process(ctx, job)
		}
	})
}
