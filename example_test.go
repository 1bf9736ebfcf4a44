package fila_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"sort"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/fila-go/fila"
	"github.com/fila-go/fila/backend/memory"
	redisbackend "github.com/fila-go/fila/backend/redis"
	"github.com/fila-go/fila/backend/upstash"
)

// Adding jobs: an ID makes an add idempotent, and a delay holds a job back.
func ExampleQueue_Add() {
	ctx := context.Background()
	be := memory.New()
	defer be.Close()
	q := fila.NewQueue(be, "emails")

	job, err := q.Add(ctx, "welcome", []byte(`{"to":"ada@example.com"}`), &fila.JobOptions{
		JobID:    "welcome:ada", // adding this ID again returns the same job
		Attempts: 3,
	})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(job.ID, job.State)

	again, err := q.Add(ctx, "welcome", []byte(`{"to":"ada@example.com"}`), &fila.JobOptions{JobID: "welcome:ada"})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(again.ID, "existed:", again.Existed)

	later, err := q.Add(ctx, "reminder", []byte(`{"to":"ada@example.com"}`), &fila.JobOptions{Delay: time.Hour})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(later.State)

	counts, err := q.Counts(ctx)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("waiting %d, delayed %d\n", counts.Waiting, counts.Delayed)
	// Output:
	// welcome:ada waiting
	// welcome:ada existed: true
	// delayed
	// waiting 1, delayed 1
}

// An invalid option fails the add with an error that matches fila.ErrInvalid
// and names the field; nothing is added.
func ExampleQueue_Add_invalidOption() {
	ctx := context.Background()
	be := memory.New()
	defer be.Close()
	q := fila.NewQueue(be, "emails")

	_, err := q.Add(ctx, "welcome", []byte(`{}`), &fila.JobOptions{Attempts: -1})
	fmt.Println(err)
	fmt.Println(errors.Is(err, fila.ErrInvalid))
	var verr *fila.ValidationError
	if errors.As(err, &verr) {
		fmt.Println("field:", verr.Field)
	}
	// Output:
	// fila: add job to "emails": Attempts must be >= 0, got -1
	// true
	// field: Attempts
}

