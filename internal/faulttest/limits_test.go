package faulttest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/fila-go/fila"
	"github.com/fila-go/fila/backend"
	redisbackend "github.com/fila-go/fila/backend/redis"
	"github.com/fila-go/fila/internal/redistest"
)

type redisBundle struct {
	srv *redistest.Server
	rdb *redis.Client
	be  *redisbackend.Backend
}

func startRedis(t *testing.T) *redisBundle {
	t.Helper()
	srv := redistest.Start(t)
	b := &redisBundle{srv: srv, rdb: redis.NewClient(&redis.Options{Addr: srv.Addr, Protocol: 2})}
	b.be = redisbackend.New(b.rdb)
	t.Cleanup(func() { b.be.Close(); b.rdb.Close() })
	return b
}

// runWorker runs w until the test ends.
func runWorker(t *testing.T, w *fila.Worker) {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- w.Run(context.Background()) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		require.NoError(t, w.Close(ctx))
		require.NoError(t, <-done)
	})
}

// The payload limit holds at Add on the Redis backend: a payload at the
// limit is stored and handed to the handler byte for byte; one byte over is
// a ValidationError naming the data, and nothing is stored, in Add and in
// AddBulk alike.
func TestLimitMaxDataSizeThroughRedis(t *testing.T) {
	b := startRedis(t)
	ctx := context.Background()
	q := fila.NewQueue(b.be, "big")

	atLimit := bytes.Repeat([]byte("x"), fila.DefaultMaxDataSize)
	over := append(slices.Clone(atLimit), 'y')
	_, err := q.Add(ctx, "big", over, nil)
	var ve *fila.ValidationError
	require.ErrorAs(t, err, &ve)
	require.ErrorIs(t, err, fila.ErrInvalid)
	require.Equal(t, "data", ve.Field)
	require.Contains(t, err.Error(), "data is 1048577 B, limit 1048576 B")
	_, err = q.AddBulk(ctx, []fila.BulkJob{{Name: "small", Data: []byte("1")}, {Name: "big", Data: over}})
	require.ErrorIs(t, err, fila.ErrInvalid, "one oversized job fails the whole bulk add")
	c, err := q.Counts(ctx)
	require.NoError(t, err)
	require.Equal(t, fila.Counts{}, *c, "nothing was stored")

	job, err := q.Add(ctx, "big", atLimit, nil)
	require.NoError(t, err)
	got := make(chan []byte, 1)
	runWorker(t, mustWorker(t)(fila.NewWorker(b.be, "big", func(ctx context.Context, j *fila.Job) (any, error) {
		got <- j.Data
		return nil, nil
	}, fila.WorkerOptions{})))
	select {
	case data := <-got:
		require.Equal(t, atLimit, data, "the handler gets the payload intact")
	case <-time.After(30 * time.Second):
		t.Fatal("the job at the limit did not run")
	}
	stored, err := q.GetJob(ctx, job.ID)
	require.NoError(t, err)
	require.Len(t, stored.Data, fila.DefaultMaxDataSize)

	small := fila.NewQueue(b.be, "small", fila.QueueOptions{MaxDataSize: 100})
	_, err = small.Add(ctx, "j", make([]byte, 101), nil)
	require.ErrorIs(t, err, fila.ErrInvalid)
	_, err = small.Add(ctx, "j", make([]byte, 100), nil)
	require.NoError(t, err)
}

