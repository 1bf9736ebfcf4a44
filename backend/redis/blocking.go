package redisbackend

import (
	"context"
	"errors"
	"net"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/fila-go/fila/backend"
)

// go-redis cannot cancel a command already waiting for its reply: a BLMOVE
// blocks until Redis answers whatever its context does (go-redis issue
// #2556). fila needs a blocked claim to end the moment its context ends, so
// each blocking call runs on a blocker: a one-connection client built from
// the node's own options, whose connection fila can end.
//
// Ending it is done by the server when it can: CLIENT UNBLOCK (Redis 5+) on
// the blocker's client ID makes the BLMOVE return nothing, atomically with
// every other command, so no job can move into a claim that is going away.
// A server without CLIENT ID/UNBLOCK (miniredis, some managed services) gets
// the socket closed instead; the one race left there - a job the server
// hands to the closing connection in the same instant - lands in active
// without a lock, where the stalled check returns it to waiting.
//
// A blocker serves one call at a time. Blockers are pooled per node, so an
// idle worker holds one connection, and the user's pool never has a
// connection parked in a long block.

type blocker struct {
	client *redis.Client
	addr   string

	mu   sync.Mutex
	conn net.Conn
	id   int64 // CLIENT ID of conn; 0 when the server has no CLIENT ID
}

func newBlocker(base *redis.Client, readTimeout time.Duration) *blocker {
	o := *base.Options()
	bl := &blocker{addr: o.Addr}
	dial := o.Dialer
	o.Dialer = func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := dial(ctx, network, addr)
		if err == nil {
			bl.mu.Lock()
			bl.conn, bl.id = c, 0
			bl.mu.Unlock()
		}
		return c, err
	}
	onConnect := o.OnConnect
	o.OnConnect = func(ctx context.Context, cn *redis.Conn) error {
		if onConnect != nil {
			if err := onConnect(ctx, cn); err != nil {
				return err
			}
		}
		if id, err := cn.ClientID(ctx).Result(); err == nil {
			bl.mu.Lock()
			bl.id = id
			bl.mu.Unlock()
		}
		return nil
	}
	o.PoolSize, o.MinIdleConns, o.MaxIdleConns, o.MaxActiveConns = 1, 0, 1, 1
	o.MaxRetries = -1 // the caller's loop retries; a retry here would block again after a cancel
	// BLMOVE is sent with a fractional timeout through Do, which go-redis
	// does not know blocks: the read deadline covers the longest block.
	o.ReadTimeout = readTimeout
	o.ContextTimeoutEnabled = false
	o.PushNotificationProcessor = nil
	o.MaintNotificationsConfig = nil
	o.ClientSideCacheConfig, o.ClientSideCache = nil, nil
	bl.client = redis.NewClient(&o)
	return bl
}

// unblock ends the blocker's pending command from the server side with
// CLIENT UNBLOCK, repeated until the call returns (the command may not have
// reached the server yet). It reports false when the server cannot unblock.
func (bl *blocker) unblock(base *redis.Client, done <-chan struct{}) bool {
	bl.mu.Lock()
	id := bl.id
	bl.mu.Unlock()
	if id == 0 {
		return false
	}
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		err := base.ClientUnblock(ctx, id).Err()
		cancel()
		if err != nil {
			return false
		}
		select {
		case <-done:
			return true
		case <-time.After(2 * time.Millisecond):
		}
	}
}

// interrupt ends the blocker's pending command: by unblock, or by closing
// the socket when the server cannot unblock. It reports whether the socket
// was closed.
func (bl *blocker) interrupt(base *redis.Client, done <-chan struct{}) (closed bool) {
	if bl.unblock(base, done) {
		return false
	}
	bl.mu.Lock()
	if bl.conn != nil {
		_ = bl.conn.Close()
	}
	bl.mu.Unlock()
	return true
}

// canUnblock reports whether the blocker's server has CLIENT ID (and so
// CLIENT UNBLOCK). A blocker that has not connected yet connects first.
func (bl *blocker) canUnblock(ctx context.Context) bool {
	bl.mu.Lock()
	connected, id := bl.conn != nil, bl.id
	bl.mu.Unlock()
	if !connected {
		if bl.client.Ping(ctx).Err() != nil {
			return false
		}
		bl.mu.Lock()
		id = bl.id
		bl.mu.Unlock()
	}
	return id != 0
}

// blockers pools idle blockers by node address.
type blockers struct {
	mu     sync.Mutex
	idle   map[string][]*blocker
	all    []*blocker
	closed bool
}

