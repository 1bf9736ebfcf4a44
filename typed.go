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

// HandlerFunc is a handler that receives the job's payload decoded as T.
type HandlerFunc[T any] func(ctx context.Context, job *Job, payload T) (any, error)

// JSONProcessor adapts a typed handler to a Processor: the payload is
// decoded from JSON before the handler runs. A payload that does not decode
// fails the job at once (Unrecoverable): retrying cannot fix it.
func JSONProcessor[T any](h HandlerFunc[T]) Processor {
	return func(ctx context.Context, job *Job) (any, error) {
		var v T
		if err := json.Unmarshal(job.Data, &v); err != nil {
			return nil, Unrecoverable(fmt.Errorf("decode payload of job %q as %T: %w", job.ID, v, err))
		}
		return h(ctx, job, v)
	}
}
