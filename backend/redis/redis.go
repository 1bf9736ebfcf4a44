package redisbackend

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
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
	pollMin, pollMax time.Duration
}

// WithPrefix sets the key prefix; default "fila". Keys are
// "<prefix>:{<queue>}:<name>".
func WithPrefix(p string) Option { return func(o *options) { o.prefix = p } }

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

// WithPollInterval sets how a transport without blocking commands (see
// NewWithConn) waits for jobs and events: from min, doubling while idle up to
// max, back to min when work appears, and never past the next delayed job.
// Defaults 20ms and 5s. Ignored by New, whose claims block.
func WithPollInterval(min, max time.Duration) Option {
	return func(o *options) { o.pollMin, o.pollMax = min, max }
}

// Backend is fila's Redis backend. It is safe for concurrent use.
type Backend struct {
	// fixed are ARGV[1] and ARGV[2] of every script, boxed once.
	fixed   []any
	conn    Conn
	blocker Blocker // nil: the transport cannot block, so claims poll
	opts    options
	s       *scripts

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
	keys       []string
	adds       batcher // single-job adds, merged into one add.lua call
	finishes   batcher // completes and fails, merged into one finish.lua call
	registered atomic.Bool
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
		fixed: []any{strconv.Itoa(o.eventsMaxLen), strconv.Itoa(o.metricsMinutes)}}
	b.blocker, _ = c.(Blocker)
	return b
}

func buildOptions(opts []Option) options {
	o := options{prefix: "fila", eventsMaxLen: 10000, metricsMinutes: 60, blockTimeout: 30 * time.Second,
		addBatch: 200, pollMin: 20 * time.Millisecond, pollMax: 5 * time.Second}
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
	"wait", "paused", "prio", "delayed", "jobs", "meta", "dedup", "events",
	"active", "completed", "failed", "limiter", "stalled", "metrics",
}

const (
	keyWait   = 0
	keyEvents = 7
	keyActive = 8
)

// keysFor returns the keys script s takes: all of the queue's, or the
// first s.keys of them.
func (q *queueInfo) keysFor(s *Script) []string {
	if s.keys > 0 {
		return q.keys[:s.keys]
	}
	return q.keys
}

