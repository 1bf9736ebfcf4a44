package fila_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/fila-go/fila"
	"github.com/fila-go/fila/backend"
)

func TestWorker(t *testing.T) {
	t.Parallel()

	t.Run("RunsJobAndStoresItsReturnValue", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		job := b.add(t, "send", nil)
		var runs runLog
		b.startWorker(t, func(_ context.Context, j *fila.Job) (any, error) {
			runs.add(j)
			return map[string]string{"sent": j.Name}, nil
		}, fila.WorkerOptions{})

		fin := completed(t, job)
		require.JSONEq(t, `{"sent":"send"}`, string(fin.ReturnValue))
		require.Equal(t, 1, fin.AttemptsMade)
		require.Equal(t, 1, fin.AttemptsStarted)
		require.False(t, fin.FinishedAt.Before(fin.ProcessedAt))
		require.Len(t, runs.all(), 1)
		got := runs.all()[0]
		require.Equal(t, job.ID, got.ID)
		require.Equal(t, fila.StateActive, got.State, "the handler sees the job as active")
		require.Equal(t, queueName, got.Queue())
		require.JSONEq(t, `{"name":"send"}`, string(got.Data))
	})

	t.Run("RunsAtMostConcurrencyHandlersAndFillsEverySlot", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		const concurrency, jobs = 5, 8
		var inFlight, maxInFlight, runs atomic.Int32
		started := make(chan struct{}, jobs)
		release := make(chan struct{})
		b.startWorker(t, func(ctx context.Context, j *fila.Job) (any, error) {
			n := inFlight.Add(1)
			defer inFlight.Add(-1)
			for m := maxInFlight.Load(); n > m && !maxInFlight.CompareAndSwap(m, n); m = maxInFlight.Load() {
				// another handler raised the max meanwhile: compare again
			}
			runs.Add(1)
			started <- struct{}{}
			<-release
			return nil, nil
		}, fila.WorkerOptions{Concurrency: concurrency})
		var added []*fila.Job
		for i := range jobs {
			added = append(added, b.add(t, fmt.Sprint("job-", i), nil))
		}

		for range concurrency {
			select {
			case <-started:
			case <-time.After(waitFor):
				t.Fatalf("only %d of %d handlers started", inFlight.Load(), concurrency)
			}
		}
		require.Never(t, func() bool { return runs.Load() > concurrency }, 200*time.Millisecond, 5*time.Millisecond,
			"a sixth handler started while five were running")
		require.Equal(t, int64(concurrency), b.counts(t).Active)
		close(release)
		for _, j := range added {
			completed(t, j)
		}
		require.Equal(t, int32(concurrency), maxInFlight.Load())
		require.Equal(t, int32(jobs), runs.Load())
	})

	t.Run("MiddlewareRunsFirstOutermostAndSeesTheJob", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		var mu sync.Mutex
		var trace []string
		record := func(s string) {
			mu.Lock()
			trace = append(trace, s)
			mu.Unlock()
		}
		mw := func(name string) fila.Middleware {
			return func(next fila.Processor) fila.Processor {
				return func(ctx context.Context, j *fila.Job) (any, error) {
					record(name + " before " + j.Name)
					v, err := next(ctx, j)
					record(name + " after " + fmt.Sprint(v))
					return v, err
				}
			}
		}
		job := b.add(t, "send", nil)
		b.startWorker(t, func(_ context.Context, j *fila.Job) (any, error) {
			record("handler " + j.ID)
			return "result", nil
		}, fila.WorkerOptions{Middleware: []fila.Middleware{mw("outer"), mw("inner")}})

		completed(t, job)
		mu.Lock()
		defer mu.Unlock()
		require.Equal(t, []string{
			"outer before send", "inner before send", "handler " + job.ID, "inner after result", "outer after result",
		}, trace)
	})

	t.Run("ReturnValueThatDoesNotEncodeFailsTheJobAtOnce", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		job := b.add(t, "send", &fila.JobOptions{Attempts: 3})
		var runs runLog
		b.startWorker(t, func(_ context.Context, j *fila.Job) (any, error) {
			runs.add(j)
			return make(chan int), nil
		}, fila.WorkerOptions{})

		fin, jf := failed(t, job)
		require.Contains(t, jf.Reason, "encode return value")
		require.Equal(t, 1, fin.AttemptsMade)
		require.Equal(t, 1, runs.len())
	})

	t.Run("KeepsClaimingAfterTheBackendFails", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		flaky := &flakyClaims{Backend: b.be}
		flaky.failures.Store(3)
		job := b.add(t, "send", nil)
		var runs runLog
		startWorkerOn(t, flaky, queueName, runs.recordOK, fila.WorkerOptions{})

		completed(t, job)
		require.Equal(t, int32(0), flaky.failures.Load(), "every injected failure was hit")
		require.Equal(t, 1, runs.len())
	})

	t.Run("LogsThroughTheGivenLogger", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		var buf syncBuffer
		logger := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
		job := b.add(t, "send", nil)
		w := b.startWorker(t, func(context.Context, *fila.Job) (any, error) {
			return nil, errors.New("smtp refused")
		}, fila.WorkerOptions{Logger: logger, Name: "mailer"})

		failed(t, job)
		require.Eventually(t, func() bool { return strings.Contains(buf.String(), "job failed") }, waitFor, 5*time.Millisecond)
		out := buf.String()
		require.Contains(t, out, "smtp refused")
		require.Contains(t, out, "job="+job.ID)
		require.Contains(t, out, "worker=mailer ")
		require.Contains(t, out, "worker_id="+w.ID())
		require.Contains(t, out, "queue="+queueName)
	})

	t.Run("HasARandomID", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		noop := func(context.Context, *fila.Job) (any, error) { return nil, nil }
		w1 := newWorker(t, b.be, queueName, noop, fila.WorkerOptions{})
		w2 := newWorker(t, b.be, queueName, noop, fila.WorkerOptions{})
		require.NotEmpty(t, w1.ID())
		require.NotEqual(t, w1.ID(), w2.ID())
		require.NoError(t, w1.Close(context.Background()))
		require.NoError(t, w2.Close(context.Background()))
	})

	// The name labels metrics: stable across restarts (the host name, not
	// a random ID), and unique among a queue's running workers in a process.
	t.Run("HasAStableNameUniquePerQueueInTheProcess", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		host, err := os.Hostname()
		require.NoError(t, err)
		noop := func(context.Context, *fila.Job) (any, error) { return nil, nil }
		// Queue names no other test uses: the names are process-wide.
		w1 := newWorker(t, b.be, "naming", noop, fila.WorkerOptions{})
		w2 := newWorker(t, b.be, "naming", noop, fila.WorkerOptions{})
		w3 := newWorker(t, b.be, "naming", noop, fila.WorkerOptions{})
		other := newWorker(t, b.be, "naming-other", noop, fila.WorkerOptions{})
		require.Equal(t, host, w1.Name())
		require.Equal(t, host+"-2", w2.Name())
		require.Equal(t, host+"-3", w3.Name())
		require.Equal(t, host, other.Name(), "another queue's first worker")
		require.Equal(t, host+"-2", w2.Stats().Worker, "Stats reports the name")

		// A restarted worker takes the name its predecessor freed.
		job, err := fila.NewQueue(b.be, "naming").Add(context.Background(), "send", nil, nil)
		require.NoError(t, err)
		done := make(chan error, 1)
		go func() { done <- w1.Run(context.Background()) }()
		completed(t, job)
		require.NoError(t, w1.Close(context.Background()))
		require.NoError(t, <-done)
		again := newWorker(t, b.be, "naming", noop, fila.WorkerOptions{})
		require.Equal(t, host, again.Name())

		named := newWorker(t, b.be, "naming", noop, fila.WorkerOptions{Name: "api"})
		named2 := newWorker(t, b.be, "naming", noop, fila.WorkerOptions{Name: "api"})
		require.Equal(t, "api", named.Name())
		require.Equal(t, "api-2", named2.Name())
		for _, w := range []*fila.Worker{w2, w3, other, again, named, named2} {
			require.NoError(t, w.Close(context.Background()))
		}
	})
}

