package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/fila-go/fila"
	"github.com/fila-go/fila/backend/upstash"
	"github.com/fila-go/fila/examples/whatsapp/cloudapi"
	"github.com/fila-go/fila/examples/whatsapp/fakegraph"
	"github.com/fila-go/fila/internal/pgtest"
	"github.com/fila-go/fila/internal/redistest"
	"github.com/fila-go/fila/internal/upstashemu"
)

// TestMain runs the tests (with one private PostgreSQL server, started on
// first use by pgtest.DB) and checks that no goroutine outlives them.
func TestMain(m *testing.M) {
	code := pgtest.Main(m)
	if code == 0 {
		// pgconn's context watcher may finish a moment after its connection closed.
		if err := goleak.Find(goleak.IgnoreAnyFunction("github.com/jackc/pgx/v5/pgconn/ctxwatch.(*ContextWatcher).Watch.func1")); err != nil {
			fmt.Fprintln(os.Stderr, "leaked goroutines:", err)
			code = 1
		}
	}
	os.Exit(code)
}

// Test values of the business number and the user.
const (
	testPhoneNumberID = "106540352242922"
	testUser          = "16505551234"
	testUserName      = "Sheena Nelson"
	testAccessToken   = "test-access-token"
	testAppSecret     = "test-app-secret"
	testVerifyToken   = "test-verify-token"
)

// testBackends are the backends the flow tests run on: the embedded
// default, the Redis backend over miniredis and over a private
// redis-server, and the Upstash REST backend over an emulator in front of
// miniredis.
var testBackends = []string{"memory", "miniredis", "redis", "upstash"}

// upstashTestToken is the REST token of the test Upstash emulators.
const upstashTestToken = "test-upstash-token"

// startUpstash runs an Upstash REST emulator (internal/upstashemu) on
// 127.0.0.1 in front of a fresh miniredis, stopped when the test ends, and
// returns the configuration that reaches it. Idle claims poll every 20ms
// to 500ms instead of 100ms to 30s, so a test never waits long on a claim
// that is not woken by an add of its own process.
func startUpstash(t testing.TB) upstash.Config {
	t.Helper()
	mr := miniredis.RunT(t)
	rdb := redis.NewClient(&redis.Options{Addr: mr.Addr(), Protocol: 2})
	srv := httptest.NewServer(upstashemu.New(rdb, upstashTestToken))
	t.Cleanup(func() {
		srv.Close()
		rdb.Close()
	})
	return upstash.Config{URL: srv.URL, Token: upstashTestToken, PollMin: 20 * time.Millisecond, PollMax: 500 * time.Millisecond}
}

// bundle is a running app wired to a fake Graph API.
type bundle struct {
	t    *testing.T
	cfg  Config
	app  *App
	fake *fakegraph.Server
	url  string // the app's base URL
	hc   *http.Client
}

// testConfig is the configuration of a test app: role all, short backoffs.
func testConfig() Config {
	c := Config{
		Role: RoleAll, Host: "127.0.0.1", Port: "0",
		VerifyToken: testVerifyToken, AppSecret: testAppSecret, AccessToken: testAccessToken,
		ShutdownTimeout: 10 * time.Second, LogLevel: slog.LevelDebug,
		Queues: DefaultSettings(10),
	}
	c.Queues.Outbound.Job.Backoff.Delay = 200 * time.Millisecond
	c.Queues.Media.Job.Backoff.Delay = 200 * time.Millisecond
	// The pair limit's spacing (6s) would slow tests that send a user
	// several replies; TestGroupedCustomers checks it with its own.
	c.Queues.Outbound.Groups.Rate.Per = 100 * time.Millisecond
	return c
}

