package upstash_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/fila-go/fila/backend"
	redisbackend "github.com/fila-go/fila/backend/redis"
	"github.com/fila-go/fila/backend/upstash"
)

var ctx = context.Background()

// addJobs adds jobs with the given data to queue q and returns their IDs.
func addJobs(t *testing.T, be backend.Backend, q string, data ...[]byte) []string {
	t.Helper()
	items := make([]backend.JobAddItem, len(data))
	for i, d := range data {
		items[i] = backend.JobAddItem{Name: fmt.Sprintf("job-%d", i), Data: d, Options: backend.JobOptions{Attempts: 1}}
	}
	res, err := be.JobAdd(ctx, &backend.JobAddParams{Queue: q, Jobs: items})
	require.NoError(t, err)
	ids := make([]string, len(res))
	for i, r := range res {
		ids[i] = r.ID
	}
	return ids
}

func waiting(t *testing.T, be backend.Backend, q string) int64 {
	t.Helper()
	c, err := be.QueueCounts(ctx, &backend.QueueParams{Queue: q})
	require.NoError(t, err)
	return c.Waiting
}

// warm runs the scripts the tests use once, so the server has them and
// later calls need no NOSCRIPT fallback.
func warm(t *testing.T, be backend.Backend) {
	t.Helper()
	addJobs(t, be, "warm", []byte("1"))
	addJobs(t, be, "warm", []byte("2"), []byte("3"))
	waiting(t, be, "warm")
	_, err := be.JobClaim(ctx, &backend.JobClaimParams{Queue: "warm", Token: "warm", LockDuration: time.Minute})
	require.NoError(t, err)
}

// respond replaces the emulator's answer with status and body.
func respond(w http.ResponseWriter, status int, body string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write([]byte(body))
}

// forward runs the request on the emulator and discards its answer, so the
// command runs while the client sees something else.
func forward(next http.Handler, r *http.Request) {
	next.ServeHTTP(httptest.NewRecorder(), r)
}

// dropConn closes the client's connection without an answer.
func dropConn(t *testing.T, w http.ResponseWriter) {
	conn, _, err := http.NewResponseController(w).Hijack()
	require.NoError(t, err)
	conn.Close()
}

func TestRequests(t *testing.T) {
	t.Parallel()

	t.Run("carry the bearer token, JSON and base64 encoding, and echo the sync token", func(t *testing.T) {
		t.Parallel()
		b := miniBundle(t)
		be := newBackend(t, b.config())
		warm(t, be)
		var mu sync.Mutex
		var reqs []*http.Request
		b.setWrap(func(w http.ResponseWriter, r *http.Request, next http.Handler) {
			mu.Lock()
			reqs = append(reqs, r.Clone(context.Background()))
			mu.Unlock()
			next.ServeHTTP(w, r)
		})
		require.NoError(t, be.Ping(ctx))
		waiting(t, be, "headers")
		mu.Lock()
		defer mu.Unlock()
		require.Len(t, reqs, 2)
		for _, r := range reqs {
			require.Equal(t, http.MethodPost, r.Method)
			require.Equal(t, "/", r.URL.Path)
			require.Equal(t, "Bearer "+testToken, r.Header.Get("Authorization"))
			require.Equal(t, "application/json", r.Header.Get("Content-Type"))
			require.Equal(t, "base64", r.Header.Get("Upstash-Encoding"))
		}
		require.NotEmpty(t, reqs[1].Header.Get("Upstash-Sync-Token"), "the token of an answer is echoed")
	})

	t.Run("reuse one keep-alive connection", func(t *testing.T) {
		t.Parallel()
		b := miniBundle(t)
		var mu sync.Mutex
		remotes := map[string]bool{}
		b.setWrap(func(w http.ResponseWriter, r *http.Request, next http.Handler) {
			mu.Lock()
			remotes[r.RemoteAddr] = true
			mu.Unlock()
			next.ServeHTTP(w, r)
		})
		be := newBackend(t, b.config())
		for range 20 {
			waiting(t, be, "keepalive")
		}
		mu.Lock()
		defer mu.Unlock()
		require.Len(t, remotes, 1, "20 requests, one connection")
	})

	t.Run("never carry a blocking command: claims and event reads poll scripts", func(t *testing.T) {
		t.Parallel()
		b := miniBundle(t)
		be := newBackend(t, b.config())
		res, err := be.JobClaim(ctx, &backend.JobClaimParams{Queue: "poll", Token: "t", LockDuration: time.Minute, Wait: 300 * time.Millisecond})
		require.NoError(t, err)
		require.Nil(t, res.Job)
		_, err = be.EventsRead(ctx, &backend.EventsReadParams{Queue: "poll", After: "0-0", Wait: 300 * time.Millisecond})
		require.NoError(t, err)
		cmds, total := b.emu.Commands()
		require.Equal(t, total, cmds["EVALSHA"]+cmds["EVAL"], "only scripts were sent: %v", cmds)
		// 300ms of polling from 2ms doubling to 50ms is about 10 polls each.
		require.Less(t, total, int64(40), "polls back off: %v", cmds)
	})
}

