package fila

import (
	"context"
	"encoding/json"
	"fmt"
)

// AddJSON adds a job whose payload is v, JSON-encoded: the typed form of
// Queue.Add.
func AddJSON[T any](ctx context.Context, q *Queue, name string, v T, opts *JobOptions) (*Job, error) {
	data, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("fila: add job to %q: %w", q.name, invalid("data", "does not encode as JSON: %v", err))
	}
	return q.Add(ctx, name, data, opts)
}

// HandlerFunc is a typed handler whose result is untyped. JSONProcessor takes
// it as it is; a handler may also return its own result type R directly.
type HandlerFunc[T any] func(ctx context.Context, job *Job, payload T) (any, error)

// JSONProcessor adapts a typed handler to a Processor: the payload is
// decoded from JSON as T before the handler runs, and the handler's result,
// of any type R, is JSON-encoded into the job's ReturnValue (read it back
// with Job.DecodeReturnValue). Both types are inferred from a function
// literal:
//
//	fila.JSONProcessor(func(ctx context.Context, job *fila.Job, o Order) (Receipt, error) { ... })
//
// A result that is nil as an interface (R = any) stores no return value;
// any other result is stored as its JSON, so a nil pointer stores null.
// A payload that does not decode fails the job at once (Unrecoverable):
// retrying cannot fix it.
func JSONProcessor[T, R any](h func(ctx context.Context, job *Job, payload T) (R, error)) Processor {
	return func(ctx context.Context, job *Job) (any, error) {
		var v T
		if err := json.Unmarshal(job.Data, &v); err != nil {
			return nil, Unrecoverable(fmt.Errorf("decode payload of job %q as %T: %w", job.ID, v, err))
		}
		r, err := h(ctx, job, v)
		if err != nil {
			return nil, err
		}
		return r, nil
	}
}
