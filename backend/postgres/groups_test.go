package postgres_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/fila-go/fila/backend"
	"github.com/fila-go/fila/backend/postgres"
	"github.com/fila-go/fila/internal/pgtest"
)

// TestGroupsUnderConcurrentWorkers runs grouped and ungrouped jobs through
// many concurrent claimers that claim ahead in each finish, with retries, releases and adds racing the
// claims: every job completes once, no group ever runs more than its
// concurrency, and no transaction fails (the group triggers take their
// locks in an order that cannot deadlock with claims and finishes).
func TestGroupsUnderConcurrentWorkers(t *testing.T) {
	t.Parallel()
	be := open(t, postgres.Options{})
	ctx := context.Background()
	const queue, conc, groups, perGroup, plain, workers = "busy", 2, 4, 20, 40, 8
	require.NoError(t, be.GroupOptionsSet(ctx, &backend.GroupOptionsParams{Queue: queue, Options: backend.GroupOptions{Concurrency: conc}}))

	var items []backend.JobAddItem
	for i := range perGroup {
		for g := range groups {
			items = append(items, backend.JobAddItem{Name: fmt.Sprintf("g%d-%d", g, i),
				Options: backend.JobOptions{Attempts: 2, Group: fmt.Sprintf("g%d", g), LIFO: i%7 == 3}})
		}
		if i < plain {
			items = append(items, backend.JobAddItem{Name: fmt.Sprintf("plain-%d", i), Options: backend.JobOptions{Attempts: 2}})
		}
	}
	half := len(items) / 2
	_, err := be.JobAdd(ctx, &backend.JobAddParams{Queue: queue, Jobs: items[:half]})
	require.NoError(t, err)

	var (
		mu      sync.Mutex
		running = map[string]int{}
		most    = map[string]int{}
		done    = map[string]int{}
		failed  = map[string]bool{}
		errs    []error
		wg      sync.WaitGroup
	)
	record := func(err error) {
		mu.Lock()
		errs = append(errs, err)
		mu.Unlock()
	}
	wg.Add(1)
	go func() { // the other half lands while workers claim
		defer wg.Done()
		for _, it := range items[half:] {
			if _, err := be.JobAdd(ctx, &backend.JobAddParams{Queue: queue, Jobs: []backend.JobAddItem{it}}); err != nil {
				record(err)
			}
		}
	}()
	deadline := time.Now().Add(60 * time.Second)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var j *backend.Job // claimed ahead by the previous finish, as a worker with Prefetch does
			tok := ""
			for n := 0; time.Now().Before(deadline); n++ {
				if j == nil {
					tok = fmt.Sprintf("w%d-%d", w, n)
					res, err := be.JobClaim(ctx, &backend.JobClaimParams{Queue: queue, Token: tok, LockDuration: time.Minute, Wait: time.Second})
					if err != nil {
						record(err)
						return
					}
					j = res.Job
				}
				if j == nil {
					c, err := be.QueueCounts(ctx, &backend.QueueParams{Queue: queue})
					if err != nil {
						record(err)
						return
					}
					if c.Completed == int64(len(items)) {
						return
					}
					continue
				}
				g := j.Options.Group
				mu.Lock()
				running[g]++
				most[g] = max(most[g], running[g])
				retry := g != "" && !failed[j.ID] && n%5 == 0
				release := !retry && n%11 == 0
				failed[j.ID] = failed[j.ID] || retry
				mu.Unlock()
				time.Sleep(time.Millisecond)
				mu.Lock()
				running[g]--
				if !retry && !release {
					done[j.Name]++
				}
				mu.Unlock()
				nextTok := fmt.Sprintf("w%d-%d-next", w, n)
				next := &backend.JobClaimParams{Queue: queue, Token: nextTok, LockDuration: time.Minute}
				var res *backend.JobClaimResult
				var err error
				switch {
				case retry:
					res, err = be.JobFail(ctx, &backend.JobFailParams{Queue: queue, ID: j.ID, Token: tok, Reason: "again", Retry: true,
						RetryDelay: time.Duration(n%2) * 20 * time.Millisecond, Next: next})
				case release:
					err = be.JobRelease(ctx, &backend.JobReleaseParams{Queue: queue, ID: j.ID, Token: tok})
				default:
					res, err = be.JobComplete(ctx, &backend.JobCompleteParams{Queue: queue, ID: j.ID, Token: tok, Next: next})
				}
				if err != nil {
					record(err)
					return
				}
				j = nil
				if res != nil && res.Job != nil {
					j, tok = res.Job, nextTok
				}
			}
		}()
	}
	wg.Wait()
	require.Empty(t, errs)
	c, err := be.QueueCounts(ctx, &backend.QueueParams{Queue: queue})
	require.NoError(t, err)
	require.Equal(t, backend.Counts{Completed: int64(len(items))}, *c)
	require.Len(t, done, len(items))
	for name, n := range done {
		require.Equal(t, 1, n, "job %s completed once", name)
	}
	for g := range groups {
		name := fmt.Sprintf("g%d", g)
		require.LessOrEqual(t, most[name], conc, "group %s ran more than its concurrency", name)
		gc, err := be.GroupCounts(ctx, &backend.GroupParams{Queue: queue, Group: name})
		require.NoError(t, err)
		require.Equal(t, backend.GroupCounts{}, *gc)
	}
}