func TestBinarySafety(t *testing.T) {
	t.Parallel()
	for name, mk := range map[string]func(testing.TB) *bundle{"miniredis": miniBundle, "redis-server": realBundle} {
		t.Run("payloads, return values and progress keep every byte on "+name, func(t *testing.T) {
			t.Parallel()
			b := mk(t)
			be := newBackend(t, b.config(), redisbackend.WithAddBatch(1))
			all := make([]byte, 256)
			for i := range all {
				all[i] = byte(i)
			}
			payloads := [][]byte{[]byte(`{"text":"olá ✓"}`), all, []byte("\xff\xfe\x00tail"), {}, []byte("OK")}
			ids := addJobs(t, be, "binary", payloads...)
			for i, id := range ids {
				j, err := be.JobGet(ctx, &backend.JobGetParams{Queue: "binary", ID: id})
				require.NoError(t, err)
				require.Equal(t, string(payloads[i]), string(j.Data), "payload %d", i)
			}

			res, err := be.JobClaim(ctx, &backend.JobClaimParams{Queue: "binary", Token: "tok", LockDuration: time.Minute})
			require.NoError(t, err)
			require.NotNil(t, res.Job)
			require.NoError(t, be.JobUpdateProgress(ctx, &backend.JobUpdateProgressParams{Queue: "binary", ID: res.Job.ID, Progress: []byte("\x80\x81")}))
			_, err = be.JobComplete(ctx, &backend.JobCompleteParams{Queue: "binary", ID: res.Job.ID, Token: "tok", ReturnValue: all})
			require.NoError(t, err)
			j, err := be.JobGet(ctx, &backend.JobGetParams{Queue: "binary", ID: res.Job.ID})
			require.NoError(t, err)
			require.Equal(t, all, j.ReturnValue)
			require.Equal(t, []byte("\x80\x81"), j.Progress)
		})
	}
}

