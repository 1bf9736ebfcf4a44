package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/fila-go/fila"
	"github.com/fila-go/fila/backend/upstash"
	"github.com/fila-go/fila/internal/redistest"
	"github.com/fila-go/fila/internal/upstashemu"
)

// restToken is the emulator's token; the tests check that no output shows
// it.
const restToken = "rest-token-7f3a9c"

// restFixture is the Upstash emulator in front of a private redis-server,
// with "outbound" (one waiting, one delayed job) and "inbound" (one waiting
// job) added over REST, as an application on Upstash would add them.
type restFixture struct {
	url       string // the emulator's REST endpoint
	redisAddr string // the redis-server behind it
}

func newRESTFixture(t *testing.T) *restFixture {
	t.Helper()
	addr := redistest.Addr(t)
	rdb := redis.NewClient(&redis.Options{Addr: addr, Protocol: 2})
	srv := httptest.NewServer(upstashemu.New(rdb, restToken))
	t.Cleanup(func() { srv.Close(); _ = rdb.Close() })

	be, err := upstash.New(upstash.Config{URL: srv.URL, Token: restToken})
	require.NoError(t, err)
	defer func() { require.NoError(t, be.Close()) }()
	ctx := context.Background()
	out, in := fila.NewQueue(be, "outbound"), fila.NewQueue(be, "inbound")
	_, err = out.Add(ctx, "send", []byte(`{"to":"+15550001"}`), nil)
	require.NoError(t, err)
	_, err = out.Add(ctx, "send", []byte(`{"to":"+15550002"}`), &fila.JobOptions{Delay: time.Hour})
	require.NoError(t, err)
	_, err = in.Add(ctx, "webhook", []byte(`{"entry":1}`), nil)
	require.NoError(t, err)
	return &restFixture{url: srv.URL, redisAddr: addr}
}

// upstashEnv returns a getenv with the Upstash variables set to url and
// token.
func upstashEnv(url, token string) func(string) string {
	return func(k string) string {
		switch k {
		case upstash.EnvURL:
			return url
		case upstash.EnvToken:
			return token
		}
		return ""
	}
}

var servingHome = regexp.MustCompile(`http://127\.0\.0\.1:\d+/`)

// filaWith runs a command line with getenv and the real opener.
func filaWith(getenv func(string) string, args ...string) (stdout, stderr string, code int) {
	var out, errOut bytes.Buffer
	code = run(context.Background(), args, &out, &errOut, getenv, openStore)
	return out.String(), errOut.String(), code
}

func TestUpstashThroughTheEnvironment(t *testing.T) {
	t.Parallel()
	f := newRESTFixture(t)
	env := upstashEnv(f.url, restToken)

	t.Run("StatsCountsEveryQueue", func(t *testing.T) {
		out, errOut, code := filaWith(env, "stats", "-json")
		require.Equal(t, exitOK, code, errOut)
		var rows []queueStats
		require.NoError(t, json.Unmarshal([]byte(out), &rows))
		counts := map[string]fila.Counts{}
		for _, r := range rows {
			counts[r.Queue] = r.Counts
		}
		require.Equal(t, map[string]fila.Counts{"outbound": {Waiting: 1, Delayed: 1}, "inbound": {Waiting: 1}}, counts)
	})

	t.Run("ListShowsTheJobs", func(t *testing.T) {
		out, errOut, code := filaWith(env, "list", "outbound", "delayed")
		require.Equal(t, exitOK, code, errOut)
		require.Contains(t, out, "send")
		require.NotContains(t, out, "+15550001", "the waiting job is not delayed")
		out, errOut, code = filaWith(env, "list", "outbound", "waiting", "-json")
		require.Equal(t, exitOK, code, errOut)
		require.Contains(t, out, `+15550001`)
	})

	t.Run("AnUnknownQueueFailsNamingTheKnownOnes", func(t *testing.T) {
		_, errOut, code := filaWith(env, "list", "outbond", "waiting")
		require.Equal(t, exitFail, code)
		require.Equal(t, "fila: no queue \"outbond\"; the queues are: inbound, outbound\n", errOut)
	})

	t.Run("PrefixStillApplies", func(t *testing.T) {
		out, errOut, code := filaWith(env, "-prefix", "other", "stats")
		require.Equal(t, exitOK, code, errOut)
		require.Equal(t, "no queues yet\n", out)
	})

	t.Run("AnOperationChangesTheQueue", func(t *testing.T) {
		out, errOut, code := filaWith(env, "pause", "inbound")
		require.Equal(t, exitOK, code, errOut)
		require.Equal(t, "paused inbound\n", out)
		out, errOut, code = filaWith(env, "stats", "inbound", "-json")
		require.Equal(t, exitOK, code, errOut)
		require.Contains(t, out, `"paused": true`)
	})

	t.Run("AnHTTPSRedisURLTakesTheTokenFromTheEnvironment", func(t *testing.T) {
		tokenOnly := upstashEnv("", restToken)
		out, errOut, code := filaWith(tokenOnly, "-redis", f.url, "stats", "outbound")
		require.Equal(t, exitOK, code, errOut)
		require.Contains(t, out, "outbound")

		_, errOut, code = filaWith(noEnv, "-redis", f.url, "stats")
		require.Equal(t, exitFail, code)
		require.Equal(t, "fila: -redis \""+f.url+"\" is an Upstash REST URL, and its token comes from $UPSTASH_REDIS_REST_TOKEN, which is not set\n", errOut)
	})

	t.Run("FilaRedisURLWinsOverTheUpstashVariables", func(t *testing.T) {
		both := func(k string) string {
			if k == envRedisURL {
				return "redis://" + f.redisAddr
			}
			return env(k)
		}
		// Over Redis the default is one job bucket: the queues made over
		// REST have 32, so the layout check proves which backend answered.
		_, errOut, code := filaWith(both, "stats", "outbound")
		require.Equal(t, exitFail, code)
		require.Contains(t, errOut, "queue layout differs")
	})
}

