package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/fila-go/fila"
	"github.com/fila-go/fila/backend"
	redisbackend "github.com/fila-go/fila/backend/redis"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

func TestMain(m *testing.M) {
	// pgconn's context watcher may finish a moment after its connection
	// closed (the -postgres tests; backend/postgres ignores it the same way).
	goleak.VerifyTestMain(m, goleak.IgnoreAnyFunction("github.com/jackc/pgx/v5/pgconn/ctxwatch.(*ContextWatcher).Watch.func1"))
}

// now is the frozen clock of every fixture's Redis (its TIME), so job
// times and per-minute metrics are the same on every run.
var now = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

// fixture is a miniredis with known queues, seeded through fila.
type fixture struct {
	t   *testing.T
	ctx context.Context
	mr  *miniredis.Miniredis
	be  backend.Backend
	url string
	ids map[string]string // the IDs of the seeded jobs, by role
}

// newFixture seeds three queues:
//
//	outbound: 1 completed, 1 failed (with logs), 1 delayed by a retry,
//	          1 delayed by its options, 1 prioritized, 1 waiting
//	inbound:  2 jobs, paused
//	reports:  1 active job, rate limited for 90s
func newFixture(t *testing.T) *fixture {
	t.Helper()
	mr := miniredis.RunT(t)
	mr.SetTime(now)
	rdb := redis.NewClient(&redis.Options{Addr: mr.Addr()})
	be := redisbackend.New(rdb)
	t.Cleanup(func() {
		_ = be.Close()
		_ = rdb.Close()
	})
	f := &fixture{t: t, ctx: context.Background(), mr: mr, be: be, url: "redis://" + mr.Addr(), ids: map[string]string{}}

	out := fila.NewQueue(be, "outbound")
	opts := &fila.JobOptions{Attempts: 3, Backoff: fila.Backoff{Type: fila.BackoffExponential, Delay: time.Second}}
	f.ids["completed"] = f.add(out, "send", `{"to":"+15550001"}`, opts)
	f.ids["failed"] = f.add(out, "send", `{"to":"+15550002"}`, opts)
	f.ids["retrying"] = f.add(out, "send", `{"to":"+15550003"}`, opts)
	f.ids["delayed"] = f.add(out, "reminder", `{"to":"+15550004"}`, &fila.JobOptions{Delay: time.Hour})
	f.ids["prioritized"] = f.add(out, "urgent", `{"to":"+15550005"}`, &fila.JobOptions{Priority: 2})
	f.finish("outbound", "t1", f.ids["completed"], func(j *backend.Job, tok string) error {
		_, err := be.JobComplete(f.ctx, &backend.JobCompleteParams{Queue: "outbound", ID: j.ID, Token: tok, ReturnValue: []byte(`{"wamid":"wamid.1"}`)})
		return err
	})
	f.finish("outbound", "t2", f.ids["failed"], func(j *backend.Job, tok string) error {
		for _, line := range []string{"calling the API", "the API said 400"} {
			_, err := be.JobLogAdd(f.ctx, &backend.JobLogAddParams{Queue: "outbound", ID: j.ID, Line: line})
			require.NoError(t, err)
		}
		_, err := be.JobFail(f.ctx, &backend.JobFailParams{Queue: "outbound", ID: j.ID, Token: tok, Reason: "400 bad number"})
		return err
	})
	f.finish("outbound", "t3", f.ids["retrying"], func(j *backend.Job, tok string) error {
		_, err := be.JobFail(f.ctx, &backend.JobFailParams{Queue: "outbound", ID: j.ID, Token: tok, Reason: "503 upstream busy", Retry: true, RetryDelay: 30 * time.Second})
		return err
	})
	f.ids["waiting"] = f.add(out, "send", `{"to":"+15550006"}`, opts)

	in := fila.NewQueue(be, "inbound")
	f.add(in, "webhook", `{"entry":1}`, nil)
	f.add(in, "webhook", `{"entry":2}`, nil)
	require.NoError(t, in.Pause(f.ctx))

	rep := fila.NewQueue(be, "reports")
	f.ids["active"] = f.add(rep, "daily", `{}`, nil)
	res, err := be.JobClaim(f.ctx, &backend.JobClaimParams{Queue: "reports", Token: "t4", LockDuration: time.Hour})
	require.NoError(t, err)
	require.Equal(t, f.ids["active"], res.Job.ID)
	require.NoError(t, rep.RateLimit(f.ctx, 90*time.Second))
	return f
}