// TestAGroupsFreedSlotWakesAnotherProcess: the group functions never
// NOTIFY inside a transaction; the finish that frees a group's slot
// signals after commit, and a claim blocked in another process (its own
// pool and listener, FallbackRecheck far away) wakes for the group's next
// job.
func TestAGroupsFreedSlotWakesAnotherProcess(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	url := pgtest.DB(t)
	const queue = "wake"
	var bes []*postgres.Backend
	for range 2 {
		pool, err := pgxpool.New(ctx, url)
		require.NoError(t, err)
		be := postgres.New(pool, postgres.Options{FallbackRecheck: time.Minute})
		t.Cleanup(func() { be.Close(); pool.Close() })
		bes = append(bes, be)
	}
	_, err := bes[0].Migrate(ctx)
	require.NoError(t, err)
	here, there := bes[0], bes[1]
	_, err = here.JobAdd(ctx, &backend.JobAddParams{Queue: queue, Jobs: []backend.JobAddItem{
		{Name: "a", Options: backend.JobOptions{Attempts: 1, Group: "g"}},
		{Name: "b", Options: backend.JobOptions{Attempts: 1, Group: "g"}},
	}})
	require.NoError(t, err)
	res, err := here.JobClaim(ctx, &backend.JobClaimParams{Queue: queue, Token: "a", LockDuration: time.Minute})
	require.NoError(t, err)
	require.Equal(t, "a", res.Job.Name)

	got := make(chan string, 1)
	go func() {
		res, err := there.JobClaim(ctx, &backend.JobClaimParams{Queue: queue, Token: "b", LockDuration: time.Minute, Wait: 30 * time.Second})
		if err != nil || res.Job == nil {
			got <- ""
			return
		}
		got <- res.Job.Name
	}()
	time.Sleep(300 * time.Millisecond) // let the claim block
	start := time.Now()
	_, err = here.JobComplete(ctx, &backend.JobCompleteParams{Queue: queue, ID: res.Job.ID, Token: "a"})
	require.NoError(t, err)
	select {
	case name := <-got:
		require.Equal(t, "b", name)
		require.Less(t, time.Since(start), 15*time.Second)
	case <-time.After(25 * time.Second):
		t.Fatal("the claim blocked in the other process did not wake when g's slot freed")
	}
}

// TestAFinishThatDeadlocksOnTwoGroupsRunsAgain: a finish holds its group's
// row and its chained claim needs another group's row, which a transaction
// of ours holds while it waits for the first: PostgreSQL breaks the
// deadlock by rolling one back, and when it picks the finish, the finish
// runs again instead of failing.
func TestAFinishThatDeadlocksOnTwoGroupsRunsAgain(t *testing.T) {
	t.Parallel()
	be := open(t, postgres.Options{})
	ctx := context.Background()
	const queue = "deadlock"
	add := func(name, group string) {
		_, err := be.JobAdd(ctx, &backend.JobAddParams{Queue: queue, Jobs: []backend.JobAddItem{{Name: name, Options: backend.JobOptions{Attempts: 1, Group: group}}}})
		require.NoError(t, err)
	}
	add("a1", "A")
	add("b1", "B") // B's place in the line comes before A's next
	add("a2", "A")
	res, err := be.JobClaim(ctx, &backend.JobClaimParams{Queue: queue, Token: "ta", LockDuration: time.Minute})
	require.NoError(t, err)
	require.Equal(t, "a1", res.Job.Name)

	other, err := be.Pool().Begin(ctx)
	require.NoError(t, err)
	defer other.Rollback(ctx) //nolint:errcheck
	// Ours looks for deadlocks late, so the finish's server process (1 s,
	// the default) finds this one and the finish is the one rolled back.
	_, err = other.Exec(ctx, `SET LOCAL deadlock_timeout = '15s'`)
	require.NoError(t, err)
	_, err = other.Exec(ctx, `SELECT 1 FROM fila.groups WHERE queue = $1 AND name = 'B' FOR UPDATE`, queue)
	require.NoError(t, err)

	type out struct {
		res *backend.JobClaimResult
		err error
	}
	finished := make(chan out, 1)
	go func() { // locks A (its slot frees), then waits for B (claiming b1)
		r, err := be.JobComplete(ctx, &backend.JobCompleteParams{Queue: queue, ID: res.Job.ID, Token: "ta",
			Next: &backend.JobClaimParams{Queue: queue, Token: "tn", LockDuration: time.Minute}})
		finished <- out{r, err}
	}()
	require.Eventually(t, func() bool { // the finish waits for B
		var waiting bool
		err := be.Pool().QueryRow(ctx, `SELECT count(*) > 0 FROM pg_locks WHERE NOT granted AND locktype = 'transactionid'`).Scan(&waiting)
		return err == nil && waiting
	}, 10*time.Second, 10*time.Millisecond)
	_, err = other.Exec(ctx, `SELECT 1 FROM fila.groups WHERE queue = $1 AND name = 'A' FOR UPDATE`, queue)
	require.NoError(t, err, "the finish, not ours, was rolled back")
	require.NoError(t, other.Rollback(ctx)) // the finish runs again now
	select {
	case o := <-finished:
		require.NoError(t, o.err, "the finish must not fail on the deadlock")
		require.NotNil(t, o.res.Job)
		require.Equal(t, "b1", o.res.Job.Name)
	case <-time.After(20 * time.Second):
		t.Fatal("the finish did not return")
	}
	j := getJob(t, be, queue, res.Job.ID)
	require.Equal(t, backend.StateCompleted, j.State)
}
