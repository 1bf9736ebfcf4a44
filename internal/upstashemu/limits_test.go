package upstashemu_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/fila-go/fila/internal/upstashemu"
)

func TestLimits(t *testing.T) {
	t.Run("a pipeline is charged per command and refused whole", func(t *testing.T) {
		b := setup(t)
		b.emu.SetLimits(upstashemu.Limits{MonthlyCommands: 3})
		status, _ := b.post("/pipeline", `[["SET","k","1"],["INCR","k"]]`, nil)
		require.Equal(t, 200, status)
		status, v := b.post("/pipeline", `[["INCR","k"],["INCR","k"]]`, nil)
		require.Equal(t, 400, status)
		require.Equal(t, map[string]any{"error": "ERR max requests limit exceeded. Limit: 3, Usage: 2"}, v)
		status, _ = b.post("/", `["INCR","k"]`, nil)
		require.Equal(t, 200, status, "the refused pipeline was not charged")
	})
	t.Run("the per-second limit counts within one second of the clock", func(t *testing.T) {
		b := setup(t)
		at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
		b.emu.SetClock(func() time.Time { return at })
		b.emu.SetLimits(upstashemu.Limits{CommandsPerSecond: 1})
		status, _ := b.post("/", `["PING"]`, nil)
		require.Equal(t, 200, status)
		status, v := b.post("/", `["PING"]`, nil)
		require.Equal(t, 429, status)
		require.Contains(t, v.(map[string]any)["error"], "per second")
		at = at.Add(time.Second)
		status, _ = b.post("/", `["PING"]`, nil)
		require.Equal(t, 200, status)
	})
	t.Run("a key over the record size is refused", func(t *testing.T) {
		b := setup(t)
		b.post("/", `["SET","big","0123456789012345678901234567890123456789"]`, nil)
		b.emu.SetLimits(upstashemu.Limits{MaxRecordBytes: 16})
		status, v := b.post("/", `["APPEND","big","x"]`, nil)
		require.Equal(t, 400, status)
		require.Equal(t, map[string]any{"error": "ERR max single record size exceeded"}, v)
		status, v = b.post("/", `["EVAL","return redis.call('GET', KEYS[1])","1","big"]`, nil)
		require.Equal(t, 400, status)
		require.Equal(t, map[string]any{"error": "ERR max single record size exceeded"}, v)
		status, _ = b.post("/", `["SET","small","1"]`, nil)
		require.Equal(t, 200, status)
	})
}

func TestUpstashReplyConventions(t *testing.T) {
	t.Run("a wrong token is 401 with Upstash's WRONGPASS text", func(t *testing.T) {
		b := setup(t)
		status, v := b.post("/", `["PING"]`, map[string]string{"Authorization": "Bearer nope"})
		require.Equal(t, 401, status)
		require.Equal(t, map[string]any{"error": "WRONGPASS invalid or missing auth token"}, v)
	})
	t.Run("only a top-level OK stays plain under base64", func(t *testing.T) {
		b := setup(t)
		enc := map[string]string{"Upstash-Encoding": "base64"}
		_, v := b.post("/", `["EVAL","return {redis.call('SET', KEYS[1], 'v'), 'OK'}","1","k"]`, enc)
		require.Equal(t, map[string]any{"result": []any{b64("OK"), b64("OK")}}, v)
		_, v = b.post("/", `["SET","k","v"]`, enc)
		require.Equal(t, map[string]any{"result": "OK"}, v)
		_, v = b.post("/pipeline", `[["SET","k","v"]]`, enc)
		require.Equal(t, []any{map[string]any{"result": "OK"}}, v)
	})
}
