-- 001: the tables of fila's PostgreSQL backend. {{schema}} is replaced by
-- the quoted schema name. See docs/postgres.md for why each index exists.

CREATE SEQUENCE {{schema}}.job_ids;  -- generated job IDs: numeric, never reused
CREATE SEQUENCE {{schema}}.job_ord;  -- order of ready jobs (LIFO takes -nextval) and of finishes

CREATE TABLE {{schema}}.queues (
    name               text PRIMARY KEY,
    listed             boolean NOT NULL DEFAULT false, -- a job was added: QueueList shows it
    paused             boolean NOT NULL DEFAULT false,
    rate_limited_until timestamptz
);

CREATE TABLE {{schema}}.jobs (
    queue           text NOT NULL,
    id              text NOT NULL,
    name            text NOT NULL,
    data            bytea,
    options         jsonb NOT NULL,
    state           text NOT NULL,
    priority        integer NOT NULL DEFAULT 0,
    ord             bigint NOT NULL,
    added_at        timestamptz NOT NULL,
    due_at          timestamptz,
    processed_at    timestamptz,
    finished_at     timestamptz,
    attempts_started integer NOT NULL DEFAULT 0,
    attempts_made   integer NOT NULL DEFAULT 0,
    stalled_count   integer NOT NULL DEFAULT 0,
    token           text,
    lock_until      timestamptz,
    stall_marked    boolean NOT NULL DEFAULT false,
    done_token      text,    -- completed by CompleteTx under this claim's token: the worker's own complete is a no-op
    return_value    bytea,
    failed_reason   text NOT NULL DEFAULT '',
    stacktrace      text[],
    progress        bytea,
    PRIMARY KEY (queue, id)
);

-- The claim: the next ready job of a queue, priority 0 first, then by order.
CREATE INDEX jobs_ready ON {{schema}}.jobs (queue, priority, ord) WHERE state IN ('waiting', 'prioritized');
-- Promotion of due delayed jobs, and the next due time a blocked claim waits for.
CREATE INDEX jobs_delayed ON {{schema}}.jobs (queue, due_at) WHERE state = 'delayed';
-- Stalled checks and the active list, in claim order.
CREATE INDEX jobs_active ON {{schema}}.jobs (queue, processed_at) WHERE state = 'active';
-- Retention (keep the newest N, or for an age) and the finished lists.
CREATE INDEX jobs_finished ON {{schema}}.jobs (queue, state, ord) WHERE state IN ('completed', 'failed');
-- Counts and the waiting/paused lists.
CREATE INDEX jobs_state ON {{schema}}.jobs (queue, state);

CREATE TABLE {{schema}}.logs (
    queue  text NOT NULL,
    job_id text NOT NULL,
    n      bigserial,
    line   text NOT NULL,
    PRIMARY KEY (queue, job_id, n),
    FOREIGN KEY (queue, job_id) REFERENCES {{schema}}.jobs (queue, id) ON DELETE CASCADE
);

CREATE TABLE {{schema}}.dedup (
    queue      text NOT NULL,
    dedup_id   text NOT NULL,
    job_id     text NOT NULL,
    expires_at timestamptz NOT NULL,
    PRIMARY KEY (queue, dedup_id)
);

-- Events: read in (xid, id) order, and only below the oldest running
-- transaction, so an event committed late never lands behind a cursor.
CREATE TABLE {{schema}}.events (
    id     bigserial PRIMARY KEY,
    xid    xid8 NOT NULL DEFAULT pg_current_xact_id(),
    queue  text NOT NULL,
    type   text NOT NULL,
    job_id text NOT NULL,
    at     timestamptz NOT NULL DEFAULT clock_timestamp(),
    data   bytea
);
CREATE INDEX events_read ON {{schema}}.events (queue, xid, id);
CREATE INDEX events_at ON {{schema}}.events (at);

-- Starts of claims under a global rate limit, for the sliding window.
CREATE TABLE {{schema}}.limiter (
    queue text NOT NULL,
    at    timestamptz NOT NULL
);
CREATE INDEX limiter_queue_at ON {{schema}}.limiter (queue, at);

-- Finished counts per minute. A finish inserts a row of its own (no row
-- lock shared by concurrent finishes); the stalled check's housekeeping
-- folds the rows of past minutes into one per minute.
CREATE TABLE {{schema}}.metrics (
    queue     text NOT NULL,
    minute    timestamptz NOT NULL,
    completed bigint NOT NULL DEFAULT 0,
    failed    bigint NOT NULL DEFAULT 0
);
CREATE INDEX metrics_queue_minute ON {{schema}}.metrics (queue, minute);

-- The last stalled check per queue: one per interval across processes.
CREATE TABLE {{schema}}.stalled_checks (
    queue text PRIMARY KEY,
    at    timestamptz NOT NULL
);

-- Queue tables churn: every job is inserted, updated a few times and
-- deleted. Vacuum and analyze them after 1% of their rows changed, not the
-- default 20%/10%, so dead rows and stale plans do not pile up.
ALTER TABLE {{schema}}.jobs SET (autovacuum_vacuum_scale_factor = 0.01, autovacuum_analyze_scale_factor = 0.01);
ALTER TABLE {{schema}}.events SET (autovacuum_vacuum_scale_factor = 0.01, autovacuum_analyze_scale_factor = 0.01);
ALTER TABLE {{schema}}.metrics SET (autovacuum_vacuum_scale_factor = 0.01, autovacuum_analyze_scale_factor = 0.01);