func (f *fixture) add(q *fila.Queue, name, data string, opts *fila.JobOptions) string {
	f.t.Helper()
	j, err := q.Add(f.ctx, name, []byte(data), opts)
	require.NoError(f.t, err)
	return j.ID
}

// finish claims the next job, which must be id, and ends it with end.
func (f *fixture) finish(queue, token, id string, end func(*backend.Job, string) error) {
	f.t.Helper()
	res, err := f.be.JobClaim(f.ctx, &backend.JobClaimParams{Queue: queue, Token: token, LockDuration: time.Minute})
	require.NoError(f.t, err)
	require.NotNil(f.t, res.Job)
	require.Equal(f.t, id, res.Job.ID)
	require.NoError(f.t, end(res.Job, token))
}

// fila runs a command line against the fixture's Redis, through the URL
// as a user would, and returns its output and exit status.
func (f *fixture) fila(args ...string) (stdout, stderr string, code int) {
	f.t.Helper()
	var out, errOut bytes.Buffer
	code = run(f.ctx, append([]string{"-redis", f.url}, args...), &out, &errOut, noEnv, openRedis)
	return out.String(), errOut.String(), code
}

// ok runs a command line that must succeed and returns its stdout.
func (f *fixture) ok(args ...string) string {
	f.t.Helper()
	out, errOut, code := f.fila(args...)
	require.Equal(f.t, exitOK, code, "fila %v: %s", args, errOut)
	require.Empty(f.t, errOut)
	return out
}

func (f *fixture) counts(queue string) fila.Counts {
	f.t.Helper()
	c, err := fila.NewQueue(f.be, queue).Counts(f.ctx)
	require.NoError(f.t, err)
	return *c
}

func noEnv(string) string { return "" }

// golden compares got with testdata/name.golden, or rewrites it with -update.
func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name+".golden")
	if *update {
		require.NoError(t, os.WriteFile(path, []byte(got), 0o644))
		return
	}
	want, err := os.ReadFile(path)
	require.NoError(t, err, "run go test -update to create it")
	require.Equal(t, string(want), got, "output differs from %s (go test -update rewrites it)", path)
}

func TestGolden(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		args []string
	}{
		{"stats", []string{"stats"}},
		{"stats_named", []string{"stats", "outbound", "inbound"}},
		{"list_failed", []string{"list", "outbound", "failed"}},
		{"list_delayed", []string{"list", "outbound", "delayed"}},
		{"list_completed", []string{"list", "outbound", "completed"}},
		{"list_active", []string{"list", "reports", "active"}},
		{"list_paused", []string{"list", "inbound", "paused"}},
		{"list_page", []string{"list", "-offset", "1", "outbound", "delayed", "-limit", "1"}},
		{"list_empty", []string{"list", "outbound", "active"}},
		{"list_past_the_end", []string{"list", "outbound", "delayed", "-offset", "5"}},
		{"show_failed", []string{"show", "outbound", "2"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t)
			golden(t, tc.name, f.ok(tc.args...))
		})
	}
}