func (p *blockers) isClosed() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.closed
}

// get returns an idle blocker for the node of base, or a new one.
func (p *blockers) get(base *redis.Client, readTimeout time.Duration) *blocker {
	addr := base.Options().Addr
	p.mu.Lock()
	defer p.mu.Unlock()
	if n := len(p.idle[addr]); n > 0 {
		bl := p.idle[addr][n-1]
		p.idle[addr] = p.idle[addr][:n-1]
		return bl
	}
	bl := newBlocker(base, readTimeout)
	p.all = append(p.all, bl)
	return bl
}

func (p *blockers) put(bl *blocker) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		_ = bl.client.Close()
		return
	}
	if p.idle == nil {
		p.idle = map[string][]*blocker{}
	}
	p.idle[bl.addr] = append(p.idle[bl.addr], bl)
}

// drop closes a blocker that met an error it should not be reused after.
func (p *blockers) drop(bl *blocker) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for i, b := range p.all {
		if b == bl {
			p.all = append(p.all[:i], p.all[i+1:]...)
			break
		}
	}
	_ = bl.client.Close()
}

// close interrupts every blocker and closes the idle ones; busy ones are
// closed when they are put back.
func (p *blockers) close() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.closed = true
	for _, bl := range p.all {
		bl.mu.Lock()
		if bl.conn != nil {
			_ = bl.conn.Close()
		}
		bl.mu.Unlock()
	}
	for _, list := range p.idle {
		for _, bl := range list {
			_ = bl.client.Close()
		}
	}
	p.idle = nil
}

// nodeFor returns the client of the node that serves key, when the user's
// client lets fila open its own connections to it; nil otherwise (then
// blocking calls go through the user's client and are bounded by short
// timeouts instead of being cancelled).
func nodeFor(ctx context.Context, rdb redis.UniversalClient, key string) (*redis.Client, error) {
	switch c := rdb.(type) {
	case *redis.Client:
		return c, nil
	case *redis.ClusterClient:
		return c.MasterForKey(ctx, key)
	}
	return nil, nil
}

// blockingConn is what a blocking call needs from a client.
type blockingConn interface {
	Do(ctx context.Context, args ...any) *redis.Cmd
	XRead(ctx context.Context, a *redis.XReadArgs) *redis.XStreamSliceCmd
}

// blocking runs fn, which issues one blocking command, on a blocker for the
// node that serves key. When ctx ends first, the command is ended at once
// and blocking returns ctx.Err(); fn's own results are still set (a BLMOVE
// may have moved an ID just before), and the caller must account for them.
//
// Redis times blocking commands out from its 10 Hz cron, up to 100ms late.
// When wakeAt is set and the server has CLIENT UNBLOCK, fn gets precise
// true; it should then give the server a longer timeout, and blocking ends
// the command at wakeAt itself, as if it had timed out. Without a blocker
// (see nodeFor) fn runs on the user's client.
func (c *goredisConn) blocking(ctx context.Context, key string, wakeAt time.Duration, fn func(ctx context.Context, c blockingConn, precise bool) error) error {
	if c.blockers.isClosed() {
		return backend.ErrClosed
	}
	base, err := nodeFor(ctx, c.rdb, key)
	if err != nil {
		return err
	}
	if base == nil {
		return fn(ctx, c.rdb, false)
	}
	bl := c.blockers.get(base, c.blockTimeout+10*time.Second)
	// Connect a fresh blocker first, under ctx: an interrupt can only end a
	// command on a connection it knows. Ended while connecting, the call
	// must not go on to block for its whole timeout.
	unblockable := bl.canUnblock(ctx)
	if ctx.Err() != nil {
		c.blockers.put(bl) // nothing was sent: it may connect and serve the next call
		return ctx.Err()
	}
	done := make(chan struct{})
	precise := wakeAt > 0 && unblockable
	if precise {
		wake := time.AfterFunc(wakeAt, func() { bl.unblock(base, done) })
		defer wake.Stop()
	}
	closed := make(chan bool, 1)
	stop := context.AfterFunc(ctx, func() { closed <- bl.interrupt(base, done) })
	err = fn(context.WithoutCancel(ctx), bl.client, precise)
	close(done)
	if !stop() {
		if <-closed {
			c.blockers.drop(bl)
		} else {
			c.blockers.put(bl)
		}
		return ctx.Err()
	}
	if err != nil && !errors.Is(err, redis.Nil) {
		c.blockers.drop(bl) // a moved slot or a broken connection: start afresh next time
		return err
	}
	c.blockers.put(bl)
	return err
}
