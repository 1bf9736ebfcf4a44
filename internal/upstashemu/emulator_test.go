package upstashemu_test

import (
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/fila-go/fila/internal/upstashemu"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

type bundle struct {
	t   *testing.T
	srv *httptest.Server
	emu *upstashemu.Server
}

func setup(t *testing.T) *bundle {
	t.Helper()
	t.Parallel()
	mr := miniredis.RunT(t)
	rdb := redis.NewClient(&redis.Options{Addr: mr.Addr(), Protocol: 2})
	emu := upstashemu.New(rdb, "tok")
	srv := httptest.NewServer(emu)
	t.Cleanup(func() { srv.Close(); rdb.Close() })
	return &bundle{t: t, srv: srv, emu: emu}
}

// post sends body to path and returns the status and the decoded JSON.
func (b *bundle) post(path, body string, header map[string]string) (int, any) {
	b.t.Helper()
	req, err := http.NewRequest(http.MethodPost, b.srv.URL+path, strings.NewReader(body))
	require.NoError(b.t, err)
	req.Header.Set("Authorization", "Bearer tok")
	req.Header.Set("Content-Type", "application/json")
	for k, v := range header {
		if v == "" {
			req.Header.Del(k)
		} else {
			req.Header.Set(k, v)
		}
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(b.t, err)
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	require.NoError(b.t, err)
	var v any
	require.NoError(b.t, json.Unmarshal(data, &v), "body %s", data)
	return resp.StatusCode, v
}

func b64(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

func TestAuth(t *testing.T) {
	t.Run("a missing token is 401", func(t *testing.T) {
		b := setup(t)
		status, v := b.post("/", `["PING"]`, map[string]string{"Authorization": ""})
		require.Equal(t, 401, status)
		require.Contains(t, v, "error")
	})
	t.Run("a wrong token is 401", func(t *testing.T) {
		b := setup(t)
		status, v := b.post("/", `["PING"]`, map[string]string{"Authorization": "Bearer nope"})
		require.Equal(t, 401, status)
		require.Contains(t, v, "error")
	})
	t.Run("the _token query parameter is accepted", func(t *testing.T) {
		b := setup(t)
		status, _ := b.post("/?_token=tok", `["PING"]`, map[string]string{"Authorization": ""})
		require.Equal(t, 200, status)
	})
}

func TestSingleCommands(t *testing.T) {
	t.Run("results are JSON, and base64 on request except OK", func(t *testing.T) {
		b := setup(t)
		status, v := b.post("/", `["SET","k","v\u00ff"]`, nil)
		require.Equal(t, 200, status)
		require.Equal(t, map[string]any{"result": "OK"}, v)
		_, v = b.post("/", `["GET","k"]`, nil)
		require.Equal(t, map[string]any{"result": "vÿ"}, v)
		_, v = b.post("/", `["GET","k"]`, map[string]string{"Upstash-Encoding": "base64"})
		require.Equal(t, map[string]any{"result": b64("vÿ")}, v)
		_, v = b.post("/", `["SET","k","v"]`, map[string]string{"Upstash-Encoding": "base64"})
		require.Equal(t, map[string]any{"result": "OK"}, v)
		_, v = b.post("/", `["RPUSH","l","a","b"]`, nil)
		require.Equal(t, map[string]any{"result": 2.0}, v)
		_, v = b.post("/", `["LRANGE","l",0,-1]`, map[string]string{"Upstash-Encoding": "base64"})
		require.Equal(t, map[string]any{"result": []any{b64("a"), b64("b")}}, v)
		_, v = b.post("/", `["GET","missing"]`, nil)
		require.Equal(t, map[string]any{"result": nil}, v)
	})
	t.Run("an unknown command is 400 with an error", func(t *testing.T) {
		b := setup(t)
		status, v := b.post("/", `["NOPE","x"]`, nil)
		require.Equal(t, 400, status)
		require.Contains(t, v.(map[string]any)["error"], "unknown command")
	})
	t.Run("a Redis error is 400 with its text", func(t *testing.T) {
		b := setup(t)
		status, v := b.post("/", `["EVALSHA","0000000000000000000000000000000000000000","0"]`, nil)
		require.Equal(t, 400, status)
		require.Contains(t, v.(map[string]any)["error"], "NOSCRIPT")
	})
	t.Run("blocking commands are refused", func(t *testing.T) {
		b := setup(t)
		for _, cmd := range []string{`["BLPOP","l","1"]`, `["BLMOVE","a","b","RIGHT","LEFT","1"]`, `["XREAD","BLOCK","10","STREAMS","s","0"]`, `["WATCH","k"]`} {
			status, v := b.post("/", cmd, nil)
			require.Equal(t, 400, status, cmd)
			require.Contains(t, v.(map[string]any)["error"], "not available over REST", cmd)
		}
	})
	t.Run("a body over the size limit is refused", func(t *testing.T) {
		b := setup(t)
		b.emu.SetMaxBody(100)
		status, v := b.post("/", `["SET","k","`+strings.Repeat("x", 200)+`"]`, nil)
		require.Equal(t, 400, status)
		require.Contains(t, v.(map[string]any)["error"], "max request size exceeded")
	})
}

func TestBatches(t *testing.T) {
	t.Run("a pipeline answers 200 with errors inline", func(t *testing.T) {
		b := setup(t)
		status, v := b.post("/pipeline", `[["SET","k","1"],["NOPE"],["INCR","k"],["BLPOP","l","1"]]`, nil)
		require.Equal(t, 200, status)
		arr := v.([]any)
		require.Len(t, arr, 4)
		require.Equal(t, map[string]any{"result": "OK"}, arr[0])
		require.Contains(t, arr[1], "error")
		require.Equal(t, map[string]any{"result": 2.0}, arr[2])
		require.Contains(t, arr[3], "error")
	})
	t.Run("multi-exec runs the commands as a transaction", func(t *testing.T) {
		b := setup(t)
		status, v := b.post("/multi-exec", `[["SET","k","1"],["INCR","k"],["GET","k"]]`, map[string]string{"Upstash-Encoding": "base64"})
		require.Equal(t, 200, status)
		require.Equal(t, []any{map[string]any{"result": "OK"}, map[string]any{"result": 2.0}, map[string]any{"result": b64("2")}}, v)
	})
	t.Run("multi-exec is discarded whole for an unsupported command", func(t *testing.T) {
		b := setup(t)
		status, v := b.post("/multi-exec", `[["SET","k","1"],["BLPOP","l","1"]]`, nil)
		require.Equal(t, 400, status)
		require.Contains(t, v, "error")
		_, v = b.post("/", `["EXISTS","k"]`, nil)
		require.Equal(t, map[string]any{"result": 0.0}, v, "nothing ran")
	})
	t.Run("commands are counted", func(t *testing.T) {
		b := setup(t)
		b.post("/pipeline", `[["SET","k","1"],["GET","k"]]`, nil)
		b.post("/", `["get","k"]`, nil)
		cmds, total := b.emu.Commands()
		require.Equal(t, map[string]int64{"SET": 1, "GET": 2}, cmds)
		require.EqualValues(t, 3, total)
		require.EqualValues(t, 2, b.emu.Requests())
	})
}

// The path form (GET /get/foo) is out of the emulator's scope: it answers
// 400 with an error naming the form it serves, never a result.
func TestPathFormIsRefused(t *testing.T) {
	b := setup(t)
	req, err := http.NewRequest(http.MethodGet, b.srv.URL+"/get/foo", nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer tok")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.Equal(t, http.StatusBadRequest, resp.StatusCode)
	require.Contains(t, string(data), "JSON-body commands")
}