func TestJSON(t *testing.T) {
	t.Parallel()

	t.Run("StatsEqualCounts", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t)
		var rows []struct {
			Queue          string      `json:"queue"`
			Counts         fila.Counts `json:"counts"`
			Paused         bool        `json:"paused"`
			RateLimitedFor int64       `json:"rate_limited_ms"`
			Completed1m    int64       `json:"completed_1m"`
			Failed15m      int64       `json:"failed_15m"`
			PerMinute      []int64     `json:"completed_per_minute"`
		}
		require.NoError(t, json.Unmarshal([]byte(f.ok("stats", "-json")), &rows))
		require.Len(t, rows, 3)
		for i, name := range []string{"inbound", "outbound", "reports"} {
			require.Equal(t, name, rows[i].Queue, "sorted by name")
			require.Equal(t, f.counts(name), rows[i].Counts, name)
		}
		require.True(t, rows[0].Paused)
		require.Equal(t, int64(1), rows[1].Completed1m)
		require.Equal(t, int64(1), rows[1].Failed15m)
		require.Len(t, rows[1].PerMinute, statsMinutes)
		require.Equal(t, int64(90_000), rows[2].RateLimitedFor)
	})

	t.Run("ListHasEveryFieldAndTheTotal", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t)
		var page struct {
			Queue string           `json:"queue"`
			State string           `json:"state"`
			Total int64            `json:"total"`
			Jobs  []map[string]any `json:"jobs"`
		}
		require.NoError(t, json.Unmarshal([]byte(f.ok("--json", "list", "outbound", "delayed", "-limit", "1")), &page))
		require.Equal(t, "outbound", page.Queue)
		require.Equal(t, "delayed", page.State)
		require.Equal(t, int64(2), page.Total)
		require.Len(t, page.Jobs, 1, "-limit 1")
		j := page.Jobs[0]
		require.Equal(t, f.ids["retrying"], j["id"], "the retry is due first")
		require.Equal(t, map[string]any{"to": "+15550003"}, j["data"], "JSON payloads stay JSON")
		require.Equal(t, "503 upstream busy", j["failed_reason"])
		require.Equal(t, now.Add(30*time.Second).Format(time.RFC3339), j["due_at"])
		require.Equal(t, map[string]any{"attempts": 3.0, "backoff": "exponential 1s", "remove_on_complete": "keep", "remove_on_fail": "keep"}, j["options"])
	})

	t.Run("ShowHasLogs", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t)
		var j map[string]any
		require.NoError(t, json.Unmarshal([]byte(f.ok("show", "outbound", f.ids["failed"], "-json")), &j))
		require.Equal(t, "failed", j["state"])
		require.Equal(t, []any{"calling the API", "the API said 400"}, j["logs"])
		require.Equal(t, 2.0, j["logs_total"])
		require.Equal(t, "400 bad number", j["failed_reason"])
	})
}

