package redisbackend

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/fila-go/fila/backend"
)

// Option tunes a Backend.
type Option func(*options)

type options struct {
	prefix           string
	eventsMaxLen     int
	metricsMinutes   int
	blockTimeout     time.Duration
	addBatch         int
	jobBuckets       int
	pollMin, pollMax time.Duration
	hashTag          func(queue string) string
}

// WithPrefix sets the key prefix; default "fila". Keys are
// "<prefix>:{<queue>}:<name>".
func WithPrefix(p string) Option { return func(o *options) { o.prefix = p } }

// WithHashTag puts a queue's keys under the hash tag tag(queue) instead of
// the queue's name: "<prefix>:{<tag>}:<queue>:<name>" (a tag that is ""
// or the queue's name keeps the default layout). Queues with one tag share
// a Redis Cluster hash slot, so one script call may move jobs in all of
// them: a flow whose jobs are in several queues needs that on Cluster
// (docs/flows.md); a single server needs no tag. The tag is part of every
// key: changing it for a queue that holds jobs leaves them behind under
// the old keys. All queues of one tag live on one Cluster node. tag must
// be deterministic, safe for concurrent use, and the same in every
// process of the queues (the backend computes a queue's keys once): a
// queue under a tag marks its default layout when the backend first adds
// to it, and a backend without the tag then refuses the queue with
// ErrHashTag on its first call on it, instead of reading empty keys.
func WithHashTag(tag func(queue string) string) Option { return func(o *options) { o.hashTag = tag } }

// WithEventsMaxLen caps each queue's event stream near n entries (XADD
// MAXLEN ~); default 10,000. An entry holds the events of one script call,
// up to 16 (a batch of finishes, a bulk add), so the stream keeps between
// n and 16n events.
func WithEventsMaxLen(n int) Option { return func(o *options) { o.eventsMaxLen = n } }

// WithMetricsMinutes sets how many minutes of per-minute completed and
// failed counts each queue keeps; default 60.
func WithMetricsMinutes(n int) Option { return func(o *options) { o.metricsMinutes = n } }

// WithBlockTimeout bounds one blocking BLMOVE or XREAD; an idle worker sends
// one command per timeout. Default 30s. Blocks also end early for the next
// delayed job and at once when their context ends.
func WithBlockTimeout(d time.Duration) Option { return func(o *options) { o.blockTimeout = d } }

// WithAddBatch sets how many jobs one add script call carries in AddBulk
// (the calls are pipelined); default 200.
func WithAddBatch(n int) Option { return func(o *options) { o.addBatch = n } }

// MaxJobBuckets is the largest WithJobBuckets count.
const MaxJobBuckets = 1024

// WithJobBuckets spreads each queue's job fields over n hashes ("job
// buckets": "<prefix>:{<queue>}:jobs", then "jobs:1" to "jobs:<n-1>", a
// job's bucket chosen by a hash of its ID) instead of the one "jobs" hash,
// so no single key grows past about 1/n of the queue's job bytes: Upstash
// refuses a key over 100 MB. Default 1; backend/upstash uses
// upstash.DefaultJobBuckets. Every script takes every bucket as a key,
// which costs Redis about 1,100 instructions per extra bucket per call.
// Values below 1 mean 1, above MaxJobBuckets mean MaxJobBuckets. The count
// is part of the queue's stored layout: every process using a queue must
// use the same one, and a process with another count gets ErrLayout on its
// first call on the queue, before it changes anything, instead of missing
// the queue's jobs. A queue made before buckets existed has one.
func WithJobBuckets(n int) Option { return func(o *options) { o.jobBuckets = n } }

// WithPollInterval sets how a transport without blocking commands (see
// NewWithConn) waits for jobs and events: from min, doubling while idle up to
// max, back to min when work appears, and never past the next delayed job.
// Defaults 20ms and 5s. Ignored by New, whose claims block.
func WithPollInterval(min, max time.Duration) Option {
	return func(o *options) { o.pollMin, o.pollMax = min, max }
}

