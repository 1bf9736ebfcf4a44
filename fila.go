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
// Package fila never imports a concrete backend, and backends never import
// fila: the user wires them together.
package fila
