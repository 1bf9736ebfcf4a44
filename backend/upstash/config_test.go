package upstash_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/fila-go/fila/backend/upstash"
)

// Not parallel: t.Setenv.
func TestConfigFromEnv(t *testing.T) {
	t.Run("reads the URL and the token", func(t *testing.T) {
		t.Setenv(upstash.EnvURL, " https://eu1-x.upstash.io ")
		t.Setenv(upstash.EnvToken, "tok")
		cfg, err := upstash.ConfigFromEnv()
		require.NoError(t, err)
		require.Equal(t, upstash.Config{URL: "https://eu1-x.upstash.io", Token: "tok"}, cfg)
	})

	t.Run("names a missing variable", func(t *testing.T) {
		t.Setenv(upstash.EnvURL, "https://eu1-x.upstash.io")
		t.Setenv(upstash.EnvToken, "")
		_, err := upstash.ConfigFromEnv()
		require.ErrorContains(t, err, "UPSTASH_REDIS_REST_TOKEN is not set")
		require.NotContains(t, err.Error(), "UPSTASH_REDIS_REST_URL")
		_, err = upstash.NewFromEnv()
		require.ErrorContains(t, err, "UPSTASH_REDIS_REST_TOKEN")
	})

	t.Run("names both when both are missing", func(t *testing.T) {
		t.Setenv(upstash.EnvURL, "")
		t.Setenv(upstash.EnvToken, "")
		_, err := upstash.ConfigFromEnv()
		require.ErrorContains(t, err, "environment variables UPSTASH_REDIS_REST_URL and UPSTASH_REDIS_REST_TOKEN are not set")
	})
}

func TestNewValidatesConfig(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name string
		cfg  upstash.Config
		msg  string
	}{
		{"an empty URL", upstash.Config{Token: "t"}, "Config.URL is empty"},
		{"an empty token", upstash.Config{URL: "https://x.upstash.io"}, "Config.Token is empty"},
		{"a URL that is not http(s)", upstash.Config{URL: "rediss://x.upstash.io:6379", Token: "t"}, "not an http(s) URL"},
		{"a token in the URL", upstash.Config{URL: "https://x.upstash.io/?_token=secret", Token: "t"}, "may not carry a query"},
		{"PollMax below PollMin", upstash.Config{URL: "https://x.upstash.io", Token: "t", PollMin: 2e9, PollMax: 1e9}, "below PollMin"},
	} {
		t.Run("refuses "+c.name, func(t *testing.T) {
			t.Parallel()
			_, err := upstash.New(c.cfg)
			require.ErrorContains(t, err, c.msg)
			require.NotContains(t, err.Error(), "secret", "the token is never echoed")
		})
	}

	t.Run("accepts a URL with a trailing slash", func(t *testing.T) {
		t.Parallel()
		be, err := upstash.New(upstash.Config{URL: "https://x.upstash.io/", Token: "t"})
		require.NoError(t, err)
		require.NoError(t, be.Close())
	})
}
