package redisbackend_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/fila-go/fila/backend"
	"github.com/fila-go/fila/internal/redistest"
)

// While Redis answers nothing (CLIENT PAUSE), a call whose context has a
// deadline returns context.DeadlineExceeded at that deadline, whatever the
// client's ContextTimeoutEnabled; a claim whose caller left that way hands
// its job back once Redis answers, and an add retried with the same JobID
// after such a timeout leaves exactly one job.
func TestDeadlineBoundsCallsWhileRedisIsPaused(t *testing.T) {
	srv := redistest.Start(t)
	for _, timeoutEnabled := range []bool{false, true} {
		name := "ContextTimeoutEnabled=false"
		if timeoutEnabled {
			name = "ContextTimeoutEnabled=true"
		}
		t.Run(name, func(t *testing.T) {
			rdb := redis.NewClient(&redis.Options{Addr: srv.Addr, MaxRetries: -1, ContextTimeoutEnabled: timeoutEnabled})
			be := newBackend(t, rdb)
			ctx := context.Background()
			q := func(s string) string { return name + "-" + s }
			item := func(id string) backend.JobAddItem {
				return backend.JobAddItem{ID: id, Name: "n", Options: backend.JobOptions{Attempts: 3}}
			}
			add := func(queue string, ids ...string) {
				t.Helper()
				items := make([]backend.JobAddItem, len(ids))
				for i, id := range ids {
					items[i] = item(id)
				}
				_, err := be.JobAdd(ctx, &backend.JobAddParams{Queue: queue, Jobs: items})
				require.NoError(t, err)
			}
			counts := func(queue string) backend.Counts {
				t.Helper()
				c, err := be.QueueCounts(ctx, &backend.QueueParams{Queue: queue})
				require.NoError(t, err)
				return *c
			}
			add(q("add"), "warm")
			add(q("claim"), "c1")
			add(q("finish"), "f1", "f2")
			held, err := be.JobClaim(ctx, &backend.JobClaimParams{Queue: q("finish"), Token: "held", LockDuration: time.Minute})
			require.NoError(t, err)
			require.Equal(t, "f1", held.Job.ID)

			calls := map[string]func(context.Context) error{
				"JobAdd": func(ctx context.Context) error {
					_, err := be.JobAdd(ctx, &backend.JobAddParams{Queue: q("add"), Jobs: []backend.JobAddItem{item("idem")}})
					return err
				},
				"JobAdd bulk": func(ctx context.Context) error {
					_, err := be.JobAdd(ctx, &backend.JobAddParams{Queue: q("add"), Jobs: []backend.JobAddItem{item("b1"), item("b2")}})
					return err
				},
				"QueueCounts": func(ctx context.Context) error {
					_, err := be.QueueCounts(ctx, &backend.QueueParams{Queue: q("add")})
					return err
				},
				"JobGet": func(ctx context.Context) error {
					_, err := be.JobGet(ctx, &backend.JobGetParams{Queue: q("add"), ID: "warm"})
					return err
				},
				"JobClaim": func(ctx context.Context) error {
					_, err := be.JobClaim(ctx, &backend.JobClaimParams{Queue: q("claim"), Token: "gone", LockDuration: time.Minute})
					return err
				},
				"JobComplete with next": func(ctx context.Context) error {
					_, err := be.JobComplete(ctx, &backend.JobCompleteParams{Queue: q("finish"), ID: "f1", Token: "held",
						Next: &backend.JobClaimParams{Queue: q("finish"), Token: "gone-next", LockDuration: time.Minute}})
					return err
				},
				"Ping": func(ctx context.Context) error { return be.Ping(ctx) },
			}

			admin := redis.NewClient(&redis.Options{Addr: srv.Addr})
			defer admin.Close()
			require.NoError(t, admin.Do(ctx, "CLIENT", "PAUSE", "2000", "ALL").Err())
			paused := time.Now()
			var wg sync.WaitGroup
			for name, call := range calls {
				wg.Add(1)
				go func() {
					defer wg.Done()
					cctx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
					defer cancel()
					err := call(cctx)
					took := time.Since(paused)
					assert.ErrorIs(t, err, context.DeadlineExceeded, "%s", name)
					// The pause lasts 2s: a call that waited for Redis took longer.
					assert.Less(t, took, 1500*time.Millisecond, "%s returned after %s", name, took)
				}()
			}
			wg.Wait()

			// Once Redis answers, the abandoned claims hand their jobs back.
			require.Eventually(t, func() bool {
				return counts(q("claim")) == backend.Counts{Waiting: 1}
			}, 10*time.Second, 10*time.Millisecond, "the abandoned claim kept its job")
			require.Eventually(t, func() bool {
				return counts(q("finish")) == backend.Counts{Waiting: 1, Completed: 1}
			}, 10*time.Second, 10*time.Millisecond, "the abandoned complete's next claim kept its job")
			// The add that timed out landed or not; retried with its JobID it
			// leaves exactly one job.
			res, err := be.JobAdd(ctx, &backend.JobAddParams{Queue: q("add"), Jobs: []backend.JobAddItem{item("idem")}})
			require.NoError(t, err)
			require.Contains(t, []backend.AddStatus{backend.AddCreated, backend.AddExists}, res[0].Status)
			jobs, err := be.JobList(ctx, &backend.JobListParams{Queue: q("add"), State: backend.StateWaiting, Limit: 100})
			require.NoError(t, err)
			n := 0
			for _, j := range jobs {
				if j.ID == "idem" {
					n++
				}
			}
			require.Equal(t, 1, n)
		})
	}
}
