package fila_test

import (
	"context"
	"fmt"
	"log"

	"github.com/fila-go/fila"
	"github.com/fila-go/fila/backend/memory"
)

// requestKey carries a request ID in a context, as an HTTP middleware would.
type requestKey struct{}

// Job metadata travels with the job to its handler; an AddHook can stamp it
// from the add's context, as otelfila does with the trace context.
func ExampleAddHook() {
	ctx := context.Background()
	be := memory.New()
	defer be.Close()
	stamp := func(ctx context.Context, a *fila.Adding) func(*fila.Job, error) {
		if id, ok := ctx.Value(requestKey{}).(string); ok {
			if a.Options.Meta == nil {
				a.Options.Meta = map[string]string{}
			}
			a.Options.Meta["request"] = id // the add's own copy of the map
		}
		return nil
	}
	q := fila.NewQueue(be, "emails", fila.QueueOptions{AddHooks: []fila.AddHook{stamp}})

	reqCtx := context.WithValue(ctx, requestKey{}, "req-42")
	job, err := q.Add(reqCtx, "welcome", []byte(`{}`), &fila.JobOptions{Meta: map[string]string{"tenant": "acme"}})
	if err != nil {
		log.Fatal(err)
	}
	stored, err := q.GetJob(ctx, job.ID)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(stored.Options.Meta["tenant"], stored.Options.Meta["request"])
	// Output: acme req-42
}
