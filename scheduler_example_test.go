package fila_test

import (
	"context"
	"fmt"
	"log"
	"time"

	"github.com/fila-go/fila"
	"github.com/fila-go/fila/backend/memory"
)

// A job scheduler adds one job per tick of a cron pattern (here 09:00 in
// Paris) or a fixed interval. Upserting the same spec again changes
// nothing, so every process may upsert its schedulers at start-up.
func ExampleQueue_UpsertScheduler() {
	ctx := context.Background()
	// The backend's clock decides the ticks; this one is fixed for the example.
	be := memory.New(memory.Options{Now: func() time.Time { return time.Date(2030, 1, 1, 12, 0, 0, 0, time.UTC) }})
	defer be.Close()
	q := fila.NewQueue(be, "reports")

	s, err := q.UpsertScheduler(ctx, "daily-summary", fila.Schedule{Pattern: "0 9 * * *", TZ: "Europe/Paris"},
		"summary", []byte(`{"team":"support"}`), &fila.JobOptions{Attempts: 3})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(s.Next.UTC(), s.NextJobID, s.NextJobState)

	again, err := q.UpsertScheduler(ctx, "daily-summary", fila.Schedule{Pattern: "0 9 * * *", TZ: "Europe/Paris"},
		"summary", []byte(`{"team":"support"}`), &fila.JobOptions{Attempts: 3})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("same pending job:", again.NextJobID == s.NextJobID)

	_, err = q.UpsertScheduler(ctx, "bad", fila.Schedule{Pattern: "0 25 * * *"}, "x", nil, nil)
	fmt.Println(err)
	// Output:
	// 2030-01-02 08:00:00 +0000 UTC sched:daily-summary:1893571200000 delayed
	// same pending job: true
	// fila: upsert scheduler in "reports": Pattern "0 25 * * *": end of range (25) above maximum (23): 25
}
