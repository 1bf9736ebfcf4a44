// Package fila is a job queue with BullMQ-style semantics on pluggable
// backends: in memory, Redis (single node, TLS, Sentinel, Cluster) and
// Upstash's REST protocol.
//
// A Queue adds jobs (with IDs for idempotent adds, deduplication, delay,
// priority, LIFO, attempts with backoff, and retention); a Worker claims them
// with blocking calls, runs a Processor with bounded concurrency, renews
// locks, recovers stalled jobs, applies global and local rate limits, and
// drains gracefully. Delivery is at-least-once: a job is never lost, and a
// job whose worker dies runs again.
//
// The lifecycle, the same on every backend:
//
//	Add ─> waiting ─claim─> active ─ok──────────────────> completed
//	  │      ▲  ▲             │ ├─error, attempts left─> delayed ─due─> waiting
//	  │      │  │             │ └─error, none left ────> failed
//	  └delay─┼─>delayed       └─lock lost (worker died)─> waiting (stalled) or failed
//	         └── a paused queue: claims stop, adds still land
//
// Contexts: every Queue and Job call (and every backend method) returns the
// context's error when it is already done, and changes nothing then
// (Worker.Run and Worker.Close use theirs to stop and to bound the drain).
// When the context ends while the call waits (for Redis, Upstash, or a job
// to claim), the call returns ctx.Err() at once, on every backend and
// whatever the go-redis client's ContextTimeoutEnabled; a change already
// sent may still land (use a JobID to make an Add safe to retry), and a
// claim cut short this way hands its job back. A context.Background call
// costs nothing extra.
//
// Package fila never imports a concrete backend, and backends never import
// fila: the user wires them together.
package fila
