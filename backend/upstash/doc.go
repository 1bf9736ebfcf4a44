// Package upstash is fila's backend for Upstash Redis through its REST API:
// for platforms that reach Redis only over HTTPS with a token (serverless
// functions, edge runtimes, hosts without outbound TCP), where BullMQ and
// other Redis queues cannot run because they need blocking commands on a TCP
// connection.
//
//	be, err := upstash.NewFromEnv() // UPSTASH_REDIS_REST_URL, UPSTASH_REDIS_REST_TOKEN
//	if err != nil { ... }
//	defer be.Close()
//	q := fila.NewQueue(be, "outbound")
//	w, err := fila.NewWorker(be, "outbound", handler, fila.WorkerOptions{StalledInterval: 2 * time.Minute})
//
// When the database is also reachable over TCP (its rediss:// endpoint),
// backend/redis on that endpoint is the better choice: its idle workers
// block instead of polling.
//
// # Design: the Redis backend over HTTP
//
// New returns the Redis backend of backend/redis built with
// redisbackend.NewWithConn over a REST transport (Conn), so every
// transition runs the very same Lua scripts, with the same keys, locks,
// stalled recovery, limiter, retention, events and metrics: a queue can even
// be shared by workers on both backends. The Conn only moves script calls:
//
//   - Eval is POST / with ["EVALSHA", sha, numkeys, keys..., args...] and the
//     header "Authorization: Bearer <token>"; on a NOSCRIPT answer it sends
//     EVAL with the source once, after which the server has the script.
//   - EvalBatch (AddBulk, merged adds) is POST /pipeline with one EVALSHA per
//     call; calls answered NOSCRIPT inline are sent again with EVAL, the
//     others are not. Pipelines are split so that no request exceeds
//     Config.MaxRequestBytes (8 MiB, below the service's 10 MB).
//   - Replies are asked for with "Upstash-Encoding: base64" and every string
//     in them is decoded (except the literal "OK"), so payloads are binary
//     safe on the way back. Requests are JSON, which cannot carry bytes
//     that are not UTF-8 and has no base64 form; such an argument is sent
//     escaped ("~XX" per byte outside printable ASCII) to a variant of the
//     script with a short Lua prelude that unescapes it. Everything else
//     (JSON payloads, IDs, tokens) is sent as it is to the unchanged script.
//   - The upstash-sync-token of each answer is sent back on the next
//     request (read-your-writes on databases with read replicas).
//
// Nothing else is ever sent: no blocking command (REST has none: no BLMOVE,
// no XREAD BLOCK), no WATCH, no MULTI. The Conn does not implement
// redisbackend.Blocker, so the shared backend polls instead.
//
// # Claims poll, adaptively
//
// An idle claim runs the non-blocking claim script, then sleeps: from
// Config.PollMin (100ms), doubling while the queue stays empty, up to
// Config.PollMax (30s), back to PollMin as soon as a job is claimed, and
// never past the due time of the next delayed job (each claim reports it),
// so delays and retries still fire on time. A busy worker does not poll at
// all: finishing a job claims the next one in the same script. Event reads
// (Queue.Subscribe, WaitUntilFinished) poll the same way. Close ends polling
// claims and event reads at once.
//
// The price of polling is latency after an idle spell: a job added by
// another process to a queue whose worker has been idle for a minute waits
// up to PollMax before it is claimed. A job added (or retried, released,
// promoted) by the worker's own process wakes its claims at once, so an app
// that takes webhooks and runs workers in one process answers at once.
// PollMax is the knob between the latency of cross-process adds and the idle
// cost below; the default 30s keeps one idle worker well inside Upstash's
// free tier (the Redis backend's polling default, 5s, would not be).
//
// # Command cost
//
// Upstash bills per command ($0.20 per 100K on pay-as-you-go; 500K a month
// free). Each script call is one command on the wire; PING is not billed.
// (Whether Upstash bills an EVAL as one command or by the commands inside
// it is not documented clearly; the figures count one per call.) Measured
// with the emulator by the tests in cost_test.go:
//
//	Idle worker (claims poll at PollMax, one stalled check per StalledInterval):
//	  defaults: PollMax 30s, fila StalledInterval 30s    240/h          ~173K per 30-day month
//	  PollMax 5m, StalledInterval 30s                     132/h          ~95K per month
//	  economical: PollMax 2m, StalledInterval 5m          42/h           ~30K per month
//	  backend/redis's polling default, PollMax 5s         up to 840/h    ~500-600K per month
//	Per job (TestCommandsPerJob):
//	  Queue.Add, one at a time                            1 per job (concurrent adds are merged)
//	  AddBulk of 1,000                                    5 (one per 200 jobs, one request)
//	  processing a backlog, Concurrency 1                 ~1.0 per job (a finish claims the next)
//	  processing a backlog, Concurrency 8                 ~0.4 per job (finishes are merged)
//	  jobs added one by one as a Concurrency 8 worker runs ~2.4-2.8 per job, adds included
//	A job arriving at an idle worker (say one every 5 minutes):
//	  add, claim and finish, plus the poll ramp restarting from PollMin: ~11 per job
//
// So against the free tier's 500K a month: with the defaults, two idle
// workers fit (~350K) and a third does not; with the economical settings a
// dozen idle workers fit (~360K) with room for jobs. Every worker polls and
// checks stalls on its own (the stalled script lets one check per interval
// do the work, but each call is a command): five queues, or five processes
// on one queue, cost five times the idle figure. To spend less, raise PollMax (latency after idle spells)
// and StalledInterval (how soon a crashed worker's jobs are recovered;
// LockDuration stays 30s). Reads such as Queue.Counts, the metrics handler
// or a Prometheus scrape cost a command each per queue, which adds up at
// short scrape intervals.
//
// # HTTP
//
// One http.Client with keep-alive connections (up to Config.MaxConns to the
// endpoint; net/http's default would keep 2) serves every call; Close
// closes them. Each attempt is bounded by Config.Timeout (10s). A 5xx
// answer or a network error is retried with a jittered backoff
// (Config.Retries, 3) only for calls that change nothing: PING and the
// scripts get, list, counts, info, logs, metrics, events, cursor and the
// registry's list. A call that changes state (add, claim, finish...) is
// never sent twice, since its first try may have run; only a connection
// that could not even be opened is retried for it. Such a failure is an
// error saying the outcome is unknown; fila's worker and idempotent job IDs
// deal with it like any dropped connection.
//
// A context that ends stops what has not been sent, and the call returns
// ctx.Err() at once (backend/redis bounds every call by its context). A
// read in flight is abandoned; a write in flight is still awaited in the
// background until its answer, Timeout or (except for a claim) the
// context's deadline, because abandoning it would not undo it, only lose
// its outcome: a job claimed for a caller that left is handed back as soon
// as the answer comes, instead of sitting locked until the stalled check.
//
// The service's error answers become *Error values naming the command
// ("EVALSHA claim") with the HTTP status and the service's text, matched
// with errors.Is by the service's documented messages (anywhere in the
// text, any case):
//
//   - ErrUnauthorized: 401, WRONGPASS or NOAUTH (a wrong token or the
//     read-only token); it is also backend.ErrPermanent, so a worker stops
//     instead of retrying.
//   - ErrMonthlyLimit, ErrDailyLimit, ErrRateLimited: a request limit is
//     spent ("ERR max requests limit exceeded", "ERR max daily request
//     limit exceeded", 429 or a per-second limit); each is also
//     backend.ErrQuota, so a worker backs off.
//   - ErrRecordTooLarge: "ERR max single record size exceeded", one key
//     would pass the plan's record size (100 MB). The backend spreads a
//     queue's jobs over DefaultJobBuckets hashes and keeps finished jobs
//     bounded by default (backend.DefaultKeepCompleted): the largest
//     bucket measured ~40 MB per million jobs of 1 KiB, and a sorted set
//     (delayed, prioritized, or finished jobs kept with KeepAll) ~105 B
//     per job, so one state passes 64 MB near 600,000 jobs.
//   - ErrRequestTooLarge: "ERR max request size exceeded", or one script
//     call over Config.MaxRequestBytes, refused before it is sent.
//   - ErrMalformedReply: a proxy's page, a body that is not the protocol's
//     JSON.
//
// NOSCRIPT is recognized anywhere in an error and in any case, also in a
// 5xx answer, as Upstash's own client does.
//
// # Limits
//
//   - One request is at most 10 MB on the free and pay-as-you-go plans. A
//     pipeline is split, but one script call is not: an AddBulk batch (200
//     jobs, redisbackend.WithAddBatch) or a burst of concurrent adds merged
//     into one call must fit. With payloads above ~40 KB, pass a smaller
//     WithAddBatch.
//   - The standard token is needed; the read-only token cannot run scripts.
//   - Arguments that are not UTF-8 are escaped and unescaped in Lua: a
//     megabyte of random bytes is about 2.3 MB on the wire and ~65ms of
//     server time. JSON and other text payloads never pay this.
//   - Upstash runs scripts under a global lock unless they declare
//     allow-key-locking. fila's scripts touch only the keys they are given
//     (one queue's, under its hash tag), so the Conn sends each with the
//     shebang "#!lua flags=allow-key-locking" (redisbackend.Script's
//     KeyLocking variant; redis-server 7.0 refuses the flag, so
//     backend/redis sends the plain one): a long Drain, Clean or Obliterate
//     holds only its queue's keys, not the database. The emulator runs the
//     whole conformance suite with a guard that fails any script touching
//     a key it did not declare. An application's NewScript is sent as
//     written; give it the shebang yourself when it qualifies. Flows
//     across queues reach another queue's keys, so they are refused under
//     key locking; Config.GlobalLock sends the scripts without the flag,
//     under the database-wide lock, and allows them.
//
// Tests run the conformance suite against an in-test emulator of the REST
// protocol (internal/emulator) in front of miniredis and a real
// redis-server.
package upstash
