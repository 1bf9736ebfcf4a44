-- 003: cancel, job schedulers, job groups and flows (the optional
-- interfaces backend.Cancellers, Schedulers, Groups and Flows). {{schema}} is
-- replaced by the quoted schema name. See docs/postgres.md.
--
-- The functions below never NOTIFY: NOTIFY inside a transaction serializes
-- the commits of every notifying transaction. A call whose transition may
-- have made a grouped or flow job ready signals its queue after it commits,
-- like every other transition (notify.go).

ALTER TABLE {{schema}}.jobs
    ADD COLUMN cancel_token text,                   -- the token whose lock JobCancel revoked
    ADD COLUMN grp          text,                   -- JobOptions.Group; NULL for an ungrouped job
    ADD COLUMN gord         bigint,                 -- order within the group (front first)
    ADD COLUMN gslot        boolean NOT NULL DEFAULT false; -- a delayed retry keeping its group's slot

-- A grouped job that is ready but not its group's place in the waiting line
-- is in state 'gwaiting' ('gpaused' while the queue is paused); the backend
-- shows both as waiting (paused). The group's place in the line is one job
-- in state 'waiting' (or 'paused'): the group's front job, with the line's
-- order key (ord) of when the group took its place. Claims take it like any
-- other job, through jobs_ready; nothing else about groups is on the path
-- of an ungrouped job.

-- A group's waiting jobs in order, and its place in the line.
CREATE INDEX jobs_group ON {{schema}}.jobs (queue, grp, gord)
    WHERE grp IS NOT NULL AND state IN ('waiting', 'paused', 'gwaiting', 'gpaused');
-- A group's used slots: its active jobs and its retries keeping theirs.
CREATE INDEX jobs_group_slots ON {{schema}}.jobs (queue, grp) WHERE grp IS NOT NULL AND (state = 'active' OR gslot);

ALTER TABLE {{schema}}.queues
    ADD COLUMN group_concurrency integer NOT NULL DEFAULT 1,
    ADD COLUMN group_max_size    integer NOT NULL DEFAULT 0,
    ADD COLUMN group_rate_max    integer NOT NULL DEFAULT 0,
    ADD COLUMN group_rate_per_ms float8  NOT NULL DEFAULT 0;

-- One row per group that ever had a job; its row lock serializes the
-- group's transitions.
CREATE TABLE {{schema}}.groups (
    queue   text NOT NULL,
    name    text NOT NULL,
    paused  boolean NOT NULL DEFAULT false,
    until   timestamptz,  -- no start before: the group's rate, GroupRateLimit
    wake_at timestamptz,  -- a limited group with waiting jobs takes its place in the line then
    PRIMARY KEY (queue, name)
);
-- Limited groups due back in the line: every claim's promotion looks here.
CREATE INDEX groups_wake ON {{schema}}.groups (queue, wake_at) WHERE wake_at IS NOT NULL;

CREATE TABLE {{schema}}.schedulers (
    queue       text NOT NULL,
    id          text NOT NULL,
    spec        text NOT NULL,
    name        text NOT NULL,     -- the template job's name, data and options
    data        bytea,
    options     jsonb NOT NULL,
    lim         integer NOT NULL,  -- jobs to add in all; 0 = no limit
    next_ms     bigint NOT NULL,   -- the pending tick, unix ms
    next_job_id text NOT NULL,
    iterations  integer NOT NULL,
    last_job_id text NOT NULL DEFAULT '',
    PRIMARY KEY (queue, id)
);

-- group_lock locks a group's row, creating it first if needed.
CREATE FUNCTION {{schema}}.group_lock(q text, g text) RETURNS {{schema}}.groups
LANGUAGE plpgsql AS $$
DECLARE
    r {{schema}}.groups;
BEGIN
    LOOP
        SELECT * INTO r FROM {{schema}}.groups WHERE queue = q AND name = g FOR UPDATE;
        IF FOUND THEN
            RETURN r;
        END IF;
        INSERT INTO {{schema}}.groups (queue, name) VALUES (q, g) ON CONFLICT DO NOTHING;
    END LOOP;
