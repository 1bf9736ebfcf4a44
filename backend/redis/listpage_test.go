package redisbackend_test

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/fila-go/fila"
	"github.com/fila-go/fila/backend"
	redisbackend "github.com/fila-go/fila/backend/redis"
	"github.com/fila-go/fila/internal/redistest"
)

// TestListPagesAtEveryOffset checks that list.lua's windowed paging of the
// wait and active lists (it reads only the page, skipping wake markers
// and the fed job by their positions) returns, page by page, exactly the
// one long listing, with a marker at the right end, a marker pushed inward
// by LIFO adds, and a fed prioritized job.
func TestListPagesAtEveryOffset(t *testing.T) {
	servers := map[string]func(t *testing.T) string{
		"miniredis":    func(t *testing.T) string { return miniredis.RunT(t).Addr() },
		"redis-server": func(t *testing.T) string { return redistest.Addr(t) },
	}
	for name, addr := range servers {
		t.Run(name, func(t *testing.T) {
			rdb := redis.NewClient(&redis.Options{Addr: addr(t)})
			t.Cleanup(func() { _ = rdb.Close() })
			be := redisbackend.New(rdb, redisbackend.WithPrefix("listpage-"+strconv.FormatInt(time.Now().UnixNano(), 36)))
			t.Cleanup(func() { _ = be.Close() })
			ctx := context.Background()
			q := fila.NewQueue(be, "q")
			add := func(n int, opts *fila.JobOptions) {
				for range n {
					_, err := q.Add(ctx, "j", nil, opts)
					require.NoError(t, err)
				}
			}
			check := func(state fila.State) {
				t.Helper()
				all, err := q.Jobs(ctx, state, 0, 10_000)
				require.NoError(t, err)
				c, err := q.Counts(ctx)
				require.NoError(t, err)
				require.Len(t, all, int(c.Get(state)), state)
				for _, limit := range []int{1, 3, 7} {
					var paged []string
					for off := 0; off < len(all)+limit; off += limit {
						page, err := q.Jobs(ctx, state, off, limit)
						require.NoError(t, err)
						require.LessOrEqual(t, len(page), limit)
						for _, j := range page {
							paged = append(paged, j.ID)
						}
					}
					want := make([]string, len(all))
					for i, j := range all {
						want[i] = j.ID
					}
					require.Equal(t, want, paged, "%s, %d a page", state, limit)
				}
			}

			// A delayed job on an empty queue pushes a wake marker.
			add(1, &fila.JobOptions{Delay: time.Hour})
			add(20, nil)
			check(fila.StateWaiting)
			// LIFO adds go to the consuming end, past the marker.
			add(5, &fila.JobOptions{LIFO: true})
			add(5, nil)
			check(fila.StateWaiting)
			// Prioritized jobs: the top one may be fed into wait.
			add(10, &fila.JobOptions{Priority: 3})
			for range 3 {
				res, err := be.JobClaim(ctx, &backend.JobClaimParams{Queue: "q", Token: "t", LockDuration: time.Hour})
				require.NoError(t, err)
				require.NotNil(t, res.Job)
			}
			check(fila.StateWaiting)
			check(fila.StatePrioritized)
			check(fila.StateActive)
			require.NoError(t, q.Pause(ctx))
			check(fila.StatePaused)
		})
	}
}
