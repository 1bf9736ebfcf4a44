package backendtest

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/fila-go/fila/backend"
)

// runGroups checks grouped jobs (backend.Groups) on backends that have them.
func runGroups(t *testing.T, f Factory) {
	groupsOf := func(t *testing.T) (*bundle, backend.Groups) {
		b := setup(t, f)
		g, ok := b.be.(backend.Groups)
		if !ok {
			t.Skip("backend does not implement backend.Groups")
		}
		return b, g
	}
	addIn := func(b *bundle, group, name string, o backend.JobOptions) string {
		b.t.Helper()
		o.Group = group
		return b.add(name, o)
	}
	setOpts := func(b *bundle, g backend.Groups, o backend.GroupOptions) {
		b.t.Helper()
		require.NoError(b.t, g.GroupOptionsSet(b.ctx, &backend.GroupOptionsParams{Queue: b.queue, Options: o}))
	}
	groupCounts := func(b *bundle, g backend.Groups, group string) backend.GroupCounts {
		b.t.Helper()
		c, err := g.GroupCounts(b.ctx, &backend.GroupParams{Queue: b.queue, Group: group})
		require.NoError(b.t, err)
		return *c
	}

	t.Run("the group is stored and returned", func(t *testing.T) {
		b, _ := groupsOf(t)
		id := addIn(b, "+15550001;x=y", "a", backend.JobOptions{})
		require.Equal(t, "+15550001;x=y", b.get(id).Options.Group)
		j, tok := b.mustClaim()
		require.Equal(t, "+15550001;x=y", j.Options.Group)
		b.complete(j.ID, tok)
		require.Equal(t, "+15550001;x=y", b.get(id).Options.Group)
		require.NoError(t, b.be.JobRemove(b.ctx, &backend.JobRemoveParams{Queue: b.queue, ID: id}))
		require.Equal(t, backend.Counts{}, b.counts(), "a removed finished grouped job leaves its set")
	})

	t.Run("concurrency 1 runs one job of a group at a time, in FIFO order", func(t *testing.T) {
		b, g := groupsOf(t)
		for i := range 3 {
			addIn(b, "g", fmt.Sprintf("g%d", i), backend.JobOptions{})
		}
		require.Equal(t, backend.Counts{Waiting: 3}, b.counts())
		var order []string
		for range 3 {
			j, tok := b.mustClaim()
			order = append(order, j.Name)
			next, _ := b.claim()
			require.Nil(t, next, "a second job of the group while %s runs", j.Name)
			require.Equal(t, backend.GroupCounts{Waiting: int64(2 - len(order) + 1), Active: 1}, groupCounts(b, g, "g"))
			b.complete(j.ID, tok)
		}
		require.Equal(t, []string{"g0", "g1", "g2"}, order)
		require.Equal(t, backend.GroupCounts{}, groupCounts(b, g, "g"))
		require.Equal(t, int64(0), b.counts().Waiting)
	})

	t.Run("concurrency N caps the active jobs of a group across claims", func(t *testing.T) {
		b, g := groupsOf(t)
		setOpts(b, g, backend.GroupOptions{Concurrency: 2})
		o, err := g.GroupOptionsGet(b.ctx, &backend.QueueParams{Queue: b.queue})
		require.NoError(t, err)
		require.Equal(t, 2, o.Concurrency)
		for i := range 5 {
			addIn(b, "g", fmt.Sprintf("g%d", i), backend.JobOptions{})
		}
		j1, t1 := b.mustClaim()
		j2, _ := b.mustClaim()
		none, _ := b.claim()
		require.Nil(t, none, "a third job beyond concurrency 2")
		require.Equal(t, []string{"g0", "g1"}, []string{j1.Name, j2.Name})
		b.complete(j1.ID, t1)
		j3, _ := b.mustClaim()
		require.Equal(t, "g2", j3.Name)
		none, _ = b.claim()
		require.Nil(t, none)
		require.Equal(t, backend.GroupCounts{Waiting: 2, Active: 2}, groupCounts(b, g, "g"))
	})

	t.Run("raising the concurrency frees slots at once", func(t *testing.T) {
		b, g := groupsOf(t)
		addIn(b, "g", "a", backend.JobOptions{})
		addIn(b, "g", "b", backend.JobOptions{})
		b.mustClaim()
		none, _ := b.claim()
		require.Nil(t, none)
		setOpts(b, g, backend.GroupOptions{Concurrency: 2})
		j, _ := b.mustClaim()
		require.Equal(t, "b", j.Name)
	})

	t.Run("groups are served round-robin: a big group delays a small one by one turn at most", func(t *testing.T) {
		b, _ := groupsOf(t)
		for chunk := range 5 { // 1,000 jobs, in calls small enough for a slow REST emulator
			items := make([]backend.JobAddItem, 200)
			for i := range items {
				items[i] = backend.JobAddItem{Name: fmt.Sprintf("big%d", chunk*200+i), Options: backend.JobOptions{Attempts: 1, Group: "big"}}
			}
			b.addItems(items...)
		}
		addIn(b, "small", "small0", backend.JobOptions{})
		b.add("plain", backend.JobOptions{})
		var order []string
		for range 4 {
			j, tok := b.mustClaim()
			order = append(order, j.Name)
			b.complete(j.ID, tok)
		}
		// A bulk add is not one transaction (its batches may land in any
		// order), so which big job runs is not asserted.
		require.True(t, strings.HasPrefix(order[0], "big") && strings.HasPrefix(order[3], "big"), "order %v", order)
		require.Equal(t, []string{"small0", "plain"}, order[1:3])
		require.Equal(t, int64(998), b.counts().Waiting)
	})

	t.Run("groups alternate while both have jobs", func(t *testing.T) {
		b, g := groupsOf(t)
		setOpts(b, g, backend.GroupOptions{Concurrency: 10})
		for i := range 3 {
			addIn(b, "a", fmt.Sprintf("a%d", i), backend.JobOptions{})
		}
		for i := range 3 {
			addIn(b, "b", fmt.Sprintf("b%d", i), backend.JobOptions{})
		}
		require.Equal(t, []string{"a0", "b0", "a1", "b1", "a2", "b2"}, b.claimOrder())
	})

	t.Run("max group size refuses the add and stores nothing", func(t *testing.T) {
		b, g := groupsOf(t)
		setOpts(b, g, backend.GroupOptions{Concurrency: 1, MaxSize: 2})
		addIn(b, "g", "a", backend.JobOptions{})
		addIn(b, "g", "b", backend.JobOptions{})
		res := b.addItems(backend.JobAddItem{ID: "third", Name: "c", Options: backend.JobOptions{Attempts: 1, Group: "g"}})
		require.Equal(t, backend.AddGroupFull, res[0].Status)
		_, err := b.be.JobGet(b.ctx, &backend.JobGetParams{Queue: b.queue, ID: "third"})
		require.ErrorIs(t, err, backend.ErrJobNotFound)
		require.Equal(t, backend.Counts{Waiting: 2}, b.counts())
		addIn(b, "other", "d", backend.JobOptions{}) // other groups are not affected
		j, tok := b.mustClaim()
		b.complete(j.ID, tok)
		addIn(b, "g", "e", backend.JobOptions{}) // room again
	})

	t.Run("a retried job keeps its group blocked and runs first", func(t *testing.T) {
		b, _ := groupsOf(t)
		first := addIn(b, "g", "a", backend.JobOptions{Attempts: 3})
		addIn(b, "g", "b", backend.JobOptions{})
		j, tok := b.mustClaim()
		_, err := b.be.JobFail(b.ctx, &backend.JobFailParams{Queue: b.queue, ID: j.ID, Token: tok, Reason: "x", Retry: true, RetryDelay: 2 * time.Second})
		require.NoError(t, err)
		none, _ := b.claim()
		require.Nil(t, none, "b must not run while a waits for its retry")
		again, tok := b.mustClaim()
		require.Equal(t, first, again.ID)
		_, err = b.be.JobFail(b.ctx, &backend.JobFailParams{Queue: b.queue, ID: again.ID, Token: tok, Reason: "x", Retry: true})
		require.NoError(t, err)
		again, tok = b.mustClaim()
		require.Equal(t, first, again.ID, "a retry without delay runs before the group's other jobs")
		b.complete(again.ID, tok)
		j, _ = b.mustClaim()
		require.Equal(t, "b", j.Name)
	})

	t.Run("a final failure frees the slot", func(t *testing.T) {
		b, _ := groupsOf(t)
		addIn(b, "g", "a", backend.JobOptions{})
		addIn(b, "g", "b", backend.JobOptions{})
		j, tok := b.mustClaim()
		_, err := b.be.JobFail(b.ctx, &backend.JobFailParams{Queue: b.queue, ID: j.ID, Token: tok, Reason: "x"})
		require.NoError(t, err)
		j, _ = b.mustClaim()
		require.Equal(t, "b", j.Name)
	})

	t.Run("a released job goes back to the front of its group", func(t *testing.T) {
		b, _ := groupsOf(t)
		addIn(b, "g", "a", backend.JobOptions{})
		addIn(b, "g", "b", backend.JobOptions{})
		j, tok := b.mustClaim()
		require.NoError(t, b.be.JobRelease(b.ctx, &backend.JobReleaseParams{Queue: b.queue, ID: j.ID, Token: tok}))
		j, _ = b.mustClaim()
		require.Equal(t, "a", j.Name)
	})

	t.Run("a stalled job of a group is recovered to the front and keeps the order", func(t *testing.T) {
		b, _ := groupsOf(t)
		addIn(b, "g", "a", backend.JobOptions{})
		addIn(b, "g", "b", backend.JobOptions{})
		p := b.claimParams(b.token())
		p.LockDuration = 100 * time.Millisecond
		res, err := b.be.JobClaim(b.ctx, p)
		require.NoError(t, err)
		require.Equal(t, "a", res.Job.Name)
		time.Sleep(250 * time.Millisecond)
		for range 2 {
			_, err := b.be.StalledCheck(b.ctx, &backend.StalledCheckParams{Queue: b.queue, MaxStalledCount: 1})
			require.NoError(t, err)
		}
		j, _ := b.mustClaim()
		require.Equal(t, "a", j.Name)
		require.Equal(t, 1, j.StalledCount)
	})

	t.Run("delayed, LIFO and removed grouped jobs", func(t *testing.T) {
		b, g := groupsOf(t)
		addIn(b, "g", "late", backend.JobOptions{Delay: 2 * time.Second})
		addIn(b, "g", "a", backend.JobOptions{})
		gone := addIn(b, "g", "gone", backend.JobOptions{})
		addIn(b, "g", "z", backend.JobOptions{})
		last := addIn(b, "g", "last", backend.JobOptions{})
		addIn(b, "g", "first", backend.JobOptions{LIFO: true})
		require.NoError(t, b.be.JobRemove(b.ctx, &backend.JobRemoveParams{Queue: b.queue, ID: gone}))
		require.NoError(t, b.be.JobRemove(b.ctx, &backend.JobRemoveParams{Queue: b.queue, ID: last}))
		require.Equal(t, backend.GroupCounts{Waiting: 3}, groupCounts(b, g, "g"))
		require.Equal(t, backend.Counts{Waiting: 3, Delayed: 1}, b.counts())
		addIn(b, "g", "after", backend.JobOptions{}) // linked behind the new last job
		var order []string
		for range 5 {
			j, tok := b.mustClaim()
			order = append(order, j.Name)
			b.complete(j.ID, tok)
		}
		require.Equal(t, []string{"first", "a", "z", "after", "late"}, order)
	})

	t.Run("a paused queue holds groups; drain empties them", func(t *testing.T) {
		b, g := groupsOf(t)
		addIn(b, "g", "a", backend.JobOptions{})
		addIn(b, "h", "b", backend.JobOptions{})
		require.NoError(t, b.be.QueuePause(b.ctx, &backend.QueuePauseParams{Queue: b.queue, Paused: true}))
		require.Equal(t, backend.Counts{Paused: 2}, b.counts())
		none, _ := b.claim()
		require.Nil(t, none)
		require.NoError(t, b.be.QueuePause(b.ctx, &backend.QueuePauseParams{Queue: b.queue}))
		j, tok := b.mustClaim()
		require.Equal(t, "a", j.Name)
		n, err := b.be.QueueDrain(b.ctx, &backend.QueueDrainParams{Queue: b.queue})
		require.NoError(t, err)
		require.Equal(t, 1, n)
		require.Equal(t, backend.Counts{Active: 1}, b.counts())
		addIn(b, "g", "c", backend.JobOptions{})
		none, _ = b.claim()
		require.Nil(t, none, "g still runs a")
		b.complete(j.ID, tok)
		j, _ = b.mustClaim()
		require.Equal(t, "c", j.Name)
		require.Equal(t, backend.GroupCounts{}, groupCounts(b, g, "h"))
	})

	t.Run("a blocked claim wakes when a group's slot frees", func(t *testing.T) {
		b, _ := groupsOf(t)
		addIn(b, "g", "a", backend.JobOptions{})
		addIn(b, "g", "b", backend.JobOptions{})
		j, tok := b.mustClaim()
		got := make(chan string, 1)
		go func() {
			p := b.claimParams(b.tokenFor("blocked"))
			p.Wait = 30 * time.Second
			res, err := b.be.JobClaim(b.ctx, p)
			if err != nil || res.Job == nil {
				got <- ""
				return
			}
			got <- res.Job.Name
		}()
		time.Sleep(100 * time.Millisecond)
		b.complete(j.ID, tok)
		select {
		case name := <-got:
			require.Equal(t, "b", name)
		case <-time.After(20 * time.Second):
			t.Fatal("blocked claim did not wake when the group's slot freed")
		}
	})

	t.Run("the global limiter holds a group's turn", func(t *testing.T) {
		b, _ := groupsOf(t)
		addIn(b, "g", "a", backend.JobOptions{})
		addIn(b, "h", "b", backend.JobOptions{})
		p := b.claimParams(b.token())
		p.Limit = &backend.Limit{Max: 1, Per: time.Hour}
		res, err := b.be.JobClaim(b.ctx, p)
		require.NoError(t, err)
		require.Equal(t, "a", res.Job.Name)
		res, err = b.be.JobClaim(b.ctx, p)
		require.NoError(t, err)
		require.Nil(t, res.Job)
		require.Positive(t, res.RetryAfter)
		j, _ := b.mustClaim()
		require.Equal(t, "b", j.Name, "the limited claim handed h's turn back")
	})

	t.Run("a group rate spaces a group's starts and lets other groups run", func(t *testing.T) {
		b, g := groupsOf(t)
		const per = 2500 * time.Millisecond // long enough to look at the limit on a loaded machine
		setOpts(b, g, backend.GroupOptions{Concurrency: 5, Rate: backend.Limit{Max: 1, Per: per}})
		o, err := g.GroupOptionsGet(b.ctx, &backend.QueueParams{Queue: b.queue})
		require.NoError(t, err)
		require.Equal(t, backend.Limit{Max: 1, Per: per}, o.Rate)
		addIn(b, "g", "a", backend.JobOptions{})
		addIn(b, "g", "b", backend.JobOptions{})
		addIn(b, "h", "c", backend.JobOptions{})
		start := time.Now()
		j, _ := b.mustClaim()
		require.Equal(t, "a", j.Name)
		j, _ = b.mustClaim()
		require.Equal(t, "c", j.Name, "another group runs while g is limited")
		c := groupCounts(b, g, "g")
		require.Equal(t, int64(1), c.Waiting)
		require.Positive(t, c.LimitedFor)
		require.LessOrEqual(t, c.LimitedFor, per)
		require.Equal(t, backend.Counts{Waiting: 1, Active: 2}, b.counts(), "a limited group's wake entry is no delayed job")
		require.Empty(t, b.list(backend.StateDelayed))
		j, _ = b.mustClaim() // blocks until g's limit passes
		require.Equal(t, "b", j.Name)
		require.GreaterOrEqual(t, time.Since(start), per-200*time.Millisecond, "g's second start waited for its rate")
	})

	t.Run("GroupRateLimit holds one group back and the released job runs first", func(t *testing.T) {
		b, g := groupsOf(t)
		addIn(b, "g", "a", backend.JobOptions{})
		addIn(b, "g", "b", backend.JobOptions{})
		addIn(b, "h", "c", backend.JobOptions{})
		j, tok := b.mustClaim()
		require.Equal(t, "a", j.Name)
		start := time.Now()
		require.NoError(t, g.GroupRateLimit(b.ctx, &backend.GroupRateLimitParams{Queue: b.queue, Group: "g", For: 500 * time.Millisecond}))
		require.NoError(t, b.be.JobRelease(b.ctx, &backend.JobReleaseParams{Queue: b.queue, ID: j.ID, Token: tok}))
		j, _ = b.mustClaim()
		require.Equal(t, "c", j.Name)
		j, _ = b.mustClaim()
		require.Equal(t, "a", j.Name, "the handed-back job keeps its place")
		require.GreaterOrEqual(t, time.Since(start), 400*time.Millisecond)
		require.Zero(t, b.get(j.ID).AttemptsMade)
	})

	t.Run("a paused group waits while others run; list and jobs show the groups", func(t *testing.T) {
		b, g := groupsOf(t)
		addIn(b, "g", "a", backend.JobOptions{})
		addIn(b, "g", "b", backend.JobOptions{})
		addIn(b, "h", "c", backend.JobOptions{})
		require.NoError(t, g.GroupPause(b.ctx, &backend.GroupPauseParams{Queue: b.queue, Group: "g", Paused: true}))
		require.Equal(t, backend.GroupCounts{Waiting: 2, Paused: true}, groupCounts(b, g, "g"))
		list, err := g.GroupList(b.ctx, &backend.GroupListParams{Queue: b.queue})
		require.NoError(t, err)
		require.Equal(t, []backend.GroupInfo{
			{Group: "g", GroupCounts: backend.GroupCounts{Waiting: 2, Paused: true}},
			{Group: "h", GroupCounts: backend.GroupCounts{Waiting: 1}},
		}, list)
		top, err := g.GroupList(b.ctx, &backend.GroupListParams{Queue: b.queue, Limit: 1})
		require.NoError(t, err)
		require.Len(t, top, 1)
		jobs, err := g.GroupJobs(b.ctx, &backend.GroupJobsParams{Queue: b.queue, Group: "g"})
		require.NoError(t, err)
		require.Len(t, jobs, 2)
		require.Equal(t, []string{"a", "b"}, []string{jobs[0].Name, jobs[1].Name})
		page, err := g.GroupJobs(b.ctx, &backend.GroupJobsParams{Queue: b.queue, Group: "g", Offset: 1, Limit: 5})
		require.NoError(t, err)
		require.Len(t, page, 1)
		require.Equal(t, "b", page[0].Name)
		require.Equal(t, []string{"c"}, b.claimOrder(), "only h runs while g is paused")
		require.NoError(t, g.GroupPause(b.ctx, &backend.GroupPauseParams{Queue: b.queue, Group: "g"}))
		j, _ := b.mustClaim()
		require.Equal(t, "a", j.Name)
	})

	t.Run("draining one group leaves the others and its running job", func(t *testing.T) {
		b, g := groupsOf(t)
		addIn(b, "g", "a", backend.JobOptions{})
		addIn(b, "g", "b", backend.JobOptions{})
		addIn(b, "g", "c", backend.JobOptions{})
		addIn(b, "h", "d", backend.JobOptions{})
		j, tok := b.mustClaim()
		require.Equal(t, "a", j.Name)
		n, err := g.GroupDrain(b.ctx, &backend.GroupParams{Queue: b.queue, Group: "g"})
		require.NoError(t, err)
		require.Equal(t, 2, n)
		require.Equal(t, backend.GroupCounts{Active: 1}, groupCounts(b, g, "g"))
		require.Equal(t, backend.Counts{Waiting: 1, Active: 1}, b.counts())
		b.complete(j.ID, tok)
		addIn(b, "g", "e", backend.JobOptions{})
		require.Equal(t, []string{"d", "e"}, b.claimOrder())
	})

	t.Run("ungrouped jobs list and count as before beside groups", func(t *testing.T) {
		b, _ := groupsOf(t)
		plain := b.add("plain", backend.JobOptions{})
		grouped := addIn(b, strings.Repeat("x", 128), "g", backend.JobOptions{})
		require.Equal(t, backend.Counts{Waiting: 2}, b.counts())
		require.Contains(t, b.list(backend.StateWaiting), plain)
		require.Equal(t, backend.StateWaiting, b.get(grouped).State)
	})
}
