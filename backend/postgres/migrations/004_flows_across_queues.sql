-- 004: flows across queues. A flow's child may be in another queue than
-- its parent; the link names the parent's queue. {{schema}} is replaced by
-- the quoted schema name. See docs/postgres.md.
--
-- Rows written before this migration (and by code of version 3 still
-- running while a deploy rolls) have no parent queue: NULL means the
-- child's own queue, everywhere below and in the Go code.
--
-- Lock order: a child's outcome locks the child's row (the statement that
-- finishes or removes it), then its parent's row, then its link. A
-- parent's removal locks the parent's row, then its children's rows with
-- SKIP LOCKED (a child being finished right now is left to finish), then
-- the links. So a parent and its child never wait on each other crosswise,
-- in one queue or in two.

ALTER TABLE {{schema}}.jobs
    ADD COLUMN flow_parent_queue text; -- the parent's queue; NULL: the job's own

ALTER TABLE {{schema}}.flow_links
    ADD COLUMN parent_queue text;      -- the parent's queue; NULL: the child's (queue)

-- A parent's children, whatever their queues: looked up by the parent's
-- queue and ID.
DROP INDEX {{schema}}.flow_links_parent;
CREATE INDEX flow_links_parent ON {{schema}}.flow_links ((coalesce(parent_queue, queue)), parent);

-- flow_wake records that queue q has a job made ready by a flow's trigger
-- in this transaction: the functions never NOTIFY (see 003), so the call
-- that ran the transition reads the list (the transaction-local setting
-- fila.flow_wake, a JSON array) before it commits and signals each queue
-- after. One queue's transition can wake another: a child's completion
-- releases its parent in the parent's queue.
CREATE FUNCTION {{schema}}.flow_wake(q text) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    cur jsonb := coalesce(nullif(current_setting('fila.flow_wake', true), ''), '[]')::jsonb;
BEGIN
    IF NOT cur ? q THEN
        PERFORM set_config('fila.flow_wake', (cur || to_jsonb(q))::text, true);
    END IF;
END $$;

-- flow_release makes a parent waiting for children ready once none is
-- pending; a grouped parent joins the back of its group, which is synced
-- (the group triggers do not fire inside this one). Its queue is recorded
-- for the wake-up.
CREATE OR REPLACE FUNCTION {{schema}}.flow_release(q text, p text) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    g text;
BEGIN
    IF EXISTS (SELECT 1 FROM {{schema}}.flow_links WHERE coalesce(parent_queue, queue) = q AND parent = p AND kind IS NULL) THEN
        RETURN;
    END IF;
    UPDATE {{schema}}.jobs j SET ord = nextval('{{schema}}.job_ord'), gord = CASE WHEN j.grp IS NOT NULL THEN currval('{{schema}}.job_ord') END,
        state = (CASE WHEN j.grp IS NOT NULL THEN 'g' ELSE '' END) || CASE WHEN j.priority > 0 AND j.grp IS NULL THEN 'prioritized'
            WHEN coalesce((SELECT paused FROM {{schema}}.queues WHERE name = q), false) THEN 'paused' ELSE 'waiting' END
    WHERE j.queue = q AND j.id = p AND j.state = 'waiting-children'
    RETURNING j.grp INTO g;
    IF FOUND THEN
        INSERT INTO {{schema}}.events (queue, type, job_id) VALUES (q, 'waiting', p);
        IF g IS NOT NULL THEN
            PERFORM {{schema}}.group_sync(q, g);
        END IF;
        PERFORM {{schema}}.flow_wake(q);
    END IF;
END $$;

-- flow_child_done applies the final outcome of child c of queue q (ok:
-- completed) to its parent p of queue pq: its value or failure recorded,
-- or the parent failed (policy fail-parent) with a reason naming the child
-- as backend.ChildKey does, or the dependency dropped; a parent left with
-- no pending child is released.
DROP FUNCTION {{schema}}.flow_child_done(text, text, boolean, bytea, text);
CREATE FUNCTION {{schema}}.flow_child_done(q text, c text, pq text, p text, ok boolean, val bytea, why text) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    l      {{schema}}.flow_links;
    pstate text;
    k      text := CASE WHEN pq = q THEN c ELSE q || ':' || c END;
