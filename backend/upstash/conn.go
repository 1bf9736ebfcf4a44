package upstash

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/fila-go/fila/backend"
	redisbackend "github.com/fila-go/fila/backend/redis"
)

// Conn runs fila's scripts over Upstash's REST API: it implements
// redisbackend.Conn (and deliberately not redisbackend.Blocker, so the
// backend polls). New builds a backend on one; NewConn is for wrapping it
// (metrics, tracing) before redisbackend.NewWithConn. It is safe for
// concurrent use.
type Conn struct {
	cfg    Config
	base   string
	auth   string
	client *http.Client
	own    *http.Transport // the default client's, closed by Close; nil with Config.HTTPClient
	log    *slog.Logger
	vs     variants
	// syncToken is the newest upstash-sync-token seen, echoed on every
	// request so a read never sees a replica older than our last write.
	syncToken atomic.Pointer[string]
	closed    atomic.Bool
}

var (
	_ redisbackend.Conn           = (*Conn)(nil)
	_ redisbackend.UndeclaredKeys = (*Conn)(nil)
)

// UndeclaredKeys implements redisbackend.UndeclaredKeys: with
// Config.GlobalLock a script may touch keys it was not given.
func (c *Conn) UndeclaredKeys() bool { return c.cfg.GlobalLock }

// NewConn returns the REST transport for cfg.
func NewConn(cfg Config) (*Conn, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	c := &Conn{cfg: cfg, base: cfg.URL, auth: "Bearer " + cfg.Token, client: cfg.HTTPClient, log: cfg.Logger}
	c.vs.global = cfg.GlobalLock
	if c.client == nil {
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.MaxIdleConns = cfg.MaxConns
		tr.MaxIdleConnsPerHost = cfg.MaxConns
		tr.IdleConnTimeout = 90 * time.Second
		tr.ForceAttemptHTTP2 = true
		c.own = tr
		c.client = &http.Client{Transport: tr}
	}
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	return c, nil
}

// Close closes the idle connections of the default client and makes later
// calls fail with backend.ErrClosed. A Config.HTTPClient is left alone.
func (c *Conn) Close() error {
	c.closed.Store(true)
	if c.own != nil {
		c.own.CloseIdleConnections()
	}
	return nil
}

// readOnlyScripts are fila's scripts that change nothing: a call to one may
// be sent again after a 5xx answer or a network error. Every other script
// changes state (add, claim, complete...) and is never sent twice, since a
// retried request whose first try did run would run twice.
var readOnlyScripts = map[string]bool{
	"get": true, "list": true, "counts": true, "info": true, "logs": true,
	"metrics": true, "events": true, "cursor": true, "sched_read": true,
}

// idempotent reports whether a script call may be retried: one of fila's
// read-only scripts, or the registry's "list". An application's script is
// never retried, whatever its name.
func idempotent(s *redisbackend.Script, args []any) bool {
	if !s.Builtin() {
		return false
	}
	if s.Name() == "registry" {
		return len(args) > 0 && args[0] == "list"
	}
	return readOnlyScripts[s.Name()]
}

// Eval implements redisbackend.Conn: EVALSHA, then EVAL on NOSCRIPT.
func (c *Conn) Eval(ctx context.Context, s *redisbackend.Script, keys []string, args ...any) (any, error) {
	call, err := c.vs.encodeCall(s, keys, args)
	if err != nil {
		return nil, err
	}
	idem := idempotent(s, args)
	cmd := call.command(false)
	if err := c.checkSize(call, false, len(cmd)); err != nil {
		return nil, err
	}
	v, err := c.single(ctx, cmd, call.name(false), idem)
	var e *Error
	if errors.As(err, &e) && noScript(e.Message) {
		cmd = call.command(true)
		if err := c.checkSize(call, true, len(cmd)); err != nil {
			return nil, err
		}
		v, err = c.single(ctx, cmd, call.name(true), idem)
	}
	return v, err
}

// checkSize refuses a request body of n bytes over Config.MaxRequestBytes
// before it is sent: the service would refuse it ("ERR max request size
// exceeded") after the upload. A pipeline is split below the limit, but one
// script call cannot be: it is one atomic transition whose arguments only
// the script understands. Splitting belongs to whoever builds the call
// (redisbackend.WithAddBatch bounds the jobs per add call).
func (c *Conn) checkSize(call *evalCall, full bool, n int) error {
	if n <= c.cfg.MaxRequestBytes {
		return nil
	}
	return &Error{Command: call.name(full), tooLarge: true, Message: fmt.Sprintf(
		"request of %d bytes is over Config.MaxRequestBytes (%d): one script call cannot be split; "+
			"add fewer or smaller jobs per call (redisbackend.WithAddBatch)", n, c.cfg.MaxRequestBytes)}
}

