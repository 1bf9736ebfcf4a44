package upstash_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/fila-go/fila"
)

// TestCommandsPerJob measures what Upstash bills per job, in commands as the
// emulator counts them on the wire (a pipeline of n calls is n; PING is
// free and fila sends none here): an Add, an AddBulk of 1,000, and
// processing a backlog of 1,000 jobs at concurrency 1 and 8 (claims,
// completes and the stalled checks of that time). Run with -v for the
// table; the bounds asserted are loose ceilings, the logged figures are the
// result. Not parallel: the figures are per run.
func TestCommandsPerJob(t *testing.T) {
	const payload = `{"to":"+15550001111","text":"hello"}`
	type row struct {
		what             string
		jobs             int64
		commands, reqs   int64
		byScript, maxPer string
	}
	var rows []row
	measure := func(what string, jobs int64, b *bundle, cc *countingConn, max float64, f func()) {
		cc.take()
		b.emu.ResetCounts()
		f()
		_, cmds := b.emu.Commands()
		rows = append(rows, row{what: what, jobs: jobs, commands: cmds, reqs: b.emu.Requests(), byScript: summary(cc.take())})
		require.LessOrEqual(t, float64(cmds)/float64(jobs), max, what)
	}

	t.Run("adds", func(t *testing.T) {
		b := miniBundle(t)
		be, cc := countingBackend(t, b.config())
		q := fila.NewQueue(be, "adds")
		ctx := context.Background()
		_, err := q.Add(ctx, "warm", nil, nil) // registers the queue
		require.NoError(t, err)
		measure("Add, one at a time", 200, b, cc, 1, func() {
			for range 200 {
				_, err := q.Add(ctx, "send", []byte(payload), nil)
				require.NoError(t, err)
			}
		})
		jobs := make([]fila.BulkJob, 1000)
		for i := range jobs {
			jobs[i] = fila.BulkJob{Name: "send", Data: []byte(payload)}
		}
		measure("AddBulk of 1,000", 1000, b, cc, 0.05, func() {
			_, err := q.AddBulk(ctx, jobs)
			require.NoError(t, err)
		})
	})

	for _, conc := range []int{1, 8} {
		t.Run(fmt.Sprintf("processing at concurrency %d", conc), func(t *testing.T) {
			b := miniBundle(t)
			be, cc := countingBackend(t, b.config())
			q := fila.NewQueue(be, "work")
			ctx := context.Background()
			const n = 1000
			jobs := make([]fila.BulkJob, n)
			for i := range jobs {
				jobs[i] = fila.BulkJob{Name: "send", Data: []byte(payload)}
			}
			_, err := q.AddBulk(ctx, jobs)
			require.NoError(t, err)
			var finished atomic.Int64
			done := make(chan struct{})
			w := mustWorker(t)(fila.NewWorker(be, "work", func(context.Context, *fila.Job) (any, error) { return nil, nil },
				fila.WorkerOptions{Concurrency: conc, OnFinished: func(*fila.Job, error) {
					if finished.Add(1) == n {
						close(done)
					}
				}}))
			measure(fmt.Sprintf("processing 1,000 queued jobs, concurrency %d", conc), n, b, cc, 1.5, func() {
				runWorker(t, w)
				<-done
			})
		})
	}

	t.Cleanup(func() {
		t.Logf("%-46s %6s %9s %8s %s", "", "jobs", "commands", "per job", "requests; by script")
		for _, r := range rows {
			t.Logf("%-46s %6d %9d %8.3f %d; %s", r.what, r.jobs, r.commands, float64(r.commands)/float64(r.jobs), r.reqs, r.byScript)
		}
	})
}
