package upstashemu_test

import (
	"crypto/sha1"
	"encoding/hex"
	"encoding/json"
	"net/http/httptest"
	"testing"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/fila-go/fila/internal/redistest"
	"github.com/fila-go/fila/internal/upstashemu"
)

func sha1hex(s string) string {
	sum := sha1.Sum([]byte(s))
	return hex.EncodeToString(sum[:])
}

func jsonString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// onBoth runs f against the emulator in front of miniredis and in front of
// a private redis-server (7.0 refuses the allow-key-locking flag, so it
// proves the flag is taken out).
func onBoth(t *testing.T, f func(t *testing.T, b *bundle)) {
	t.Run("miniredis", func(t *testing.T) { f(t, setup(t)) })
	t.Run("redis-server", func(t *testing.T) {
		t.Parallel()
		rdb := redis.NewClient(&redis.Options{Addr: redistest.Addr(t), Protocol: 2})
		emu := upstashemu.New(rdb, "tok")
		srv := httptest.NewServer(emu)
		t.Cleanup(func() { srv.Close(); rdb.Close() })
		f(t, &bundle{t: t, srv: srv, emu: emu})
	})
}

const lockingScript = "#!lua flags=allow-key-locking\n"

func TestKeyLocking(t *testing.T) {
	t.Run("a flagged script runs, and EVALSHA finds it by the client's hash", func(t *testing.T) {
		onBoth(t, func(t *testing.T, b *bundle) {
			src := lockingScript + "redis.call('SET', KEYS[1], ARGV[1])\nreturn redis.call('GET', KEYS[1])"
			status, v := b.post("/", `["EVAL",`+jsonString(src)+`,"1","k","v"]`, nil)
			require.Equal(t, 200, status, v)
			require.Equal(t, map[string]any{"result": "v"}, v)
			status, v = b.post("/", `["EVALSHA","`+sha1hex(src)+`","1","k","w"]`, nil)
			require.Equal(t, 200, status, v)
			require.Equal(t, map[string]any{"result": "w"}, v)
		})
	})

	t.Run("the guard refuses a key not declared in KEYS", func(t *testing.T) {
		onBoth(t, func(t *testing.T, b *bundle) {
			for name, body := range map[string]string{
				"redis.call":           "return redis.call('GET', 'undeclared')",
				"redis.pcall":          "return redis.pcall('SET', 'undeclared', '1')",
				"a copy of redis.call": "local rcall = redis.call\nreturn rcall('HSET', 'undeclared', 'f', '1')",
				"a second key":         "return redis.call('RENAME', KEYS[1], 'undeclared')",
				"a stream to read":     "return redis.call('XREAD', 'COUNT', '1', 'STREAMS', KEYS[1], 'undeclared', '0', '0')",
			} {
				status, v := b.post("/", `["EVAL",`+jsonString(lockingScript+body)+`,"1","k"]`, nil)
				require.Equal(t, 400, status, name)
				require.Contains(t, v.(map[string]any)["error"], "touches key undeclared", name)
			}
			_, v := b.post("/", `["EXISTS","undeclared"]`, nil)
			require.Equal(t, map[string]any{"result": 0.0}, v, "nothing was written")
		})
	})

	t.Run("the guard refuses a command it has no key positions for", func(t *testing.T) {
		b := setup(t)
		status, v := b.post("/", `["EVAL",`+jsonString(lockingScript+"return redis.call('SORT', KEYS[1])")+`,"1","k"]`, nil)
		require.Equal(t, 400, status)
		require.Contains(t, v.(map[string]any)["error"], "no key positions known for SORT")
	})

	t.Run("a script without the flag may touch any key", func(t *testing.T) {
		b := setup(t)
		status, v := b.post("/", `["EVAL","return redis.call('SET', 'undeclared', '1')","0"]`, nil)
		require.Equal(t, 200, status, v)
	})

	t.Run("other flags stay", func(t *testing.T) {
		rdb := redis.NewClient(&redis.Options{Addr: redistest.Addr(t), Protocol: 2})
		emu := upstashemu.New(rdb, "tok")
		srv := httptest.NewServer(emu)
		t.Cleanup(func() { srv.Close(); rdb.Close() })
		b := &bundle{t: t, srv: srv, emu: emu}
		src := "#!lua flags=no-writes,allow-key-locking\nreturn redis.call('SET', KEYS[1], '1')"
		status, v := b.post("/", `["EVAL",`+jsonString(src)+`,"1","k"]`, nil)
		require.Equal(t, 400, status)
		require.Contains(t, v.(map[string]any)["error"], "Write commands are not allowed from read-only scripts")
	})

	t.Run("SCRIPT LOAD answers the client's hash", func(t *testing.T) {
		b := setup(t)
		src := lockingScript + "return redis.call('GET', KEYS[1])"
		_, v := b.post("/", `["SCRIPT","LOAD",`+jsonString(src)+`]`, nil)
		require.Equal(t, map[string]any{"result": sha1hex(src)}, v)
		status, v := b.post("/", `["EVALSHA","`+sha1hex(src)+`","1","k"]`, nil)
		require.Equal(t, 200, status, v)
	})
}

// redis-server 7.0 itself refuses the flag: the reason the emulator strips
// it, and backend/redis sends the plain variant.
func TestRedisServerRefusesTheFlag(t *testing.T) {
	rdb := redis.NewClient(&redis.Options{Addr: redistest.Addr(t)})
	t.Cleanup(func() { rdb.Close() })
	err := rdb.Eval(t.Context(), lockingScript+"return 1", nil).Err()
	require.ErrorContains(t, err, "Unexpected flag in script shebang")
}
