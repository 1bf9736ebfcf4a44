package dashboard

import (
	"bufio"
	"crypto/rand"
	"crypto/sha1"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"sync"
	"time"
)

// cdp is a minimal client of the Chrome DevTools Protocol over a
// hand-written WebSocket (RFC 6455, client side, text frames only): enough
// to drive one page in the browser test without a module for it.
type cdp struct {
	conn net.Conn
	r    *bufio.Reader

	mu      sync.Mutex // guards writes and the fields below
	nextID  int
	pending map[int]chan cdpReply
	events  chan cdpEvent
	closed  error
}

type cdpReply struct {
	Result json.RawMessage
	Err    error
}

type cdpEvent struct {
	Method string
	Params json.RawMessage
}

// dialCDP opens the WebSocket at a DevTools ws:// URL.
func dialCDP(wsURL string) (*cdp, error) {
	u, err := url.Parse(wsURL)
	if err != nil {
		return nil, err
	}
	conn, err := net.DialTimeout("tcp", u.Host, 5*time.Second)
	if err != nil {
		return nil, err
	}
	keyBytes := make([]byte, 16)
	_, _ = rand.Read(keyBytes)
	key := base64.StdEncoding.EncodeToString(keyBytes)
	fmt.Fprintf(conn, "GET %s HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n\r\n", u.RequestURI(), u.Host, key)
	r := bufio.NewReaderSize(conn, 1<<16)
	resp, err := http.ReadResponse(r, nil)
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("websocket handshake: %w", err)
	}
	sum := sha1.Sum([]byte(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"))
	if resp.StatusCode != http.StatusSwitchingProtocols || resp.Header.Get("Sec-WebSocket-Accept") != base64.StdEncoding.EncodeToString(sum[:]) {
		conn.Close()
		return nil, fmt.Errorf("websocket handshake: %s", resp.Status)
	}
	c := &cdp{conn: conn, r: r, pending: map[int]chan cdpReply{}, events: make(chan cdpEvent, 256)}
	go c.readLoop()
	return c, nil
}

// call sends a command and waits for its reply.
func (c *cdp) call(method string, params any, result any) error {
	c.mu.Lock()
	if c.closed != nil {
		c.mu.Unlock()
		return c.closed
	}
	c.nextID++
	id := c.nextID
	ch := make(chan cdpReply, 1)
	c.pending[id] = ch
	msg, err := json.Marshal(map[string]any{"id": id, "method": method, "params": params})
	if err == nil {
		err = c.writeFrame(msg)
	}
	c.mu.Unlock()
	if err != nil {
		return err
	}
	select {
	case rep := <-ch:
		if rep.Err != nil {
			return fmt.Errorf("%s: %w", method, rep.Err)
		}
		if result != nil {
			return json.Unmarshal(rep.Result, result)
		}
		return nil
	case <-time.After(30 * time.Second):
		return fmt.Errorf("%s: no reply in 30s", method)
	}
}

// waitEvent waits for an event by method name, dropping others.
func (c *cdp) waitEvent(method string, timeout time.Duration) error {
	deadline := time.After(timeout)
	for {
		select {
		case ev, ok := <-c.events:
			if !ok {
				return errors.New("connection closed while waiting for " + method)
			}
			if ev.Method == method {
				return nil
			}
		case <-deadline:
			return fmt.Errorf("no %s in %s", method, timeout)
		}
	}
}

// drainEvents forgets the events received so far.
func (c *cdp) drainEvents() {
	for {
		select {
		case <-c.events:
		default:
			return
		}
	}
}

// writeFrame sends one masked text frame; c.mu is held.
func (c *cdp) writeFrame(payload []byte) error {
	hdr := []byte{0x81} // FIN, text
	n := len(payload)
	switch {
	case n < 126:
		hdr = append(hdr, 0x80|byte(n))
	case n <= 0xFFFF:
		hdr = append(hdr, 0x80|126, byte(n>>8), byte(n))
	default:
		hdr = append(hdr, 0x80|127)
		hdr = binary.BigEndian.AppendUint64(hdr, uint64(n))
	}
	mask := make([]byte, 4)
	_, _ = rand.Read(mask)
	hdr = append(hdr, mask...)
	masked := make([]byte, n)
	for i := range payload {
		masked[i] = payload[i] ^ mask[i%4]
	}
	_, err := c.conn.Write(append(hdr, masked...))
	return err
}

// readMessage reads one message, joining fragments and answering pings.
func (c *cdp) readMessage() ([]byte, error) {
	var msg []byte
	for {
		var h [2]byte
		if _, err := io.ReadFull(c.r, h[:]); err != nil {
			return nil, err
		}
		fin, op := h[0]&0x80 != 0, h[0]&0x0F
		n := uint64(h[1] & 0x7F)
		switch n {
		case 126:
			var b [2]byte
			if _, err := io.ReadFull(c.r, b[:]); err != nil {
				return nil, err
			}
			n = uint64(binary.BigEndian.Uint16(b[:]))
		case 127:
			var b [8]byte
			if _, err := io.ReadFull(c.r, b[:]); err != nil {
				return nil, err
			}
			n = binary.BigEndian.Uint64(b[:])
		}
		if h[1]&0x80 != 0 {
			return nil, errors.New("websocket: the server masked a frame")
		}
		payload := make([]byte, n)
		if _, err := io.ReadFull(c.r, payload); err != nil {
			return nil, err
		}
		switch op {
		case 0x8:
			return nil, errors.New("websocket: closed by the browser")
		case 0x9: // ping: answer with a pong
			c.mu.Lock()
			_, _ = c.conn.Write([]byte{0x8A, 0x80, 0, 0, 0, 0})
			c.mu.Unlock()
			continue
		case 0xA:
			continue
		}
		msg = append(msg, payload...)
		if fin {
			return msg, nil
		}
	}
}

func (c *cdp) readLoop() {
	defer close(c.events)
	for {
		raw, err := c.readMessage()
		if err != nil {
			c.mu.Lock()
			c.closed = err
			for id, ch := range c.pending {
				ch <- cdpReply{Err: err}
				delete(c.pending, id)
			}
			c.mu.Unlock()
			return
		}
		var m struct {
			ID     int             `json:"id"`
			Method string          `json:"method"`
			Params json.RawMessage `json:"params"`
			Result json.RawMessage `json:"result"`
			Error  *struct {
				Message string `json:"message"`
			} `json:"error"`
		}
		if json.Unmarshal(raw, &m) != nil {
			continue
		}
		if m.ID == 0 {
			select {
			case c.events <- cdpEvent{m.Method, m.Params}:
			default: // nobody waits for it
			}
			continue
		}
		c.mu.Lock()
		ch := c.pending[m.ID]
		delete(c.pending, m.ID)
		c.mu.Unlock()
		if ch != nil {
			rep := cdpReply{Result: m.Result}
			if m.Error != nil {
				rep.Err = errors.New(m.Error.Message)
			}
			ch <- rep
		}
	}
}

func (c *cdp) close() { _ = c.conn.Close() }

// evaluate runs a JavaScript expression in the page and decodes its value.
func (c *cdp) evaluate(expr string, v any) error {
	var res struct {
		Result struct {
			Value json.RawMessage `json:"value"`
		} `json:"result"`
		ExceptionDetails *struct {
			Text string `json:"text"`
		} `json:"exceptionDetails"`
	}
	if err := c.call("Runtime.evaluate", map[string]any{"expression": expr, "returnByValue": true, "awaitPromise": true}, &res); err != nil {
		return err
	}
	if res.ExceptionDetails != nil {
		return fmt.Errorf("evaluate %q: %s", expr, res.ExceptionDetails.Text)
	}
	if v == nil {
		return nil
	}
	return json.Unmarshal(res.Result.Value, v)
}