func TestErrorAnswers(t *testing.T) {
	t.Parallel()

	t.Run("a wrong token is ErrUnauthorized naming the command, not retried", func(t *testing.T) {
		t.Parallel()
		b := miniBundle(t)
		cfg := b.config()
		cfg.Token = "wrong"
		be := newBackend(t, cfg)
		err := be.Ping(ctx)
		require.ErrorIs(t, err, upstash.ErrUnauthorized)
		var e *upstash.Error
		require.ErrorAs(t, err, &e)
		require.Equal(t, 401, e.Status)
		require.Equal(t, "PING", e.Command)
		_, err = be.QueueCounts(ctx, &backend.QueueParams{Queue: "q"})
		require.ErrorIs(t, err, upstash.ErrUnauthorized)
		require.ErrorContains(t, err, "EVALSHA counts")
		require.True(t, backend.IsPermanent(err), "a worker stops on a refused token")
		require.EqualValues(t, 2, b.emu.Requests())
	})

	cases := []struct {
		name   string
		status int
		body   string
		is     error
		msg    string
	}{
		{"a Redis error is a 400 with its text", 400, `{"error":"ERR Error running script: boom"}`, nil, "ERR Error running script: boom"},
		{"a body that is not JSON is ErrMalformedReply", 200, `<html>gateway</html>`, upstash.ErrMalformedReply, "not a JSON object"},
		{"a string that is not base64 is ErrMalformedReply", 200, `{"result":["@@@"]}`, upstash.ErrMalformedReply, "not base64"},
		{"an answer with neither result nor error is ErrMalformedReply", 200, `{}`, upstash.ErrMalformedReply, "no result"},
		{"the monthly quota is ErrMonthlyLimit", 400, `{"error":"ERR max requests limit exceeded. Limit: 500000, Usage: 500000"}`, upstash.ErrMonthlyLimit, "max requests limit"},
		{"an oversized request is ErrRequestTooLarge", 400, `{"error":"ERR max request size exceeded"}`, upstash.ErrRequestTooLarge, "max request size"},
		{"an unknown status keeps its body", 404, `not here`, nil, "Not Found: \"not here\""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			b := miniBundle(t)
			b.setWrap(func(w http.ResponseWriter, r *http.Request, next http.Handler) { respond(w, c.status, c.body) })
			be := newBackend(t, b.config())
			_, err := be.QueueCounts(ctx, &backend.QueueParams{Queue: "q"})
			var e *upstash.Error
			require.ErrorAs(t, err, &e)
			require.Equal(t, c.status, e.Status)
			require.Equal(t, "EVALSHA counts", e.Command)
			require.Contains(t, e.Message, c.msg)
			if c.is != nil {
				require.ErrorIs(t, err, c.is)
			}
			require.Equal(t, c.is == upstash.ErrMonthlyLimit, errors.Is(err, backend.ErrQuota), "a worker backs off longer on a spent quota")
			require.False(t, backend.IsPermanent(err))
		})
	}
}

func TestNoScript(t *testing.T) {
	t.Parallel()

	t.Run("a single call falls back to EVAL once, then uses EVALSHA", func(t *testing.T) {
		t.Parallel()
		b := miniBundle(t)
		be := newBackend(t, b.config())
		waiting(t, be, "q")
		require.NoError(t, b.rdb.ScriptFlush(ctx).Err())
		b.emu.ResetCounts()
		waiting(t, be, "q")
		waiting(t, be, "q")
		cmds, _ := b.emu.Commands()
		require.Equal(t, map[string]int64{"EVALSHA": 2, "EVAL": 1}, cmds)
	})

	t.Run("a pipeline sends again only the calls answered NOSCRIPT", func(t *testing.T) {
		t.Parallel()
		b := miniBundle(t)
		be := newBackend(t, b.config(), redisbackend.WithAddBatch(1))
		// Two jobs: a bulk add runs add.lua, now loaded (one job would run
		// add1.lua).
		addJobs(t, be, "q", []byte("warm"), []byte("warm"))
		b.emu.ResetCounts()
		// The binary payload needs the binary-safe variant of add, which the
		// server has never seen: only that call is answered NOSCRIPT.
		ids := addJobs(t, be, "q", []byte("a"), []byte("\xffb"), []byte("c"))
		cmds, _ := b.emu.Commands()
		require.Equal(t, int64(3), cmds["EVALSHA"])
		require.Equal(t, int64(1), cmds["EVAL"])
		require.EqualValues(t, 5, waiting(t, be, "q"), "every job added once")
		for i, want := range []string{"a", "\xffb", "c"} {
			j, err := be.JobGet(ctx, &backend.JobGetParams{Queue: "q", ID: ids[i]})
			require.NoError(t, err)
			require.Equal(t, want, string(j.Data))
		}

		require.NoError(t, b.rdb.ScriptFlush(ctx).Err())
		b.emu.ResetCounts()
		addJobs(t, be, "q", []byte("d"), []byte("e"))
		cmds, _ = b.emu.Commands()
		require.Equal(t, map[string]int64{"EVALSHA": 2, "EVAL": 2}, cmds)
		require.EqualValues(t, 7, waiting(t, be, "q"))
	})
}

