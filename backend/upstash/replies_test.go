package upstash_test

import (
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/fila-go/fila/backend"
	redisbackend "github.com/fila-go/fila/backend/redis"
	"github.com/fila-go/fila/backend/upstash"
)

// Replies the conformance suite never produces: JSON booleans, and "OK"
// inside an array, which Upstash base64-encodes like any nested string
// ("T0s=") while other servers may leave it plain. fila reads both.
func TestReplyShapes(t *testing.T) {
	t.Parallel()
	script := redisbackend.NewScript("shapes", `return 1`)
	cases := []struct {
		name string
		body string
		want any
	}{
		{"a top-level OK is plain", `{"result":"OK"}`, "OK"},
		{"a top-level true is 1", `{"result":true}`, int64(1)},
		{"a top-level false is 0", `{"result":false}`, int64(0)},
		{"booleans inside arrays", `{"result":[true,false,[true]]}`, []any{int64(1), int64(0), []any{int64(1)}}},
		{"a nested OK base64-encoded, as Upstash sends it", `{"result":["T0s=","YQ=="]}`, []any{"OK", "a"}},
		{"a nested OK left plain, as other servers may send it", `{"result":["OK",["OK","YQ=="]]}`, []any{"OK", []any{"OK", "a"}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			b := miniBundle(t)
			b.setWrap(func(w http.ResponseWriter, r *http.Request, next http.Handler) { respond(w, 200, c.body) })
			conn, err := upstash.NewConn(b.config())
			require.NoError(t, err)
			t.Cleanup(func() { conn.Close() })
			v, err := conn.Eval(ctx, script, nil)
			require.NoError(t, err)
			require.Equal(t, c.want, v)
		})
	}

	t.Run("the emulator encodes a status inside an array as Upstash does, and fila decodes it", func(t *testing.T) {
		t.Parallel()
		b := miniBundle(t)
		var mu sync.Mutex
		var bodies []string
		b.setWrap(func(w http.ResponseWriter, r *http.Request, next http.Handler) {
			rec := &recorder{ResponseWriter: w}
			next.ServeHTTP(rec, r)
			mu.Lock()
			bodies = append(bodies, rec.body.String())
			mu.Unlock()
		})
		conn, err := upstash.NewConn(b.config())
		require.NoError(t, err)
		t.Cleanup(func() { conn.Close() })
		set := redisbackend.NewScript("set", `return {redis.call('SET', KEYS[1], 'v'), redis.call('GET', KEYS[1])}`)
		v, err := conn.Eval(ctx, set, []string{"k"})
		require.NoError(t, err)
		require.Equal(t, []any{"OK", "v"}, v)
		mu.Lock()
		defer mu.Unlock()
		require.Contains(t, bodies[len(bodies)-1], `["T0s=","dg=="]`)
	})
}

// recorder passes a response on and keeps a copy of its body.
type recorder struct {
	http.ResponseWriter
	body strings.Builder
}

func (r *recorder) Write(p []byte) (int, error) {
	r.body.Write(p)
	return r.ResponseWriter.Write(p)
}

// fila's own scripts go out with the allow-key-locking shebang, so Upstash
// locks only the queue's keys; the emulator's key guard (which the whole
// conformance suite runs under) checks that they touch nothing else.
func TestScriptsDeclareKeyLocking(t *testing.T) {
	t.Parallel()
	t.Run("by default", func(t *testing.T) { testKeyLockingShebang(t, false) })
	t.Run("not with GlobalLock", func(t *testing.T) { testKeyLockingShebang(t, true) })
}

func testKeyLockingShebang(t *testing.T, global bool) {
	b := miniBundle(t)
	var mu sync.Mutex
	var evals []string
	b.setWrap(func(w http.ResponseWriter, r *http.Request, next http.Handler) {
		body := readBody(t, r)
		if strings.Contains(body, `"EVAL"`) {
			mu.Lock()
			evals = append(evals, body)
			mu.Unlock()
		}
		next.ServeHTTP(w, r)
	})
	cfg := b.config()
	cfg.GlobalLock = global
	be := newBackend(t, cfg)
	require.Equal(t, global, be.FlowsSpanQueues(), "flows across queues need scripts that reach undeclared keys")
	warm(t, be)
	addJobs(t, be, "bin", []byte("\xff")) // the binary-safe variant too
	_, err := be.JobGet(ctx, &backend.JobGetParams{Queue: "bin", ID: "1"})
	require.NoError(t, err)
	mu.Lock()
	defer mu.Unlock()
	require.GreaterOrEqual(t, len(evals), 5)
	for _, e := range evals {
		require.Equal(t, !global, strings.HasPrefix(e, `["EVAL","#!lua flags=allow-key-locking\n`), "%.80s", e)
	}
}
