package fila_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/fila-go/fila"
	"github.com/fila-go/fila/backend"
)

// collect reads a subscription until done says the events so far suffice.
func collect(t *testing.T, sub *fila.Subscription, done func([]fila.Event) bool) []fila.Event {
	t.Helper()
	var evs []fila.Event
	timeout := time.After(waitFor)
	for !done(evs) {
		select {
		case ev, ok := <-sub.C:
			require.True(t, ok, "subscription ended early: %v", sub.Err())
			evs = append(evs, ev)
		case <-timeout:
			t.Fatalf("events so far: %+v", evs)
		}
	}
	return evs
}

func ofType(evs []fila.Event, typ fila.EventType) []fila.Event {
	var out []fila.Event
	for _, ev := range evs {
		if ev.Type == typ {
			out = append(out, ev)
		}
	}
	return out
}

func ofJob(evs []fila.Event, id string) []fila.Event {
	var out []fila.Event
	for _, ev := range evs {
		if ev.JobID == id {
			out = append(out, ev)
		}
	}
	return out
}

func types(evs []fila.Event) []fila.EventType {
	out := make([]fila.EventType, len(evs))
	for i, ev := range evs {
		out[i] = ev.Type
	}
	return out
}

func indexOf(evs []fila.Event, ev fila.Event) int {
	for i := range evs {
		if evs[i].ID == ev.ID {
			return i
		}
	}
	return -1
}

// has returns a done func for collect: an event of typ for job id was seen.
func has(typ fila.EventType, id string) func([]fila.Event) bool {
	return func(evs []fila.Event) bool {
		for _, ev := range evs {
			if ev.Type == typ && ev.JobID == id {
				return true
			}
		}
		return false
	}
}

func TestSubscribe(t *testing.T) {
	t.Parallel()

	t.Run("SeesAJobAddedActiveProgressAndCompletedInOrder", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		sub, err := b.queue.Subscribe(b.ctx)
		require.NoError(t, err)
		defer sub.Close()
		job := b.add(t, "send", nil)
		b.startWorker(t, func(ctx context.Context, j *fila.Job) (any, error) {
			if err := j.UpdateProgress(ctx, map[string]int{"pct": 50}); err != nil {
				return nil, err
			}
			return "sent", nil
		}, fila.WorkerOptions{})

		evs := ofJob(collect(t, sub, has(fila.EventCompleted, job.ID)), job.ID)
		require.Equal(t, []fila.EventType{fila.EventAdded, fila.EventActive, fila.EventProgress, fila.EventCompleted}, types(evs))
		require.JSONEq(t, `{"pct":50}`, evs[2].Data)
		require.JSONEq(t, `"sent"`, evs[3].Data)
		for i := 1; i < len(evs); i++ {
			require.False(t, evs[i].Time.Before(evs[i-1].Time), "event times are in order")
		}
	})

	t.Run("SeesRetriesAndTheFinalFailure", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		sub, err := b.queue.Subscribe(b.ctx)
		require.NoError(t, err)
		defer sub.Close()
		job := b.add(t, "send", &fila.JobOptions{Attempts: 2, Backoff: fila.Backoff{Delay: 10 * time.Millisecond}})
		b.startWorker(t, func(context.Context, *fila.Job) (any, error) {
			return nil, errors.New("refused")
		}, fila.WorkerOptions{})

		evs := ofJob(collect(t, sub, has(fila.EventFailed, job.ID)), job.ID)
		require.Equal(t, []fila.EventType{
			fila.EventAdded, fila.EventActive, fila.EventRetried, fila.EventActive, fila.EventFailed,
		}, types(evs))
		require.Equal(t, "refused", evs[2].Data)
		require.Equal(t, "refused", evs[4].Data)
	})

	t.Run("SeesDelayedPausedAndResumed", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		sub, err := b.queue.Subscribe(b.ctx)
		require.NoError(t, err)
		defer sub.Close()
		job := b.add(t, "later", &fila.JobOptions{Delay: time.Hour})
		require.NoError(t, b.queue.Pause(b.ctx))
		require.NoError(t, b.queue.Resume(b.ctx))

		evs := collect(t, sub, func(evs []fila.Event) bool { return len(evs) == 3 })
		require.Equal(t, []fila.EventType{fila.EventDelayed, fila.EventPaused, fila.EventResumed}, types(evs))
		require.Equal(t, job.ID, evs[0].JobID)
		require.Equal(t, "", evs[1].JobID, "queue events name no job")
	})

	t.Run("SeesNothingFromBeforeItStarted", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		b.add(t, "before", nil)
		sub, err := b.queue.Subscribe(b.ctx)
		require.NoError(t, err)
		defer sub.Close()
		after := b.add(t, "after", nil)

		evs := collect(t, sub, func(evs []fila.Event) bool { return len(evs) > 0 })
		require.Equal(t, after.ID, evs[0].JobID)
	})

	t.Run("CloseEndsTheSubscription", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		sub, err := b.queue.Subscribe(b.ctx)
		require.NoError(t, err)

		require.NoError(t, sub.Close())
		_, ok := <-sub.C
		require.False(t, ok)
		require.NoError(t, sub.Err())
	})

	t.Run("ContextEndsTheSubscription", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		ctx, cancel := context.WithCancel(b.ctx)
		sub, err := b.queue.Subscribe(ctx)
		require.NoError(t, err)

		cancel()
		_, ok := <-sub.C
		require.False(t, ok)
		require.NoError(t, sub.Err())
		require.NoError(t, sub.Close())
	})

	t.Run("ClosedBackendEndsTheSubscriptionWithAnError", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		sub, err := b.queue.Subscribe(b.ctx)
		require.NoError(t, err)
		defer sub.Close()

		require.NoError(t, b.be.Close())
		_, ok := <-sub.C
		require.False(t, ok)
		require.ErrorIs(t, sub.Err(), backend.ErrClosed)
		require.Contains(t, sub.Err().Error(), `"outbound"`)
	})
}

