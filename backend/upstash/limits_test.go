package upstash_test

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/fila-go/fila/backend"
	redisbackend "github.com/fila-go/fila/backend/redis"
	"github.com/fila-go/fila/backend/upstash"
	"github.com/fila-go/fila/internal/upstashemu"
)

// classes are the errors an *upstash.Error may match; each case lists the
// ones it must match, and must match none of the others.
var classes = map[string]error{
	"ErrUnauthorized": upstash.ErrUnauthorized, "ErrMonthlyLimit": upstash.ErrMonthlyLimit,
	"ErrDailyLimit": upstash.ErrDailyLimit, "ErrRateLimited": upstash.ErrRateLimited,
	"ErrRecordTooLarge": upstash.ErrRecordTooLarge, "ErrRequestTooLarge": upstash.ErrRequestTooLarge,
	"ErrMalformedReply": upstash.ErrMalformedReply,
	"backend.ErrQuota":  backend.ErrQuota, "backend.ErrPermanent": backend.ErrPermanent,
}

func requireClasses(t *testing.T, err error, want ...string) {
	t.Helper()
	var e *upstash.Error
	require.ErrorAs(t, err, &e)
	for name, class := range classes {
		require.Equal(t, slicesContains(want, name), errors.Is(err, class), "errors.Is(%v, %s)", err, name)
	}
	require.Equal(t, slicesContains(want, "backend.ErrPermanent"), backend.IsPermanent(err))
}

func slicesContains(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

// The emulator enforces the plans' limits with Upstash's error texts; each
// maps to its named error, and the request limits to backend.ErrQuota so a
// worker backs off instead of spinning.
func TestLimitErrorsFromTheEmulator(t *testing.T) {
	t.Parallel()

	t.Run("the monthly limit is ErrMonthlyLimit and a quota", func(t *testing.T) {
		t.Parallel()
		b := miniBundle(t)
		be := newBackend(t, b.config())
		warm(t, be)
		b.emu.SetLimits(upstashemu.Limits{MonthlyCommands: 2})
		waiting(t, be, "q")
		waiting(t, be, "q")
		_, err := be.QueueCounts(ctx, &backend.QueueParams{Queue: "q"})
		requireClasses(t, err, "ErrMonthlyLimit", "backend.ErrQuota")
		require.ErrorContains(t, err, "ERR max requests limit exceeded. Limit: 2, Usage: 2")
	})

	t.Run("the daily limit is ErrDailyLimit and a quota, and resets the next day", func(t *testing.T) {
		t.Parallel()
		b := miniBundle(t)
		be := newBackend(t, b.config())
		warm(t, be)
		var now atomic.Int64
		now.Store(time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC).UnixNano())
		b.emu.SetClock(func() time.Time { return time.Unix(0, now.Load()) })
		b.emu.SetLimits(upstashemu.Limits{DailyCommands: 1})
		waiting(t, be, "q")
		_, err := be.JobAdd(ctx, &backend.JobAddParams{Queue: "q", Jobs: []backend.JobAddItem{{Name: "a"}}})
		requireClasses(t, err, "ErrDailyLimit", "backend.ErrQuota")
		now.Add(int64(24 * time.Hour))
		waiting(t, be, "q")
	})

	t.Run("the per-second limit is ErrRateLimited and a quota", func(t *testing.T) {
		t.Parallel()
		b := miniBundle(t)
		be := newBackend(t, b.config())
		warm(t, be)
		at := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
		b.emu.SetClock(func() time.Time { return at })
		b.emu.SetLimits(upstashemu.Limits{CommandsPerSecond: 1})
		waiting(t, be, "q")
		_, err := be.QueueCounts(ctx, &backend.QueueParams{Queue: "q"})
		requireClasses(t, err, "ErrRateLimited", "backend.ErrQuota")
		var e *upstash.Error
		require.ErrorAs(t, err, &e)
		require.Equal(t, http.StatusTooManyRequests, e.Status)
	})

	t.Run("a record over the size limit is ErrRecordTooLarge, not a quota", func(t *testing.T) {
		t.Parallel()
		b := realBundle(t) // MEMORY USAGE as Redis counts it
		be := newBackend(t, b.config())
		addJobs(t, be, "big", []byte(strings.Repeat("x", 64<<10)))
		b.emu.SetLimits(upstashemu.Limits{MaxRecordBytes: 32 << 10})
		_, err := be.JobAdd(ctx, &backend.JobAddParams{Queue: "big", Jobs: []backend.JobAddItem{{Name: "more", Data: []byte("{}")}}})
		requireClasses(t, err, "ErrRecordTooLarge")
		require.ErrorContains(t, err, "ERR max single record size exceeded")
	})

	t.Run("a wrong token is ErrUnauthorized and permanent", func(t *testing.T) {
		t.Parallel()
		b := miniBundle(t)
		cfg := b.config()
		cfg.Token = "wrong"
		be := newBackend(t, cfg)
		_, err := be.QueueCounts(ctx, &backend.QueueParams{Queue: "q"})
		requireClasses(t, err, "ErrUnauthorized", "backend.ErrPermanent")
		require.ErrorContains(t, err, "WRONGPASS invalid or missing auth token")
	})
}

