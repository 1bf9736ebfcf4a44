package redisbackend

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
)

// goredisConn runs fila's scripts over a go-redis client and implements
// Blocker with cancellable blocking connections (blocking.go).
type goredisConn struct {
	rdb          redis.UniversalClient
	blockers     blockers
	blockTimeout time.Duration
	// library is fila's function library; functions says whether the
	// server has it loaded (see useFunctions).
	library   string
	functions atomic.Int32
	loadMu    sync.Mutex
	retryLoad time.Time // after a network error, when to try loading again
	// boxed caches the []any form of long-lived key slices (a queue's keys,
	// which the backend builds once), by the address of their first
	// element and their length (boxedKeys): boxing 14 strings per call was
	// a third of a call's allocations.
	boxed sync.Map
}

var (
	_ Conn    = (*goredisConn)(nil)
	_ Blocker = (*goredisConn)(nil)
)

// Function library states.
const (
	functionsUnknown int32 = iota
	functionsLoaded
	functionsUnsupported
)

// useFunctions reports whether scripts can run as FCALL: it loads the
// library on the first call (on every master of a Cluster) and remembers a
// server without functions (Redis < 7, miniredis), which then gets EVALSHA.
func (c *goredisConn) useFunctions(ctx context.Context) bool {
	switch c.functions.Load() {
	case functionsLoaded:
		return true
	case functionsUnsupported:
		return false
	}
	return c.loadLibrary(ctx) == nil
}

func (c *goredisConn) loadLibrary(ctx context.Context) error {
	c.loadMu.Lock()
	defer c.loadMu.Unlock()
	if time.Now().Before(c.retryLoad) {
		return errors.New("function library: waiting to retry the load")
	}
	load := func(ctx context.Context, cl *redis.Client) error {
		return cl.FunctionLoadReplace(ctx, c.library).Err()
	}
	var err error
	switch r := c.rdb.(type) {
	case *redis.Client:
		err = load(ctx, r)
	case *redis.ClusterClient:
		err = r.ForEachMaster(ctx, load)
	default:
		c.functions.Store(functionsUnsupported)
		return errors.ErrUnsupported
	}
	var serverErr redis.Error
	switch {
	case err == nil:
		c.functions.Store(functionsLoaded)
	case errors.As(err, &serverErr):
		// The server refused (no FUNCTION command, or it rejects the
		// library): EVALSHA works everywhere, so use it from now on.
		c.functions.Store(functionsUnsupported)
	default:
		c.retryLoad = time.Now().Add(5 * time.Second) // a network error: EVALSHA meanwhile
	}
	return err
}

// isFunctionMissing reports a server that lost the library (restarted
// without persistence, a new Cluster node).
func isFunctionMissing(err error) bool {
	return err != nil && strings.Contains(strings.ToLower(err.Error()), "function not found")
}

func (c *goredisConn) Eval(ctx context.Context, s *Script, keys []string, args ...any) (any, error) {
	if s.fn != "" && c.useFunctions(ctx) {
		v, err := c.rdb.Do(ctx, c.command("fcall", s.fn, keys, args)...).Result()
		if isFunctionMissing(err) && c.loadLibrary(ctx) == nil {
			v, err = c.rdb.Do(ctx, c.command("fcall", s.fn, keys, args)...).Result()
		}
		if errors.Is(err, redis.Nil) {
			return nil, nil
		}
		if !isFunctionMissing(err) {
			return v, classify(err)
		}
	}
	v, err := c.rdb.Do(ctx, c.command("evalsha", s.hash, keys, args)...).Result()
	if isNoScript(err) {
		v, err = c.rdb.Do(ctx, c.command("eval", s.src, keys, args)...).Result()
	}
	if errors.Is(err, redis.Nil) {
		return nil, nil
	}
	return v, classify(err)
}

// isNoScript reports a server's NOSCRIPT answer (it does not have the
// script: restarted, flushed, a new Cluster node), so EVAL must send it.
// The word is looked for anywhere in the reply and in any case, as
// Upstash's client does: a proxy in front of Redis may wrap the server's
// text ("ERR Failed to execute Redis command: NOSCRIPT ..."). Only server
// replies count, never a network error.
func isNoScript(err error) bool {
	var re redis.Error
	return errors.As(err, &re) && strings.Contains(strings.ToUpper(re.Error()), "NOSCRIPT")
}

// boxedKeys names a key slice in goredisConn.boxed: its first element and
// length, as add takes a prefix of a queue's keys.
type boxedKeys struct {
	first *string
	n     int
}