func TestWaitUntilFinished(t *testing.T) {
	t.Parallel()

	t.Run("ReturnsTheCompletedJobWithItsReturnValue", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		job := b.add(t, "send", nil)
		b.startWorker(t, func(context.Context, *fila.Job) (any, error) {
			return map[string]int{"messages": 2}, nil
		}, fila.WorkerOptions{})

		fin := completed(t, job)
		require.Equal(t, job.ID, fin.ID)
		require.JSONEq(t, `{"messages":2}`, string(fin.ReturnValue))
		var rv struct{ Messages int }
		require.NoError(t, fin.DecodeReturnValue(&rv))
		require.Equal(t, 2, rv.Messages)
	})

	t.Run("ReturnsJobFailedErrorForAFailedJob", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		job := b.add(t, "send", nil)
		b.startWorker(t, func(context.Context, *fila.Job) (any, error) {
			return nil, errors.New("number blocked")
		}, fila.WorkerOptions{})

		fin, err := finished(t, job)
		var jf *fila.JobFailedError
		require.ErrorAs(t, err, &jf)
		require.Equal(t, job.ID, jf.JobID)
		require.Equal(t, "number blocked", jf.Reason)
		require.Equal(t, `fila: job "`+job.ID+`" failed: number blocked`, jf.Error())
		require.Equal(t, fila.StateFailed, fin.State)
		require.Equal(t, "number blocked", fin.FailedReason)
	})

	t.Run("ReportsAJobRemovedOnCompletionFromItsEvent", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		job := b.add(t, "send", &fila.JobOptions{RemoveOnComplete: fila.RemoveJob})
		res := b.waitBeforeRun(t, job)
		b.startWorker(t, func(context.Context, *fila.Job) (any, error) {
			return "gone but done", nil
		}, fila.WorkerOptions{})

		r := <-res
		require.NoError(t, r.err)
		require.Equal(t, fila.StateCompleted, r.job.State)
		require.JSONEq(t, `"gone but done"`, string(r.job.ReturnValue))
		require.False(t, r.job.FinishedAt.IsZero())
		_, err := b.queue.GetJob(b.ctx, job.ID)
		require.ErrorIs(t, err, fila.ErrJobNotFound, "the job was removed")
	})

	t.Run("ReportsAJobRemovedOnFailureFromItsEvent", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		job := b.add(t, "send", &fila.JobOptions{RemoveOnFail: fila.RemoveJob})
		res := b.waitBeforeRun(t, job)
		b.startWorker(t, func(context.Context, *fila.Job) (any, error) {
			return nil, errors.New("bounced")
		}, fila.WorkerOptions{})

		r := <-res
		var jf *fila.JobFailedError
		require.ErrorAs(t, r.err, &jf)
		require.Equal(t, "bounced", jf.Reason)
		require.Equal(t, fila.StateFailed, r.job.State)
		require.Equal(t, "bounced", r.job.FailedReason)
		require.Equal(t, fila.Counts{}, b.counts(t), "the job was removed")
	})

	t.Run("ReturnsErrJobRemovedForAJobRemovedBeforeItFinished", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		job := b.add(t, "send", nil)
		res := b.waitBeforeRun(t, job)

		require.NoError(t, b.queue.Remove(b.ctx, job.ID))
		r := <-res
		require.ErrorIs(t, r.err, fila.ErrJobRemoved)
	})

	t.Run("ReturnsErrJobRemovedForAJobAlreadyGone", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		job := b.add(t, "send", nil)
		require.NoError(t, b.queue.Remove(b.ctx, job.ID))

		_, err := finished(t, job)
		require.ErrorIs(t, err, fila.ErrJobRemoved)
	})

	t.Run("RefusesADeduplicatedAdd", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		dd := &fila.JobOptions{Dedup: &fila.Dedup{ID: "d", TTL: time.Minute}}
		b.add(t, "first", dd)
		dup := b.add(t, "second", dd)
		require.True(t, dup.Deduplicated)

		_, err := finished(t, dup)
		require.ErrorContains(t, err, "deduplicated")
	})

	t.Run("EndsWithItsContext", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		job := b.add(t, "send", nil) // no worker: it never finishes
		ctx, cancel := context.WithTimeout(b.ctx, 50*time.Millisecond)
		defer cancel()

		_, err := job.WaitUntilFinished(ctx)
		require.ErrorIs(t, err, context.DeadlineExceeded)
	})
}