END $$;

-- group_fits says whether group g (locked, row r) may take a place in the
-- line now: not paused, not limited, no place taken, a free slot. The job
-- except_id is left out of the reckoning (the one being moved).
CREATE FUNCTION {{schema}}.group_fits(q text, g text, r {{schema}}.groups, except_id text) RETURNS boolean
LANGUAGE plpgsql AS $$
BEGIN
    IF r.paused OR r.until > clock_timestamp() THEN
        RETURN false;
    END IF;
    IF EXISTS (SELECT 1 FROM {{schema}}.jobs WHERE queue = q AND grp = g AND state IN ('waiting', 'paused') AND id <> except_id) THEN
        RETURN false;
    END IF;
    RETURN (SELECT count(*) FROM {{schema}}.jobs WHERE queue = q AND grp = g AND (state = 'active' OR gslot) AND id <> except_id)
        < coalesce((SELECT greatest(group_concurrency, 1) FROM {{schema}}.queues WHERE name = q), 1);
END $$;

-- group_sync puts group g's front job in the line when the group fits, or
-- records when a limited group with waiting jobs is due back (wake_at). It
-- returns 1 when it made a job ready.
CREATE FUNCTION {{schema}}.group_sync(q text, g text) RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    r   {{schema}}.groups;
    nid text;
BEGIN
    r := {{schema}}.group_lock(q, g);
    IF NOT r.paused AND r.until > clock_timestamp() THEN
        UPDATE {{schema}}.groups SET wake_at = CASE WHEN EXISTS (
            SELECT 1 FROM {{schema}}.jobs WHERE queue = q AND grp = g AND state IN ('gwaiting', 'gpaused')) THEN r.until END
        WHERE queue = q AND name = g AND wake_at IS DISTINCT FROM r.until;
        RETURN 0;
    END IF;
    IF r.wake_at IS NOT NULL THEN
        UPDATE {{schema}}.groups SET wake_at = NULL WHERE queue = q AND name = g;
    END IF;
    IF NOT {{schema}}.group_fits(q, g, r, '') THEN
        RETURN 0;
    END IF;
    SELECT id INTO nid FROM {{schema}}.jobs WHERE queue = q AND grp = g AND state IN ('gwaiting', 'gpaused')
        ORDER BY gord LIMIT 1 FOR UPDATE SKIP LOCKED;
    IF nid IS NULL THEN
        RETURN 0;
    END IF;
    UPDATE {{schema}}.jobs SET state = CASE state WHEN 'gpaused' THEN 'paused' ELSE 'waiting' END,
        ord = nextval('{{schema}}.job_ord')
    WHERE queue = q AND id = nid;
    RETURN 1;
END $$;

-- group_enter places a grouped job that becomes ready (j, not yet
-- written): in the line if it goes before the group's place-holder (which
-- steps back into the group) or the group fits, else in the group.
CREATE FUNCTION {{schema}}.group_enter(j {{schema}}.jobs) RETURNS {{schema}}.jobs
LANGUAGE plpgsql AS $$
DECLARE
    r {{schema}}.groups;
    h record;
BEGIN
    r := {{schema}}.group_lock(j.queue, j.grp);
    SELECT id, ord, gord INTO h FROM {{schema}}.jobs
    WHERE queue = j.queue AND grp = j.grp AND state IN ('waiting', 'paused') AND id <> j.id
    ORDER BY gord LIMIT 1 FOR UPDATE SKIP LOCKED;
    IF FOUND THEN
        IF j.gord < h.gord THEN
            UPDATE {{schema}}.jobs SET state = CASE state WHEN 'paused' THEN 'gpaused' ELSE 'gwaiting' END
            WHERE queue = j.queue AND id = h.id;
            j.ord := h.ord;
            RETURN j;
        END IF;
    ELSIF {{schema}}.group_fits(j.queue, j.grp, r, j.id) THEN
        j.ord := nextval('{{schema}}.job_ord');
        RETURN j;
    END IF;
    j.state := CASE j.state WHEN 'paused' THEN 'gpaused' ELSE 'gwaiting' END;
    RETURN j;
