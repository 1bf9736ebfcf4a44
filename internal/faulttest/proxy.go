package faulttest

import (
	"net"
	"sync"
	"testing"
	"time"
)

// Proxy forwards TCP connections from a loopback port to a target (a
// redis-server) and breaks them on command: Drop closes every connection,
// Reset aborts them with a TCP RST, Down refuses service for a while, and
// Stall holds every byte in both directions until Unstall.
type Proxy struct {
	Addr   string // where clients connect: 127.0.0.1:<port>
	target string
	ln     net.Listener

	mu     sync.Mutex
	conns  map[*proxyConn]struct{}
	down   bool
	gate   chan struct{} // closed while bytes may flow; a new open one while stalled
	closed bool
	wg     sync.WaitGroup
	done   chan struct{}
}

type proxyConn struct {
	client, server net.Conn
}

// StartProxy listens on a free loopback port and forwards to target until
// the test ends.
func StartProxy(t testing.TB, target string) *Proxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("faulttest: proxy listen: %v", err)
	}
	open := make(chan struct{})
	close(open)
	p := &Proxy{Addr: ln.Addr().String(), target: target, ln: ln, conns: map[*proxyConn]struct{}{},
		gate: open, done: make(chan struct{})}
	p.wg.Add(1)
	go p.accept()
	t.Cleanup(p.Close)
	return p
}

func (p *Proxy) accept() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		if p.down || p.closed {
			p.mu.Unlock()
			_ = c.Close()
			continue
		}
		p.mu.Unlock()
		s, err := net.DialTimeout("tcp", p.target, 2*time.Second)
		if err != nil {
			_ = c.Close() // the target is down (a restart): the client sees a closed connection
			continue
		}
		pc := &proxyConn{client: c, server: s}
		p.mu.Lock()
		if p.down || p.closed {
			p.mu.Unlock()
			_ = c.Close()
			_ = s.Close()
			continue
		}
		p.conns[pc] = struct{}{}
		p.wg.Add(2)
		p.mu.Unlock()
		go p.pipe(pc, c, s)
		go p.pipe(pc, s, c)
	}
}

// pipe copies src to dst through the stall gate until either side ends,
// then closes both.
func (p *Proxy) pipe(pc *proxyConn, src, dst net.Conn) {
	defer p.wg.Done()
	defer p.forget(pc)
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			p.mu.Lock()
			gate := p.gate
			p.mu.Unlock()
			select {
			case <-gate:
			case <-p.done:
				return
			}
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

func (p *Proxy) forget(pc *proxyConn) {
	p.mu.Lock()
	delete(p.conns, pc)
	p.mu.Unlock()
	_ = pc.client.Close()
	_ = pc.server.Close()
}

// take removes and returns every open connection.
func (p *Proxy) take() []*proxyConn {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]*proxyConn, 0, len(p.conns))
	for pc := range p.conns {
		out = append(out, pc)
		delete(p.conns, pc)
	}
	return out
}

// Conns returns the number of open forwarded connections.
func (p *Proxy) Conns() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.conns)
}

// Drop closes every open connection (FIN to both sides); new ones are served.
func (p *Proxy) Drop() int {
	conns := p.take()
	for _, pc := range conns {
		_ = pc.client.Close()
		_ = pc.server.Close()
	}
	return len(conns)
}

// Reset aborts every open connection with a TCP RST to both sides.
func (p *Proxy) Reset() int {
	conns := p.take()
	for _, pc := range conns {
		for _, c := range []net.Conn{pc.client, pc.server} {
			if tc, ok := c.(*net.TCPConn); ok {
				_ = tc.SetLinger(0)
			}
			_ = c.Close()
		}
	}
	return len(conns)
}

// SetDown, while true, closes every connection at once and every new one as
// soon as it is accepted: the server is unreachable.
func (p *Proxy) SetDown(down bool) {
	p.mu.Lock()
	p.down = down
	p.mu.Unlock()
	if down {
		p.Drop()
	}
}

// Down makes the server unreachable for d, then serves again.
func (p *Proxy) Down(d time.Duration) {
	p.SetDown(true)
	time.Sleep(d)
	p.SetDown(false)
}

// Stall holds every byte in both directions, on every connection, until
// Unstall: a network that silently stops delivering.
func (p *Proxy) Stall() {
	p.mu.Lock()
	defer p.mu.Unlock()
	select {
	case <-p.gate:
		p.gate = make(chan struct{})
	default: // already stalled
	}
}

// Unstall lets the held bytes through.
func (p *Proxy) Unstall() {
	p.mu.Lock()
	defer p.mu.Unlock()
	select {
	case <-p.gate:
	default:
		close(p.gate)
	}
}

// Close stops the proxy, closes every connection and waits for its
// goroutines.
func (p *Proxy) Close() {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return
	}
	p.closed = true
	close(p.done)
	p.mu.Unlock()
	_ = p.ln.Close()
	p.Drop()
	p.wg.Wait()
}