func TestWorkerLifecycle(t *testing.T) {
	t.Parallel()
	noop := func(context.Context, *fila.Job) (any, error) { return nil, nil }

	t.Run("RunTwiceReturnsErrWorkerRunning", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		job := b.add(t, "send", nil)
		w := b.startWorker(t, noop, fila.WorkerOptions{})
		completed(t, job) // Run is running by now

		require.ErrorIs(t, w.Run(context.Background()), fila.ErrWorkerRunning)
	})

	t.Run("RunAfterCloseReturnsErrWorkerClosed", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		w := newWorker(t, b.be, queueName, noop, fila.WorkerOptions{})
		require.NoError(t, w.Close(context.Background()), "closing a worker that never ran")
		require.ErrorIs(t, w.Run(context.Background()), fila.ErrWorkerClosed)
		require.NoError(t, w.Close(context.Background()), "a second Close")
	})

	t.Run("RunAgainAfterItReturnedReturnsErrWorkerClosed", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		job := b.add(t, "send", nil)
		w := newWorker(t, b.be, queueName, noop, fila.WorkerOptions{})
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- w.Run(ctx) }()
		completed(t, job)
		cancel()
		require.NoError(t, <-done)

		require.ErrorIs(t, w.Run(context.Background()), fila.ErrWorkerClosed)
		require.NoError(t, w.Close(context.Background()), "Close after Run returned")
	})

	t.Run("NilBackendOrProcessorIsInvalid", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		w, err := fila.NewWorker(nil, queueName, noop, fila.WorkerOptions{})
		require.Nil(t, w)
		requireInvalid(t, err, "backend")
		w, err = fila.NewWorker(b.be, queueName, nil, fila.WorkerOptions{})
		require.Nil(t, w)
		requireInvalid(t, err, "processor")
	})

	t.Run("InvalidOptionsAreReturnedByNewWorker", func(t *testing.T) {
		t.Parallel()
		tests := []struct {
			name  string
			queue string
			opts  fila.WorkerOptions
			field string
		}{
			{"negative concurrency", queueName, fila.WorkerOptions{Concurrency: -1}, "Concurrency"},
			{"prefetch under NoPrefetch", queueName, fila.WorkerOptions{Prefetch: -2}, "Prefetch"},
			{"limiter with max 0", queueName, fila.WorkerOptions{Limiter: &fila.Limit{Max: 0, Per: time.Second}}, "Limiter.Max"},
			{"limiter with per 0", queueName, fila.WorkerOptions{Limiter: &fila.Limit{Max: 10}}, "Limiter.Per"},
			{"negative lock duration", queueName, fila.WorkerOptions{LockDuration: -time.Second}, "LockDuration"},
			{"lock duration under 10ms", queueName, fila.WorkerOptions{LockDuration: time.Millisecond}, "LockDuration"},
			{"negative stalled interval", queueName, fila.WorkerOptions{StalledInterval: -1}, "StalledInterval"},
			{"negative shutdown timeout", queueName, fila.WorkerOptions{ShutdownTimeout: -1}, "ShutdownTimeout"},
			{"negative stacktraces kept", queueName, fila.WorkerOptions{KeepStacktraces: -1}, "KeepStacktraces"},
			{"malformed queue name", "out bound", fila.WorkerOptions{}, "queue name"},
			{"empty queue name", "", fila.WorkerOptions{}, "queue name"},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				t.Parallel()
				b := setup(t)
				w, err := fila.NewWorker(b.be, tt.queue, noop, tt.opts)
				require.Nil(t, w, "no worker for invalid options")
				requireInvalid(t, err, tt.field)
				require.Contains(t, err.Error(), fmt.Sprintf("%q", tt.queue))
			})
		}
	})
}