// A queue with a million waiting jobs claims in the same time as one with a
// thousand: every claim path (the claim script, and BLMOVE with the script
// that finalizes it) is O(1) in the queue's length. Long-running: it adds a
// million jobs; run by the soak command (FILA_SOAK=1), skipped otherwise.
func TestLimitClaimTimeFlatAtOneMillionWaiting(t *testing.T) {
	if testing.Short() || !Soak() {
		t.Skip("adds 1,000,000 jobs; run with FILA_SOAK=1 (scripts/soak.sh)")
	}
	b := startRedis(t)
	ctx := context.Background()
	const queue = "million"
	q := fila.NewQueue(b.be, queue)
	add := func(n int) {
		opts := &fila.JobOptions{RemoveOnComplete: fila.RemoveJob}
		for start := 0; start < n; start += 10000 {
			chunk := make([]fila.BulkJob, min(10000, n-start))
			for k := range chunk {
				chunk[k] = fila.BulkJob{Name: "j", Data: []byte(`{"n":1}`), Options: opts}
			}
			_, err := q.AddBulk(ctx, chunk)
			require.NoError(t, err)
		}
	}
	var tok atomic.Int64
	// measure claims and completes samples jobs, timing each claim.
	measure := func(wait time.Duration, samples int) []time.Duration {
		out := make([]time.Duration, 0, samples)
		for range samples {
			p := &backend.JobClaimParams{Queue: queue, Token: "t:" + strconv.FormatInt(tok.Add(1), 10), LockDuration: time.Minute, Wait: wait}
			t0 := time.Now()
			res, err := b.be.JobClaim(ctx, p)
			d := time.Since(t0)
			require.NoError(t, err)
			require.NotNil(t, res.Job)
			out = append(out, d)
			_, err = b.be.JobComplete(ctx, &backend.JobCompleteParams{Queue: queue, ID: res.Job.ID, Token: p.Token, Retention: fila.RemoveJob})
			require.NoError(t, err)
		}
		slices.Sort(out)
		return out
	}
	pct := func(s []time.Duration, p float64) time.Duration { return s[int(float64(len(s)-1)*p)] }
	const samples = 3000
	add(1000 + 2*samples)
	// Warm up: scripts loaded, connections open, the due time known.
	measure(0, 200)
	smallScript := measure(0, samples)
	smallBlock := measure(time.Second, samples)
	c, err := q.Counts(ctx)
	require.NoError(t, err)
	require.Equal(t, int64(800), c.Waiting)

	addStart := time.Now()
	add(1_000_000)
	addTook := time.Since(addStart)
	mem, err := UsedMemory(ctx, b.rdb)
	require.NoError(t, err)
	measure(0, 200)
	bigScript := measure(0, samples)
	bigBlock := measure(time.Second, samples)
	c, err = q.Counts(ctx)
	require.NoError(t, err)
	require.Greater(t, c.Waiting, int64(990_000))

	row := func(name string, s []time.Duration) string {
		return fmt.Sprintf("| %s | %s | %s | %s |", name, pct(s, 0.5), pct(s, 0.9), pct(s, 0.99))
	}
	WriteNote(t, "claim latency (%d claims each; 1,000,000 jobs added in %s, used_memory %d MiB):", samples, addTook.Round(time.Millisecond), mem>>20)
	WriteNote(t, "| waiting, claim path | p50 | p90 | p99 |\n|---|---|---|---|")
	WriteNote(t, "%s", row("6,800 → 3,800, claim with Wait 0 (claim script)", smallScript))
	WriteNote(t, "%s", row("1,000,800 → 997,800, claim with Wait 0 (claim script)", bigScript))
	WriteNote(t, "%s", row("3,800 → 800, claim with Wait 1s (blocking path)", smallBlock))
	WriteNote(t, "%s", row("997,800 → 994,800, claim with Wait 1s (blocking path)", bigBlock))
	// Same within noise: a loose bound, since this machine is shared.
	require.Less(t, pct(bigScript, 0.5), 2*pct(smallScript, 0.5)+200*time.Microsecond, "claim script p50 grows with the queue")
	require.Less(t, pct(bigBlock, 0.5), 2*pct(smallBlock, 0.5)+200*time.Microsecond, "BLMOVE claim p50 grows with the queue")
}