func TestUpstashVariablesMustComeInPairs(t *testing.T) {
	t.Parallel()
	_, errOut, code := filaWith(upstashEnv("https://example.upstash.io", ""), "stats")
	require.Equal(t, exitFail, code)
	require.Equal(t, "fila: $UPSTASH_REDIS_REST_URL is set but $UPSTASH_REDIS_REST_TOKEN is not: set both to use Upstash (the REST API section of the Upstash console shows them), or give -redis\n", errOut)

	_, errOut, code = filaWith(upstashEnv("", restToken), "stats")
	require.Equal(t, exitFail, code)
	require.Contains(t, errOut, "fila: $UPSTASH_REDIS_REST_TOKEN is set but $UPSTASH_REDIS_REST_URL is not")
	require.NotContains(t, errOut, restToken)
}

func TestUpstashBadTokenFailsWithoutShowingIt(t *testing.T) {
	t.Parallel()
	f := newRESTFixture(t)
	const wrong = "wrong-token-41d2e8"
	for _, args := range [][]string{{"stats"}, {"list", "outbound", "waiting"}, {"dashboard", "-addr", "127.0.0.1:0"}} {
		_, errOut, code := filaWith(upstashEnv(f.url, wrong), append([]string{"-timeout", "10s"}, args...)...)
		require.Equal(t, exitFail, code, "%v", args)
		require.Equal(t, "fila: connect to Upstash REST endpoint \""+f.url+"\": upstash: PING: HTTP 401: WRONGPASS invalid or missing auth token: the endpoint refused the token in $UPSTASH_REDIS_REST_TOKEN\n", errOut, "%v", args)
		require.NotContains(t, errOut, wrong)
	}
}

// A server that repeats the token in its answer (a proxy's error page, a
// misconfigured gateway) does not get it printed either.
func TestUpstashTokenIsRedactedFromWhatTheServerSays(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusBadGateway)
		_, _ = io.WriteString(w, "gateway could not forward "+r.Header.Get("Authorization"))
	}))
	defer srv.Close()
	_, errOut, code := filaWith(upstashEnv(srv.URL, restToken), "-timeout", "20s", "stats")
	require.Equal(t, exitFail, code)
	require.Contains(t, errOut, "gateway could not forward Bearer xxxxx")
	require.NotContains(t, errOut, restToken)

	_, errOut, code = filaWith(upstashEnv("", restToken), "-redis", srv.URL+"?_token="+restToken, "stats")
	require.Equal(t, exitFail, code)
	require.Contains(t, errOut, "may not carry a query")
	require.NotContains(t, errOut, restToken)
}

func TestJobBucketsMustMatchTheApplication(t *testing.T) {
	t.Parallel()
	f := newRESTFixture(t)
	redisURL := "redis://" + f.redisAddr

	_, errOut, code := filaWith(noEnv, "-redis", redisURL, "stats")
	require.Equal(t, exitFail, code)
	require.Contains(t, errOut, `keeps its jobs in 32 bucket(s), this backend in 1`)
	require.Contains(t, errOut, "run fila with -job-buckets 32\n")

	_, errOut, code = filaWith(noEnv, "-redis", redisURL, "dashboard", "-addr", "127.0.0.1:0")
	require.Equal(t, exitFail, code)
	require.Contains(t, errOut, "fila dashboard: read queue ")
	require.Contains(t, errOut, "run fila with -job-buckets 32\n")

	out, errOut, code := filaWith(noEnv, "-redis", redisURL, "-job-buckets", "32", "stats", "outbound", "-json")
	require.Equal(t, exitOK, code, errOut)
	require.Contains(t, out, `"waiting": 1`)

	_, errOut, code = filaWith(upstashEnv(f.url, restToken), "-job-buckets", "4", "list", "inbound", "waiting")
	require.Equal(t, exitFail, code)
	require.Contains(t, errOut, "run fila with -job-buckets 32\n")

	_, errOut, code = filaWith(noEnv, "-job-buckets", "-1", "stats")
	require.Equal(t, exitUsage, code)
	require.Contains(t, errOut, "-job-buckets must be from 0 (the backend's default) to 1024, got -1")
}

func TestDashboardOverUpstash(t *testing.T) {
	t.Parallel()
	f := newRESTFixture(t)
	d := serveDashboard(t, servingHome, []string{"dashboard", "-addr", "127.0.0.1:0"}, upstashEnv(f.url, restToken), openStore)
	require.Contains(t, d.out.String(), "2 queue(s) on")

	status, body := getPage(t, d.url)
	require.Equal(t, http.StatusOK, status)
	for _, q := range []string{"outbound", "inbound"} {
		require.Contains(t, body, `href="/queues/`+q+`"`)
	}
	status, body = getPage(t, d.url+"queues/outbound")
	require.Equal(t, http.StatusOK, status, body)
	require.NotContains(t, body, restToken)

	require.Equal(t, exitOK, d.stop(t), d.errOut.String())
	require.False(t, strings.Contains(d.out.String()+d.errOut.String(), restToken))
}