// A typed handler: the payload is decoded as Order, and the Receipt it
// returns is stored as the job's JSON return value.
func ExampleJSONProcessor() {
	type Order struct {
		ID    string `json:"id"`
		Items int    `json:"items"`
	}
	type Receipt struct {
		OrderID string `json:"order_id"`
		Total   int    `json:"total_cents"`
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	be := memory.New()
	defer be.Close()
	q := fila.NewQueue(be, "orders")

	// T = Order and R = Receipt are inferred from the function literal.
	charge := fila.JSONProcessor(func(ctx context.Context, job *fila.Job, o Order) (Receipt, error) {
		return Receipt{OrderID: o.ID, Total: o.Items * 250}, nil
	})
	w, err := fila.NewWorker(be, "orders", charge, fila.WorkerOptions{})
	if err != nil {
		log.Fatal(err)
	}
	runErr := make(chan error, 1)
	go func() { runErr <- w.Run(ctx) }()

	job, err := fila.AddJSON(ctx, q, "charge", Order{ID: "A-17", Items: 3}, nil)
	if err != nil {
		log.Fatal(err)
	}
	done, err := job.WaitUntilFinished(ctx)
	if err != nil {
		log.Fatal(err)
	}
	var r Receipt
	if err := done.DecodeReturnValue(&r); err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%+v\n", r)
	fmt.Println(string(done.ReturnValue))

	cancel() // the worker drains and Run returns
	fmt.Println("run:", <-runErr)
	// Output:
	// {OrderID:A-17 Total:750}
	// {"order_id":"A-17","total_cents":750}
	// run: <nil>
}

// One worker serving several kinds of job: a Mux routes each job by name,
// to a plain Processor or a typed handler, with middleware for every route
// (Use) or for one (Handle's last arguments). A name without a route fails
// at once, without retry.
func ExampleMux() {
	type Notice struct {
		To string `json:"to"`
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	be := memory.New()
	defer be.Close()
	q := fila.NewQueue(be, "media")

	audit := func(next fila.Processor) fila.Processor {
		return func(ctx context.Context, job *fila.Job) (any, error) {
			fmt.Println("audit:", job.Name)
			return next(ctx, job)
		}
	}
	mux := fila.NewMux()
	mux.Handle("resize", func(ctx context.Context, job *fila.Job) (any, error) {
		return "resized", nil
	}, audit) // audit wraps this route only
	fila.HandleJSON(mux, "notify", func(ctx context.Context, job *fila.Job, n Notice) (string, error) {
		return "notified " + n.To, nil
	})
	w, err := fila.NewWorker(be, "media", mux.Process, fila.WorkerOptions{})
	if err != nil {
		log.Fatal(err)
	}
	go func() { _ = w.Run(ctx) }()

	for _, add := range []func() (*fila.Job, error){
		func() (*fila.Job, error) { return q.Add(ctx, "resize", []byte(`{}`), nil) },
		func() (*fila.Job, error) { return fila.AddJSON(ctx, q, "notify", Notice{To: "ada"}, nil) },
		func() (*fila.Job, error) { return q.Add(ctx, "rotate", []byte(`{}`), &fila.JobOptions{Attempts: 3}) },
	} {
		job, err := add()
		if err != nil {
			log.Fatal(err)
		}
		done, err := job.WaitUntilFinished(ctx)
		if err != nil {
			fmt.Println(job.Name, "->", err)
			fmt.Println("attempts:", done.AttemptsMade)
			continue
		}
		fmt.Println(job.Name, "->", string(done.ReturnValue))
	}
	// Output:
	// audit: resize
	// resize -> "resized"
	// notify -> "notified ada"
	// rotate -> fila: job "3" failed: fila: no handler for job name "rotate" (known: ["notify" "resize"])
	// attempts: 1
}

// Retries: a job with Attempts 3 and a backoff runs again after its handler
// fails, here once.
func ExampleNewWorker_retries() {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	be := memory.New()
	defer be.Close()
	q := fila.NewQueue(be, "webhooks")

	w, err := fila.NewWorker(be, "webhooks", func(ctx context.Context, job *fila.Job) (any, error) {
		attempt := job.AttemptsMade + 1
		if attempt == 1 {
			fmt.Println("attempt 1: upstream timed out")
			return nil, errors.New("upstream timed out")
		}
		fmt.Println("attempt", attempt, "delivered")
		return "delivered", nil
	}, fila.WorkerOptions{})
	if err != nil {
		log.Fatal(err)
	}
	runErr := make(chan error, 1)
	go func() { runErr <- w.Run(ctx) }()

	job, err := q.Add(ctx, "deliver", []byte(`{"url":"https://example.com/hook"}`), &fila.JobOptions{
		Attempts: 3, // the first try and up to two retries
		Backoff:  fila.Backoff{Type: fila.BackoffExponential, Delay: 20 * time.Millisecond},
	})
	if err != nil {
		log.Fatal(err)
	}
	done, err := job.WaitUntilFinished(ctx)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(done.State, "after", done.AttemptsMade, "attempts:", string(done.ReturnValue))

	cancel()
	fmt.Println("run:", <-runErr)
	// Output:
	// attempt 1: upstream timed out
	// attempt 2 delivered
	// completed after 2 attempts: "delivered"
	// run: <nil>
}

// NewWorker checks every option, so a mistake surfaces where the worker is
// built: here a global limit without its window.
func ExampleNewWorker_invalidOptions() {
	be := memory.New()
	defer be.Close()
	noop := func(ctx context.Context, job *fila.Job) (any, error) { return nil, nil }

	_, err := fila.NewWorker(be, "emails", noop, fila.WorkerOptions{
		Limiter: &fila.Limit{Max: 10}, // Per is missing
	})
	fmt.Println(err)
	fmt.Println(errors.Is(err, fila.ErrInvalid))
	// Output:
	// fila: worker for "emails": Limiter.Per must be > 0, got 0s
	// true
}

// The global limit: at most Max jobs of the queue start in any window of
// length Per, across every worker and process, whatever their concurrency.
func ExampleWorkerOptions_limiter() {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	be := memory.New()
	defer be.Close()
	q := fila.NewQueue(be, "sms")

	limit := &fila.Limit{Max: 2, Per: 100 * time.Millisecond}
	w, err := fila.NewWorker(be, "sms", func(ctx context.Context, job *fila.Job) (any, error) {
		return nil, nil
	}, fila.WorkerOptions{Concurrency: 5, Limiter: limit})
	if err != nil {
		log.Fatal(err)
	}
	runErr := make(chan error, 1)
	go func() { runErr <- w.Run(ctx) }()

	var jobs []*fila.Job
	for i := range 5 {
		job, err := q.Add(ctx, "send", []byte(fmt.Sprintf(`{"n":%d}`, i)), nil)
		if err != nil {
			log.Fatal(err)
		}
		jobs = append(jobs, job)
	}
	var starts []time.Time // when the backend let each job start
	for _, job := range jobs {
		done, err := job.WaitUntilFinished(ctx)
		if err != nil {
			log.Fatal(err)
		}
		starts = append(starts, done.ProcessedAt)
	}
	sort.Slice(starts, func(i, j int) bool { return starts[i].Before(starts[j]) })
	within := true // no 3 starts inside one 100ms window
	for i := limit.Max; i < len(starts); i++ {
		within = within && starts[i].Sub(starts[i-limit.Max]) >= limit.Per
	}
	fmt.Println(len(starts), "jobs ran; at most 2 started per 100ms:", within)

	cancel()
	fmt.Println("run:", <-runErr)
	// Output:
	// 5 jobs ran; at most 2 started per 100ms: true
	// run: <nil>
}

// A handler whose upstream answers "429, retry in a while" returns
// fila.RateLimited: the whole queue pauses claims for that long, and the job
// goes back to waiting without spending an attempt.
func ExampleRateLimited() {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	be := memory.New()
	defer be.Close()
	q := fila.NewQueue(be, "outbound")

	w, err := fila.NewWorker(be, "outbound", func(ctx context.Context, job *fila.Job) (any, error) {
		if job.AttemptsStarted == 1 {
			fmt.Println("start 1: the API says 429")
			return nil, fila.RateLimited(50 * time.Millisecond)
		}
		fmt.Println("start", job.AttemptsStarted, "sent")
		return nil, nil
	}, fila.WorkerOptions{})
	if err != nil {
		log.Fatal(err)
	}
	runErr := make(chan error, 1)
	go func() { runErr <- w.Run(ctx) }()

	job, err := q.Add(ctx, "send", []byte(`{"to":"+5511999990000"}`), nil) // one attempt only
	if err != nil {
		log.Fatal(err)
	}
	done, err := job.WaitUntilFinished(ctx)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%s: %d attempt made, %d started\n", done.State, done.AttemptsMade, done.AttemptsStarted)

	cancel()
	fmt.Println("run:", <-runErr)
	// Output:
	// start 1: the API says 429
	// start 2 sent
	// completed: 1 attempt made, 2 started
	// run: <nil>
}

// Subscribe streams a queue's events (from every process, on a shared
// backend): here one job that fails once and then completes.
func ExampleQueue_Subscribe() {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	be := memory.New()
	defer be.Close()
	q := fila.NewQueue(be, "reports")

	sub, err := q.Subscribe(ctx) // events from now on
	if err != nil {
		log.Fatal(err)
	}
	defer sub.Close()

	w, err := fila.NewWorker(be, "reports", func(ctx context.Context, job *fila.Job) (any, error) {
		if job.AttemptsMade == 0 {
			return nil, errors.New("database busy")
		}
		return map[string]int{"rows": 42}, nil
	}, fila.WorkerOptions{})
	if err != nil {
		log.Fatal(err)
	}
	runErr := make(chan error, 1)
	go func() { runErr <- w.Run(ctx) }()

	if _, err := q.Add(ctx, "build", []byte(`{}`), &fila.JobOptions{JobID: "daily", Attempts: 2}); err != nil {
		log.Fatal(err)
	}
	for ev := range sub.C {
		fmt.Print(ev.Type, " ", ev.JobID)
		if ev.Data != "" { // a retry's reason, a completion's result
			fmt.Print(": ", ev.Data)
		}
		fmt.Println()
		if ev.Type == fila.EventCompleted || ev.Type == fila.EventFailed {
			break
		}
	}

	cancel()
	fmt.Println("run:", <-runErr)
	// Output:
	// added daily
	// active daily
	// retried daily: database busy
	// active daily
	// completed daily: {"rows":42}
	// run: <nil>
}

// WaitUntilFinished returns the finished job, or a *fila.JobFailedError
// with the reason when it failed for good.
func ExampleJob_WaitUntilFinished() {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	be := memory.New()
	defer be.Close()
	q := fila.NewQueue(be, "images")

	w, err := fila.NewWorker(be, "images", func(ctx context.Context, job *fila.Job) (any, error) {
		if job.Name == "corrupt" {
			return nil, fila.Unrecoverable(errors.New("not a PNG")) // no retry can fix it
		}
		return "thumbnail.png", nil
	}, fila.WorkerOptions{})
	if err != nil {
		log.Fatal(err)
	}
	runErr := make(chan error, 1)
	go func() { runErr <- w.Run(ctx) }()

	for _, name := range []string{"resize", "corrupt"} {
		job, err := q.Add(ctx, name, []byte(`{}`), &fila.JobOptions{Attempts: 3})
		if err != nil {
			log.Fatal(err)
		}
		// A deadline bounds the wait; the job itself goes on.
		wctx, wcancel := context.WithTimeout(ctx, 10*time.Second)
		done, err := job.WaitUntilFinished(wctx)
		wcancel()
		var failed *fila.JobFailedError
		switch {
		case errors.As(err, &failed):
			fmt.Printf("%s: %s (%s)\n", name, done.State, failed.Reason)
		case err != nil:
			log.Fatal(err)
		default:
			fmt.Printf("%s: %s %s\n", name, done.State, done.ReturnValue)
		}
	}

	cancel()
	fmt.Println("run:", <-runErr)
	// Output:
	// resize: completed "thumbnail.png"
	// corrupt: failed (not a PNG)
	// run: <nil>
}

// The Redis backend over a go-redis client. MaxRetries -1 stops go-redis
// from resending a command whose connection dropped before its reply: a
// script resent that way would run twice. (It needs a Redis server, so it
// only compiles here.)
func Example_redis() {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	rdb := redis.NewClient(&redis.Options{Addr: "localhost:6379", MaxRetries: -1})
	defer rdb.Close() // the backend does not close the client
	be := redisbackend.New(rdb)
	defer be.Close()
	if err := be.Ping(ctx); err != nil {
		log.Fatal(err)
	}

	q := fila.NewQueue(be, "emails")
	w, err := fila.NewWorker(be, "emails", func(ctx context.Context, job *fila.Job) (any, error) {
		return nil, nil // send the email
	}, fila.WorkerOptions{Concurrency: 10})
	if err != nil {
		log.Fatal(err)
	}
	runErr := make(chan error, 1)
	go func() { runErr <- w.Run(ctx) }()

	if _, err := q.Add(ctx, "welcome", []byte(`{"to":"ada@example.com"}`), &fila.JobOptions{JobID: "welcome:ada"}); err != nil {
		log.Fatal(err)
	}
	// ... until the program stops:
	cancel()
	if err := <-runErr; err != nil {
		log.Fatal(err)
	}
}

// The Upstash backend over its REST API, configured from
// UPSTASH_REDIS_REST_URL and UPSTASH_REDIS_REST_TOKEN (or with
// upstash.New(upstash.Config{URL: ..., Token: ...})). Idle claims poll, so
// an economical worker raises StalledInterval. (It needs an Upstash
// database, so it only compiles here.)
func Example_upstash() {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	be, err := upstash.NewFromEnv()
	if err != nil {
		log.Fatal(err)
	}
	defer be.Close()
	if err := be.Ping(ctx); err != nil {
		log.Fatal(err) // a wrong URL or token shows here
	}

	q := fila.NewQueue(be, "outbound")
	w, err := fila.NewWorker(be, "outbound", func(ctx context.Context, job *fila.Job) (any, error) {
		return nil, nil // call the API
	}, fila.WorkerOptions{Concurrency: 8, StalledInterval: 2 * time.Minute})
	if err != nil {
		log.Fatal(err)
	}
	runErr := make(chan error, 1)
	go func() { runErr <- w.Run(ctx) }()

	if _, err := q.Add(ctx, "send", []byte(`{"to":"+5511999990000"}`), nil); err != nil {
		log.Fatal(err)
	}
	// ... until the program stops:
	cancel()
	if err := <-runErr; err != nil {
		log.Fatal(err)
	}
}
