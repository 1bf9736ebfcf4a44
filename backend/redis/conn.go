package redisbackend

import (
	"context"
	"crypto/sha1"
	"encoding/hex"
	"time"
)

// Script is one of fila's Lua scripts: its source and SHA1, for EVALSHA with
// an EVAL fallback.
type Script struct {
	name, src, hash string
	fn              string  // its function name in the library, for FCALL; "" if it has none
	readies         bool    // it can make jobs claimable: wake this process's polling claims
	keys            int     // how many of a queue's keys it takes, from the first (lib.lua); 0: all
	builtin         bool    // one of fila's own scripts, not an application's NewScript
	sched           bool    // it also takes the queue's schedulers hash (lua/sched_lib.lua)
	locking         *Script // the same script declaring allow-key-locking (scripts.go); nil for NewScript
}

func newScript(name, src string) *Script {
	sum := sha1.Sum([]byte(src))
	return &Script{name: name, src: src, hash: hex.EncodeToString(sum[:])}
}

// NewScript returns a Lua script that runs over any Conn with EVALSHA and
// an EVAL fallback: for an application's own atomic steps next to fila's,
// on whichever transport its queues use.
func NewScript(name, src string) *Script { return newScript(name, src) }

// Name is the script's file name without .lua.
func (s *Script) Name() string { return s.name }

// Source is the script's full Lua source.
func (s *Script) Source() string { return s.src }

// Builtin reports whether s is one of fila's own scripts. A transport that
// retries fila's read-only scripts by name must check it: an application's
// NewScript may share a name with one of them.
func (s *Script) Builtin() bool { return s.builtin }

// Hash is the SHA1 of Source, as EVALSHA takes it.
func (s *Script) Hash() string { return s.hash }

// KeyLocking returns the variant of one of fila's scripts whose source
// starts with the shebang "#!lua flags=allow-key-locking", for Upstash:
// without it Upstash runs a script under a lock on the whole database,
// with it only on the keys the script is given. Every fila script touches
// only the keys it is passed in KEYS, as the flag requires, except for a
// flow linking queues, which a backend over a Conn that sends this
// variant refuses (see UndeclaredKeys). redis-server
// (7.0 at least) rejects the flag ("Unexpected flag in script shebang"),
// so backend/redis sends Source and backend/upstash this variant; both are
// built from the same Lua (see loadScripts). For an application's
// NewScript, which may build key names, it returns s unchanged: such a
// script declares the flag itself if it qualifies.
func (s *Script) KeyLocking() *Script {
	if s.locking != nil {
		return s.locking
	}
	return s
}

// Conn is the small command interface fila's scripts run over, so one set of
// scripts serves every transport: go-redis here, Upstash's REST protocol in
// backend/upstash. Replies are normalized to int64, string, []any and nil.
type Conn interface {
	// Eval runs the script with keys and args: EVALSHA, then EVAL when the
	// server does not have it.
	Eval(ctx context.Context, s *Script, keys []string, args ...any) (any, error)
	// EvalBatch runs the script once per argument list, pipelined where the
	// transport can, and returns the replies in order. Each call is atomic on
	// its own; the batch is not.
	EvalBatch(ctx context.Context, s *Script, keys []string, calls [][]any) ([]any, error)
	// Ping checks that the server answers.
	Ping(ctx context.Context) error
}

// UndeclaredKeys is an optional interface of a Conn. UndeclaredKeys
// reports whether a script may touch keys it was not passed in KEYS: true
// on one server without key locking. A backend over a Conn that says so
// links flows across queues (FlowsSpanQueues); over any other Conn made
// by NewWithConn it does not.
type UndeclaredKeys interface {
	UndeclaredKeys() bool
}

// Blocker is a Conn that can block server-side. Without it the backend polls
// with an adaptive interval (see WithPollInterval).
type Blocker interface {
	// BLMove moves the element at src's right end to dst's left end,
	// blocking up to timeout, and returns it, or "" when the block timed
	// out. When ctx ends first it returns ctx.Err() at once, along with an
	// element the move took in that same instant, which the caller hands back.
	BLMove(ctx context.Context, src, dst string, timeout time.Duration) (string, error)
	// XRead reads up to count entries of the stream key after the ID after,
	// blocking up to block for the first; it returns raw entries as
	// {id, {field, value, ...}}, ended early by ctx like BLMove.
	XRead(ctx context.Context, key, after string, count int, block time.Duration) ([]StreamEntry, error)
	// Close releases the blocking connections.
	Close() error
}

// StreamEntry is one stream entry: its ID and its field-value pairs.
type StreamEntry struct {
	ID     string
	Values map[string]string
}