// setup starts an app on backend (one of testBackends) with a fake
// Graph API, and stops both when the test ends. adjust may change the
// configuration first.
func setup(t *testing.T, be string, adjust ...func(*Config)) *bundle {
	t.Helper()
	cfg := testConfig()
	switch be {
	case "miniredis":
		mr := miniredis.RunT(t)
		cfg.Storage.RedisURL = "redis://" + mr.Addr()
	case "redis":
		cfg.Storage.RedisURL = "redis://" + redistest.Addr(t)
	case "upstash":
		cfg.Storage.Upstash = startUpstash(t)
	}
	fake := fakegraph.New(fakegraph.Options{Token: testAccessToken})
	fakeSrv := httptest.NewServer(fake)
	cfg.APIURL = fakeSrv.URL + "/v25.0"
	for _, f := range adjust {
		f(&cfg)
	}
	log := slog.New(slog.NewTextHandler(testLog{t}, &slog.HandlerOptions{Level: cfg.LogLevel}))
	app, err := newApp(context.Background(), cfg, log, nil)
	require.NoError(t, err)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- app.Run(ctx, ln) }()
	b := &bundle{
		t: t, cfg: cfg, app: app, fake: fake, url: "http://" + ln.Addr().String(),
		// The timeout only guards against a hang: posting an 8 MiB body
		// took over 10s on a loaded machine under -race.
		hc: &http.Client{Timeout: time.Minute, Transport: &http.Transport{}},
	}
	t.Cleanup(func() {
		cancel()
		require.NoError(t, <-done)
		require.NoError(t, app.Close())
		b.hc.CloseIdleConnections()
		fakeSrv.Close()
		fake.Close()
	})
	return b
}

// post sends a webhook body, signed with the app secret unless signature
// is given, and returns the status code.
func (b *bundle) post(body []byte, signature ...string) int {
	b.t.Helper()
	req, err := http.NewRequest(http.MethodPost, b.url+"/webhook", bytes.NewReader(body))
	require.NoError(b.t, err)
	req.Header.Set("Content-Type", "application/json")
	sig := cloudapi.Sign(body, b.cfg.AppSecret)
	if len(signature) > 0 {
		sig = signature[0]
	}
	if sig != "" {
		req.Header.Set(cloudapi.SignatureHeader, sig)
	}
	resp, err := b.hc.Do(req)
	require.NoError(b.t, err)
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

// get fetches a path and returns the status and body.
func (b *bundle) get(path string) (int, []byte) {
	b.t.Helper()
	resp, err := b.hc.Get(b.url + path)
	require.NoError(b.t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(b.t, err)
	return resp.StatusCode, body
}

// postText posts one signed text message and requires a 200.
func (b *bundle) postText(wamid, text string) []byte {
	b.t.Helper()
	body := mustJSON(b.t, cloudapi.TextNotification(inbound(wamid), text))
	require.Equal(b.t, http.StatusOK, b.post(body))
	return body
}

// waitAccepted waits until the fake accepted n calls of kind.
func (b *bundle) waitAccepted(kind fakegraph.Kind, n int) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	require.NoError(b.t, b.fake.WaitAccepted(ctx, kind, n), "calls so far: %+v", b.fake.Calls())
}

// waitIdle waits until no queue has a job left to run.
func (b *bundle) waitIdle() {
	b.t.Helper()
	require.Eventually(b.t, func() bool {
		for _, q := range b.app.queues.all() {
			c, err := q.Counts(context.Background())
			if err != nil || pending(c) > 0 {
				return false
			}
		}
		return true
	}, 20*time.Second, 10*time.Millisecond)
}

// counts returns the counts of every queue by name.
func (b *bundle) counts() map[string]fila.Counts {
	b.t.Helper()
	out := map[string]fila.Counts{}
	for _, q := range b.app.queues.all() {
		c, err := q.Counts(context.Background())
		require.NoError(b.t, err)
		out[q.Name()] = *c
	}
	return out
}

func inbound(wamid string) cloudapi.Inbound {
	return cloudapi.Inbound{
		PhoneNumberID: testPhoneNumberID, DisplayNumber: "15550783881", From: testUser, Name: testUserName,
		ID: wamid, At: time.Now(),
	}
}

func mustJSON(t testing.TB, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	require.NoError(t, err)
	return b
}

// testLog is where a test's app logs go: t.Log, so they show only for a
// failing test (Go 1.24 has no testing.T.Output).
type testLog struct{ t testing.TB }

func (l testLog) Write(p []byte) (int, error) {
	l.t.Helper()
	l.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}