// The same mappings for the answers the emulator does not make itself: the
// auth errors without a 401, other wordings, and a proxy that wraps them.
func TestErrorTextsMapWhateverTheStatus(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name   string
		status int
		body   string
		want   []string
	}{
		{"WRONGPASS with 400", 400, `{"error":"WRONGPASS invalid or missing auth token"}`, []string{"ErrUnauthorized", "backend.ErrPermanent"}},
		{"NOAUTH with 400", 400, `{"error":"NOAUTH Authentication required."}`, []string{"ErrUnauthorized", "backend.ErrPermanent"}},
		{"a 401 with any text", 401, `{"error":"Unauthorized"}`, []string{"ErrUnauthorized", "backend.ErrPermanent"}},
		{"the daily limit as Upstash words it", 400, `{"error":"ERR max daily request limit exceeded. Limit: 10000, Usage: 10000. See https://upstash.com/docs/redis/troubleshooting/max_daily_request_limit for details"}`, []string{"ErrDailyLimit", "backend.ErrQuota"}},
		{"the monthly limit wrapped by a proxy", 500, `{"error":"Failed to execute Redis command: ERR max requests limit exceeded."}`, []string{"ErrMonthlyLimit", "backend.ErrQuota"}},
		{"a 429 without a body", 429, ``, []string{"ErrRateLimited", "backend.ErrQuota"}},
		{"a per-second limit in other words", 400, `{"error":"ERR max requests per second exceeded"}`, []string{"ErrRateLimited", "backend.ErrQuota"}},
		{"the record size limit", 400, `{"error":"ERR max single record size exceeded"}`, []string{"ErrRecordTooLarge"}},
		{"the request size limit", 400, `{"error":"ERR max request size exceeded"}`, []string{"ErrRequestTooLarge"}},
		{"a script error is none of them", 400, `{"error":"ERR Error running script: boom"}`, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			b := miniBundle(t)
			b.setWrap(func(w http.ResponseWriter, r *http.Request, next http.Handler) { respond(w, c.status, c.body) })
			cfg := b.config()
			cfg.Retries = -1
			be := newBackend(t, cfg)
			_, err := be.QueueCounts(ctx, &backend.QueueParams{Queue: "q"})
			requireClasses(t, err, c.want...)
		})
	}
}

// A proxy that wraps NOSCRIPT in an HTTP 500 ("Failed to execute Redis
// command: NOSCRIPT ...") still gets the EVAL fallback, at once (a 5xx that
// says NOSCRIPT is not retried), for reads, writes and pipelines.
func TestWrappedNoScriptFallsBackToEval(t *testing.T) {
	t.Parallel()
	const wrapped = `{"error":"Failed to execute Redis command: NOSCRIPT No matching script. Please use EVAL."}`
	b := miniBundle(t)
	var evalsha, eval atomic.Int64
	b.setWrap(func(w http.ResponseWriter, r *http.Request, next http.Handler) {
		body := readBody(t, r)
		if strings.Contains(body, `"EVALSHA"`) {
			evalsha.Add(1)
			if r.URL.Path == "/pipeline" {
				n := strings.Count(body, `"EVALSHA"`)
				respond(w, 200, "["+strings.TrimSuffix(strings.Repeat(`{"error":"ERR proxy: noscript, use EVAL"},`, n), ",")+"]")
				return
			}
			respond(w, 500, wrapped)
			return
		}
		eval.Add(1)
		next.ServeHTTP(w, r)
	})
	be := newBackend(t, b.config(), redisbackend.WithAddBatch(1))
	require.Zero(t, waiting(t, be, "q"), "a read")
	require.EqualValues(t, 1, evalsha.Load(), "a 5xx saying NOSCRIPT is not retried")
	addJobs(t, be, "q", []byte("1"))              // a write
	addJobs(t, be, "q", []byte("2"), []byte("3")) // a pipeline of two calls
	require.EqualValues(t, 3, waiting(t, be, "q"))
	require.Equal(t, evalsha.Load(), eval.Load(), "each EVALSHA request answered NOSCRIPT is sent once again as EVAL")
}

// readBody returns r's body and leaves it readable for the next handler.
func readBody(t *testing.T, r *http.Request) string {
	data, err := io.ReadAll(r.Body)
	require.NoError(t, err)
	r.Body = io.NopCloser(bytes.NewReader(data))
	return string(data)
}