func TestMutatingCommands(t *testing.T) {
	t.Parallel()

	t.Run("RetryMovesAFailedJobToWaiting", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t)
		before := f.counts("outbound")
		require.Equal(t, "retried job 2 in outbound\n", f.ok("retry", "outbound", f.ids["failed"]))
		after := f.counts("outbound")
		require.Equal(t, before.Failed-1, after.Failed)
		require.Equal(t, before.Waiting+1, after.Waiting)
		j, err := fila.NewQueue(f.be, "outbound").GetJob(f.ctx, f.ids["failed"])
		require.NoError(t, err)
		require.Zero(t, j.AttemptsMade, "attempts reset")
	})

	t.Run("RetryAllFailed", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t)
		var r result
		require.NoError(t, json.Unmarshal([]byte(f.ok("retry", "outbound", "-all-failed", "-json")), &r))
		require.Equal(t, result{Queue: "outbound", Action: "retried", Count: 1}, r)
		require.Zero(t, f.counts("outbound").Failed)
		require.Equal(t, "retried 0 failed jobs in outbound\n", f.ok("retry", "-all-failed", "outbound"))
	})

	t.Run("PromoteMovesADelayedJobToWaiting", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t)
		before := f.counts("outbound")
		require.Equal(t, "promoted job 4 in outbound\n", f.ok("promote", "outbound", f.ids["delayed"]))
		after := f.counts("outbound")
		require.Equal(t, before.Delayed-1, after.Delayed)
		require.Equal(t, before.Waiting+1, after.Waiting)
	})

	t.Run("RemoveDeletesAJob", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t)
		require.Equal(t, "removed job 1 from outbound\n", f.ok("remove", "outbound", f.ids["completed"]))
		require.Zero(t, f.counts("outbound").Completed)
		_, errOut, code := f.fila("show", "outbound", f.ids["completed"])
		require.Equal(t, exitFail, code)
		require.Equal(t, "fila: get job \"1\" from \"outbound\": job not found\n", errOut)
	})

	t.Run("CancelFailsAJob", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t)
		before := f.counts("outbound")
		require.Equal(t, "cancelled job 4 in outbound\n", f.ok("cancel", "outbound", f.ids["delayed"]))
		after := f.counts("outbound")
		require.Equal(t, before.Delayed-1, after.Delayed)
		require.Equal(t, before.Failed+1, after.Failed)
		j, err := fila.NewQueue(f.be, "outbound").GetJob(f.ctx, f.ids["delayed"])
		require.NoError(t, err)
		require.Equal(t, "cancelled", j.FailedReason)
		_, errOut, code := f.fila("cancel", "outbound", f.ids["delayed"])
		require.Equal(t, exitFail, code)
		require.Contains(t, errOut, `job "4" is failed`)
		require.Equal(t, "cancelled job "+f.ids["active"]+" in reports\n", f.ok("cancel", "reports", f.ids["active"]))
		require.Zero(t, f.counts("reports").Active, "a running job is failed at once")
	})

	t.Run("RemoveRefusesAnActiveJob", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t)
		_, errOut, code := f.fila("remove", "reports", f.ids["active"])
		require.Equal(t, exitFail, code)
		require.Contains(t, errOut, "job is active")
		require.Equal(t, int64(1), f.counts("reports").Active)
	})

	t.Run("CleanRemovesOnlyJobsOlderThanAge", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t)
		require.Equal(t, "removed 0 failed jobs older than 1h0m0s from outbound\n", f.ok("clean", "outbound", "failed", "-age", "1h"))
		require.Equal(t, int64(1), f.counts("outbound").Failed)
		f.mr.SetTime(now.Add(2 * time.Hour))
		require.Equal(t, "removed 1 failed job older than 1h0m0s from outbound\n", f.ok("clean", "outbound", "failed", "-age", "1h"))
		require.Zero(t, f.counts("outbound").Failed)
		var r result
		require.NoError(t, json.Unmarshal([]byte(f.ok("clean", "outbound", "completed", "-all", "-limit", "5", "-json")), &r))
		require.Equal(t, result{Queue: "outbound", Action: "cleaned", Count: 1, IDs: []string{f.ids["completed"]}}, r)
		require.Zero(t, f.counts("outbound").Completed)
	})

	t.Run("PauseAndResume", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t)
		q := fila.NewQueue(f.be, "outbound")
		require.Equal(t, "paused outbound\n", f.ok("pause", "outbound"))
		paused, err := q.IsPaused(f.ctx)
		require.NoError(t, err)
		require.True(t, paused)
		require.Contains(t, f.ok("stats", "outbound"), "outbound  paused")
		require.Equal(t, "resumed outbound\n", f.ok("resume", "outbound"))
		paused, err = q.IsPaused(f.ctx)
		require.NoError(t, err)
		require.False(t, paused)
	})

	t.Run("DrainRemovesJobsThatHaveNotStarted", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t)
		require.Equal(t, "drained outbound: removed 2 jobs\n", f.ok("drain", "outbound"))
		c := f.counts("outbound")
		require.Equal(t, fila.Counts{Delayed: 2, Completed: 1, Failed: 1}, c)
		require.Equal(t, "drained outbound: removed 2 jobs\n", f.ok("drain", "outbound", "-delayed"))
		require.Equal(t, fila.Counts{Completed: 1, Failed: 1}, f.counts("outbound"))
	})

	t.Run("ObliterateRefusesActiveJobsUnlessForced", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t)
		_, errOut, code := f.fila("obliterate", "reports")
		require.Equal(t, exitFail, code)
		require.Equal(t, "fila: obliterate \"reports\": queue has active jobs (stop its workers, or use -force)\n", errOut)
		require.Equal(t, int64(1), f.counts("reports").Active)

		require.Equal(t, "obliterated reports\n", f.ok("obliterate", "reports", "-force"))
		require.Equal(t, fila.Counts{}, f.counts("reports"))
		names, err := f.be.QueueList(f.ctx)
		require.NoError(t, err)
		require.NotContains(t, names, "reports")
	})
}