BEGIN
    IF NOT EXISTS (SELECT 1 FROM {{schema}}.flow_links WHERE queue = q AND child = c AND kind IS NULL) THEN
        RETURN; -- finished before (a retried child), or its parent is gone
    END IF;
    SELECT state INTO pstate FROM {{schema}}.jobs WHERE queue = pq AND id = p FOR UPDATE;
    SELECT * INTO l FROM {{schema}}.flow_links WHERE queue = q AND child = c AND kind IS NULL FOR UPDATE;
    IF NOT FOUND THEN
        RETURN;
    END IF;
    UPDATE {{schema}}.flow_links SET
        kind = CASE WHEN ok THEN 'value' WHEN l.policy = 'ignore' THEN 'failed' ELSE 'dropped' END,
        value = CASE WHEN ok THEN val END,
        reason = CASE WHEN NOT ok AND l.policy = 'ignore' THEN why END
    WHERE queue = q AND child = c;
    IF pstate IS DISTINCT FROM 'waiting-children' THEN
        RETURN;
    END IF;
    IF NOT ok AND l.policy = '' THEN
        UPDATE {{schema}}.jobs SET state = 'failed', failed_reason = 'child ' || k || ' failed: ' || why,
            finished_at = clock_timestamp(), ord = nextval('{{schema}}.job_ord')
        WHERE queue = pq AND id = p;
        INSERT INTO {{schema}}.events (queue, type, job_id, data)
        VALUES (pq, 'failed', p, convert_to('child ' || k || ' failed: ' || why, 'UTF8'));
        INSERT INTO {{schema}}.metrics (queue, minute, failed) VALUES (pq, date_trunc('minute', clock_timestamp()), 1);
        -- Its RemoveOnFail: remove at once (a count or age limit applies at
        -- the queue's next failure, which trims the oldest).
        DELETE FROM {{schema}}.jobs WHERE queue = pq AND id = p AND options->'RemoveOnFail'->>'Remove' = 'true';
        RETURN;
    END IF;
    PERFORM {{schema}}.flow_release(pq, p);
END $$;

CREATE OR REPLACE FUNCTION {{schema}}.flow_finished() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM {{schema}}.flow_child_done(NEW.queue, NEW.id, coalesce(NEW.flow_parent_queue, NEW.queue), NEW.flow_parent,
        NEW.state = 'completed', NEW.return_value, NEW.failed_reason);
    RETURN NULL;
END $$;

-- A deleted pending child stops being waited for. A parent deleted before
-- it finished takes its unfinished children with it, in every queue and
-- at every depth (an active one, or one being finished right now, is left
-- to finish); a finished parent deleted (retention, or a child's failure
-- failed it) leaves its other children to run. A grouped child deleted
-- here held its group's place or slot maybe: its group is synced (the
-- group triggers do not fire inside this one).
CREATE OR REPLACE FUNCTION {{schema}}.flow_deleted() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    pq text := coalesce(OLD.flow_parent_queue, OLD.queue);
    d  record;
BEGIN
    IF OLD.flow_parent IS NOT NULL
            AND EXISTS (SELECT 1 FROM {{schema}}.flow_links WHERE queue = OLD.queue AND child = OLD.id AND kind IS NULL) THEN
        PERFORM 1 FROM {{schema}}.jobs WHERE queue = pq AND id = OLD.flow_parent FOR UPDATE;
        UPDATE {{schema}}.flow_links SET kind = 'dropped' WHERE queue = OLD.queue AND child = OLD.id AND kind IS NULL;
        IF FOUND THEN
            PERFORM {{schema}}.flow_release(pq, OLD.flow_parent);
        END IF;
    END IF;
    IF OLD.flow_kids > 0 THEN
        IF OLD.state NOT IN ('completed', 'failed') THEN
            FOR d IN
                DELETE FROM {{schema}}.jobs WHERE (queue, id) IN (
                    SELECT j.queue, j.id FROM {{schema}}.jobs j JOIN {{schema}}.flow_links l ON j.queue = l.queue AND j.id = l.child
                    WHERE coalesce(l.parent_queue, l.queue) = OLD.queue AND l.parent = OLD.id
                        AND j.state NOT IN ('active', 'completed', 'failed')
                    FOR UPDATE OF j SKIP LOCKED)
                RETURNING queue, grp, state, gslot
            LOOP
                IF d.grp IS NOT NULL AND (d.state IN ('waiting', 'paused') OR d.gslot)
                        AND {{schema}}.group_sync(d.queue, d.grp) > 0 THEN
                    PERFORM {{schema}}.flow_wake(d.queue);
                END IF;
            END LOOP;
        END IF;
        DELETE FROM {{schema}}.flow_links WHERE coalesce(parent_queue, queue) = OLD.queue AND parent = OLD.id;
    END IF;
    RETURN NULL;
END $$;
