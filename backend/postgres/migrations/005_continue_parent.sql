-- 005: the child failure policy 'continue' (backend.ChildContinue): a
-- child's failure for good is recorded under its parent, which is made
-- ready at once, without waiting for its other children. {{schema}} is
-- replaced by the quoted schema name. See docs/postgres.md.

-- flow_release_now makes a parent waiting for children ready, pending
-- children or not; a grouped parent joins the back of its group, which is
-- synced (the group triggers do not fire inside this one). Its queue is
-- recorded for the wake-up.
CREATE FUNCTION {{schema}}.flow_release_now(q text, p text) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    g text;
BEGIN
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

-- flow_release makes a parent waiting for children ready once none is
-- pending.
CREATE OR REPLACE FUNCTION {{schema}}.flow_release(q text, p text) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM {{schema}}.flow_links WHERE coalesce(parent_queue, queue) = q AND parent = p AND kind IS NULL) THEN
        RETURN;
    END IF;
    PERFORM {{schema}}.flow_release_now(q, p);
END $$;

-- flow_child_done applies the final outcome of child c of queue q (ok:
-- completed) to its parent p of queue pq: its value or failure recorded,
-- or the dependency dropped; then, while the parent waits for children,
-- the parent failed (policy fail-parent) with a reason naming the child
-- as backend.ChildKey does, or released: at once under 'continue', else
-- once no child is pending. A parent that does not wait any more
-- (released, or failed by another child) records the outcome only.
CREATE OR REPLACE FUNCTION {{schema}}.flow_child_done(q text, c text, pq text, p text, ok boolean, val bytea, why text) RETURNS void
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
        kind = CASE WHEN ok THEN 'value' WHEN l.policy IN ('ignore', 'continue') THEN 'failed' ELSE 'dropped' END,
        value = CASE WHEN ok THEN val END,
        reason = CASE WHEN NOT ok AND l.policy IN ('ignore', 'continue') THEN why END
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
    IF NOT ok AND l.policy = 'continue' THEN
        PERFORM {{schema}}.flow_release_now(pq, p);
        RETURN;
    END IF;
    PERFORM {{schema}}.flow_release(pq, p);
END $$;