// EvalBatch implements redisbackend.Conn over /pipeline, split into
// requests below Config.MaxRequestBytes. Calls answered NOSCRIPT (they did
// not run) are sent again with EVAL, in a second pipeline.
func (c *Conn) EvalBatch(ctx context.Context, s *redisbackend.Script, keys []string, calls [][]any) ([]any, error) {
	if len(calls) == 1 {
		v, err := c.Eval(ctx, s, keys, calls[0]...)
		if err != nil {
			return nil, err
		}
		return []any{v}, nil
	}
	encoded := make([]*evalCall, len(calls))
	idem := true
	for i, args := range calls {
		call, err := c.vs.encodeCall(s, keys, args)
		if err != nil {
			return nil, err
		}
		encoded[i] = call
		idem = idem && idempotent(s, args)
	}
	out := make([]any, len(calls))
	pending := make([]int, len(calls))
	for i := range pending {
		pending[i] = i
	}
	for full := false; len(pending) > 0; full = true {
		cmds := make([][]byte, len(pending))
		for k, i := range pending {
			cmds[k] = encoded[i].command(full)
			if err := c.checkSize(encoded[i], full, len(cmds[k])+2); err != nil {
				return nil, err // before anything of this round is sent
			}
		}
		results, err := c.pipeline(ctx, cmds, encoded[0].name(full), idem)
		if err != nil {
			return nil, err
		}
		var again []int
		for k, r := range results {
			i := pending[k]
			if r.err != nil {
				if !full && noScript(r.err.Message) {
					again = append(again, i)
					continue
				}
				r.err.Command = fmt.Sprintf("%s (call %d of %d)", encoded[i].name(full), i+1, len(calls))
				return nil, r.err
			}
			out[i] = r.v
		}
		pending = again
	}
	return out, nil
}

// Ping implements redisbackend.Conn. PING is not billed by Upstash.
func (c *Conn) Ping(ctx context.Context) error {
	v, err := c.single(ctx, []byte(`["PING"]`), "PING", true)
	if err != nil {
		return err
	}
	if v != "PONG" {
		return &Error{Command: "PING", Status: 200, Message: fmt.Sprintf("unexpected reply %v", v), malformed: true}
	}
	return nil
}

// single sends one command to "/" and decodes its {"result"} or {"error"}.
func (c *Conn) single(ctx context.Context, cmd []byte, what string, idem bool) (any, error) {
	status, body, err := c.post(ctx, "/", cmd, what, idem)
	if err != nil {
		return nil, err
	}
	if status != http.StatusOK {
		return nil, statusError(what, status, body)
	}
	var a answer
	if err := json.Unmarshal(body, &a); err != nil {
		return nil, malformed(what, status, "body is not a JSON object: "+snippet(body))
	}
	if a.Error != nil {
		return nil, &Error{Command: what, Status: status, Message: *a.Error}
	}
	if a.Result == nil {
		return nil, malformed(what, status, "no result in "+snippet(body))
	}
	v, err := decodeValue(a.Result)
	if err != nil {
		return nil, malformed(what, status, err.Error())
	}
	return v, nil
}

// result is one pipeline entry: a value or its inline error.
type result struct {
	v   any
	err *Error
}

// pipeline sends cmds to /pipeline in as many requests as
// Config.MaxRequestBytes needs, in order, and returns one result per
// command. A request-level failure ends it with an error; the requests
// before it ran.
func (c *Conn) pipeline(ctx context.Context, cmds [][]byte, name string, idem bool) ([]result, error) {
	out := make([]result, 0, len(cmds))
	for start := 0; start < len(cmds); {
		end, size := start, 2
		for end < len(cmds) && (end == start || size+len(cmds[end])+1 <= c.cfg.MaxRequestBytes) {
			size += len(cmds[end]) + 1
			end++
		}
		res, err := c.pipelineRequest(ctx, cmds[start:end], name, idem)
		if err != nil {
			return nil, err
		}
		out = append(out, res...)
		start = end
	}
	return out, nil
}

func (c *Conn) pipelineRequest(ctx context.Context, cmds [][]byte, name string, idem bool) ([]result, error) {
	what := fmt.Sprintf("pipeline of %d %s", len(cmds), name)
	body := make([]byte, 0, 2+len(cmds)*(len(cmds[0])+1))
	body = append(body, '[')
	for i, cmd := range cmds {
		if i > 0 {
			body = append(body, ',')
		}
		body = append(body, cmd...)
	}
	body = append(body, ']')
	status, resp, err := c.post(ctx, "/pipeline", body, what, idem)
	if err != nil {
		return nil, err
	}
	if status != http.StatusOK {
		return nil, statusError(what, status, resp)
	}
	var answers []answer
	if err := json.Unmarshal(resp, &answers); err != nil {
		var a answer // a whole-request {"error"} with 200
		if json.Unmarshal(resp, &a) == nil && a.Error != nil {
			return nil, &Error{Command: what, Status: status, Message: *a.Error}
		}
		return nil, malformed(what, status, "body is not a JSON array: "+snippet(resp))
	}
	if len(answers) != len(cmds) {
		return nil, malformed(what, status, fmt.Sprintf("%d answers for %d commands", len(answers), len(cmds)))
	}
	out := make([]result, len(answers))
	for i, a := range answers {
		switch {
		case a.Error != nil:
			out[i].err = &Error{Command: what, Status: status, Message: *a.Error}
		case a.Result == nil:
			return nil, malformed(what, status, fmt.Sprintf("answer %d has neither result nor error", i+1))
		default:
			v, err := decodeValue(a.Result)
			if err != nil {
				return nil, malformed(what, status, fmt.Sprintf("answer %d: %v", i+1, err))
			}
			out[i].v = v
		}
	}
	return out, nil
}

