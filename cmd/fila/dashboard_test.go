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

func TestDashboardServesUntilInterrupted(t *testing.T) {
	f := newFixture(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var out, errOut syncBuffer
	exit := make(chan int, 1)
	go func() {
		exit <- run(ctx, []string{"-redis", f.url, "-timeout", "1s", "dashboard", "-addr", "127.0.0.1:0", "-base", "/ops"}, &out, &errOut, noEnv, openRedis)
	}()
	var url string
	require.Eventually(t, func() bool {
		url = servingURL.FindString(out.String())
		return url != ""
	}, 10*time.Second, 10*time.Millisecond, "stdout: %s, stderr: %s", out.String(), errOut.String())

	// Served longer than -timeout: the timeout bounds calls, not the run.
	time.Sleep(1500 * time.Millisecond)
	resp, err := http.Get(url)
	require.NoError(t, err)
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	for _, q := range []string{"outbound", "inbound", "reports"} {
		require.Contains(t, string(body), `href="/ops/queues/`+q+`"`)
	}
	require.NotContains(t, string(body), f.mr.Addr(), "the page shows the Redis address")

	cancel()
	select {
	case code := <-exit:
		require.Equal(t, exitOK, code, errOut.String())
	case <-time.After(10 * time.Second):
		t.Fatal("the dashboard did not stop when interrupted")
	}
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
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var out, errOut syncBuffer
	exit := make(chan int, 1)
	go func() {
		exit <- run(ctx, []string{"-redis", f.url, "dashboard", "-addr", "127.0.0.1:0", "-base", "/ops/", "-read-only", "inbound"}, &out, &errOut, noEnv, openRedis)
	}()
	var url string
	require.Eventually(t, func() bool {
		url = servingURL.FindString(out.String())
		return url != ""
	}, 10*time.Second, 10*time.Millisecond, "stderr: %s", errOut.String())
	require.Contains(t, out.String(), "1 queue(s) on")
	resp, err := http.Get(url)
	require.NoError(t, err)
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.NoError(t, err)
	require.Contains(t, string(body), `href="/ops/queues/inbound"`)
	require.NotContains(t, string(body), `href="/ops/queues/outbound"`)
	require.Contains(t, string(body), "read-only")
	cancel()
	require.Equal(t, exitOK, <-exit)
}
