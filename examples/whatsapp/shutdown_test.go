package main

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/fila-go/fila/examples/whatsapp/cloudapi"
	"github.com/fila-go/fila/examples/whatsapp/fakegraph"
)

// TestShutdownOnMemoryDrainsEveryQueue stops the app right after webhooks
// were accepted: on the memory backend the jobs die with the process, so
// the shutdown must finish them all first.
func TestShutdownOnMemoryDrainsEveryQueue(t *testing.T) {
	t.Parallel()
	fake := fakegraph.New(fakegraph.Options{Token: testAccessToken})
	fakeSrv := httptest.NewServer(fake)
	defer func() { fakeSrv.Close(); fake.Close() }()
	cfg := testConfig()
	cfg.APIURL = fakeSrv.URL
	app, err := newApp(context.Background(), cfg, slog.New(slog.NewTextHandler(testLog{t}, nil)), nil)
	require.NoError(t, err)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- app.Run(ctx, ln) }()

	hc := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{}}
	const n = 15
	for i := range n {
		body := mustJSON(t, cloudapi.TextNotification(inbound(fmt.Sprintf("wamid.drain.%d", i)), "hours?"))
		code, err := postSigned(context.Background(), hc, "http://"+ln.Addr().String()+"/webhook", body, testAppSecret)
		require.NoError(t, err)
		require.Equal(t, http.StatusOK, code)
	}
	hc.CloseIdleConnections()
	cancel() // SIGTERM right after the last 200
	require.NoError(t, <-done)

	requireOncePerMessage(t, fake.Accepted(fakegraph.Send), n)
	require.Len(t, fake.Accepted(fakegraph.Read), n)
	for _, q := range app.queues.all() {
		c, err := q.Counts(context.Background())
		require.NoError(t, err)
		require.Zero(t, pending(c), q.Name())
	}
	require.NoError(t, app.Close())
}
