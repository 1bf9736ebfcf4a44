package fila_test

import (
	"context"
	"fmt"
	"log"
	"sort"

	"github.com/fila-go/fila"
	"github.com/fila-go/fila/backend/memory"
)

// A media message: download, thumbnail and virus scan run first; the
// reply runs once all three finished and reads their results. The scan may
// fail without blocking the reply (IgnoreFailure); any other child's
// failure fails the reply (FailParent, the default).
func ExampleQueue_AddFlow() {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	be := memory.New()
	q := fila.NewQueue(be, "media")

	w, err := fila.NewWorker(be, "media", func(ctx context.Context, job *fila.Job) (any, error) {
		if job.Name != "reply" {
			return job.Name + " ok", nil
		}
		values, err := job.ChildrenValues(ctx)
		if err != nil {
			return nil, err
		}
		var got []string
		for _, v := range values {
			got = append(got, string(v))
		}
		sort.Strings(got)
		return got, nil
	}, fila.WorkerOptions{})
	if err != nil {
		log.Fatal(err)
	}
	runErr := make(chan error, 1)
	go func() { runErr <- w.Run(ctx) }()

	jobs, err := q.AddFlow(ctx, fila.FlowJob{
		Name: "reply", Data: []byte(`{"to":"+15550100"}`),
		Children: []fila.FlowJob{
			{Name: "download", Data: []byte(`{"media":"m1"}`)},
			{Name: "thumbnail", Data: []byte(`{"media":"m1"}`)},
			{Name: "scan", Data: []byte(`{"media":"m1"}`), OnChildFailure: fila.IgnoreFailure},
		},
	})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(jobs[0].Name, jobs[0].State)
	done, err := jobs[0].WaitUntilFinished(ctx)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(string(done.ReturnValue))
	cancel()
	fmt.Println("run:", <-runErr)
	// Output:
	// reply waiting-children
	// ["\"download ok\"","\"scan ok\"","\"thumbnail ok\""]
	// run: <nil>
}