func TestContext(t *testing.T) {
	t.Parallel()

	t.Run("a cancelled context sends nothing", func(t *testing.T) {
		t.Parallel()
		b := miniBundle(t)
		be := newBackend(t, b.config())
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		_, err := be.JobClaim(cctx, &backend.JobClaimParams{Queue: "q", Token: "tok", LockDuration: time.Minute})
		require.ErrorIs(t, err, context.Canceled)
		_, err = be.JobAdd(cctx, &backend.JobAddParams{Queue: "q", Jobs: []backend.JobAddItem{{Name: "a"}, {Name: "b"}}})
		require.ErrorIs(t, err, context.Canceled)
		_, err = be.QueueCounts(cctx, &backend.QueueParams{Queue: "q"})
		require.ErrorIs(t, err, context.Canceled)
		require.Zero(t, b.emu.Requests())
	})

	t.Run("a read in flight is abandoned at once", func(t *testing.T) {
		t.Parallel()
		b := miniBundle(t)
		b.setWrap(func(w http.ResponseWriter, r *http.Request, next http.Handler) {
			_, _ = io.Copy(io.Discard, r.Body) // so the server notices the client leaving
			<-r.Context().Done()               // never answers
		})
		cfg := b.config()
		cfg.Timeout = time.Minute // what the call would wait without its context
		be := newBackend(t, cfg)
		cctx, cancel := context.WithCancel(ctx)
		time.AfterFunc(50*time.Millisecond, cancel)
		start := time.Now()
		_, err := be.QueueCounts(cctx, &backend.QueueParams{Queue: "q"})
		require.ErrorIs(t, err, context.Canceled)
		require.Less(t, time.Since(start), 10*time.Second, "generous for a loaded machine, well under the minute's HTTP timeout")
	})

	t.Run("a claim cancelled in flight returns at once and its job is handed back, not lost", func(t *testing.T) {
		t.Parallel()
		b := miniBundle(t)
		be := newBackend(t, b.config())
		warm(t, be)
		addJobs(t, be, "q", []byte("x"))
		slow := make(chan struct{})
		b.setWrap(func(w http.ResponseWriter, r *http.Request, next http.Handler) {
			select {
			case <-slow:
			case <-time.After(300 * time.Millisecond):
			}
			next.ServeHTTP(w, r)
		})
		cctx, cancel := context.WithCancel(ctx)
		time.AfterFunc(50*time.Millisecond, cancel)
		res, err := be.JobClaim(cctx, &backend.JobClaimParams{Queue: "q", Token: "tok", LockDuration: time.Minute})
		require.ErrorIs(t, err, context.Canceled)
		require.Nil(t, res)
		close(slow)
		// The claim ran on the server; the backend saw its reply and released
		// the job, which is waiting again rather than locked for a minute.
		require.Eventually(t, func() bool {
			c, err := be.QueueCounts(ctx, &backend.QueueParams{Queue: "q"})
			return err == nil && *c == backend.Counts{Waiting: 1}
		}, 10*time.Second, 10*time.Millisecond)
	})

	t.Run("a write in flight still ends at the context's deadline", func(t *testing.T) {
		t.Parallel()
		b := miniBundle(t)
		release := make(chan struct{})
		b.setWrap(func(w http.ResponseWriter, r *http.Request, next http.Handler) {
			_, _ = io.Copy(io.Discard, r.Body)
			select {
			case <-release:
			case <-r.Context().Done():
			}
		})
		be := newBackend(t, b.config())
		defer close(release)
		dctx, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
		defer cancel()
		_, err := be.JobAdd(dctx, &backend.JobAddParams{Queue: "q", Jobs: []backend.JobAddItem{{Name: "n"}}})
		require.ErrorIs(t, err, context.DeadlineExceeded)
	})

	t.Run("Close ends a polling claim at once", func(t *testing.T) {
		t.Parallel()
		b := miniBundle(t)
		cfg := b.config()
		cfg.PollMin, cfg.PollMax = time.Minute, time.Minute // what the claim would sleep without Close
		be, err := upstash.New(cfg)
		require.NoError(t, err)
		time.AfterFunc(100*time.Millisecond, func() { be.Close() })
		start := time.Now()
		_, err = be.JobClaim(ctx, &backend.JobClaimParams{Queue: "q", Token: "tok", LockDuration: time.Minute, Wait: 2 * time.Minute})
		require.ErrorIs(t, err, backend.ErrClosed)
		require.Less(t, time.Since(start), 10*time.Second, "generous for a loaded machine, well under the minute's poll")
		require.ErrorIs(t, be.Ping(ctx), backend.ErrClosed)
	})
}

