package redisbackend

import (
	"bytes"
	"context"
	"net"
	"sync/atomic"
	"testing"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/fila-go/fila/backend"
	"github.com/fila-go/fila/internal/redistest"
)

// dropProxy forwards to a Redis server; when armed, it lets the next
// command containing marker reach the server, then closes the client's
// connection instead of passing the reply back (a connection dropped after
// the script ran).
type dropProxy struct {
	ln     net.Listener
	target string
	marker []byte
	armed  atomic.Bool
}

func startDropProxy(t *testing.T, target string, marker string) *dropProxy {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	p := &dropProxy{ln: ln, target: target, marker: []byte(marker)}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go p.serve(c)
		}
	}()
	return p
}

func (p *dropProxy) serve(c net.Conn) {
	s, err := net.Dial("tcp", p.target)
	if err != nil {
		c.Close()
		return
	}
	var drop atomic.Bool
	go func() {
		buf := make([]byte, 64<<10)
		for {
			n, err := c.Read(buf)
			if n > 0 {
				if p.armed.Load() && bytes.Contains(buf[:n], p.marker) && p.armed.CompareAndSwap(true, false) {
					drop.Store(true)
				}
				s.Write(buf[:n])
			}
			if err != nil {
				s.Close()
				return
			}
		}
	}()
	buf := make([]byte, 64<<10)
	for {
		n, err := s.Read(buf)
		if n > 0 {
			if drop.Load() {
				c.Close()
				s.Close()
				return
			}
			c.Write(buf[:n])
		}
		if err != nil {
			c.Close()
			return
		}
	}
}

// go-redis resends a command whose connection dropped before its reply
// (MaxRetries), and a script resent that way runs twice. With the client
// configuration the README gives for fila (MaxRetries: -1), a dropped reply
// is an error for the caller, and the script ran once: an add without a job
// ID made one job.
func TestDroppedReplyWithoutRetriesRunsAScriptOnce(t *testing.T) {
	srv := redistest.Start(t)
	p := startDropProxy(t, srv.Addr, "fila_add")
	rdb := redis.NewClient(&redis.Options{Addr: p.ln.Addr().String(), MaxRetries: -1})
	t.Cleanup(func() { _ = rdb.Close() })
	be := New(rdb)
	t.Cleanup(func() { _ = be.Close() })
	ctx := context.Background()
	// Load the function library first.
	_, err := be.QueueCounts(ctx, &backend.QueueParams{Queue: "q"})
	require.NoError(t, err)

	p.armed.Store(true)
	_, err = be.JobAdd(ctx, &backend.JobAddParams{Queue: "q", Jobs: []backend.JobAddItem{{Name: "n", Options: backend.JobOptions{Attempts: 1}}}})
	require.Error(t, err, "the reply was lost: the caller must learn the outcome is unknown")
	c, err := be.QueueCounts(ctx, &backend.QueueParams{Queue: "q"})
	require.NoError(t, err)
	require.EqualValues(t, 1, c.Waiting, "the add ran once")
}
