package redisbackend

import (
	"context"
	"errors"
	"net"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/fila-go/fila/backend"
)

// proxyError is a server reply as a proxy in front of Redis might word it.
type proxyError string

func (e proxyError) Error() string { return string(e) }
func (proxyError) RedisError()     {}

// wrapNoScript answers every EVALSHA with msg instead of sending it, as a
// server that lost the script behind a proxy would, and counts them.
type wrapNoScript struct {
	msg string
	n   atomic.Int64
}

func (h *wrapNoScript) DialHook(next redis.DialHook) redis.DialHook { return next }

func (h *wrapNoScript) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		if strings.EqualFold(cmd.Name(), "evalsha") {
			h.n.Add(1)
			cmd.SetErr(proxyError(h.msg))
			return cmd.Err()
		}
		return next(ctx, cmd)
	}
}

func (h *wrapNoScript) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		var rest []redis.Cmder
		for _, cmd := range cmds {
			if strings.EqualFold(cmd.Name(), "evalsha") {
				h.n.Add(1)
				cmd.SetErr(proxyError(h.msg))
				continue
			}
			rest = append(rest, cmd)
		}
		if len(rest) == 0 {
			return nil
		}
		return next(ctx, rest)
	}
}

// A NOSCRIPT answer is recognized anywhere in the reply and in any case,
// so the backend falls back to EVAL behind a proxy that wraps the
// server's text; other errors are not mistaken for it.
func TestNoScriptFoundAnywhereInTheReply(t *testing.T) {
	for _, msg := range []string{
		"NOSCRIPT No matching script. Please use EVAL.",
		"ERR Failed to execute Redis command: NOSCRIPT No matching script",
		"proxy: noscript",
	} {
		t.Run(msg, func(t *testing.T) {
			mr := miniredis.RunT(t) // no FUNCTION command: scripts run with EVALSHA
			rdb := redis.NewClient(&redis.Options{Addr: mr.Addr()})
			h := &wrapNoScript{msg: msg}
			rdb.AddHook(h)
			be := New(rdb)
			t.Cleanup(func() { be.Close(); rdb.Close() })
			ctx := context.Background()

			res, err := be.JobAdd(ctx, &backend.JobAddParams{Queue: "q", Jobs: []backend.JobAddItem{
				{Name: "a", Data: []byte("{}")}, {Name: "b", Data: []byte("{}")},
			}})
			require.NoError(t, err)
			require.Len(t, res, 2)
			c, err := be.QueueCounts(ctx, &backend.QueueParams{Queue: "q"})
			require.NoError(t, err)
			require.EqualValues(t, 2, c.Waiting)
			require.NotZero(t, h.n.Load(), "EVALSHA was tried first")
		})
	}

	t.Run("a network error or another server error is not NOSCRIPT", func(t *testing.T) {
		require.False(t, isNoScript(&net.OpError{Op: "read", Err: errors.New("NOSCRIPT in a network error")}))
		require.False(t, isNoScript(proxyError("ERR Error running script: boom")))
		require.False(t, isNoScript(nil))
		require.True(t, isNoScript(proxyError("noscript")))
	})
}