func TestWorkerStalledJobs(t *testing.T) {
	t.Parallel()

	t.Run("JobOfAVanishedWorkerReturnsToWaitingAndRuns", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		job := b.add(t, "send", nil)
		b.claimRaw(t, "vanished", time.Nanosecond) // its worker died holding it
		var runs runLog
		b.startWorker(t, runs.recordOK, fila.WorkerOptions{StalledInterval: 50 * time.Millisecond, LockDuration: time.Second})

		fin := completed(t, job)
		require.Equal(t, 1, fin.StalledCount)
		require.Equal(t, 2, fin.AttemptsStarted, "the vanished claim and the recovered run")
		require.Equal(t, 1, fin.AttemptsMade)
		require.Equal(t, 1, runs.len())

		_, err := b.be.JobComplete(b.ctx, &backend.JobCompleteParams{Queue: queueName, ID: job.ID, Token: "vanished"})
		require.ErrorIs(t, err, fila.ErrLockLost, "the vanished worker may not overwrite the outcome")
	})

	t.Run("JobStalledMoreThanMaxStalledCountFails", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		job := b.add(t, "send", nil)
		// A first worker vanishes and the job is recovered once.
		b.claimRaw(t, "vanished-1", time.Nanosecond)
		for range 2 { // phase one marks it, phase two requeues it
			_, err := b.be.StalledCheck(b.ctx, &backend.StalledCheckParams{Queue: queueName, MaxStalledCount: 1})
			require.NoError(t, err)
		}
		require.Equal(t, 1, b.get(t, job.ID).StalledCount)
		// A second worker vanishes too; the default MaxStalledCount is 1.
		b.claimRaw(t, "vanished-2", time.Nanosecond)
		var runs runLog
		b.startWorker(t, runs.recordOK, fila.WorkerOptions{StalledInterval: 50 * time.Millisecond})

		fin, jf := failed(t, job)
		require.Contains(t, jf.Reason, "stalled")
		require.Contains(t, fin.FailedReason, "stalled")
		require.Equal(t, 2, fin.StalledCount)
		require.Zero(t, runs.len(), "a job that stalled too often does not run again")
	})

	t.Run("NegativeMaxStalledCountFailsAJobOnItsFirstStall", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		job := b.add(t, "send", nil)
		b.claimRaw(t, "vanished", time.Nanosecond)
		var runs runLog
		b.startWorker(t, runs.recordOK, fila.WorkerOptions{StalledInterval: 50 * time.Millisecond, MaxStalledCount: -1})

		_, jf := failed(t, job)
		require.Contains(t, jf.Reason, "stalled")
		require.Zero(t, runs.len())
	})

	t.Run("RenewalKeepsTheLockOfAJobRunningLongerThanIt", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		job := b.add(t, "send", nil)
		var runs runLog
		var causeAtEnd atomic.Value
		b.startWorker(t, func(ctx context.Context, j *fila.Job) (any, error) {
			runs.add(j)
			select {
			case <-time.After(1750 * time.Millisecond): // the work: 3.5 lock durations
			case <-ctx.Done():
			}
			causeAtEnd.Store(fmt.Sprint(context.Cause(ctx)))
			return "done", nil
		}, fila.WorkerOptions{LockDuration: 500 * time.Millisecond, StalledInterval: 50 * time.Millisecond}) // renewals keep up on a loaded machine

		fin := completed(t, job)
		require.Equal(t, "<nil>", causeAtEnd.Load(), "the handler's context stayed alive")
		require.Equal(t, 1, runs.len())
		require.Zero(t, fin.StalledCount)
		require.Equal(t, 1, fin.AttemptsStarted)
		require.GreaterOrEqual(t, fin.FinishedAt.Sub(fin.ProcessedAt), 1750*time.Millisecond)
	})
}