// command builds EVALSHA/EVAL's arguments with the keys boxed once.
func (c *goredisConn) command(verb, script string, keys []string, args []any) []any {
	cmd := make([]any, 0, 3+len(keys)+len(args))
	cmd = append(cmd, verb, script, len(keys))
	if len(keys) > 1 {
		at := boxedKeys{&keys[0], len(keys)}
		boxed, ok := c.boxed.Load(at)
		if !ok {
			b := make([]any, len(keys))
			for i, k := range keys {
				b[i] = k
			}
			boxed, _ = c.boxed.LoadOrStore(at, b)
		}
		cmd = append(cmd, boxed.([]any)...)
	} else {
		for _, k := range keys {
			cmd = append(cmd, k)
		}
	}
	return append(cmd, args...)
}

func (c *goredisConn) EvalBatch(ctx context.Context, s *Script, keys []string, calls [][]any) ([]any, error) {
	if len(calls) == 1 {
		v, err := c.Eval(ctx, s, keys, calls[0]...)
		return []any{v}, err
	}
	verb, name := "evalsha", s.hash
	if s.fn != "" && c.useFunctions(ctx) {
		verb, name = "fcall", s.fn
	}
	pipe := c.rdb.Pipeline()
	cmds := make([]*redis.Cmd, len(calls))
	for i, args := range calls {
		cmds[i] = pipe.Do(ctx, c.command(verb, name, keys, args)...)
	}
	_, err := pipe.Exec(ctx)
	out := make([]any, len(cmds))
	var again [][]any
	var idx []int
	for i, cmd := range cmds {
		switch e := cmd.Err(); {
		case e == nil || errors.Is(e, redis.Nil):
			out[i] = cmd.Val()
		case isNoScript(e) || isFunctionMissing(e):
			// The server (restarted, or a new Cluster node) lost the script or
			// library: those calls did not run, so run them again one by one.
			again, idx = append(again, calls[i]), append(idx, i)
		default:
			return nil, classify(e)
		}
	}
	if err != nil && len(again) == 0 {
		return nil, classify(err)
	}
	for k, args := range again {
		v, err := c.Eval(ctx, s, keys, args...)
		if err != nil {
			return nil, err
		}
		out[idx[k]] = v
	}
	return out, nil
}

func (c *goredisConn) Ping(ctx context.Context) error { return classify(c.rdb.Ping(ctx).Err()) }

func (c *goredisConn) Close() error {
	c.blockers.close()
	return nil
}

// cancellable reports whether blocking calls get their own interruptible
// connections (see nodeFor); other clients get short blocks instead.
func (c *goredisConn) cancellable() bool {
	switch c.rdb.(type) {
	case *redis.Client, *redis.ClusterClient:
		return true
	}
	return false
}

func (c *goredisConn) BLMove(ctx context.Context, src, dst string, timeout time.Duration) (string, error) {
	if !c.cancellable() {
		timeout = min(timeout, time.Second)
	}
	// A block shorter than the block timeout ends at a delayed job's due
	// time and must end then, not at Redis' next 100ms tick.
	var wakeAt time.Duration
	if timeout < c.blockTimeout {
		wakeAt = max(timeout, time.Millisecond)
	}
	var id string
	err := c.blocking(ctx, src, wakeAt, func(ctx context.Context, bc blockingConn, precise bool) error {
		server := timeout
		if precise {
			server += time.Second // the client ends it at wakeAt; this is a backstop
		}
		// Not BLMove: go-redis rounds its timeout to whole seconds (Redis
		// >= 6 takes decimals).
		secs := strconv.FormatFloat(max(server, time.Millisecond).Seconds(), 'f', 3, 64)
		var err error
		id, err = bc.Do(ctx, "BLMOVE", src, dst, "RIGHT", "LEFT", secs).Text()
		return err
	})
	if ctx.Err() != nil {
		return id, ctx.Err()
	}
	if errors.Is(err, redis.Nil) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("blmove: %w", classify(err))
	}
	return id, nil
}

func (c *goredisConn) XRead(ctx context.Context, key, after string, count int, block time.Duration) ([]StreamEntry, error) {
	if !c.cancellable() {
		block = min(block, time.Second)
	}
	args := &redis.XReadArgs{Streams: []string{key, after}, Count: int64(count), Block: max(block, time.Millisecond)}
	var streams []redis.XStream
	err := c.blocking(ctx, key, 0, func(ctx context.Context, bc blockingConn, _ bool) error {
		var err error
		streams, err = bc.XRead(ctx, args).Result()
		return err
	})
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}
	if errors.Is(err, redis.Nil) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("xread: %w", classify(err))
	}
	var out []StreamEntry
	for _, s := range streams {
		for _, m := range s.Messages {
			e := StreamEntry{ID: m.ID, Values: make(map[string]string, len(m.Values))}
			for k, v := range m.Values {
				e.Values[k] = str(v)
			}
			out = append(out, e)
		}
	}
	return out, nil
}
