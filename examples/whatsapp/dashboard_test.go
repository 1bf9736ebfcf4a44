package main

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestDashboardConfig(t *testing.T) {
	t.Parallel()
	env := func(kv ...string) func(string) string {
		m := map[string]string{}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return func(k string) string { return m[k] }
	}
	c, err := loadDashboardConfig(env(), false)
	require.NoError(t, err)
	require.Empty(t, c.Password, "no password, no dashboard")
	c, err = loadDashboardConfig(env(), true)
	require.NoError(t, err)
	require.Equal(t, DashboardConfig{User: "admin", Password: "demo"}, c)
	c, err = loadDashboardConfig(env("DASHBOARD_USER", "ops", "DASHBOARD_PASSWORD", "correct horse battery"), false)
	require.NoError(t, err)
	require.Equal(t, DashboardConfig{User: "ops", Password: "correct horse battery"}, c)
	_, err = loadDashboardConfig(env("DASHBOARD_PASSWORD", "short"), true)
	require.ErrorContains(t, err, "DASHBOARD_PASSWORD has 5 characters; want at least 12")
}

func TestDashboardMount(t *testing.T) {
	t.Parallel()
	get := func(h http.Handler, user, pass string) (int, string) {
		req := httptest.NewRequest(http.MethodGet, "/admin/queues/", nil)
		if user != "" {
			req.SetBasicAuth(user, pass)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		body, _ := io.ReadAll(rec.Body)
		return rec.Code, string(body)
	}
	newHandler := func(t *testing.T, dash DashboardConfig) http.Handler {
		cfg := testConfig()
		cfg.APIURL = "http://127.0.0.1:1"
		cfg.Dashboard = dash
		app, err := newApp(context.Background(), cfg, slog.New(slog.DiscardHandler), nil)
		require.NoError(t, err)
		t.Cleanup(func() { _ = app.Close() })
		return app.Handler()
	}

	t.Run("without a password the dashboard is not served", func(t *testing.T) {
		t.Parallel()
		code, _ := get(newHandler(t, DashboardConfig{}), "", "")
		require.Equal(t, http.StatusNotFound, code)
	})
	t.Run("with a password it asks for the login and shows the queues", func(t *testing.T) {
		t.Parallel()
		h := newHandler(t, DashboardConfig{User: "admin", Password: "a long password"})
		code, _ := get(h, "", "")
		require.Equal(t, http.StatusUnauthorized, code)
		code, _ = get(h, "admin", "wrong password!")
		require.Equal(t, http.StatusUnauthorized, code)
		code, _ = get(h, "root", "a long password")
		require.Equal(t, http.StatusUnauthorized, code)
		code, body := get(h, "admin", "a long password")
		require.Equal(t, http.StatusOK, code)
		require.Contains(t, body, `href="/admin/queues/queues/outbound"`)
		require.Contains(t, body, "whatsapp queues")
	})
}