func TestCommandLine(t *testing.T) {
	t.Parallel()

	t.Run("HelpGoesToStdoutAndExitsZero", func(t *testing.T) {
		t.Parallel()
		for _, args := range [][]string{{"-h"}, {"--help"}, {"help"}} {
			var out, errOut bytes.Buffer
			require.Equal(t, exitOK, run(context.Background(), args, &out, &errOut, noEnv, unreachable(t)), "%v", args)
			require.Contains(t, out.String(), "usage: fila [global flags] <command> [arguments]")
			for _, c := range commands() {
				require.Contains(t, out.String(), "\n  "+c.name+" ", "%v lists %s", args, c.name)
			}
			for _, form := range []string{"redis+cluster://", "redis+sentinel://", "sentinel_password", "max_retries is -1"} {
				require.Contains(t, out.String(), form, "%v explains the Redis URLs", args)
			}
			for _, form := range []string{"$UPSTASH_REDIS_REST_URL and $UPSTASH_REDIS_REST_TOKEN", "-redis https://", "-job-buckets"} {
				require.Contains(t, out.String(), form, "%v explains how to reach Upstash", args)
			}
			require.Empty(t, errOut.String())
		}
		for _, args := range [][]string{{"list", "-h"}, {"help", "list"}} {
			var out bytes.Buffer
			require.Equal(t, exitOK, run(context.Background(), args, &out, &bytes.Buffer{}, noEnv, unreachable(t)))
			require.Contains(t, out.String(), "usage: fila list <queue> <state> [-offset N] [-limit N]")
			require.Contains(t, out.String(), "-offset N")
		}
	})

	t.Run("UsageErrorsExitTwoBeforeConnecting", func(t *testing.T) {
		t.Parallel()
		for _, tc := range []struct {
			args []string
			want string
		}{
			{nil, "fila: no command given"},
			{[]string{"frobnicate"}, `fila: unknown command "frobnicate"`},
			{[]string{"list", "outbound"}, "fila list: missing arguments: want <queue> <state> [-offset N] [-limit N]"},
			{[]string{"list", "outbound", "done"}, `fila list: unknown state "done": want one of waiting, prioritized, paused, delayed, waiting-children, active, completed, failed`},
			{[]string{"list", "outbound", "failed", "-limit", "0"}, "fila list: -offset must be >= 0 and -limit >= 1"},
			{[]string{"list", "outbound", "failed", "-bogus"}, "fila list: flag provided but not defined: -bogus"},
			{[]string{"show", "outbound", "1", "2"}, "fila show: too many arguments"},
			{[]string{"retry", "outbound"}, "fila retry: give a job ID, or -all-failed"},
			{[]string{"retry", "outbound", "1", "-all-failed"}, "fila retry: give a job ID or -all-failed, not both"},
			{[]string{"clean", "outbound", "active"}, "fila clean: active jobs cannot be cleaned"},
			{[]string{"clean", "outbound", "failed", "-age", "soon"}, `fila clean: invalid value "soon" for flag -age`},
			{[]string{"clean", "outbound", "failed"}, "fila clean: give -age DURATION to remove the failed jobs older than it, or -all to remove every one"},
			{[]string{"clean", "outbound", "failed", "-age", "0s"}, "fila clean: give -age DURATION"},
			{[]string{"clean", "outbound", "failed", "-age", "1h", "-all"}, "fila clean: give -age or -all, not both"},
			{[]string{"-timeout", "0", "stats"}, "fila stats: -timeout must be positive"},
		} {
			var out, errOut bytes.Buffer
			code := run(context.Background(), tc.args, &out, &errOut, noEnv, unreachable(t))
			require.Equal(t, exitUsage, code, "%v: %s", tc.args, errOut.String())
			require.True(t, strings.HasPrefix(errOut.String(), tc.want), "%v: got %q", tc.args, errOut.String())
			require.Contains(t, errOut.String(), "usage: fila", "%v prints the usage", tc.args)
			require.Empty(t, out.String())
		}
	})

	t.Run("FlagsMayFollowTheCommand", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t)
		var out bytes.Buffer
		code := run(f.ctx, []string{"list", "outbound", "failed", "-redis", f.url, "--json"}, &out, &bytes.Buffer{}, noEnv, openRedis)
		require.Equal(t, exitOK, code)
		require.True(t, json.Valid(out.Bytes()))
	})

	t.Run("RedisURLComesFromTheEnvironment", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t)
		var out, errOut bytes.Buffer
		env := func(k string) string {
			if k == "FILA_REDIS_URL" {
				return f.url
			}
			return ""
		}
		require.Equal(t, exitOK, run(f.ctx, []string{"stats", "reports"}, &out, &errOut, env, openRedis), errOut.String())
		require.Contains(t, out.String(), "reports")
	})

	t.Run("ConnectionErrorsNameTheURLWithoutItsPassword", func(t *testing.T) {
		t.Parallel()
		mr := miniredis.RunT(t)
		addr := mr.Addr()
		mr.Close() // nothing listens there now
		var errOut bytes.Buffer
		code := run(context.Background(), []string{"-redis", "redis://:s3cret@" + addr, "-timeout", "5s", "stats"}, &bytes.Buffer{}, &errOut, noEnv, openRedis)
		require.Equal(t, exitFail, code)
		require.True(t, strings.HasPrefix(errOut.String(), `fila: connect to "redis://:xxxxx@`+addr+`": `), errOut.String())
		require.NotContains(t, errOut.String(), "s3cret")

		errOut.Reset()
		code = run(context.Background(), []string{"-redis", "ftp://" + addr, "stats"}, &bytes.Buffer{}, &errOut, noEnv, openRedis)
		require.Equal(t, exitFail, code)
		require.Contains(t, errOut.String(), `fila: redis URL "ftp://`+addr+`": `)
	})

	t.Run("AnUnknownQueueFailsNamingTheKnownOnes", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t)
		for _, args := range [][]string{
			{"stats", "nosuchqueue"},
			{"stats", "outbound", "nosuchqueue"},
			{"list", "nosuchqueue", "waiting"},
			{"show", "nosuchqueue", "1"},
			{"retry", "nosuchqueue", "-all-failed"},
			{"promote", "nosuchqueue", "1"},
			{"remove", "nosuchqueue", "1"},
			{"cancel", "nosuchqueue", "1"},
			{"clean", "nosuchqueue", "failed", "-all"},
			{"drain", "nosuchqueue"},
		} {
			out, errOut, code := f.fila(args...)
			require.Equal(t, exitFail, code, "%v", args)
			require.Empty(t, out, "%v", args)
			require.Equal(t, "fila: no queue \"nosuchqueue\"; the queues are: inbound, outbound, reports\n", errOut, "%v", args)
		}
		_, errOut, code := f.fila("-prefix", "other", "list", "outbound", "waiting")
		require.Equal(t, exitFail, code)
		require.Equal(t, "fila: no queue \"outbound\": there are no queues under the key prefix \"other\"\n", errOut)
		require.Equal(t, "paused later\n", f.ok("pause", "later"), "pausing a queue before its first job is allowed")
	})

	t.Run("CleanAllRemovesEveryJobInTheState", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t)
		require.Equal(t, "removed 1 failed job from outbound\n", f.ok("clean", "outbound", "failed", "-all"))
		require.Zero(t, f.counts("outbound").Failed)
	})

	t.Run("PrefixSelectsTheKeys", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t)
		require.Equal(t, "no queues yet\n", f.ok("-prefix", "other", "stats"))
		require.Equal(t, "[]\n", f.ok("-prefix", "other", "stats", "-json"))
	})
}

// unreachable is an opener for command lines that must fail before
// connecting.
func unreachable(t *testing.T) opener {
	return func(context.Context, storeTarget) (backend.Backend, func() error, error) {
		t.Error("the command connected")
		return nil, nil, context.Canceled
	}
}
