// Package redisbackend is fila's Redis backend, over a go-redis v9 client:
// a single node (redis.NewClient, TLS with rediss:// URLs through
// redis.ParseURL), Sentinel (redis.NewFailoverClient) or Cluster
// (redis.NewClusterClient). The package path is backend/redis.
//
//	rdb := redis.NewClient(&redis.Options{Addr: "localhost:6379", MaxRetries: -1})
//	be := redisbackend.New(rdb)
//
// MaxRetries -1: go-redis resends a command whose connection dropped before
// its reply, and a script resent that way runs twice.
//
// # Layout
//
// Every key of a queue shares the hash tag {queue}: "fila:{outbound}:wait",
// "fila:{outbound}:jobs" and so on, so every script touches one slot and runs
// on Cluster, while different queues spread over the slots (WithHashTag
// puts chosen queues in one slot: "fila:{tag}:outbound:wait"). A queue has a
// fixed set of 14 keys (listed at the top of lua/lib.lua). Jobs are not keys
// of their own: every per-job field lives in the queue's jobs hash under a
// prefix (j:<id> the record, s:<id> the state and lock, r:, e:, t:, p:, l:
// for result, reason, stacks, progress and logs). So every key a script
// touches comes in through KEYS (none is built inside Lua, except by a
// flow whose jobs are in several queues: see WithHashTag and
// docs/flows.md), reading a job is one HMGET and deleting it one HDEL, a
// waiting job costs one hash entry
// (about 230 bytes with a 100-byte payload; a job that has not moved since
// its add has no state entry), and removing a queue deletes 14 keys.
//
// With WithJobBuckets(n) the jobs hash is n hashes ("jobs", "jobs:1" to
// "jobs:<n-1>"), a job's fields all in the one chosen by a hash of its ID
// (jk in lib.lua), so no key holds more than about 1/n of a queue's jobs:
// Upstash refuses a key over 100 MB, and backend/upstash uses 32. Every
// script still takes every bucket in KEYS, after the 14 fixed keys. The
// count is stored in the queue's meta on first use and checked on each
// process's first call (ErrLayout).
//
// Each transition is one Lua script (lua/*.lua, embedded), sharing
// lua/lib.lua. On Redis 7 the scripts are loaded once as a function library
// (FUNCTION LOAD) and run with FCALL, so lib's definitions are not re-run on
// every call; elsewhere (Redis 6, miniredis, the REST transport) they run
// with EVALSHA and an EVAL fallback. Times come from Redis' TIME inside the
// scripts, so the clocks of worker machines never matter.
//
// # Claims: BLMOVE with priorities, pause and limits
//
// An idle worker blocks on BLMOVE wait -> active; it never polls. The block
// lasts at most the block timeout (WithBlockTimeout, default 30s) and ends
// when the next delayed job is due, so delays and retries fire on time
// without a scheduler. Redis times blocking commands out from its 10 Hz
// cron, up to 100ms late, so a block bounded by a due time is ended by the
// client at that instant with CLIENT UNBLOCK (Redis gets a later backstop
// timeout); a server without CLIENT UNBLOCK keeps the coarse timeout. Each
// script that touches the delayed set reports the time to the earliest
// delayed job; when an add makes a job the earliest while wait is empty
// (so claims may be blocked with a longer timeout), it pushes a wake marker
// ("0", never a job ID) that a blocked claim takes and discards.
//
// BLMOVE moves an ID before pause, rate limits and priority can be checked.
// So:
//   - Pause renames wait to paused: BLMOVE keeps blocking on an empty key.
//     Resume renames it back and pushes a marker at the far end, so blocked
//     claims are served.
//   - The script that finalizes a moved claim (claim_moved.lua) checks pause,
//     the on-demand rate limit and the global limiter, and hands a job that
//     may not run yet back to the consuming end of its list, untouched.
//   - Priorities are exact: prioritized jobs live in a sorted set (score
//     (priority-1)*2^32 + sequence, exact below 2^53 up to MaxPriority,
//     2^21). While wait holds no job without priority,
//     the best prioritized job is "fed" to wait's consuming end, where BLMOVE
//     can take it; a better prioritized job swaps with it, and a job without
//     priority takes it back to the set before entering wait, so priority-0
//     jobs always run first.
//
// Completing or failing a job checks the lock token, applies retention,
// records the event and, when asked, claims the next job in the same
// script: a busy worker needs one round trip per job. A script call writes
// its events at its end, several to a stream entry, and an event inside an
// entry has the cursor "<entry ID>/<index>" (events.go). Concurrent completes
// and fails of one queue (and concurrent single adds) are merged into one
// script call by whichever caller arrives first (group commit, no timer),
// so at concurrency 100 one call carries tens of jobs.
//
// # Locks, stalls, limits
//
// A lock is part of the job's state entry (token and expiry), renewed in one
// call for all of a worker's jobs. Stalled recovery is two-phase: a job in
// active without a live lock is marked on one check and requeued on the next,
// so a job moved by BLMOVE a moment ago and not yet locked is never stolen; a
// guard field lets at most one check per interval run across all processes.
// The global rate limit is a sliding log in a sorted set, exact across
// processes; an on-demand limit (Queue.RateLimit, a handler's RateLimited)
// stores an until-time that claims respect.
//
// A cancel (cancel.lua, backend.Cancellers) fails the job in one step,
// active or not; for an active job it leaves the revoked token in the job's
// failed state as "^<token>", so the lock is gone at once (the worker can
// neither complete nor fail it, and no stalled check brings it back) and
// cancelled.lua can tell its worker, whose next renewal reports the lock
// lost, that a cancel took it. Renewals themselves are unchanged.
//
// # Client options
//
// Blocking commands run on fila's own one-connection clients, built from the
// node's options (with MaxRetries -1), because go-redis cannot cancel a
// command waiting for its reply: when the context ends, fila ends the
// command with CLIENT UNBLOCK, or closes that connection on a server without
// it. So a blocked claim ends at once on shutdown, and the user's pool never
// parks a connection in a long block. fila sets the read deadline of these
// connections past the longest block, so no read timeout cuts a BLMOVE
// short. Go's version of BullMQ's "maxRetriesPerRequest: null" rule is
// therefore nothing to set: fila bounds every call by its context itself
// (call.go), with ContextTimeoutEnabled on or off, and runs a claim to its
// end so that a claim whose caller left hands its job back. Dropped
// connections and Redis restarts are retried with backoff by the worker;
// nothing is lost, since a job is only ever moved by a script or by BLMOVE
// into active, where the stalled check finds it.
//
// Clients other than *redis.Client and *redis.ClusterClient (a Ring, a
// wrapper) work, but their blocks are kept to one second since they cannot be
// cancelled, and their scripts run with EVALSHA. Like a ClusterClient, they
// may shard keys by hash tag, so a flow links only queues of one tag there
// (WithHashTag).
//
// Other transports run the same scripts through NewWithConn and a Conn;
// without blocking commands, claims poll (backend/upstash).
//
// # Job schedulers
//
// A queue's schedulers (backend.Schedulers) live in one more key,
// "<prefix>:{<queue>}:schedulers", a hash of scheduler ID to record, with
// the queue's hash tag; lua/sched.lua and lua/sched_read.lua take it as a
// 15th fixed key, before the job buckets. sched.lua stores a scheduler
// and adds its pending tick's job (ID "sched:<id>:<tick ms>", delayed until
// the tick) in one step, guarded by a compare-and-set on the stored spec
// (upsert) or on the spec and pending tick (advance), so racing processes
// add one job per tick. fila computes the ticks in Go (cron is parsed
// there) from the clock this backend returns (sched_read.lua's TIME, a
// claimed job's ProcessedAt); workers advance a scheduler when they claim
// its tick's job, so schedulers cost no idle command. The design and its
// reasons: docs/schedulers.md. obliterate.lua takes the schedulers hash
// too, so obliterating a queue removes its schedulers.
package redisbackend