// Backend is fila's Redis backend. It is safe for concurrent use.
type Backend struct {
	// fixed are ARGV[1] and ARGV[2] of every script, boxed once;
	// fixedCheck the same asking for a layout check (fixedArgs).
	fixed, fixedCheck []any
	conn              Conn
	blocker           Blocker // nil: the transport cannot block, so claims poll
	opts              options
	s                 *scripts

	queues sync.Map // queue name -> *queueInfo
	closed atomic.Bool
	done   chan struct{} // closed by Close: ends polling sleeps
	epoch  time.Time     // the origin of mono
}

// mono reads a monotonic clock in ns: due times kept between calls must not
// move when the machine's wall clock is stepped.
func (b *Backend) mono() int64 { return int64(time.Since(b.epoch)) + 1 }

var _ backend.Backend = (*Backend)(nil)

// queueInfo caches what a process knows about one queue.
type queueInfo struct {
	name string
	// keys are the queue's fixed keys in lib.lua's order, then job buckets
	// 1..n-1; addKeys are add.lua's (the first 8 fixed keys, then the
	// buckets) and add1Keys add1.lua's (the first 6, then the buckets).
	keys, addKeys, add1Keys []string
	// laidOut: a call on the queue succeeded, so lib.lua's check_layout
	// accepted this backend's bucket count (fixedArgs).
	laidOut    atomic.Bool
	adds       batcher // single-job adds, merged into one add.lua call
	finishes   batcher // completes and fails, merged into one finish.lua call
	registered atomic.Bool
	// readerMark is when this process last marked itself a reader of the
	// queue's events (unix ns; events.go readerRenew).
	readerMark atomic.Int64
	// dueAt is when the next delayed job is due, as last reported by a
	// script, on the backend's monotonic clock (Backend.mono); 0 means
	// unknown, -1 none.
	dueAt atomic.Int64
	// poll is the current idle poll interval (ns) of a polling transport.
	poll atomic.Int64
	// wake is closed when this process makes a job of the queue ready, so
	// its polling claims look at once instead of sleeping out the interval.
	// earlier is closed when this process learns that the next delayed job
	// is due sooner than it knew, so its blocked claims re-block with the
	// new bound (the wake marker for that may have been taken by one of its
	// own busy claims).
	wakeMu sync.Mutex
	wake   chan struct{}
	sooner chan struct{}
}

func (q *queueInfo) wakeChan() chan struct{}   { return q.chanOf(&q.wake) }
func (q *queueInfo) soonerChan() chan struct{} { return q.chanOf(&q.sooner) }

// signal wakes this process's polling claims of the queue.
func (q *queueInfo) signal() { q.fire(&q.wake) }

// chanOf returns the channel the next fire closes.
func (q *queueInfo) chanOf(c *chan struct{}) chan struct{} {
	q.wakeMu.Lock()
	defer q.wakeMu.Unlock()
	if *c == nil {
		*c = make(chan struct{})
	}
	return *c
}

func (q *queueInfo) fire(c *chan struct{}) {
	q.wakeMu.Lock()
	if *c != nil {
		close(*c)
		*c = nil
	}
	q.wakeMu.Unlock()
}

// setDue records the next delayed job's local due time (ns; -1: none) and,
// when it is sooner than what blocked claims were bounded by, wakes them.
func (q *queueInfo) setDue(due int64) {
	old := q.dueAt.Swap(due)
	if due > 0 && (old < 0 || due < old) {
		q.fire(&q.sooner)
		q.fire(&q.wake)
	}
}

// New returns a Redis backend over rdb: a *redis.Client (single node, TLS,
// Sentinel failover) or a *redis.ClusterClient; see the package doc for the
// client options fila needs. Close does not close rdb.
func New(rdb redis.UniversalClient, opts ...Option) *Backend {
	if rdb == nil {
		panic("redisbackend: New: nil client")
	}
	o := buildOptions(opts)
	b := newBackend(&goredisConn{rdb: rdb, blockTimeout: o.blockTimeout}, o)
	b.conn.(*goredisConn).library = b.s.library
	return b
}

