package upstash_test

import (
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	redisbackend "github.com/fila-go/fila/backend/redis"
	"github.com/fila-go/fila/backend/upstash"
	"github.com/fila-go/fila/internal/redistest"
	"github.com/fila-go/fila/internal/upstashemu"
)

// TestMain fails the package when a goroutine outlives the tests: every
// backend closes its HTTP connections, every worker stops.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

const testToken = "test-token"

// bundle is an emulator in front of a Redis, and what a test needs to reach
// it.
type bundle struct {
	emu *upstashemu.Server
	srv *httptest.Server
	rdb *redis.Client
	// wrap, when set, runs in front of the emulator (fault injection).
	wrap atomic.Pointer[wrapFunc]
}

// wrapFunc answers a request in place of the emulator, or passes it on to
// next.
type wrapFunc func(w http.ResponseWriter, r *http.Request, next http.Handler)

// setWrap puts f in front of the emulator.
func (b *bundle) setWrap(f wrapFunc) { b.wrap.Store(&f) }

// newBundle serves the emulator over rdb on a loopback port until the test
// ends.
func newBundle(t testing.TB, rdb *redis.Client) *bundle {
	t.Helper()
	b := &bundle{emu: upstashemu.New(rdb, testToken), rdb: rdb}
	b.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if f := b.wrap.Load(); f != nil {
			(*f)(w, r, b.emu)
			return
		}
		b.emu.ServeHTTP(w, r)
	}))
	t.Cleanup(func() { b.srv.Close(); rdb.Close() })
	return b
}

// miniBundle is an emulator over miniredis.
func miniBundle(t testing.TB) *bundle {
	t.Helper()
	mr := miniredis.RunT(t)
	return newBundle(t, redis.NewClient(&redis.Options{Addr: mr.Addr(), Protocol: 2}))
}

// realBundle is an emulator over a private redis-server (skipped without
// one unless FILA_REQUIRE_REDIS=1).
func realBundle(t testing.TB) *bundle {
	t.Helper()
	addr := redistest.Addr(t)
	return newBundle(t, redis.NewClient(&redis.Options{Addr: addr, Protocol: 2}))
}

// config returns a Config for the emulator with fast polling.
func (b *bundle) config() upstash.Config {
	return upstash.Config{URL: b.srv.URL, Token: testToken, PollMin: 2 * time.Millisecond, PollMax: 50 * time.Millisecond}
}

// backend returns a backend on cfg, closed when the test ends.
func newBackend(t testing.TB, cfg upstash.Config, opts ...redisbackend.Option) *redisbackend.Backend {
	t.Helper()
	be, err := upstash.New(cfg, opts...)
	require.NoError(t, err)
	t.Cleanup(func() { be.Close() })
	return be
}
