package main

import (
	"errors"
	"flag"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/fila-go/fila/backend/upstash"
	"github.com/fila-go/fila/examples/whatsapp/cloudapi"
)

func TestLoadConfig(t *testing.T) {
	t.Parallel()
	env := func(kv ...string) func(string) string {
		m := map[string]string{}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return func(k string) string { return m[k] }
	}
	secrets := []string{"WHATSAPP_VERIFY_TOKEN", "v", "WHATSAPP_APP_SECRET", "s", "WHATSAPP_ACCESS_TOKEN", "a"}

	t.Run("missing secrets fail, naming every variable", func(t *testing.T) {
		t.Parallel()
		_, err := loadConfig(nil, env(), io.Discard)
		require.Error(t, err)
		for _, name := range []string{"WHATSAPP_VERIFY_TOKEN", "WHATSAPP_APP_SECRET", "WHATSAPP_ACCESS_TOKEN"} {
			require.Contains(t, err.Error(), name+" is not set")
		}
		require.Contains(t, err.Error(), "-demo")
	})

	t.Run("each role needs only its own secrets", func(t *testing.T) {
		t.Parallel()
		_, err := loadConfig([]string{"-role", "web"}, env("REDIS_URL", "redis://x", "WHATSAPP_VERIFY_TOKEN", "v", "WHATSAPP_APP_SECRET", "s"), io.Discard)
		require.NoError(t, err)
		_, err = loadConfig([]string{"-role", "worker"}, env("REDIS_URL", "redis://x", "WHATSAPP_ACCESS_TOKEN", "a"), io.Discard)
		require.NoError(t, err)
		_, err = loadConfig([]string{"-role", "worker"}, env("REDIS_URL", "redis://x"), io.Discard)
		require.ErrorContains(t, err, "WHATSAPP_ACCESS_TOKEN is not set")
		require.NotContains(t, err.Error(), "WHATSAPP_APP_SECRET")
	})

	t.Run("the defaults", func(t *testing.T) {
		t.Parallel()
		c, err := loadConfig(nil, env(secrets...), io.Discard)
		require.NoError(t, err)
		require.Equal(t, RoleAll, c.Role)
		require.Equal(t, ":8080", c.Addr())
		require.Equal(t, cloudapi.DefaultBaseURL, c.APIURL)
		require.Empty(t, c.Storage.RedisURL)
		require.Equal(t, 25*time.Second, c.ShutdownTimeout)
		require.Equal(t, slog.LevelInfo, c.LogLevel)
		require.Equal(t, 10, c.Queues.Outbound.Worker.Limiter.Max)
		require.Equal(t, time.Second, c.Queues.Outbound.Worker.Limiter.Per)
		require.Equal(t, 5, c.Queues.Outbound.Worker.Concurrency)
		require.Equal(t, 5, c.Queues.Outbound.Job.Attempts)
		require.Equal(t, 30*time.Second, c.Queues.Inbound.Worker.LockDuration)
	})

	t.Run("demo mode fills the secrets, leaves the API URL to the fake and binds loopback", func(t *testing.T) {
		t.Parallel()
		c, err := loadConfig([]string{"-demo"}, env(), io.Discard)
		require.NoError(t, err)
		require.Equal(t, demoAppSecret, c.AppSecret)
		require.Equal(t, demoVerifyToken, c.VerifyToken)
		require.Equal(t, demoAccessToken, c.AccessToken)
		require.Empty(t, c.APIURL)
		require.Equal(t, "127.0.0.1:8080", c.Addr())
		c, err = loadConfig(nil, env("DEMO", "1", "WHATSAPP_APP_SECRET", "mine"), io.Discard)
		require.NoError(t, err)
		require.True(t, c.Demo)
		require.Equal(t, "mine", c.AppSecret, "a set secret wins over the demo's")
	})

	t.Run("settings from the environment", func(t *testing.T) {
		t.Parallel()
		c, err := loadConfig([]string{"-role", "worker"}, env(append(secrets, "REDIS_URL", "rediss://u:p@host:6380/0",
			"PORT", "9000", "HOST", "127.0.0.1", "WHATSAPP_API_URL", "http://127.0.0.1:1/v1", "OUTBOUND_PER_SECOND", "80",
			"LOCK_DURATION", "5s", "STALLED_INTERVAL", "7s", "SHUTDOWN_TIMEOUT", "9s", "LOG_LEVEL", "debug", "LOG_FORMAT", "json")...), io.Discard)
		require.NoError(t, err)
		require.Equal(t, RoleWorker, c.Role)
		require.Equal(t, "127.0.0.1:9000", c.Addr())
		require.Equal(t, "http://127.0.0.1:1/v1", c.APIURL)
		require.Equal(t, 80, c.Queues.Outbound.Worker.Limiter.Max)
		require.Equal(t, 5*time.Second, c.Queues.Media.Worker.LockDuration)
		require.Equal(t, 7*time.Second, c.Queues.Status.Worker.StalledInterval)
		require.Equal(t, 9*time.Second, c.ShutdownTimeout)
		require.Equal(t, slog.LevelDebug, c.LogLevel)
		require.True(t, c.LogJSON)
	})

	t.Run("the storage variables choose the backend", func(t *testing.T) {
		t.Parallel()
		const restURL, restToken = "https://eu1-example.upstash.io", "AXXXtoken"
		cases := []struct {
			name string
			env  []string
			want StorageConfig
			err  []string // each must be in the error; none: no error
		}{
			{name: "nothing set: memory, which web and worker processes cannot share", want: StorageConfig{}},
			{name: "REDIS_URL: Redis", env: []string{"REDIS_URL", "rediss://u:p@host:6380/0"}, want: StorageConfig{RedisURL: "rediss://u:p@host:6380/0"}},
			{
				name: "DATABASE_URL: PostgreSQL", env: []string{"DATABASE_URL", "postgres://u:p@db:5432/app"},
				want: StorageConfig{DatabaseURL: "postgres://u:p@db:5432/app"},
			},
			{
				name: "DATABASE_URL and REDIS_URL conflict",
				env:  []string{"DATABASE_URL", "postgres://db/app", "REDIS_URL", "redis://x"},
				err:  []string{"DATABASE_URL and REDIS_URL", "choose one backend"},
			},
			{
				name: "both Upstash variables: Upstash with its defaults",
				env:  []string{"UPSTASH_REDIS_REST_URL", restURL, "UPSTASH_REDIS_REST_TOKEN", restToken},
				want: StorageConfig{Upstash: upstash.Config{URL: restURL, Token: restToken}},
			},
			{
				name: "surrounding spaces are trimmed, as upstash.ConfigFromEnv does",
				env:  []string{"UPSTASH_REDIS_REST_URL", " " + restURL + "\n", "UPSTASH_REDIS_REST_TOKEN", restToken + " "},
				want: StorageConfig{Upstash: upstash.Config{URL: restURL, Token: restToken}},
			},
			{
				name: "UPSTASH_POLL_MAX sets the longest idle poll",
				env:  []string{"UPSTASH_REDIS_REST_URL", restURL, "UPSTASH_REDIS_REST_TOKEN", restToken, "UPSTASH_POLL_MAX", "2m"},
				want: StorageConfig{Upstash: upstash.Config{URL: restURL, Token: restToken, PollMax: 2 * time.Minute}},
			},
			{
				name: "the URL alone names the missing token",
				env:  []string{"UPSTASH_REDIS_REST_URL", restURL},
				err:  []string{"UPSTASH_REDIS_REST_URL is set but UPSTASH_REDIS_REST_TOKEN is not"},
			},
			{
				name: "the token alone names the missing URL",
				env:  []string{"UPSTASH_REDIS_REST_TOKEN", restToken},
				err:  []string{"UPSTASH_REDIS_REST_TOKEN is set but UPSTASH_REDIS_REST_URL is not"},
			},
			{
				name: "a blank variable counts as missing",
				env:  []string{"UPSTASH_REDIS_REST_URL", restURL, "UPSTASH_REDIS_REST_TOKEN", "  "},
				err:  []string{"UPSTASH_REDIS_REST_TOKEN is not"},
			},
			{
				name: "REDIS_URL and Upstash's pair conflict",
				env:  []string{"REDIS_URL", "redis://x", "UPSTASH_REDIS_REST_URL", restURL, "UPSTASH_REDIS_REST_TOKEN", restToken},
				err:  []string{"REDIS_URL and UPSTASH_REDIS_REST_URL are both set", "choose one backend"},
			},
			{
				name: "REDIS_URL and an Upstash token alone conflict",
				env:  []string{"REDIS_URL", "redis://x", "UPSTASH_REDIS_REST_TOKEN", restToken},
				err:  []string{"REDIS_URL and UPSTASH_REDIS_REST_TOKEN are both set"},
			},
			{
				name: "a URL that is not http(s) fails at start",
				env:  []string{"UPSTASH_REDIS_REST_URL", "eu1-example.upstash.io", "UPSTASH_REDIS_REST_TOKEN", restToken},
				err:  []string{"UPSTASH_REDIS_REST_URL", "not an http(s) URL"},
			},
			{
				name: "a bad UPSTASH_POLL_MAX fails",
				env:  []string{"UPSTASH_REDIS_REST_URL", restURL, "UPSTASH_REDIS_REST_TOKEN", restToken, "UPSTASH_POLL_MAX", "10ms"},
				err:  []string{"UPSTASH_POLL_MAX is \"10ms\""},
			},
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				t.Parallel()
				cfg, err := loadConfig([]string{"-role", "web"}, env(append(append([]string(nil), secrets...), c.env...)...), io.Discard)
				if c.err == nil {
					if c.want == (StorageConfig{}) {
						require.ErrorContains(t, err, "-role web needs a shared backend", "memory is not shared")
						return
					}
					require.NoError(t, err)
					require.Equal(t, c.want, cfg.Storage)
					require.True(t, cfg.Storage.shared(), "web and worker processes can share it")
					return
				}
				require.Error(t, err)
				for _, want := range c.err {
					require.ErrorContains(t, err, want)
				}
				require.NotContains(t, err.Error(), "needs a shared backend", "one error for the storage variables")
				require.NotContains(t, err.Error(), restToken, "the token is never printed")
			})
		}
	})

	t.Run("bad values fail, naming the variable", func(t *testing.T) {
		t.Parallel()
		cases := map[string][]string{
			"-role is \"both\"": {"-role", "both"},
			"-role web needs a shared backend such as REDIS_URL": {"-role", "web"},
			"-demo runs the whole app":                           {"-demo", "-role", "worker"},
			"PORT is \"http\"":                                   {"PORT=http"},
			"WHATSAPP_API_URL is":                                {"WHATSAPP_API_URL=graph.facebook.com"},
			"LOCK_DURATION is \"30\"":                            {"LOCK_DURATION=30"},
			"OUTBOUND_PER_SECOND is \"0\"":                       {"OUTBOUND_PER_SECOND=0"},
			"LOG_LEVEL is \"loud\"":                              {"LOG_LEVEL=loud"},
		}
		for want, in := range cases {
			var args []string
			kv := append([]string(nil), secrets...)
			for _, a := range in {
				if k, v, ok := strings.Cut(a, "="); ok {
					kv = append(kv, k, v)
				} else {
					args = append(args, a)
				}
			}
			_, err := loadConfig(args, env(kv...), io.Discard)
			require.ErrorContains(t, err, want)
		}
	})

	t.Run("-h prints the environment and returns flag.ErrHelp", func(t *testing.T) {
		t.Parallel()
		var out strings.Builder
		_, err := loadConfig([]string{"-h"}, env(), &out)
		require.True(t, errors.Is(err, flag.ErrHelp))
		require.Contains(t, out.String(), "WHATSAPP_APP_SECRET")
		require.Contains(t, out.String(), "-role")
		for _, name := range []string{"REDIS_URL", "UPSTASH_REDIS_REST_URL", "UPSTASH_REDIS_REST_TOKEN", "UPSTASH_POLL_MAX"} {
			require.Contains(t, out.String(), name)
		}
	})
}
