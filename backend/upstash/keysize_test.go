package upstash_test

import (
	"fmt"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/fila-go/fila/backend"
	"github.com/fila-go/fila/backend/upstash"
)

// keySizeJobs and keySizeDone are the jobs TestKeySizesAt100kJobs adds and,
// of those, completes and keeps.
const (
	keySizeJobs = 100_000
	keySizeDone = 2_000 // enough for a sorted set's per-member size (past listpack's 128)
	keySizeData = 1024
	// keySizeLimit is the size no key may pass at 1,000,000 jobs: Upstash
	// refuses a key over 100 MB; 64 MB leaves room for larger jobs.
	keySizeLimit = 64 << 20
)

// A queue over REST with the default job buckets holds 100,000 jobs of
// 1 KiB (2,000 of them completed and kept) with every key's size
// measured by MEMORY USAGE on a real redis-server. The job buckets hold
// every job whatever its state, so their size scales with the job count:
// at 1,000,000 jobs the largest is ten times today's, and must stay under
// 64 MB. The waiting list is extrapolated the same way, as if all 1M jobs
// waited. The finished sets are reported, not asserted: they hold at most
// the retention's count (see backend.DefaultKeepCompleted). Run with -v
// for the table. About 7 s (up to 15 s on two busy cores), so -short runs
// it too. The race detector makes it 150 s (encoding 100 MB of JSON twice)
// and changes no size, so it is skipped under -race: CI's plain go test
// run (the oldest Go release) runs it.
func TestKeySizesAt100kJobs(t *testing.T) {
	if raceEnabled {
		t.Skip("adds 100,000 jobs of 1 KiB, 150 s under the race detector; run without -race")
	}
	b := realBundle(t)
	cfg := b.config()
	cfg.Timeout = 2 * time.Minute // a 1 MB add request under -race on a busy machine
	be := newBackend(t, cfg)
	const q = "big"
	start := time.Now()

	data := []byte(strings.Repeat("x", keySizeData))
	for added := 0; added < keySizeJobs; added += 1000 {
		items := make([]backend.JobAddItem, 1000)
		for i := range items {
			items[i] = backend.JobAddItem{Name: "send", Data: data, Options: backend.JobOptions{Attempts: 1}}
		}
		_, err := be.JobAdd(ctx, &backend.JobAddParams{Queue: q, Jobs: items})
		require.NoError(t, err)
	}
	keep := backend.Retention{KeepLast: keySizeDone} // every completed job stays
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for w := range 8 {
		wg.Add(1)
		go func() { // each finish claims the worker's next job in the same call
			defer wg.Done()
			tok := fmt.Sprintf("w%d-0", w)
			res, err := be.JobClaim(ctx, &backend.JobClaimParams{Queue: q, Token: tok, LockDuration: time.Minute})
			for i := 1; err == nil && i <= keySizeDone/8; i++ {
				if res.Job == nil {
					err = fmt.Errorf("worker %d found no job after %d", w, i-1)
					break
				}
				var next *backend.JobClaimParams
				nextTok := fmt.Sprintf("w%d-%d", w, i)
				if i < keySizeDone/8 {
					next = &backend.JobClaimParams{Queue: q, Token: nextTok, LockDuration: time.Minute}
				}
				var done *backend.JobClaimResult
				done, err = be.JobComplete(ctx, &backend.JobCompleteParams{Queue: q, ID: res.Job.ID, Token: tok, Retention: keep, Next: next})
				res, tok = done, nextTok
				if next == nil {
					break
				}
			}
			if err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	c, err := be.QueueCounts(ctx, &backend.QueueParams{Queue: q})
	require.NoError(t, err)
	require.Equal(t, backend.Counts{Waiting: keySizeJobs - keySizeDone, Completed: keySizeDone}, *c)
	t.Logf("added %d jobs and completed %d in %s", keySizeJobs, keySizeDone, time.Since(start).Round(time.Millisecond))

	keys, err := b.rdb.Keys(ctx, "fila:{"+q+"}:*").Result()
	require.NoError(t, err)
	sort.Strings(keys)
	size := make(map[string]int64, len(keys))
	var buckets, largestBucket, total int64
	for _, k := range keys {
		n, err := b.rdb.MemoryUsage(ctx, k, 0).Result() // SAMPLES 0: every element
		require.NoError(t, err)
		size[k] = n
		total += n
		if isBucket(k) {
			buckets++
			largestBucket = max(largestBucket, n)
		}
	}
	require.EqualValues(t, upstash.DefaultJobBuckets, buckets, "keys: %v", keys)
	for _, k := range keys {
		if !isBucket(k) || size[k] == largestBucket {
			t.Logf("%-28s %11d bytes", k, size[k])
		}
	}
	wait := size["fila:{"+q+"}:wait"]
	done := size["fila:{"+q+"}:completed"]
	t.Logf("largest job bucket %d bytes, %d bytes per job over all keys; at 1,000,000 jobs: largest bucket ~%d MB",
		largestBucket, total/keySizeJobs, largestBucket*10>>20)
	t.Logf("waiting list %.1f bytes per job (1M waiting: ~%d MB); completed set %.1f bytes per job (1M kept: ~%d MB)",
		float64(wait)/(keySizeJobs-keySizeDone), wait*1_000_000/(keySizeJobs-keySizeDone)>>20,
		float64(done)/keySizeDone, done*1_000_000/keySizeDone>>20)

	// The buckets hold every job's fields: at 1M jobs each is 10x its size
	// now. A bucket's share is 1/32 of the jobs, give or take the hash's
	// spread, which the largest bucket's size includes.
	require.Less(t, largestBucket*10, int64(keySizeLimit), "the largest job bucket at 1,000,000 jobs")
	require.Less(t, wait*1_000_000/(keySizeJobs-keySizeDone), int64(keySizeLimit), "the waiting list at 1,000,000 jobs")
	// The event stream is capped by entries (WithEventsMaxLen, default
	// 10,000; XADD MAXLEN ~ trims whole nodes of 100), whatever the job
	// count; the rest hold a few fields each.
	n, err := b.rdb.XLen(ctx, "fila:{"+q+"}:events").Result()
	require.NoError(t, err)
	require.LessOrEqual(t, n, int64(10_000+100))
	for _, k := range keys {
		if !isBucket(k) && k != "fila:{"+q+"}:wait" && k != "fila:{"+q+"}:completed" && k != "fila:{"+q+"}:events" {
			require.Less(t, size[k], int64(1<<10), "%s does not grow with the job count", k)
		}
	}
}

// isBucket reports whether k is one of a queue's job buckets: "...:jobs"
// or "...:jobs:<n>".
func isBucket(k string) bool { return strings.HasSuffix(k, ":jobs") || strings.Contains(k, ":jobs:") }
