package main

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestParseRedisURL(t *testing.T) {
	t.Parallel()

	t.Run("SingleNodeGetsTheRecommendedRetries", func(t *testing.T) {
		t.Parallel()
		tg, err := parseRedisURL("redis://:pw@127.0.0.1:7000/2?dial_timeout=3s")
		require.NoError(t, err)
		require.NotNil(t, tg.single)
		require.Equal(t, "127.0.0.1:7000", tg.single.Addr)
		require.Equal(t, "pw", tg.single.Password)
		require.Equal(t, 2, tg.single.DB)
		require.Equal(t, 3*time.Second, tg.single.DialTimeout)
		require.Equal(t, -1, tg.single.MaxRetries, "a resent script would run twice")
		require.False(t, tg.single.ContextTimeoutEnabled)
		require.Nil(t, tg.single.TLSConfig)
	})

	t.Run("AnExplicitMaxRetriesIsKept", func(t *testing.T) {
		t.Parallel()
		for _, raw := range []string{
			"redis://127.0.0.1:7000?max_retries=2",
			"redis+cluster://127.0.0.1:7000?max_retries=2",
			"redis+sentinel://127.0.0.1:26379/mymaster?max_retries=2",
		} {
			tg, err := parseRedisURL(raw)
			require.NoError(t, err, raw)
			switch {
			case tg.single != nil:
				require.Equal(t, 2, tg.single.MaxRetries, raw)
			case tg.cluster != nil:
				require.Equal(t, 2, tg.cluster.MaxRetries, raw)
			default:
				require.Equal(t, 2, tg.failover.MaxRetries, raw)
			}
		}
	})

	t.Run("TLS", func(t *testing.T) {
		t.Parallel()
		tg, err := parseRedisURL("rediss://cache.example.com:6380")
		require.NoError(t, err)
		require.NotNil(t, tg.single.TLSConfig)
		require.Equal(t, -1, tg.single.MaxRetries)
	})

	t.Run("ClusterListsItsSeedNodes", func(t *testing.T) {
		t.Parallel()
		tg, err := parseRedisURL("redis+cluster://u:p%40ss@10.0.0.1:7000,10.0.0.2:7001,10.0.0.3?pool_size=7")
		require.NoError(t, err)
		require.NotNil(t, tg.cluster)
		require.Equal(t, []string{"10.0.0.1:7000", "10.0.0.2:7001", "10.0.0.3:6379"}, tg.cluster.Addrs)
		require.Equal(t, "u", tg.cluster.Username)
		require.Equal(t, "p@ss", tg.cluster.Password)
		require.Equal(t, 7, tg.cluster.PoolSize)
		require.Equal(t, -1, tg.cluster.MaxRetries)
		require.Nil(t, tg.cluster.TLSConfig)

		tg, err = parseRedisURL("rediss+cluster://a.example.com:7000,b.example.com:7000")
		require.NoError(t, err)
		require.NotNil(t, tg.cluster.TLSConfig)
		require.Empty(t, tg.cluster.TLSConfig.ServerName, "each node is verified by its own name")
	})

	t.Run("SentinelNamesItsMaster", func(t *testing.T) {
		t.Parallel()
		tg, err := parseRedisURL("redis+sentinel://:masterpw@10.0.0.1:26379,10.0.0.2/mymaster/3?sentinel_password=spw&dial_timeout=2s")
		require.NoError(t, err)
		o := tg.failover
		require.NotNil(t, o)
		require.Equal(t, "mymaster", o.MasterName)
		require.Equal(t, []string{"10.0.0.1:26379", "10.0.0.2:26379"}, o.SentinelAddrs)
		require.Equal(t, "masterpw", o.Password)
		require.Equal(t, "spw", o.SentinelPassword)
		require.Empty(t, o.SentinelUsername)
		require.Equal(t, 3, o.DB)
		require.Equal(t, 2*time.Second, o.DialTimeout)
		require.Equal(t, -1, o.MaxRetries)
		require.Nil(t, o.TLSConfig)

		tg, err = parseRedisURL("rediss+sentinel://s1.example.com:26379/mymaster")
		require.NoError(t, err)
		require.NotNil(t, tg.failover.TLSConfig)
		require.Empty(t, tg.failover.TLSConfig.ServerName, "the master and each sentinel are verified by their own names")
	})

	t.Run("MistakesAreNamed", func(t *testing.T) {
		t.Parallel()
		for raw, want := range map[string]string{
			"127.0.0.1:6379":                          "want a URL such as",
			"redis+ring://127.0.0.1:6379":             `unknown scheme "redis+ring"`,
			"http+cluster://127.0.0.1:6379":           `unknown scheme "http+cluster"`,
			"redis+cluster://127.0.0.1:7000,,h:1":     "an empty host",
			"redis+cluster://127.0.0.1:7000/2":        "a Cluster URL has no path",
			"redis+cluster://127.0.0.1:7000?bogus=1":  "unexpected option: bogus",
			"redis+sentinel://127.0.0.1:26379":        "names the master after the hosts",
			"redis+sentinel://127.0.0.1:26379/m/1/2":  "names the master after the hosts",
			"redis+sentinel://127.0.0.1:26379/m/x":    "invalid database number",
			"redis+sentinel://127.0.0.1:26379/m?x=1":  "unexpected option: x",
			"redis+sentinel://127.0.0.1:26379/m?db=1": "",
		} {
			_, err := parseRedisURL(raw)
			if want == "" {
				require.NoError(t, err, raw)
				continue
			}
			require.ErrorContains(t, err, want, raw)
		}
	})
}

func TestRedactURLHidesPasswords(t *testing.T) {
	t.Parallel()
	for raw, want := range map[string]string{
		"redis://:s3cret@h:1":                              `"redis://:xxxxx@h:1"`,
		"redis+cluster://u:s3cret@h1:1,h2:2":               `"redis+cluster://u:xxxxx@h1:1,h2:2"`,
		"redis+sentinel://h1:1/m?sentinel_password=s3cret": `"redis+sentinel://h1:1/m?sentinel_password=xxxxx"`,
		"redis://h:1?password=s3cret":                      `"redis://h:1?password=xxxxx"`,
		"redis://user@h:1":                                 `"redis://user@h:1"`,
	} {
		require.Equal(t, want, redactURL(raw), raw)
	}
}