// NewWithConn returns a backend whose scripts run over c, for transports
// other than go-redis (backend/upstash uses it). When c implements Blocker
// claims block as with New; otherwise they poll (see WithPollInterval).
func NewWithConn(c Conn, opts ...Option) *Backend {
	if c == nil {
		panic("redisbackend: NewWithConn: nil Conn")
	}
	return newBackend(c, buildOptions(opts))
}

func newBackend(c Conn, o options) *Backend {
	b := &Backend{conn: c, opts: o, s: loadScripts(), done: make(chan struct{}), epoch: time.Now(),
		fixed:      []any{strconv.Itoa(o.eventsMaxLen), strconv.Itoa(o.metricsMinutes)},
		fixedCheck: []any{strconv.Itoa(o.eventsMaxLen), strconv.Itoa(o.metricsMinutes) + "L"}}
	b.blocker, _ = c.(Blocker)
	return b
}

func buildOptions(opts []Option) options {
	o := options{prefix: "fila", eventsMaxLen: 10000, metricsMinutes: 60, blockTimeout: 30 * time.Second,
		addBatch: 200, jobBuckets: 1, pollMin: 20 * time.Millisecond, pollMax: 5 * time.Second}
	for _, f := range opts {
		f(&o)
	}
	if o.eventsMaxLen <= 0 {
		o.eventsMaxLen = 10000
	}
	if o.metricsMinutes <= 0 {
		o.metricsMinutes = 60
	}
	if o.blockTimeout < 10*time.Millisecond {
		o.blockTimeout = 30 * time.Second
	}
	if o.addBatch <= 0 {
		o.addBatch = 200
	}
	o.jobBuckets = min(max(o.jobBuckets, 1), MaxJobBuckets)
	if o.pollMin <= 0 {
		o.pollMin = 20 * time.Millisecond
	}
	if o.pollMax < o.pollMin {
		o.pollMax = max(o.pollMin, 5*time.Second)
	}
	return o
}

// keyNames are the suffixes of a queue's keys, in the order of KEYS in
// lua/lib.lua.
var keyNames = []string{
	"wait", "paused", "prio", "jobs", "meta", "events", "delayed", "dedup",
	"active", "completed", "failed", "limiter", "stalled", "metrics",
}

const (
	keyWait   = 0
	keyJobs   = 3
	keyMeta   = 4
	keyEvents = 5
	keyActive = 8
)

// keysFor returns the keys script s takes: all of the queue's, or, for
// add.lua and add1.lua, the first s.keys fixed ones and the job buckets.
func (q *queueInfo) keysFor(s *Script) []string {
	switch {
	case s.sched:
		return q.schedKeys()
	case s.keys == add1Keys:
		return q.add1Keys
	case s.keys > 0:
		return q.addKeys
	}
	return q.keys
}

// defaultBase is the start of a queue's keys without WithHashTag.
func defaultBase(prefix, name string) string { return prefix + ":{" + name + "}:" }

// queueKeys returns a queue's keys (see queueInfo) for n job buckets,
// under hash tag tag ("" for the queue's name: see WithHashTag).
func queueKeys(prefix, name, tag string, n int) []string {
	base := defaultBase(prefix, name)
	if tag != "" && tag != name {
		base = prefix + ":{" + tag + "}:" + name + ":"
	}
	keys := make([]string, len(keyNames), len(keyNames)+n-1)
	for i, k := range keyNames {
		keys[i] = base + k
	}
	for i := 1; i < n; i++ {
		keys = append(keys, base+"jobs:"+strconv.Itoa(i))
	}
	return keys
}

// base is the start every key of q shares: its first key without "wait".
func (q *queueInfo) base() string { return strings.TrimSuffix(q.keys[keyWait], keyNames[keyWait]) }

// firstKeys returns the first fixed of keys (queueKeys) and the job
// buckets after the fixed keys: the keys of a script that takes fewer.
func firstKeys(keys []string, fixed int) []string {
	if len(keys) == len(keyNames) {
		return keys[:fixed]
	}
	return append(append(make([]string, 0, fixed+len(keys)-len(keyNames)), keys[:fixed]...), keys[len(keyNames):]...)
}