END $$;

-- Before a grouped job is inserted: its group, its order in the group, the
-- group's MaxSize (NULL: the insert is skipped, and JobAdd reports the
-- group full), and its place.
CREATE FUNCTION {{schema}}.group_before_insert() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    r  {{schema}}.groups;
    mx integer;
BEGIN
    IF EXISTS (SELECT 1 FROM {{schema}}.jobs WHERE queue = NEW.queue AND id = NEW.id) THEN
        RETURN NEW; -- the insert's ON CONFLICT keeps the existing job
    END IF;
    NEW.grp := NEW.options->>'Group';
    NEW.gord := NEW.ord;
    r := {{schema}}.group_lock(NEW.queue, NEW.grp);
    SELECT group_max_size INTO mx FROM {{schema}}.queues WHERE name = NEW.queue;
    IF mx > 0 AND (SELECT count(*) FROM {{schema}}.jobs WHERE queue = NEW.queue AND grp = NEW.grp
            AND state IN ('waiting', 'paused', 'gwaiting', 'gpaused')) >= mx THEN
        RETURN NULL;
    END IF;
    IF NEW.state IN ('waiting', 'paused', 'prioritized') THEN
        RETURN {{schema}}.group_enter(NEW);
    END IF;
    RETURN NEW;
END $$;

-- Before a grouped job changes state: a retry that waits keeps its slot; a
-- job that becomes ready goes to the front of its group when it ran (a
-- release, a retry, a stall) and to the back otherwise, and takes its
-- place.
CREATE FUNCTION {{schema}}.group_before_update() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.state = 'delayed' AND OLD.state = 'active' THEN
        NEW.gslot := true;
        RETURN NEW;
    END IF;
    IF NEW.state IN ('waiting', 'paused', 'prioritized')
            AND OLD.state NOT IN ('waiting', 'paused', 'prioritized', 'gwaiting', 'gpaused') THEN
        IF OLD.state = 'active' OR OLD.gslot THEN
            NEW.gord := -nextval('{{schema}}.job_ord');
        ELSE
            NEW.gord := NEW.ord;
        END IF;
        NEW.gslot := false;
        RETURN {{schema}}.group_enter(NEW);
    END IF;
    IF NEW.state <> 'delayed' THEN
        NEW.gslot := false;
    END IF;
    RETURN NEW;
END $$;

-- After a grouped job changed state or was deleted: a start spaces the
-- group's next one (its Rate); a freed slot or place brings the group's
-- next job into the line.
CREATE FUNCTION {{schema}}.group_after() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    q text := OLD.queue;
    g text := OLD.grp;
BEGIN
    IF TG_OP = 'UPDATE' THEN
        IF OLD.state IN ('waiting', 'paused') AND NEW.state IN ('waiting', 'paused')
                OR OLD.state IN ('gwaiting', 'gpaused') AND NEW.state IN ('gwaiting', 'gpaused') THEN
            RETURN NULL; -- the queue paused or resumed
        END IF;
        IF NEW.state = 'active' THEN
            PERFORM {{schema}}.group_lock(q, g);
            UPDATE {{schema}}.groups gr
            SET until = clock_timestamp() + greatest(qu.group_rate_per_ms / qu.group_rate_max, 1) * interval '1 millisecond'
            FROM {{schema}}.queues qu
            WHERE qu.name = q AND qu.group_rate_max > 0 AND qu.group_rate_per_ms > 0 AND gr.queue = q AND gr.name = g;
        END IF;
    ELSIF NOT (OLD.state IN ('waiting', 'paused', 'active') OR OLD.gslot) THEN
        RETURN NULL; -- a deleted job that held no place and no slot
    END IF;
    PERFORM {{schema}}.group_sync(q, g);
    RETURN NULL;