func TestRequestSplitting(t *testing.T) {
	t.Parallel()
	const limit = 64 << 10
	b := miniBundle(t)
	b.emu.SetMaxBody(limit) // a request over the limit would be refused
	var mu sync.Mutex
	var sizes []int64
	b.setWrap(func(w http.ResponseWriter, r *http.Request, next http.Handler) {
		if r.URL.Path == "/pipeline" {
			mu.Lock()
			sizes = append(sizes, r.ContentLength)
			mu.Unlock()
		}
		next.ServeHTTP(w, r)
	})
	cfg := b.config()
	cfg.MaxRequestBytes = limit
	be := newBackend(t, cfg, redisbackend.WithAddBatch(1))

	payloads := make([][]byte, 20)
	for i := range payloads {
		payloads[i] = []byte(strings.Repeat(string(rune('a'+i)), 10<<10))
	}
	ids := addJobs(t, be, "split", payloads...)
	mu.Lock()
	require.GreaterOrEqual(t, len(sizes), 4, "200 KiB of calls need several requests")
	for _, s := range sizes {
		require.LessOrEqual(t, s, int64(limit))
	}
	mu.Unlock()
	jobs, err := be.JobList(ctx, &backend.JobListParams{Queue: "split", State: backend.StateWaiting, Limit: 100})
	require.NoError(t, err)
	require.Len(t, jobs, 20)
	for i, j := range jobs {
		require.Equal(t, ids[i], j.ID, "jobs run in the order they were added")
		require.Equal(t, payloads[i], j.Data)
	}

	// One script call cannot be split (it is one atomic step): it is
	// refused before it is sent, single or in a pipeline.
	before := b.emu.Requests()
	_, err = be.JobAdd(ctx, &backend.JobAddParams{Queue: "split", Jobs: []backend.JobAddItem{{Name: "huge", Data: make([]byte, limit)}}})
	require.ErrorIs(t, err, upstash.ErrRequestTooLarge)
	require.ErrorContains(t, err, "over Config.MaxRequestBytes")
	_, err = be.JobAdd(ctx, &backend.JobAddParams{Queue: "split", Jobs: []backend.JobAddItem{
		{Name: "small", Data: []byte("{}")}, {Name: "huge", Data: make([]byte, limit)},
	}})
	require.ErrorIs(t, err, upstash.ErrRequestTooLarge)
	require.Equal(t, before, b.emu.Requests(), "nothing was sent")
	require.EqualValues(t, 20, waiting(t, be, "split"), "not even the small job of the pipeline")
}