func TestWorkerLockLoss(t *testing.T) {
	t.Parallel()

	t.Run("HandlerIsCanceledAndItsOutcomeDropped", func(t *testing.T) {
		t.Parallel()
		clock := newFakeClock()
		b := setupWith(t, memoryWithClock(clock))
		var buf syncBuffer
		logger := slog.New(slog.NewTextHandler(&buf, nil))
		job := b.add(t, "send", nil)
		started := make(chan struct{})
		causes := make(chan error, 1)
		var runs runLog
		b.startWorker(t, func(ctx context.Context, j *fila.Job) (any, error) {
			runs.add(j)
			close(started)
			<-ctx.Done()
			causes <- context.Cause(ctx)
			return "stale result", nil
		}, fila.WorkerOptions{LockDuration: 100 * time.Millisecond, StalledInterval: time.Hour, Logger: logger})
		<-started

		clock.Advance(time.Minute) // the lock expires before the next renewal
		require.ErrorIs(t, <-causes, fila.ErrLockLost)
		require.Eventually(t, func() bool { return strings.Contains(buf.String(), "outcome is dropped") }, waitFor, 5*time.Millisecond)
		got := b.get(t, job.ID)
		require.Equal(t, fila.StateActive, got.State, "the stalled check, not this worker, decides what happens next")
		require.Empty(t, got.ReturnValue, "a worker without the lock does not write the outcome")
		require.Zero(t, got.AttemptsMade)
		require.Equal(t, 1, runs.len())
	})
}

