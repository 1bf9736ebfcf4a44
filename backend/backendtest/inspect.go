package backendtest

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/fila-go/fila/backend"
)

func runInspect(t *testing.T, f Factory) {
	t.Run("counts are exact after a scripted mix", func(t *testing.T) {
		b := setup(t, f)
		for i := range 10 {
			b.add(fmt.Sprint("w", i), backend.JobOptions{Attempts: 2})
		}
		for i := range 3 {
			b.add(fmt.Sprint("p", i), backend.JobOptions{Priority: 1 + i})
		}
		for i := range 4 {
			b.add(fmt.Sprint("d", i), backend.JobOptions{Delay: time.Hour})
		}
		require.Equal(t, backend.Counts{Waiting: 10, Prioritized: 3, Delayed: 4}, b.counts())
		// complete 4, fail 2 for good, fail 1 with a retry delay, fail 1 retried at once, hold 1 active
		for i := range 9 {
			j, tok := b.claim()
			require.NotNil(t, j)
			var err error
			switch {
			case i < 4:
				b.complete(j.ID, tok)
			case i < 6:
				_, err = b.be.JobFail(b.ctx, &backend.JobFailParams{Queue: b.queue, ID: j.ID, Token: tok, Reason: "x"})
			case i == 6:
				_, err = b.be.JobFail(b.ctx, &backend.JobFailParams{Queue: b.queue, ID: j.ID, Token: tok, Reason: "x", Retry: true, RetryDelay: time.Hour})
			case i == 7:
				_, err = b.be.JobFail(b.ctx, &backend.JobFailParams{Queue: b.queue, ID: j.ID, Token: tok, Reason: "x", Retry: true})
			}
			require.NoError(t, err)
		}
		// 10 waiting - 9 claimed + 1 retried at once = 2 waiting; the ninth claim is held active.
		require.Equal(t, backend.Counts{Waiting: 2, Prioritized: 3, Delayed: 5, Active: 1, Completed: 4, Failed: 2}, b.counts())
		for _, s := range []backend.State{backend.StateWaiting, backend.StatePrioritized, backend.StateDelayed, backend.StateActive, backend.StateCompleted, backend.StateFailed} {
			c := b.counts()
			require.Len(t, b.list(s), int(c.Get(s)), "list and count of %s agree", s)
		}
	})

	t.Run("lists page through a state in run order", func(t *testing.T) {
		b := setup(t, f)
		var ids []string
		for i := range 25 {
			ids = append(ids, b.add(fmt.Sprint(i), backend.JobOptions{}))
		}
		page := func(offset, limit int) []string {
			jobs, err := b.be.JobList(b.ctx, &backend.JobListParams{Queue: b.queue, State: backend.StateWaiting, Offset: offset, Limit: limit})
			require.NoError(t, err)
			out := []string{}
			for _, j := range jobs {
				out = append(out, j.ID)
			}
			return out
		}
		require.Equal(t, ids[:10], page(0, 10))
		require.Equal(t, ids[10:20], page(10, 10))
		require.Equal(t, ids[20:], page(20, 10))
		require.Empty(t, page(30, 10))
		require.Equal(t, ids, page(0, 0), "limit 0 means 100")
	})

	t.Run("remove deletes any job that is not active", func(t *testing.T) {
		b := setup(t, f)
		waiting := b.add("w", backend.JobOptions{})
		delayed := b.add("d", backend.JobOptions{Delay: time.Hour})
		prio := b.add("p", backend.JobOptions{Priority: 3})
		active := b.add("a", backend.JobOptions{})
		require.NoError(t, b.be.JobRemove(b.ctx, &backend.JobRemoveParams{Queue: b.queue, ID: waiting}))
		j, tok := b.claim()
		require.Equal(t, active, j.ID)
		require.ErrorIs(t, b.be.JobRemove(b.ctx, &backend.JobRemoveParams{Queue: b.queue, ID: active}), backend.ErrJobActive)
		require.NoError(t, b.be.JobRemove(b.ctx, &backend.JobRemoveParams{Queue: b.queue, ID: delayed}))
		require.NoError(t, b.be.JobRemove(b.ctx, &backend.JobRemoveParams{Queue: b.queue, ID: prio}))
		require.Equal(t, backend.Counts{Active: 1}, b.counts())
		b.complete(active, tok)
		require.NoError(t, b.be.JobRemove(b.ctx, &backend.JobRemoveParams{Queue: b.queue, ID: active}))
		require.Equal(t, backend.Counts{}, b.counts())
		j, _ = b.claim()
		require.Nil(t, j, "a removed job is never claimed")
	})

	t.Run("retry sends a finished job back with its attempts reset", func(t *testing.T) {
		b := setup(t, f)
		id := b.add("a", backend.JobOptions{})
		j, tok := b.claim()
		_, err := b.be.JobFail(b.ctx, &backend.JobFailParams{Queue: b.queue, ID: j.ID, Token: tok, Reason: "x"})
		require.NoError(t, err)
		require.NoError(t, b.be.JobRetry(b.ctx, &backend.JobRetryParams{Queue: b.queue, ID: id}))
		r := b.get(id)
		require.Equal(t, backend.StateWaiting, r.State)
		require.Zero(t, r.AttemptsMade)
		require.Empty(t, r.FailedReason)
		require.Equal(t, backend.Counts{Waiting: 1}, b.counts())
		var se *backend.StateError
		require.ErrorAs(t, b.be.JobRetry(b.ctx, &backend.JobRetryParams{Queue: b.queue, ID: id}), &se)
		require.Equal(t, backend.StateWaiting, se.State)
	})

	t.Run("bulk retry moves failed jobs up to the limit", func(t *testing.T) {
		b := setup(t, f)
		b.runJobs(7, true, backend.Retention{})
		n, err := b.be.QueueRetryJobs(b.ctx, &backend.QueueRetryJobsParams{Queue: b.queue, State: backend.StateFailed, Limit: 5})
		require.NoError(t, err)
		require.Equal(t, 5, n)
		require.Equal(t, backend.Counts{Waiting: 5, Failed: 2}, b.counts())
		n, err = b.be.QueueRetryJobs(b.ctx, &backend.QueueRetryJobsParams{Queue: b.queue, State: backend.StateFailed, Limit: 5})
		require.NoError(t, err)
		require.Equal(t, 2, n)
		require.Equal(t, backend.Counts{Waiting: 7}, b.counts())
	})

	t.Run("drain removes what has not started", func(t *testing.T) {
		b := setup(t, f)
		b.add("w", backend.JobOptions{})
		b.add("a", backend.JobOptions{})
		j, tok := b.claim()
		b.add("p", backend.JobOptions{Priority: 2})
		b.add("d", backend.JobOptions{Delay: time.Hour})
		n, err := b.be.QueueDrain(b.ctx, &backend.QueueDrainParams{Queue: b.queue})
		require.NoError(t, err)
		require.Equal(t, 2, n)
		require.Equal(t, backend.Counts{Active: 1, Delayed: 1}, b.counts())
		n, err = b.be.QueueDrain(b.ctx, &backend.QueueDrainParams{Queue: b.queue, Delayed: true})
		require.NoError(t, err)
		require.Equal(t, 1, n)
		require.Equal(t, backend.Counts{Active: 1}, b.counts())
		b.complete(j.ID, tok)
	})

	t.Run("clean removes old jobs of one state up to a limit", func(t *testing.T) {
		b := setup(t, f)
		// The fresh jobs must stay younger than age until the second clean:
		// a wide margin, as a loaded machine can take a while.
		const age = 2 * time.Second
		old := b.runJobs(4, false, backend.Retention{})
		time.Sleep(age + 300*time.Millisecond)
		fresh := b.runJobs(2, false, backend.Retention{})
		ids, err := b.be.QueueClean(b.ctx, &backend.QueueCleanParams{Queue: b.queue, State: backend.StateCompleted, Age: age, Limit: 3})
		require.NoError(t, err)
		require.ElementsMatch(t, old[:3], ids, "the oldest three")
		ids, err = b.be.QueueClean(b.ctx, &backend.QueueCleanParams{Queue: b.queue, State: backend.StateCompleted, Age: age})
		require.NoError(t, err)
		require.Equal(t, old[3:], ids)
		require.ElementsMatch(t, fresh, b.list(backend.StateCompleted))

		b.add("w", backend.JobOptions{})
		b.add("d", backend.JobOptions{Delay: time.Hour})
		ids, err = b.be.QueueClean(b.ctx, &backend.QueueCleanParams{Queue: b.queue, State: backend.StateDelayed})
		require.NoError(t, err)
		require.Len(t, ids, 1)
		require.Equal(t, backend.Counts{Waiting: 1, Completed: 2}, b.counts())
	})

	t.Run("clean with a limit removes the oldest waiting jobs first", func(t *testing.T) {
		b := setup(t, f)
		// fresh must stay younger than age until the clean: a wide margin
		// for a loaded machine.
		const age = 2 * time.Second
		var old []string
		for i := range 4 {
			old = append(old, b.add(fmt.Sprint("old", i), backend.JobOptions{}))
		}
		time.Sleep(age + 300*time.Millisecond)
		fresh := b.add("fresh", backend.JobOptions{})
		ids, err := b.be.QueueClean(b.ctx, &backend.QueueCleanParams{Queue: b.queue, State: backend.StateWaiting, Age: age, Limit: 2})
		require.NoError(t, err)
		require.ElementsMatch(t, old[:2], ids, "the two added first")
		require.ElementsMatch(t, []string{old[2], old[3], fresh}, b.list(backend.StateWaiting))
	})

	t.Run("obliterate refuses active jobs unless forced, then removes everything", func(t *testing.T) {
		b := setup(t, f)
		before := b.runJobs(3, false, backend.Retention{})
		before = append(before, b.add("w", backend.JobOptions{}), b.add("d", backend.JobOptions{Delay: time.Hour}), b.add("x", backend.JobOptions{}))
		j, _ := b.claim()
		require.NotNil(t, j)
		names, err := b.be.QueueList(b.ctx)
		require.NoError(t, err)
		require.Contains(t, names, b.queue)

		err = b.be.QueueObliterate(b.ctx, &backend.QueueObliterateParams{Queue: b.queue})
		require.ErrorIs(t, err, backend.ErrQueueActive)
		require.EqualValues(t, 1, b.counts().Active)
		require.NoError(t, b.be.QueueObliterate(b.ctx, &backend.QueueObliterateParams{Queue: b.queue, Force: true}))
		require.Equal(t, backend.Counts{}, b.counts())
		_, err = b.be.JobGet(b.ctx, &backend.JobGetParams{Queue: b.queue, ID: j.ID})
		require.ErrorIs(t, err, backend.ErrJobNotFound)
		names, err = b.be.QueueList(b.ctx)
		require.NoError(t, err)
		require.NotContains(t, names, b.queue)

		// The queue works again afterwards, and its ID sequence was kept:
		// a generated ID is never handed out twice, so it cannot collide
		// with an old job's ID kept outside the queue (logs, results).
		id := b.add("again", backend.JobOptions{})
		require.NotContains(t, before, id, "a generated ID was reused after an obliterate")
		again, _ := b.claim()
		require.Equal(t, id, again.ID)
	})

	t.Run("logs keep the newest lines and page", func(t *testing.T) {
		b := setup(t, f)
		id := b.add("a", backend.JobOptions{})
		for i := range 6 {
			n, err := b.be.JobLogAdd(b.ctx, &backend.JobLogAddParams{Queue: b.queue, ID: id, Line: fmt.Sprint("line ", i), Keep: 4})
			require.NoError(t, err)
			require.Equal(t, min(i+1, 4), n)
		}
		lines, total, err := b.be.JobLogs(b.ctx, &backend.JobLogsParams{Queue: b.queue, ID: id})
		require.NoError(t, err)
		require.Equal(t, 4, total)
		require.Equal(t, []string{"line 2", "line 3", "line 4", "line 5"}, lines)
		lines, _, err = b.be.JobLogs(b.ctx, &backend.JobLogsParams{Queue: b.queue, ID: id, Offset: 1, Limit: 2})
		require.NoError(t, err)
		require.Equal(t, []string{"line 3", "line 4"}, lines)
	})

	t.Run("progress is stored", func(t *testing.T) {
		b := setup(t, f)
		id := b.add("a", backend.JobOptions{})
		require.NoError(t, b.be.JobUpdateProgress(b.ctx, &backend.JobUpdateProgressParams{Queue: b.queue, ID: id, Progress: []byte(`{"pct":40}`)}))
		require.Equal(t, []byte(`{"pct":40}`), b.get(id).Progress)
	})

	t.Run("metrics count finishes in the current minute", func(t *testing.T) {
		b := setup(t, f)
		b.runJobs(3, false, backend.Retention{Remove: true})
		b.runJobs(2, true, backend.Retention{})
		m, err := b.be.QueueMetrics(b.ctx, &backend.QueueMetricsParams{Queue: b.queue, Minutes: 5})
		require.NoError(t, err)
		require.Len(t, m.Completed, 5)
		require.Len(t, m.Failed, 5)
		// The jobs may straddle a minute boundary: sum the two newest points.
		require.EqualValues(t, 3, m.Completed[0]+m.Completed[1])
		require.EqualValues(t, 2, m.Failed[0]+m.Failed[1])
		require.False(t, m.At.IsZero())
	})
}
