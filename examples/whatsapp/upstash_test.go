package main

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/fila-go/fila/backend/upstash"
	"github.com/fila-go/fila/examples/whatsapp/fakegraph"
	"github.com/fila-go/fila/internal/redistest"
)

// TestUpstash covers what is particular to the Upstash REST backend; the
// flow, webhook and outbound tests run on it like on the others.
func TestUpstash(t *testing.T) {
	t.Parallel()

	t.Run("a wrong token fails the start, saying so", func(t *testing.T) {
		t.Parallel()
		cfg := testConfig()
		cfg.Storage.Upstash = startUpstash(t)
		cfg.Storage.Upstash.Token = "not-the-token"
		_, err := newApp(context.Background(), cfg, slog.New(slog.DiscardHandler), nil)
		require.ErrorIs(t, err, upstash.ErrUnauthorized)
		require.ErrorContains(t, err, "storage: connect to Upstash at "+cfg.Storage.Upstash.URL)
		require.ErrorContains(t, err, "UPSTASH_REDIS_REST_TOKEN")
		require.NotContains(t, err.Error(), "not-the-token", "the token is never logged")
	})

	t.Run("an endpoint that does not answer fails the start", func(t *testing.T) {
		t.Parallel()
		cfg := testConfig()
		cfg.Storage.Upstash = upstash.Config{URL: fmt.Sprintf("http://127.0.0.1:%d", redistest.FreePort(t)), Token: upstashTestToken}
		_, err := newApp(context.Background(), cfg, slog.New(slog.DiscardHandler), nil)
		require.ErrorContains(t, err, "storage: connect to Upstash at "+cfg.Storage.Upstash.URL)
	})

	t.Run("/healthz names the backend", func(t *testing.T) {
		t.Parallel()
		b := setup(t, "upstash")
		code, body := b.get("/healthz")
		require.Equal(t, http.StatusOK, code)
		var health map[string]string
		require.NoError(t, json.Unmarshal(body, &health))
		require.Equal(t, map[string]string{"status": "ok", "backend": "upstash", "role": "all"}, health)
	})

	t.Run("web and worker processes share the queues and the conversations", func(t *testing.T) {
		t.Parallel()
		cfg := startUpstash(t)
		web := setup(t, "memory", func(c *Config) { c.Role, c.Storage.Upstash = RoleWeb, cfg })
		worker := setup(t, "memory", func(c *Config) { c.Role, c.Storage.Upstash = RoleWorker, cfg })
		web.postText("wamid.roles.1", "What are your opening hours?")
		worker.waitAccepted(fakegraph.Send, 1)
		worker.waitAccepted(fakegraph.Read, 1)
		web.waitIdle()

		history, err := web.app.storage.store.History(context.Background(), testUser, 10)
		require.NoError(t, err)
		require.Equal(t, []string{"wamid.roles.1", worker.fake.Accepted(fakegraph.Send)[0].MessageID}, ids(history),
			"the web process reads what the worker process wrote")
		id, err := web.app.storage.store.SentMessageID(context.Background(), sendKey("wamid.roles.1"))
		require.NoError(t, err)
		require.Equal(t, history[1].ID, id)
	})

	t.Run("with the default polling, a process idle for seconds answers at once", func(t *testing.T) {
		t.Parallel()
		b := setup(t, "upstash", func(c *Config) { c.Storage.Upstash.PollMin, c.Storage.Upstash.PollMax = 0, 0 })
		// Idle claims back off from 100ms, doubling up to PollMax (30s), and
		// the poll ramp outlives each 30s claim: polls come at about 12.7s,
		// 25.5s, 30s, then 55.6s. After 33s of idling an unwoken hop would
		// wait about 20s. An add in this process wakes them. The bound is
		// generous for a loaded machine (three hops took 5s at load 24)
		// and well under what an unwoken hop would take.
		time.Sleep(33 * time.Second)
		posted := time.Now()
		b.postText("wamid.idle.1", "What are your opening hours?")
		b.waitAccepted(fakegraph.Send, 1)
		took := b.fake.Accepted(fakegraph.Send)[0].At.Sub(posted)
		require.Less(t, took, 12*time.Second, "inbound, reply and outbound were each woken by the add before them")
	})
}
