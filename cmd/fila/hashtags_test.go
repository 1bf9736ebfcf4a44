package main

import (
	"bytes"
	"context"
	"testing"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/fila-go/fila"
	redisbackend "github.com/fila-go/fila/backend/redis"
	"github.com/fila-go/fila/backend/upstash"
)

func TestParseHashTags(t *testing.T) {
	tag, err := parseHashTags(" media=m, media.*=x ,media*=y,scan=m")
	require.NoError(t, err)
	for q, want := range map[string]string{"media": "m", "media.scan": "x", "mediaX": "y", "scan": "m", "other": ""} {
		require.Equal(t, want, tag(q), q)
	}
	tag, err = parseHashTags("")
	require.NoError(t, err)
	require.Nil(t, tag, "no pairs: the default layout")
	for spec, msg := range map[string]string{
		"media":           `-hash-tags: "media" is not queue=tag`,
		"media=":          `-hash-tags: "media=" is not queue=tag`,
		"=m":              `-hash-tags: "=m" is not queue=tag`,
		"media=a,media=b": `-hash-tags: queue "media" has two tags, "a" and "b"`,
		"*media=m":        `-hash-tags: "*media" is not a queue name (letters, digits, '.', '_' and '-'), or one followed by *`,
		"me dia=m":        `-hash-tags: "me dia" is not a queue name (letters, digits, '.', '_' and '-'), or one followed by *`,
	} {
		_, err := parseHashTags(spec)
		require.EqualError(t, err, msg, spec)
	}
}

// A queue the application keeps under a hash tag is found by the CLI
// given the same tags; without them the CLI refuses it, naming the flag.
func TestHashTagsFindTheApplicationsQueues(t *testing.T) {
	mr := miniredis.RunT(t)
	rdb := redis.NewClient(&redis.Options{Addr: mr.Addr()})
	be := redisbackend.New(rdb, redisbackend.WithHashTag(func(q string) string { return map[string]string{"media": "app"}[q] }))
	t.Cleanup(func() { _ = be.Close(); _ = rdb.Close() })
	ctx := context.Background()
	_, err := fila.NewQueue(be, "media").Add(ctx, "thumb", []byte(`{}`), nil)
	require.NoError(t, err)
	require.True(t, mr.Exists("fila:{app}:media:wait"))

	cli := func(args ...string) (string, string, int) {
		var out, errOut bytes.Buffer
		code := run(ctx, append([]string{"-redis", "redis://" + mr.Addr()}, args...), &out, &errOut, noEnv, openRedis)
		return out.String(), errOut.String(), code
	}
	out, errOut, code := cli("-hash-tags", "media*=app", "stats", "media", "-json")
	require.Equal(t, exitOK, code, errOut)
	require.Contains(t, out, `"waiting": 1`)

	_, errOut, code = cli("stats", "media", "-json")
	require.Equal(t, exitFail, code)
	require.Contains(t, errOut, `queue "media" is kept under hash tag "app"`)
	require.Contains(t, errOut, `-hash-tags 'media=app'`)
	_, errOut, code = cli("obliterate", "media", "-force")
	require.Equal(t, exitFail, code, "nothing is obliterated under the wrong keys")
	require.Contains(t, errOut, `is kept under hash tag "app"`)
	out, errOut, code = cli("-hash-tags", "media=app", "stats", "media", "-json")
	require.Equal(t, exitOK, code, errOut)
	require.Contains(t, out, `"waiting": 1`, "the queue is still there and listed")

	_, errOut, code = cli("-hash-tags", "media", "stats")
	require.Equal(t, exitUsage, code)
	require.Contains(t, errOut, `-hash-tags: "media" is not queue=tag`)
}

// Over Upstash, a queue holding flows across queues (added by an
// application with GlobalLock) is refused under key locking, naming the
// flag; with -global-lock the CLI works on it.
func TestGlobalLockFlag(t *testing.T) {
	t.Parallel()
	f := newRESTFixture(t)
	app, err := upstash.New(upstash.Config{URL: f.url, Token: restToken, GlobalLock: true})
	require.NoError(t, err)
	t.Cleanup(func() { _ = app.Close() })
	jobs, err := fila.NewQueue(app, "replies").AddFlow(context.Background(), fila.FlowJob{Name: "reply",
		Children: []fila.FlowJob{{Queue: "media", Name: "download"}}})
	require.NoError(t, err)

	env := upstashEnv(f.url, restToken)
	_, errOut, code := filaWith(env, "remove", "replies", jobs[0].ID)
	require.Equal(t, exitFail, code)
	require.Contains(t, errOut, "-global-lock")
	_, errOut, code = filaWith(env, "-global-lock", "remove", "replies", jobs[0].ID)
	require.Equal(t, exitOK, code, errOut)
	c, err := fila.NewQueue(app, "media").Counts(context.Background())
	require.NoError(t, err)
	require.Equal(t, fila.Counts{}, *c, "the parent took its child in the other queue")
}

// -hash-tags and -global-lock fail for targets that have no use for them.
func TestStoreFlagsForOtherTargets(t *testing.T) {
	for args, msg := range map[[2]string]string{
		{"-postgres", "postgres://127.0.0.1:1/x"}: "-hash-tags is for Redis and Upstash",
		{"-redis", "redis://127.0.0.1:1"}:         "-global-lock is for Upstash's REST endpoint",
	} {
		flags := []string{args[0], args[1], "-global-lock", "stats"}
		if args[0] == "-postgres" {
			flags = []string{args[0], args[1], "-hash-tags", "a=b", "stats"}
		}
		_, errOut, code := filaWith(noEnv, flags...)
		require.Equal(t, exitFail, code, errOut)
		require.Contains(t, errOut, msg)
	}
}