// A retry storm (every attempt fails, with backoff, for thousands of
// attempts) keeps Redis memory bounded: used_memory plateaus once the
// capped event stream is full.
func TestLimitRetryStormMemoryPlateaus(t *testing.T) {
	b := startRedis(t)
	ctx := context.Background()
	const queue, jobs = "storm", 1000
	run := Size(15*time.Second, 60*time.Second)
	q := fila.NewQueue(b.be, queue)
	// A subscriber reads the events all along, so the stream is written (a
	// queue nobody listens to writes none) and fills to its cap: the worst
	// case for memory.
	sub, err := q.Subscribe(ctx)
	require.NoError(t, err)
	t.Cleanup(func() { _ = sub.Close() })
	go func() {
		for range sub.C { // drained until Close ends the subscription
		}
	}()
	before, err := UsedMemory(ctx, b.rdb)
	require.NoError(t, err)
	opts := &fila.JobOptions{Attempts: 1_000_000, Backoff: fila.Backoff{Type: fila.BackoffFixed, Delay: 20 * time.Millisecond, Jitter: 0.5}}
	chunk := make([]fila.BulkJob, jobs)
	for i := range chunk {
		chunk[i] = fila.BulkJob{Name: "storm", Data: []byte(`{"to":"+15550000000"}`), Options: opts}
	}
	_, err = q.AddBulk(ctx, chunk)
	require.NoError(t, err)

	var attempts atomic.Int64
	fail := errors.New("upstream said 503: service unavailable, try again later")
	w := mustWorker(t)(fila.NewWorker(b.be, queue, func(context.Context, *fila.Job) (any, error) {
		attempts.Add(1)
		return nil, fail
	}, fila.WorkerOptions{Concurrency: 20}))
	runWorker(t, w)

	type sample struct {
		at       time.Duration
		mem      int64
		attempts int64
	}
	// Memory grows while the event stream fills to its cap (~10,000
	// entries); how fast depends on how fast the machine runs the storm.
	// The plateau is judged once the stream is full, however long that
	// takes (a loaded machine took over 15s).
	stream := "fila:{" + queue + "}:events"
	filled := time.Now()
	for {
		n, err := b.rdb.XLen(ctx, stream).Result()
		require.NoError(t, err)
		if n >= 9_900 {
			break
		}
		require.Less(t, time.Since(filled), 5*time.Minute, "the event stream never filled (%d entries): is the storm running?", n)
		time.Sleep(200 * time.Millisecond)
	}
	WriteNote(t, "retry storm: the event stream filled after %s", time.Since(filled).Round(time.Second))
	var samples []sample
	start := time.Now()
	for time.Since(start) < run {
		time.Sleep(500 * time.Millisecond)
		m, err := UsedMemory(ctx, b.rdb)
		require.NoError(t, err)
		samples = append(samples, sample{time.Since(start), m, attempts.Load()})
	}
	xlen, err := b.rdb.XLen(ctx, stream).Result()
	require.NoError(t, err)
	c, err := q.Counts(ctx)
	require.NoError(t, err)
	require.Equal(t, int64(jobs), c.Waiting+c.Delayed+c.Active, "every job is still there, retrying: %+v", *c)
	require.Zero(t, c.Failed)

	third := len(samples) / 3
	peak := func(s []sample) int64 {
		m := int64(0)
		for _, x := range s {
			m = max(m, x.mem)
		}
		return m
	}
	mid, last := peak(samples[third:2*third]), peak(samples[2*third:])
	total := samples[len(samples)-1].attempts
	WriteNote(t, "retry storm: %d jobs failing every attempt (fixed 20ms backoff, jitter 0.5) for %s: %d attempts; used_memory before %d KiB, peak of the middle third %d KiB, of the last third %d KiB; event stream %d entries (cap ~10,000)",
		jobs, run, total, before>>10, mid>>10, last>>10, xlen)
	var curve []string
	for i, s := range samples {
		if i%max(1, len(samples)/10) == 0 || i == len(samples)-1 {
			curve = append(curve, fmt.Sprintf("%.0fs %d KiB (%d attempts)", s.at.Seconds(), s.mem>>10, s.attempts))
		}
	}
	WriteNote(t, "used_memory over time: %v", curve)
	require.Greater(t, total, int64(10*jobs), "the storm should retry each job many times")
	require.LessOrEqual(t, xlen, int64(11000), "the event stream is capped")
	require.LessOrEqual(t, last, mid+mid/10+512<<10, "used_memory keeps growing in the last third of the storm")
}
