package main

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/fila-go/fila/examples/whatsapp/cloudapi"
	"github.com/fila-go/fila/examples/whatsapp/fakegraph"
	"github.com/fila-go/fila/internal/redistest"
)

// TestKilledWorkerAnswersEverythingAfterRestart runs the worker role as its
// own process against a real redis-server, kills it with SIGKILL while its
// Graph API calls are in flight, starts it again, and checks that every
// webhook accepted before the kill got exactly one reply and one read
// receipt. The fake holds the calls, so the kill lands while 5 sends are
// in flight, and drops them when the process dies: they never reached
// "Meta", and the restarted worker's stalled check runs those jobs again.
func TestKilledWorkerAnswersEverythingAfterRestart(t *testing.T) {
	t.Parallel()
	redisURL := "redis://" + redistest.Addr(t) // skipped without redis-server unless FILA_REQUIRE_REDIS=1
	bin := buildApp(t)

	fake := fakegraph.New(fakegraph.Options{Token: testAccessToken})
	fakeSrv := httptest.NewServer(fake)
	t.Cleanup(func() { fakeSrv.Close(); fake.Close() })
	fake.Hold(fakegraph.Send, fakegraph.Read)

	web := setup(t, "memory", func(c *Config) { c.Role, c.Storage.RedisURL = RoleWeb, redisURL })
	port := strconv.Itoa(redistest.FreePort(t))
	env := []string{
		"REDIS_URL=" + redisURL, "WHATSAPP_ACCESS_TOKEN=" + testAccessToken, "WHATSAPP_API_URL=" + fakeSrv.URL + "/v25.0",
		"HOST=127.0.0.1", "PORT=" + port, "LOCK_DURATION=1s", "STALLED_INTERVAL=1s", "LOG_LEVEL=debug",
	}

	const n = 20
	for i := range n {
		// One customer each: a customer's replies go out one per pair
		// interval (6s, groups), which is not what this test is about.
		in := inbound(fmt.Sprintf("wamid.restart.%d", i))
		in.From = fmt.Sprintf("1650555%04d", i)
		require.Equal(t, http.StatusOK, web.post(mustJSON(t, cloudapi.TextNotification(in, "What are your opening hours?"))))
	}
	worker := startWorker(t, bin, env, port)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	require.NoError(t, fake.WaitHeld(ctx, 5), "the worker's outbound calls are in flight")

	worker.kill()
	require.Eventually(t, func() bool { return fake.Held() == 0 }, 10*time.Second, 10*time.Millisecond, "the fake drops the calls of the dead process")
	require.Empty(t, fake.Calls(), "nothing reached the fake before the kill")
	fake.Release()

	worker = startWorker(t, bin, env, port)
	require.NoError(t, fake.WaitAccepted(ctx, fakegraph.Send, n), "calls: %d", len(fake.Calls()))
	require.NoError(t, fake.WaitAccepted(ctx, fakegraph.Read, n))
	web.waitIdle()
	require.NoError(t, worker.stop(), "a SIGTERM stops the worker cleanly")

	requireOncePerMessage(t, fake.Accepted(fakegraph.Send), n)
	reads := map[string]int{}
	for _, c := range fake.Accepted(fakegraph.Read) {
		reads[c.MessageID]++
	}
	require.Len(t, reads, n)
	require.Len(t, fake.Accepted(fakegraph.Read), n, "each message marked read once")
	require.Zero(t, web.counts()[queueOutbound].Failed)
}

// buildApp builds the app's binary for a subprocess test.
func buildApp(t *testing.T) string {
	t.Helper()
	gobin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("the go command is not on PATH")
	}
	bin := filepath.Join(t.TempDir(), "whatsapp")
	out, err := exec.Command(gobin, "build", "-o", bin, ".").CombinedOutput()
	require.NoError(t, err, "go build: %s", out)
	return bin
}

// process is a running app subprocess and its log.
type process struct {
	cmd    *exec.Cmd
	logs   *syncBuffer
	exited chan struct{}
	err    error // how it exited, set before exited closes
}

// startWorker starts the worker role and waits until its /healthz answers.
func startWorker(t *testing.T, bin string, env []string, port string) *process {
	t.Helper()
	p := &process{cmd: exec.Command(bin, "-role", "worker"), logs: &syncBuffer{}, exited: make(chan struct{})}
	p.cmd.Env = env
	p.cmd.Stdout, p.cmd.Stderr = p.logs, p.logs
	require.NoError(t, p.cmd.Start())
	go func() { p.err = p.cmd.Wait(); close(p.exited) }()
	t.Cleanup(func() {
		p.kill()
		if t.Failed() {
			t.Logf("worker log:\n%s", p.logs.String())
		}
	})
	hc := &http.Client{Timeout: time.Second, Transport: &http.Transport{}}
	defer hc.CloseIdleConnections()
	require.Eventually(t, func() bool {
		resp, err := hc.Get("http://127.0.0.1:" + port + "/healthz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	}, 20*time.Second, 20*time.Millisecond, "worker did not come up:\n%s", p.logs.String())
	return p
}

// kill ends the process with SIGKILL, as a crash would, and waits for
// it. Killing an exited process does nothing.
func (p *process) kill() {
	_ = p.cmd.Process.Kill()
	<-p.exited
}

// stop ends the process with SIGTERM and returns how it exited.
func (p *process) stop() error {
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		return err
	}
	select {
	case <-p.exited:
		return p.err
	case <-time.After(30 * time.Second):
		return fmt.Errorf("worker did not stop within 30s:\n%s", p.logs.String())
	}
}