END $$;

-- The triggers fire for grouped jobs only (the WHEN conditions cost an
-- ungrouped job no function call), and not for the updates the functions
-- above make themselves.
CREATE TRIGGER group_insert BEFORE INSERT ON {{schema}}.jobs
    FOR EACH ROW WHEN (NEW.options->>'Group' <> '' AND pg_trigger_depth() < 1)
    EXECUTE FUNCTION {{schema}}.group_before_insert();
CREATE TRIGGER group_update BEFORE UPDATE OF state ON {{schema}}.jobs
    FOR EACH ROW WHEN (NEW.grp IS NOT NULL AND OLD.state IS DISTINCT FROM NEW.state AND pg_trigger_depth() < 1)
    EXECUTE FUNCTION {{schema}}.group_before_update();
CREATE TRIGGER group_updated AFTER UPDATE OF state ON {{schema}}.jobs
    FOR EACH ROW WHEN (NEW.grp IS NOT NULL AND OLD.state IS DISTINCT FROM NEW.state AND pg_trigger_depth() < 1)
    EXECUTE FUNCTION {{schema}}.group_after();
CREATE TRIGGER group_deleted AFTER DELETE ON {{schema}}.jobs
    FOR EACH ROW WHEN (OLD.grp IS NOT NULL AND pg_trigger_depth() < 1)
    EXECUTE FUNCTION {{schema}}.group_after();

-- Flows: a parent job in state 'waiting-children' runs once its children
-- finished. A child knows its parent (flow_parent); a parent counts the
-- children it ever had (flow_kids); flow_links holds each child's link and,
-- once the child finished for good, what it left for the parent.
ALTER TABLE {{schema}}.jobs
    ADD COLUMN flow_parent text,                       -- the parent of a flow's child
    ADD COLUMN flow_kids   integer NOT NULL DEFAULT 0; -- children ever added to a parent

CREATE TABLE {{schema}}.flow_links (
    queue  text NOT NULL,
    child  text NOT NULL,
    parent text NOT NULL,
    policy text NOT NULL,      -- backend.ChildPolicy: '', 'ignore', 'remove'
    n      bigserial,
    kind   text,               -- NULL while pending; 'value', 'failed' or 'dropped' once finished
    value  bytea,              -- the completed child's return value
    reason text,               -- the failed child's reason (policy ignore)
    PRIMARY KEY (queue, child)
);
CREATE INDEX flow_links_parent ON {{schema}}.flow_links (queue, parent);

-- flow_release makes a parent waiting for children ready once none is
-- pending; a grouped parent joins the back of its group, which is synced
-- (the group triggers do not fire inside this one).
CREATE FUNCTION {{schema}}.flow_release(q text, p text) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    g text;
BEGIN
    IF EXISTS (SELECT 1 FROM {{schema}}.flow_links WHERE queue = q AND parent = p AND kind IS NULL) THEN
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
    END IF;
END $$;

-- flow_child_done applies a child's final outcome (ok: completed) to its
-- parent: its value or failure recorded, or the parent failed (policy
-- fail-parent), or the dependency dropped; a parent left with no pending
-- child is released.
CREATE FUNCTION {{schema}}.flow_child_done(q text, c text, ok boolean, val bytea, why text) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    l {{schema}}.flow_links;
    pstate text;