func (b *Backend) queue(name string) *queueInfo {
	if q, ok := b.queues.Load(name); ok {
		return q.(*queueInfo)
	}
	tag := ""
	if b.opts.hashTag != nil {
		tag = b.opts.hashTag(name)
	}
	keys := queueKeys(b.opts.prefix, name, tag, b.opts.jobBuckets)
	qi := &queueInfo{name: name, keys: keys, addKeys: firstKeys(keys, addKeys), add1Keys: firstKeys(keys, add1Keys)}
	batch := func(s *Script) func(ctx context.Context, items [][]any) ([]any, error) {
		return func(ctx context.Context, items [][]any) ([]any, error) {
			v, err := b.run(ctx, s, qi, flatten(items)...)
			if err != nil {
				return nil, err
			}
			arr, _ := v.([]any)
			return arr, nil
		}
	}
	qi.adds = batcher{max: b.opts.addBatch, exec: func(ctx context.Context, items [][]any) ([]any, error) {
		if len(items) == 1 {
			if lean, ok := add1Args(items[0]); ok {
				v, err := b.run(ctx, b.s.add1, qi, lean...)
				if err != nil {
					return nil, err
				}
				return []any{v}, nil
			}
		}
		return batch(b.s.add)(ctx, items)
	}}
	qi.finishes = batcher{max: 100, exec: batch(b.s.finish)}
	q, _ := b.queues.LoadOrStore(name, qi)
	return q.(*queueInfo)
}

// flatten prefixes a batch's items with their count, as add.lua and
// finish.lua take them.
func flatten(items [][]any) []any {
	n := 1
	for _, it := range items {
		n += len(it)
	}
	out := make([]any, 0, n)
	out = append(out, len(items))
	for _, it := range items {
		out = append(out, it...)
	}
	return out
}

func (b *Backend) registryKey() string { return b.opts.prefix + ":queues" }

// run executes a script with the queue's keys, bounded by ctx (call.go).
// ARGV[1] and ARGV[2] (event stream length, metrics minutes) are added here.
func (b *Backend) run(ctx context.Context, s *Script, q *queueInfo, args ...any) (any, error) {
	return b.runLeft(ctx, s, q, nil, args...)
}

// runLeft is run with left: what to do with the result when the caller's
// context ended first (see eval). A script that readies jobs still wakes
// this process's polling claims then.
func (b *Backend) runLeft(ctx context.Context, s *Script, q *queueInfo, left func(any, error), args ...any) (any, error) {
	if b.closed.Load() {
		return nil, backend.ErrClosed
	}
	all := make([]any, 0, len(args)+2)
	all = append(all, b.fixedArgs(q)...)
	all = append(all, args...)
	if s.readies && ctx.Done() != nil {
		then := left
		left = func(v any, err error) {
			if err == nil {
				q.signal()
			}
			if then != nil {
				then(v, err)
			}
		}
	}
	v, err := b.eval(ctx, s, q.keysFor(s), all, left)
	if err = b.layoutChecked(q, err); err != nil {
		return nil, fmt.Errorf("redis: %s: %w", s.name, err)
	}
	if s.readies {
		q.signal()
	}
	return v, nil
}

// code interprets an integer reply: 0 or more is fine, negatives are the
// scripts' refusals.
func code(v any, id string) error {
	switch c := v.(type) {
	case int64:
		return codeErr(c, id, "")
	case []any:
		if len(c) > 0 {
			if n, ok := c[0].(int64); ok && n < 0 {
				st := ""
				if len(c) > 1 {
					st = str(c[1])
				}
				return codeErr(n, id, st)
			}
		}
	}
	return nil
}

func codeErr(c int64, id, state string) error {
	switch c {
	case -1:
		return backend.ErrLockLost
	case -2:
		return backend.ErrJobNotFound
	case -3:
		return &backend.StateError{JobID: id, State: stateLetters[stateByte(state)]}
	case -4:
		return backend.ErrJobActive
	case -5:
		return backend.ErrQueueActive
	}
	if c < 0 {
		return fmt.Errorf("redis: unexpected script code %d", c)
	}
	return nil
}

func stateByte(s string) byte {
	if s == "" {
		return 0
	}
	return s[0]
}