func (b *Backend) queue(name string) *queueInfo {
	if q, ok := b.queues.Load(name); ok {
		return q.(*queueInfo)
	}
	keys := make([]string, len(keyNames))
	for i, k := range keyNames {
		keys[i] = b.opts.prefix + ":{" + name + "}:" + k
	}
	qi := &queueInfo{keys: keys}
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
	qi.adds = batcher{max: b.opts.addBatch, exec: batch(b.s.add)}
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

// run executes a script with the queue's keys. ARGV[1] and ARGV[2] (event
// stream length, metrics minutes) are added here.
func (b *Backend) run(ctx context.Context, s *Script, q *queueInfo, args ...any) (any, error) {
	if b.closed.Load() {
		return nil, backend.ErrClosed
	}
	all := make([]any, 0, len(args)+2)
	all = append(all, b.fixed...)
	all = append(all, args...)
	v, err := b.conn.Eval(ctx, s, q.keysFor(s), all...)
	if err != nil {
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

// JobAdd implements backend.Backend. Jobs are sent in batches of
// WithAddBatch per script call, all batches in one pipeline.
func (b *Backend) JobAdd(ctx context.Context, p *backend.JobAddParams) ([]backend.JobAddResult, error) {
	q := b.queue(p.Queue)
	if b.closed.Load() {
		return nil, backend.ErrClosed
	}
	items := make([][]any, len(p.Jobs))
	for i := range p.Jobs {
		args, err := addArgs(&p.Jobs[i])
		if err != nil {
			return nil, fmt.Errorf("redis: encode job %d: %w", i, err)
		}
		items[i] = args
	}
	var replies []any
	if len(items) == 1 {
		v, err := q.adds.do(ctx, items[0])
		if err != nil {
			return nil, err
		}
		replies = []any{[]any{v}}
	} else {
		var calls [][]any
		for start := 0; start < len(items); start += b.opts.addBatch {
			args := append([]any{b.opts.eventsMaxLen, b.opts.metricsMinutes}, flatten(items[start:min(start+b.opts.addBatch, len(items))])...)
			calls = append(calls, args)
		}
		var err error
		replies, err = b.conn.EvalBatch(ctx, b.s.add, q.keysFor(b.s.add), calls)
		if err != nil {
			return nil, fmt.Errorf("redis: add: %w", err)
		}
	}
	out := make([]backend.JobAddResult, 0, len(p.Jobs))
	for _, r := range replies {
		arr, _ := r.([]any)
		for _, e := range arr {
			v, _ := e.([]any)
			if len(v) != 4 {
				return nil, fmt.Errorf("redis: malformed add reply %v", e)
			}
			res := backend.JobAddResult{Status: backend.AddStatus(num(v[0])), ID: str(v[1])}
			if res.Status != backend.AddDeduplicated {
				res.State = stateLetters[stateByte(str(v[2]))]
				res.AddedAt = msTime(num(v[3]))
			}
			out = append(out, res)
		}
	}
	if len(out) != len(p.Jobs) {
		return nil, fmt.Errorf("redis: add returned %d results for %d jobs", len(out), len(p.Jobs))
	}
	q.signal()
	b.register(ctx, p.Queue, q)
	return out, nil
}

// register records the queue name in the registry set once per process.
func (b *Backend) register(ctx context.Context, name string, q *queueInfo) {
	if q.registered.Load() {
		return
	}
	if _, err := b.conn.Eval(ctx, b.s.registry, []string{b.registryKey()}, "add", name); err == nil {
		q.registered.Store(true)
	}
}

// addArgs are one job's 7 values of add.lua.
func addArgs(it *backend.JobAddItem) ([]any, error) {
	body, err := encodeBody(it.Name, it.Data, &it.Options)
	if err != nil {
		return nil, err
	}
	did, ttl := "", int64(0)
	if it.Dedup != nil {
		did, ttl = it.Dedup.ID, ms(it.Dedup.TTL)
	}
	lifo := 0
	if it.Options.LIFO {
		lifo = 1
	}
	return []any{it.ID, it.Options.Priority, lifo, ms(it.Options.Delay), did, ttl, body}, nil
}

// JobGet implements backend.Backend.
func (b *Backend) JobGet(ctx context.Context, p *backend.JobGetParams) (*backend.Job, error) {
	v, err := b.run(ctx, b.s.get, b.queue(p.Queue), p.ID)
	if err != nil {
		return nil, err
	}
	if err := code(v, p.ID); err != nil {
		return nil, err
	}
	return decodeJob(str(v))
}

// JobList implements backend.Backend.
func (b *Backend) JobList(ctx context.Context, p *backend.JobListParams) ([]*backend.Job, error) {
	letter := stateLetter(p.State)
	if letter == "" {
		return nil, fmt.Errorf("redis: list: unknown state %q", p.State)
	}
	limit := p.Limit
	if limit <= 0 {
		limit = 100
	}
	v, err := b.run(ctx, b.s.list, b.queue(p.Queue), letter, p.Offset, limit)
	if err != nil {
		return nil, err
	}
	arr, _ := v.([]any)
	out := make([]*backend.Job, 0, len(arr))
	for _, e := range arr {
		j, err := decodeJob(str(e))
		var bad *backend.CorruptJobError
		switch {
		case errors.As(err, &bad):
			// Listed as far as it decodes, so one corrupt job does not hide
			// the page; claiming it moves it to failed with this reason.
			j.FailedReason = bad.Error()
		case err != nil:
			return nil, err
		}
		out = append(out, j)
	}
	return out, nil
}

// claimArgs are ARGV 3-6 of claim.lua (and the tail of complete and fail).
func claimArgs(p *backend.JobClaimParams) []any {
	lmax, lper := 0, int64(0)
	if p.Limit != nil && p.Limit.Max > 0 {
		lmax, lper = p.Limit.Max, ms(p.Limit.Per)
	}
	return []any{p.Token, ms(p.LockDuration), lmax, lper}
}

// claimResult decodes a claim reply and updates the queue's cached next
// delayed due time. A job whose record does not decode is failed on the
// spot (its claim holds the lock) and reported as corrupt.
func (b *Backend) claimResult(ctx context.Context, q *queueInfo, p *backend.JobClaimParams, v any) (*backend.JobClaimResult, error) {
	if reply, ok := v.(string); ok {
		j, err := decodeJob(reply)
		var bad *backend.CorruptJobError
		if errors.As(err, &bad) {
			// A job that cannot be decoded fails for good, kept for inspection.
			item := finishItemArgs([]any{"f", j.ID, p.Token, bad.Error(), "", 10, 0, 0}, backend.Retention{}, nil)
			if _, ferr := q.finishes.do(ctx, item); ferr != nil {
				return nil, ferr
			}
			return &backend.JobClaimResult{}, nil
		}
		if err != nil {
			return nil, err
		}
		q.poll.Store(0)
		return &backend.JobClaimResult{Job: j}, nil
	}
	arr, ok := v.([]any)
	if !ok || len(arr) < 2 {
		if err := code(v, ""); err != nil {
			return nil, err
		}
		return nil, fmt.Errorf("redis: malformed claim reply %v", v)
	}
	switch num(arr[0]) {
	case 0:
		due := num(arr[1])
		if due < 0 {
			q.setDue(-1)
		} else {
			q.setDue(b.mono() + int64(time.Duration(due)*time.Millisecond))
		}
		return &backend.JobClaimResult{}, nil
	case 2:
		return &backend.JobClaimResult{RetryAfter: time.Duration(num(arr[1])) * time.Millisecond}, nil
	}
	return nil, code(v, "")
}

// JobClaim implements backend.Backend. It runs the claim script when a
// delayed job may be due (or nothing is known yet), and otherwise waits:
// blocking on BLMOVE wait -> active (bounded by the block timeout, the next
// delayed job and p.Wait, so an idle worker sends one command per block),
// or, on a transport that cannot block, polling with an interval that grows
// while the queue stays idle.
func (b *Backend) JobClaim(ctx context.Context, p *backend.JobClaimParams) (*backend.JobClaimResult, error) {
	q := b.queue(p.Queue)
	deadline := time.Now().Add(p.Wait)
	for {
		due := q.dueAt.Load()
		if p.Wait <= 0 || b.blocker == nil || due == 0 || (due > 0 && b.mono() >= due) {
			v, err := b.run(ctx, b.s.claim, q, claimArgs(p)...)
			if err != nil {
				return nil, err
			}
			res, err := b.claimResult(ctx, q, p, v)
			if err != nil || res.Job != nil || res.RetryAfter > 0 || p.Wait <= 0 {
				return res, err
			}
			due = q.dueAt.Load()
		}
		wait := time.Until(deadline)
		if due > 0 {
			wait = min(wait, time.Duration(due-b.mono()))
		}
		if b.blocker == nil {
			if time.Until(deadline) <= 0 {
				return &backend.JobClaimResult{}, nil
			}
			if err := b.pollWait(ctx, q, min(wait, b.nextPoll(q))); err != nil {
				return nil, err
			}
			continue
		}
		wait = min(wait, b.opts.blockTimeout)
		if wait <= 0 {
			if time.Until(deadline) <= 0 {
				return &backend.JobClaimResult{}, nil
			}
			q.dueAt.Store(0) // due now: claim again
			continue
		}
		id, err := b.blockUntilSooner(ctx, q, wait)
		if err != nil {
			if ctx.Err() != nil {
				if id != "" {
					b.unclaim(q, id)
				}
				return nil, ctx.Err()
			}
			if b.closed.Load() {
				return nil, backend.ErrClosed
			}
			return nil, fmt.Errorf("redis: %w", err)
		}
		if id == "" {
			continue // timed out: the loop re-checks the due time and the deadline
		}
		args := append([]any{id}, claimArgs(p)...)
		v, err := b.run(ctx, b.s.claimMoved, q, args...)
		if err != nil {
			return nil, err
		}
		res, err := b.claimResult(ctx, q, p, v)
		if err != nil || res.Job != nil || res.RetryAfter > 0 {
			return res, err
		}
	}
}

// errSooner ends a blocked claim whose bound a sooner delayed job changed.
var errSooner = errors.New("a delayed job is due sooner")

// blockUntilSooner runs BLMOVE for up to wait, ended early (like a timeout)
// when this process learns of a sooner delayed job (queueInfo.setDue). It
// returns the moved id, or "" when the block ended without one.
func (b *Backend) blockUntilSooner(ctx context.Context, q *queueInfo, wait time.Duration) (string, error) {
	sooner := q.soonerChan()
	bctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	go func() {
		select {
		case <-sooner:
			cancel(errSooner)
		case <-bctx.Done():
		}
	}()
	id, err := b.blocker.BLMove(bctx, q.keys[keyWait], q.keys[keyActive], wait)
	if err != nil && ctx.Err() == nil && errors.Is(context.Cause(bctx), errSooner) {
		return id, nil // a job moved in that instant is claimed as usual
	}
	return id, err
}

// nextPoll returns how long an idle polling claim sleeps, doubling the
// queue's interval up to the maximum; a claimed job resets it.
func (b *Backend) nextPoll(q *queueInfo) time.Duration {
	for {
		cur := time.Duration(q.poll.Load())
		next := min(max(cur*2, b.opts.pollMin), b.opts.pollMax)
		if q.poll.CompareAndSwap(int64(cur), int64(next)) {
			return max(cur, b.opts.pollMin)
		}
	}
}

// pollWait sleeps d between polls, or less: a local change to the queue
// (q.signal) ends it early. It fails when ctx ends or the backend closes.
// q may be nil (no local wake-ups).
func (b *Backend) pollWait(ctx context.Context, q *queueInfo, d time.Duration) error {
	var wake chan struct{}
	if q != nil {
		wake = q.wakeChan()
	}
	t := time.NewTimer(max(d, 0))
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-wake:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-b.done:
		return backend.ErrClosed
	}
}

// unclaim hands back an id that a cancelled BLMOVE moved to active.
func (b *Backend) unclaim(q *queueInfo, id string) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, _ = b.run(ctx, b.s.unclaim, q, id) // on failure the stalled check returns it
}

// finishItemArgs are one item of finish.lua: the outcome (a complete's 3
// values, a fail's 7), retention, and the next claim's token followed, when
// there is one, by its lock and limiter. Every argument costs Redis an
// object and the script a string, so an item carries only what it uses.
func finishItemArgs(outcome []any, r backend.Retention, next *backend.JobClaimParams) []any {
	item := make([]any, 0, len(outcome)+7)
	item = append(item, outcome...)
	remove := 0
	if r.Remove {
		remove = 1
	}
	item = append(item, remove, r.KeepLast, ms(r.KeepFor))
	if next == nil {
		return append(item, "")
	}
	return append(item, claimArgs(next)...)
}

// JobComplete implements backend.Backend.
func (b *Backend) JobComplete(ctx context.Context, p *backend.JobCompleteParams) (*backend.JobClaimResult, error) {
	item := finishItemArgs([]any{"c", p.ID, p.Token, string(p.ReturnValue)}, p.Retention, p.Next)
	return b.finishItem(ctx, b.queue(p.Queue), p.ID, p.Next, item)
}

// JobFail implements backend.Backend.
func (b *Backend) JobFail(ctx context.Context, p *backend.JobFailParams) (*backend.JobClaimResult, error) {
	keep := p.KeepStacktraces
	if keep <= 0 {
		keep = 10
	}
	retry := 0
	if p.Retry {
		retry = 1
	}
	item := finishItemArgs([]any{"f", p.ID, p.Token, p.Reason, p.Stacktrace, keep, retry, ms(p.RetryDelay)}, p.Retention, p.Next)
	return b.finishItem(ctx, b.queue(p.Queue), p.ID, p.Next, item)
}

func (b *Backend) finishItem(ctx context.Context, q *queueInfo, id string, next *backend.JobClaimParams, item []any) (*backend.JobClaimResult, error) {
	if b.closed.Load() {
		return nil, backend.ErrClosed
	}
	v, err := q.finishes.do(ctx, item)
	if err != nil {
		return nil, err
	}
	if err := code(v, id); err != nil {
		return nil, err
	}
	if next == nil {
		return &backend.JobClaimResult{}, nil
	}
	return b.claimResult(ctx, q, next, v)
}

// JobRelease implements backend.Backend.
func (b *Backend) JobRelease(ctx context.Context, p *backend.JobReleaseParams) error {
	v, err := b.run(ctx, b.s.release, b.queue(p.Queue), p.ID, p.Token)
	if err != nil {
		return err
	}
	return code(v, p.ID)
}

// JobExtendLocks implements backend.Backend.
func (b *Backend) JobExtendLocks(ctx context.Context, p *backend.JobExtendLocksParams) ([]string, error) {
	args := make([]any, 0, 1+2*len(p.Locks))
	args = append(args, ms(p.Duration))
	for _, l := range p.Locks {
		args = append(args, l.ID, l.Token)
	}
	v, err := b.run(ctx, b.s.extend, b.queue(p.Queue), args...)
	if err != nil {
		return nil, err
	}
	arr, _ := v.([]any)
	lost := make([]string, 0, len(arr))
	for _, e := range arr {
		lost = append(lost, str(e))
	}
	return lost, nil
}

// JobUpdateProgress implements backend.Backend.
func (b *Backend) JobUpdateProgress(ctx context.Context, p *backend.JobUpdateProgressParams) error {
	v, err := b.run(ctx, b.s.progress, b.queue(p.Queue), p.ID, string(p.Progress))
	if err != nil {
		return err
	}
	return code(v, p.ID)
}

// JobLogAdd implements backend.Backend.
func (b *Backend) JobLogAdd(ctx context.Context, p *backend.JobLogAddParams) (int, error) {
	v, err := b.run(ctx, b.s.log, b.queue(p.Queue), p.ID, p.Line, p.Keep)
	if err != nil {
		return 0, err
	}
	if err := code(v, p.ID); err != nil {
		return 0, err
	}
	return int(num(v)), nil
}

// JobLogs implements backend.Backend.
func (b *Backend) JobLogs(ctx context.Context, p *backend.JobLogsParams) ([]string, int, error) {
	v, err := b.run(ctx, b.s.logs, b.queue(p.Queue), p.ID, p.Offset, p.Limit)
	if err != nil {
		return nil, 0, err
	}
	if err := code(v, p.ID); err != nil {
		return nil, 0, err
	}
	arr := v.([]any)
	lines := make([]string, 0, len(arr)-1)
	for _, e := range arr[1:] {
		lines = append(lines, str(e))
	}
	return lines, int(num(arr[0])), nil
}

// JobRemove implements backend.Backend.
func (b *Backend) JobRemove(ctx context.Context, p *backend.JobRemoveParams) error {
	v, err := b.run(ctx, b.s.remove, b.queue(p.Queue), p.ID)
	if err != nil {
		return err
	}
	return code(v, p.ID)
}

// JobRetry implements backend.Backend.
func (b *Backend) JobRetry(ctx context.Context, p *backend.JobRetryParams) error {
	v, err := b.run(ctx, b.s.retry, b.queue(p.Queue), "id", p.ID)
	if err != nil {
		return err
	}
	if err := code(v, p.ID); err != nil {
		var se *backend.StateError
		if errors.As(err, &se) {
			se.Want = []backend.State{backend.StateFailed, backend.StateCompleted}
		}
		return err
	}
	return nil
}

// JobPromote implements backend.Backend.
func (b *Backend) JobPromote(ctx context.Context, p *backend.JobPromoteParams) error {
	v, err := b.run(ctx, b.s.promote, b.queue(p.Queue), p.ID)
	if err != nil {
		return err
	}
	if err := code(v, p.ID); err != nil {
		var se *backend.StateError
		if errors.As(err, &se) {
			se.Want = []backend.State{backend.StateDelayed}
		}
		return err
	}
	return nil
}

// QueueCounts implements backend.Backend.
func (b *Backend) QueueCounts(ctx context.Context, p *backend.QueueParams) (*backend.Counts, error) {
	v, err := b.run(ctx, b.s.counts, b.queue(p.Queue))
	if err != nil {
		return nil, err
	}
	a, ok := v.([]any)
	if !ok || len(a) != 7 {
		return nil, fmt.Errorf("redis: malformed counts reply %v", v)
	}
	return &backend.Counts{
		Waiting: num(a[0]), Prioritized: num(a[1]), Paused: num(a[2]), Delayed: num(a[3]),
		Active: num(a[4]), Completed: num(a[5]), Failed: num(a[6]),
	}, nil
}

// QueueInfo implements backend.Backend.
func (b *Backend) QueueInfo(ctx context.Context, p *backend.QueueParams) (*backend.QueueInfo, error) {
	v, err := b.run(ctx, b.s.info, b.queue(p.Queue))
	if err != nil {
		return nil, err
	}
	a, ok := v.([]any)
	if !ok || len(a) != 2 {
		return nil, fmt.Errorf("redis: malformed info reply %v", v)
	}
	return &backend.QueueInfo{Paused: num(a[0]) == 1, RateLimitedFor: time.Duration(num(a[1])) * time.Millisecond}, nil
}

// QueueList implements backend.Backend. Queues are registered by the first
// add of each process, so a queue whose jobs were all added before fila
// kept a registry is not listed.
func (b *Backend) QueueList(ctx context.Context) ([]string, error) {
	if b.closed.Load() {
		return nil, backend.ErrClosed
	}
	v, err := b.conn.Eval(ctx, b.s.registry, []string{b.registryKey()}, "list")
	if err != nil {
		return nil, fmt.Errorf("redis: %w", err)
	}
	arr, _ := v.([]any)
	names := make([]string, 0, len(arr))
	for _, e := range arr {
		names = append(names, str(e))
	}
	slices.Sort(names)
	return names, nil
}

// QueuePause implements backend.Backend.
func (b *Backend) QueuePause(ctx context.Context, p *backend.QueuePauseParams) error {
	flag := 0
	if p.Paused {
		flag = 1
	}
	_, err := b.run(ctx, b.s.pause, b.queue(p.Queue), flag)
	return err
}

// QueueRateLimit implements backend.Backend.
func (b *Backend) QueueRateLimit(ctx context.Context, p *backend.QueueRateLimitParams) error {
	_, err := b.run(ctx, b.s.ratelimit, b.queue(p.Queue), ms(p.For))
	return err
}

// QueueDrain implements backend.Backend. It works in calls of at most 5,000
// removals so Redis is never blocked long.
func (b *Backend) QueueDrain(ctx context.Context, p *backend.QueueDrainParams) (int, error) {
	q := b.queue(p.Queue)
	delayed := 0
	if p.Delayed {
		delayed = 1
	}
	total := 0
	for {
		v, err := b.run(ctx, b.s.drain, q, delayed, 5000)
		if err != nil {
			return total, err
		}
		a := v.([]any)
		total += int(num(a[0]))
		if num(a[1]) == 0 {
			return total, nil
		}
	}
}

// QueueClean implements backend.Backend, in calls of at most 1,000 removals.
func (b *Backend) QueueClean(ctx context.Context, p *backend.QueueCleanParams) ([]string, error) {
	if p.State == backend.StateActive {
		return nil, &backend.StateError{State: backend.StateActive}
	}
	letter := stateLetter(p.State)
	if letter == "" {
		return nil, fmt.Errorf("redis: clean: unknown state %q", p.State)
	}
	q := b.queue(p.Queue)
	removed := []string{}
	for p.Limit <= 0 || len(removed) < p.Limit {
		batch := 1000
		if p.Limit > 0 {
			batch = min(batch, p.Limit-len(removed))
		}
		v, err := b.run(ctx, b.s.clean, q, letter, ms(p.Age), batch)
		if err != nil {
			return removed, err
		}
		arr, _ := v.([]any)
		for _, e := range arr {
			removed = append(removed, str(e))
		}
		if len(arr) < batch {
			break
		}
	}
	return removed, nil
}

// QueueRetryJobs implements backend.Backend.
func (b *Backend) QueueRetryJobs(ctx context.Context, p *backend.QueueRetryJobsParams) (int, error) {
	letter := "F"
	switch p.State {
	case backend.StateFailed:
	case backend.StateCompleted:
		letter = "C"
	default:
		return 0, &backend.StateError{State: p.State, Want: []backend.State{backend.StateFailed, backend.StateCompleted}}
	}
	limit := p.Limit
	if limit <= 0 {
		limit = 1000
	}
	v, err := b.run(ctx, b.s.retry, b.queue(p.Queue), "bulk", letter, limit)
	if err != nil {
		return 0, err
	}
	return int(num(v)), nil
}

// QueueObliterate implements backend.Backend.
func (b *Backend) QueueObliterate(ctx context.Context, p *backend.QueueObliterateParams) error {
	force := 0
	if p.Force {
		force = 1
	}
	q := b.queue(p.Queue)
	v, err := b.run(ctx, b.s.obliterate, q, force)
	if err != nil {
		return err
	}
	if err := code(v, ""); err != nil {
		return err
	}
	if _, err := b.conn.Eval(ctx, b.s.registry, []string{b.registryKey()}, "remove", p.Queue); err != nil {
		return fmt.Errorf("redis: %w", err)
	}
	q.registered.Store(false)
	q.dueAt.Store(0)
	return nil
}

// QueueMetrics implements backend.Backend.
func (b *Backend) QueueMetrics(ctx context.Context, p *backend.QueueMetricsParams) (*backend.Metrics, error) {
	n := p.Minutes
	if n <= 0 || n > b.opts.metricsMinutes {
		n = b.opts.metricsMinutes
	}
	v, err := b.run(ctx, b.s.metrics, b.queue(p.Queue), n)
	if err != nil {
		return nil, err
	}
	a := v.([]any)
	now := num(a[0])
	m := &backend.Metrics{At: msTime(now), Completed: make([]int64, n), Failed: make([]int64, n)}
	cur, head := now/60000, num(a[1])
	if head < 0 {
		return m, nil
	}
	// The series: zeros for minutes after the head minute, the head's counts,
	// then the stored past minutes.
	k := int(cur - head)
	if k >= 0 && k < n {
		m.Completed[k], m.Failed[k] = num(a[2]), num(a[3])
	}
	for i, e := range a[4:] {
		pos := k + 1 + i
		if pos < 0 || pos >= n {
			continue
		}
		c, f, _ := strings.Cut(str(e), " ")
		m.Completed[pos], _ = strconv.ParseInt(c, 10, 64)
		m.Failed[pos], _ = strconv.ParseInt(f, 10, 64)
	}
	return m, nil
}

// StalledCheck implements backend.Backend.
func (b *Backend) StalledCheck(ctx context.Context, p *backend.StalledCheckParams) (*backend.StalledCheckResult, error) {
	maxJobs := p.MaxJobs
	if maxJobs <= 0 {
		maxJobs = 1000
	}
	q := b.queue(p.Queue)
	v, err := b.run(ctx, b.s.stalled, q, p.MaxStalledCount, ms(p.Interval), maxJobs)
	if err != nil {
		return nil, err
	}
	a := v.([]any)
	if num(a[0]) == -1 {
		return &backend.StalledCheckResult{Skipped: true}, nil
	}
	res := &backend.StalledCheckResult{}
	for _, e := range a[1].([]any) {
		res.Stalled = append(res.Stalled, str(e))
	}
	for _, e := range a[2].([]any) {
		res.Failed = append(res.Failed, str(e))
	}
	if len(res.Stalled) > 0 {
		// Only a check that requeued jobs wakes this process's polling
		// claims: an idle worker's periodic check that found nothing
		// would otherwise cost a claim each time (on Upstash, a billed
		// command every StalledInterval on top of the idle polls).
		q.signal()
	}
	return res, nil
}

// Ping implements backend.Backend.
func (b *Backend) Ping(ctx context.Context) error {
	if b.closed.Load() {
		return backend.ErrClosed
	}
	if err := b.conn.Ping(ctx); err != nil {
		return fmt.Errorf("redis: %w", err)
	}
	return nil
}

// Close implements backend.Backend: it ends blocked calls and closes the
// backend's own blocking connections. The client passed to New stays open.
func (b *Backend) Close() error {
	if b.closed.Swap(true) {
		return nil
	}
	close(b.done)
	if c, ok := b.conn.(io.Closer); ok {
		return c.Close()
	}
	return nil
}