// post sends one request, retrying as the call allows, and returns the
// final status and body. Errors are transport failures and the context's.
//
// Context: a request not yet sent is not sent once ctx ends. An idempotent
// request in flight is abandoned at once. A request that changes state is
// awaited (within Timeout and ctx's deadline) even when ctx is cancelled:
// abandoning it would not undo it, only lose its outcome, such as a claimed
// job that would then sit locked until the stalled check.
func (c *Conn) post(ctx context.Context, path string, body []byte, what string, idem bool) (int, []byte, error) {
	for attempt := 0; ; attempt++ {
		if c.closed.Load() {
			return 0, nil, backend.ErrClosed
		}
		if err := ctx.Err(); err != nil {
			return 0, nil, err
		}
		status, resp, err := c.attempt(ctx, path, body, idem)
		// A 5xx that says NOSCRIPT (a proxy wrapping the server's answer)
		// is answered at once: the caller sends EVAL, a retry would not help.
		if err == nil && (status < 500 || noScript(string(resp))) {
			return status, resp, nil
		}
		retry := attempt < c.cfg.Retries && ctx.Err() == nil && (idem || (err != nil && notSent(err)))
		if !retry {
			switch {
			case err == nil:
				return status, resp, nil
			case ctx.Err() != nil && idem:
				return 0, nil, ctx.Err()
			case idem || notSent(err):
				return 0, nil, fmt.Errorf("upstash: %s: %w", what, err)
			default:
				return 0, nil, fmt.Errorf("upstash: %s: outcome unknown, it may have run: %w", what, err)
			}
		}
		wait := backoff(attempt)
		if err != nil {
			c.log.DebugContext(ctx, "upstash: retrying after a network error", "command", what, "err", err, "retry_in", wait)
		} else {
			c.log.DebugContext(ctx, "upstash: retrying after a server error", "command", what, "status", status, "retry_in", wait)
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return 0, nil, ctx.Err()
		case <-t.C:
		}
	}
}

func (c *Conn) attempt(ctx context.Context, path string, body []byte, idem bool) (int, []byte, error) {
	rctx := ctx
	if !idem {
		rctx = context.WithoutCancel(ctx)
		if dl, ok := ctx.Deadline(); ok {
			var cancel context.CancelFunc
			rctx, cancel = context.WithDeadline(rctx, dl)
			defer cancel()
		}
	}
	rctx, cancel := context.WithTimeout(rctx, c.cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(rctx, http.MethodPost, c.base+path, bytes.NewReader(body))
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Authorization", c.auth)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Upstash-Encoding", "base64")
	if t := c.syncToken.Load(); t != nil {
		req.Header.Set("Upstash-Sync-Token", *t)
	}
	resp, err := c.client.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, nil, err
	}
	if t := resp.Header.Get("Upstash-Sync-Token"); t != "" {
		c.syncToken.Store(&t)
	}
	return resp.StatusCode, data, nil
}

// notSent reports a failure to open the connection: the request never left,
// so even a write may be sent again.
func notSent(err error) bool {
	var op *net.OpError
	if errors.As(err, &op) && op.Op == "dial" {
		return true
	}
	var dns *net.DNSError
	return errors.As(err, &dns)
}

// backoff is the wait before retry n+1: 50ms doubling to 2s, jittered down
// by up to half.
func backoff(attempt int) time.Duration {
	d := min(50*time.Millisecond<<min(attempt, 10), 2*time.Second)
	return d/2 + rand.N(d/2+1)
}

// statusError maps a non-200 answer to an *Error.
func statusError(what string, status int, body []byte) error {
	var a answer
	if json.Unmarshal(body, &a) == nil && a.Error != nil {
		return &Error{Command: what, Status: status, Message: *a.Error}
	}
	msg := http.StatusText(status)
	if len(bytes.TrimSpace(body)) > 0 {
		msg += ": " + snippet(body)
	}
	return &Error{Command: what, Status: status, Message: msg}
}

func malformed(what string, status int, msg string) error {
	return &Error{Command: what, Status: status, Message: msg, malformed: true}
}

// snippet quotes the start of a body for an error message.
func snippet(b []byte) string {
	const n = 200
	if len(b) > n {
		return strconv.Quote(string(b[:n])) + "..."
	}
	return strconv.Quote(string(b))
}
