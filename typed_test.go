package fila_test

import (
	"context"
	"errors"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/fila-go/fila"
)

type message struct {
	To   string `json:"to"`
	Body string `json:"body"`
}

type receipt struct {
	ID    string `json:"id"`
	Chars int    `json:"chars"`
}

func TestTyped(t *testing.T) {
	t.Parallel()

	t.Run("AddJSONAndJSONProcessorRoundTripThePayload", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		in := message{To: "+5511999990000", Body: "olá"}
		job, err := fila.AddJSON(b.ctx, b.queue, "send", in, nil)
		require.NoError(t, err)
		var decoded message
		require.NoError(t, job.Decode(&decoded))
		require.Equal(t, in, decoded, "the stored payload is the JSON of the value")
		got := make(chan message, 1)
		b.startWorker(t, fila.JSONProcessor(func(_ context.Context, j *fila.Job, m message) (any, error) {
			got <- m
			return receipt{ID: j.ID, Chars: len([]rune(m.Body))}, nil
		}), fila.WorkerOptions{})

		fin := completed(t, job)
		require.Equal(t, in, <-got)
		var r receipt
		require.NoError(t, fin.DecodeReturnValue(&r))
		require.Equal(t, receipt{ID: job.ID, Chars: 3}, r)
	})

	t.Run("TypedResultRoundTripsAsTheJobsReturnValue", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		// Both type parameters are inferred from the literal: T = message, R = receipt.
		b.startWorker(t, fila.JSONProcessor(func(_ context.Context, j *fila.Job, m message) (receipt, error) {
			return receipt{ID: j.ID, Chars: len([]rune(m.Body))}, nil
		}), fila.WorkerOptions{})
		job, err := fila.AddJSON(b.ctx, b.queue, "send", message{To: "+5511999990000", Body: "olá!"}, nil)
		require.NoError(t, err)

		fin := completed(t, job)
		want := `{"id":"` + job.ID + `","chars":4}`
		require.JSONEq(t, want, string(fin.ReturnValue), "the result is stored as its JSON")
		var r receipt
		require.NoError(t, fin.DecodeReturnValue(&r))
		require.Equal(t, receipt{ID: job.ID, Chars: 4}, r)
		stored := b.get(t, job.ID)
		require.JSONEq(t, want, string(stored.ReturnValue), "a fresh read of the job shows the same result")
	})

	t.Run("TypedResultOfAFailedAttemptIsNotStored", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		b.startWorker(t, fila.JSONProcessor(func(_ context.Context, j *fila.Job, m message) (receipt, error) {
			return receipt{ID: j.ID}, errors.New("carrier refused")
		}), fila.WorkerOptions{})
		job, err := fila.AddJSON(b.ctx, b.queue, "send", message{To: "+1"}, nil)
		require.NoError(t, err)

		fin, jf := failed(t, job)
		require.Equal(t, "carrier refused", jf.Reason)
		require.Empty(t, fin.ReturnValue)
		require.Empty(t, b.get(t, job.ID).ReturnValue)
	})

	t.Run("NilPointerResultIsStoredAsNull", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		b.startWorker(t, fila.JSONProcessor(func(_ context.Context, j *fila.Job, m message) (*receipt, error) {
			if m.Body == "" {
				return nil, nil
			}
			return &receipt{ID: j.ID, Chars: len(m.Body)}, nil
		}), fila.WorkerOptions{})
		empty, err := fila.AddJSON(b.ctx, b.queue, "send", message{To: "+1"}, nil)
		require.NoError(t, err)
		full, err := fila.AddJSON(b.ctx, b.queue, "send", message{To: "+1", Body: "hi"}, nil)
		require.NoError(t, err)

		require.Equal(t, "null", string(completed(t, empty).ReturnValue))
		var r *receipt
		require.NoError(t, completed(t, full).DecodeReturnValue(&r))
		require.Equal(t, &receipt{ID: full.ID, Chars: 2}, r)
	})

	t.Run("HandlerFuncValueIsAccepted", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		var h fila.HandlerFunc[message] = func(_ context.Context, _ *fila.Job, m message) (any, error) {
			return m.To, nil
		}
		b.startWorker(t, fila.JSONProcessor(h), fila.WorkerOptions{})
		job, err := fila.AddJSON(b.ctx, b.queue, "send", message{To: "+44"}, nil)
		require.NoError(t, err)

		var to string
		require.NoError(t, completed(t, job).DecodeReturnValue(&to))
		require.Equal(t, "+44", to)
	})

	t.Run("UntypedNilResultStoresNoReturnValue", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		b.startWorker(t, fila.JSONProcessor(func(context.Context, *fila.Job, message) (any, error) {
			return nil, nil
		}), fila.WorkerOptions{})
		job, err := fila.AddJSON(b.ctx, b.queue, "send", message{To: "+1"}, nil)
		require.NoError(t, err)

		require.Empty(t, completed(t, job).ReturnValue)
	})

	t.Run("PayloadThatDoesNotDecodeFailsAtOnce", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		job, err := b.queue.Add(b.ctx, "send", []byte(`{"to": 42}`), &fila.JobOptions{Attempts: 3})
		require.NoError(t, err)
		var runs runLog
		b.startWorker(t, fila.JSONProcessor(func(_ context.Context, j *fila.Job, m message) (any, error) {
			runs.add(j)
			return nil, nil
		}), fila.WorkerOptions{})

		fin, jf := failed(t, job)
		require.Contains(t, jf.Reason, "decode payload")
		require.Equal(t, 1, fin.AttemptsMade, "no retry: a retry cannot fix the payload")
		require.Zero(t, runs.len(), "the typed handler never ran")
	})

	t.Run("AddJSONOfAValueThatDoesNotEncodeIsInvalid", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		_, err := fila.AddJSON(b.ctx, b.queue, "send", make(chan int), nil)
		requireInvalid(t, err, "data")
		require.Contains(t, err.Error(), `"outbound"`)
		require.Equal(t, fila.Counts{}, b.counts(t))
	})

	t.Run("DecodeReportsBadJSON", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		job, err := b.queue.Add(b.ctx, "send", []byte("not json"), nil)
		require.NoError(t, err)
		var m message
		require.ErrorContains(t, job.Decode(&m), job.ID)
		require.ErrorContains(t, job.DecodeReturnValue(&m), "no return value")
	})
}