BEGIN
    SELECT * INTO l FROM {{schema}}.flow_links WHERE queue = q AND child = c AND kind IS NULL FOR UPDATE;
    IF NOT FOUND THEN
        RETURN;
    END IF;
    UPDATE {{schema}}.flow_links SET
        kind = CASE WHEN ok THEN 'value' WHEN l.policy = 'ignore' THEN 'failed' ELSE 'dropped' END,
        value = CASE WHEN ok THEN val END,
        reason = CASE WHEN NOT ok AND l.policy = 'ignore' THEN why END
    WHERE queue = q AND child = c;
    SELECT state INTO pstate FROM {{schema}}.jobs WHERE queue = q AND id = l.parent FOR UPDATE;
    IF pstate IS DISTINCT FROM 'waiting-children' THEN
        RETURN;
    END IF;
    IF NOT ok AND l.policy = '' THEN
        UPDATE {{schema}}.jobs SET state = 'failed', failed_reason = 'child ' || c || ' failed: ' || why,
            finished_at = clock_timestamp(), ord = nextval('{{schema}}.job_ord')
        WHERE queue = q AND id = l.parent;
        INSERT INTO {{schema}}.events (queue, type, job_id, data)
        VALUES (q, 'failed', l.parent, convert_to('child ' || c || ' failed: ' || why, 'UTF8'));
        INSERT INTO {{schema}}.metrics (queue, minute, failed) VALUES (q, date_trunc('minute', clock_timestamp()), 1);
        -- Its RemoveOnFail: remove at once (a count or age limit applies at
        -- the queue's next failure, which trims the oldest).
        DELETE FROM {{schema}}.jobs WHERE queue = q AND id = l.parent AND options->'RemoveOnFail'->>'Remove' = 'true';
        RETURN;
    END IF;
    PERFORM {{schema}}.flow_release(q, l.parent);
END $$;

CREATE FUNCTION {{schema}}.flow_finished() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM {{schema}}.flow_child_done(NEW.queue, NEW.id, NEW.state = 'completed', NEW.return_value, NEW.failed_reason);
    RETURN NULL;
END $$;

-- A parent deleted before it finished takes its unfinished children with
-- it (an active one, or one being finished right now, is left to finish);
-- a finished parent deleted (retention, or a child's failure failed it)
-- leaves its other children to run. A deleted pending child stops being
-- waited for.
CREATE FUNCTION {{schema}}.flow_deleted() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF OLD.flow_kids > 0 THEN
        IF OLD.state NOT IN ('completed', 'failed') THEN
            DELETE FROM {{schema}}.jobs WHERE queue = OLD.queue AND id IN (
                SELECT j.id FROM {{schema}}.jobs j JOIN {{schema}}.flow_links l ON l.queue = j.queue AND l.child = j.id
                WHERE l.queue = OLD.queue AND l.parent = OLD.id AND j.state NOT IN ('active', 'completed', 'failed')
                FOR UPDATE OF j SKIP LOCKED);
        END IF;
        DELETE FROM {{schema}}.flow_links WHERE queue = OLD.queue AND parent = OLD.id;
    END IF;
    IF OLD.flow_parent IS NOT NULL THEN
        UPDATE {{schema}}.flow_links SET kind = 'dropped' WHERE queue = OLD.queue AND child = OLD.id AND kind IS NULL;
        IF FOUND THEN
            PERFORM 1 FROM {{schema}}.jobs WHERE queue = OLD.queue AND id = OLD.flow_parent FOR UPDATE;
            PERFORM {{schema}}.flow_release(OLD.queue, OLD.flow_parent);
        END IF;
    END IF;
    RETURN NULL;
END $$;

-- These fire for flow jobs only, at any depth: a parent that a child's
-- failure failed passes the failure on to its own parent.
CREATE TRIGGER flow_finished AFTER UPDATE OF state ON {{schema}}.jobs
    FOR EACH ROW WHEN (NEW.flow_parent IS NOT NULL AND NEW.state IN ('completed', 'failed') AND OLD.state IS DISTINCT FROM NEW.state)
    EXECUTE FUNCTION {{schema}}.flow_finished();
CREATE TRIGGER flow_deleted AFTER DELETE ON {{schema}}.jobs
    FOR EACH ROW WHEN (OLD.flow_parent IS NOT NULL OR OLD.flow_kids > 0)
    EXECUTE FUNCTION {{schema}}.flow_deleted();