func TestWorkerTimeout(t *testing.T) {
	t.Parallel()

	t.Run("HandlerHonoringItsContextFailsWithTimedOut", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		job := b.add(t, "send", &fila.JobOptions{Timeout: 100 * time.Millisecond})
		causes := make(chan error, 1)
		b.startWorker(t, func(ctx context.Context, j *fila.Job) (any, error) {
			<-ctx.Done()
			causes <- context.Cause(ctx)
			return nil, ctx.Err()
		}, fila.WorkerOptions{})

		fin, jf := failed(t, job)
		require.Contains(t, jf.Reason, "timed out")
		require.ErrorIs(t, <-causes, fila.ErrJobTimeout)
		require.Equal(t, 1, fin.AttemptsMade)
		require.GreaterOrEqual(t, fin.FinishedAt.Sub(fin.ProcessedAt), 100*time.Millisecond, "never before the timeout")
	})

	t.Run("TimedOutAttemptIsRetriedWhileAttemptsRemain", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		job := b.add(t, "send", &fila.JobOptions{Timeout: 50 * time.Millisecond, Attempts: 2})
		var runs runLog
		b.startWorker(t, func(ctx context.Context, j *fila.Job) (any, error) {
			runs.add(j)
			if j.AttemptsMade == 0 {
				<-ctx.Done()
				return nil, ctx.Err()
			}
			return "second time lucky", nil
		}, fila.WorkerOptions{})

		fin := completed(t, job)
		require.Equal(t, 2, fin.AttemptsMade)
		require.Equal(t, 2, runs.len())
	})
}

// flakyClaims fails the first failures claims, as a backend that went away
// for a while.
type flakyClaims struct {
	backend.Backend
	failures atomic.Int32
}

func (f *flakyClaims) JobClaim(ctx context.Context, p *backend.JobClaimParams) (*backend.JobClaimResult, error) {
	// Take one injected failure if any is left; never below zero, so the
	// count a test reads is exact while other claims run.
	for n := f.failures.Load(); n > 0; n = f.failures.Load() {
		if f.failures.CompareAndSwap(n, n-1) {
			return nil, errors.New("connection refused")
		}
	}
	return f.Backend.JobClaim(ctx, p)
}

// syncBuffer is a bytes.Buffer safe for a logger and a test to share.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.String()
}
