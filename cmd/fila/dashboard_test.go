package main

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"regexp"
	"sync"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/stretchr/testify/require"
)

// syncBuffer is a bytes.Buffer safe to read while a command writes it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

var servingURL = regexp.MustCompile(`http://127\.0\.0\.1:\d+/ops/`)

// served is a fila command line serving the dashboard in the background.
type served struct {
	url         string
	out, errOut *syncBuffer
	cancel      context.CancelFunc
	exit        chan int
}

// serveDashboard runs args until stop, and waits for the URL (matched by
// serving) the command prints once it listens.
func serveDashboard(t *testing.T, serving *regexp.Regexp, args []string, getenv func(string) string, open opener) *served {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	s := &served{out: &syncBuffer{}, errOut: &syncBuffer{}, cancel: cancel, exit: make(chan int, 1)}
	go func() { s.exit <- run(ctx, args, s.out, s.errOut, getenv, open) }()
	require.Eventually(t, func() bool {
		s.url = serving.FindString(s.out.String())
		return s.url != ""
	}, 10*time.Second, 10*time.Millisecond, "stdout: %s, stderr: %s", s.out.String(), s.errOut.String())
	return s
}

// stop interrupts the command and returns its exit status.
func (s *served) stop(t *testing.T) int {
	t.Helper()
	s.cancel()
	select {
	case code := <-s.exit:
		return code
	case <-time.After(10 * time.Second):
		t.Fatal("the dashboard did not stop when interrupted")
		return 0
	}
}

// getPage fetches url and returns its status and body.
func getPage(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	require.NoError(t, err)
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.NoError(t, err)
	return resp.StatusCode, string(body)
}

func TestDashboardServesUntilInterrupted(t *testing.T) {
	f := newFixture(t)
	d := serveDashboard(t, servingURL, []string{"-redis", f.url, "-timeout", "1s", "dashboard", "-addr", "127.0.0.1:0", "-base", "/ops"}, noEnv, openRedis)

	// Served longer than -timeout: the timeout bounds calls, not the run.
	time.Sleep(1500 * time.Millisecond)
	status, body := getPage(t, d.url)
	require.Equal(t, http.StatusOK, status)
	for _, q := range []string{"outbound", "inbound", "reports"} {
		require.Contains(t, body, `href="/ops/queues/`+q+`"`)
	}
	require.NotContains(t, body, f.mr.Addr(), "the page shows the Redis address")
	require.Equal(t, exitOK, d.stop(t), d.errOut.String())
}

func TestDashboardWithoutQueues(t *testing.T) {
	mr := miniredis.RunT(t)
	var out, errOut bytes.Buffer
	code := run(context.Background(), []string{"-redis", "redis://" + mr.Addr(), "dashboard", "-addr", "127.0.0.1:0"}, &out, &errOut, noEnv, openRedis)
	require.Equal(t, exitFail, code)
	require.Contains(t, errOut.String(), `Redis has no queues under prefix "fila" yet; name the queues to show`)
}

func TestDashboardNamedQueues(t *testing.T) {
	f := newFixture(t)
	d := serveDashboard(t, servingURL, []string{"-redis", f.url, "dashboard", "-addr", "127.0.0.1:0", "-base", "/ops/", "-read-only", "inbound"}, noEnv, openRedis)
	require.Contains(t, d.out.String(), "1 queue(s) on")
	_, body := getPage(t, d.url)
	require.Contains(t, body, `href="/ops/queues/inbound"`)
	require.NotContains(t, body, `href="/ops/queues/outbound"`)
	require.Contains(t, body, "read-only")
	require.Equal(t, exitOK, d.stop(t))
}
