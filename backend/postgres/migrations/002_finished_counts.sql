-- 002: finished-job counts, so keep-last-N retention costs O(1) per finish,
-- and the check a one-round-trip complete uses. {{schema}} is replaced by
-- the quoted schema name. See docs/postgres.md.

-- The completed and failed jobs of a queue, in shards: a finish adds to its
-- connection's shard (pg_backend_pid() % 16), so concurrent finishes of a
-- queue rarely wait on one another's row lock; the count is the shards'
-- sum. Kept by the triggers below, whichever statement moves a job into or
-- out of a finished state (finish, retry, remove, clean, obliterate).
CREATE TABLE {{schema}}.finished_counts (
    queue text NOT NULL,
    state text NOT NULL,
    shard integer NOT NULL,
    n     bigint NOT NULL,
    PRIMARY KEY (queue, state, shard)
);

INSERT INTO {{schema}}.finished_counts (queue, state, shard, n)
SELECT queue, state, 0, count(*) FROM {{schema}}.jobs WHERE state IN ('completed', 'failed') GROUP BY queue, state;

CREATE FUNCTION {{schema}}.count_finished() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP <> 'INSERT' AND OLD.state IN ('completed', 'failed') THEN
        INSERT INTO {{schema}}.finished_counts AS c (queue, state, shard, n)
        VALUES (OLD.queue, OLD.state, pg_backend_pid() % 16, -1)
        ON CONFLICT (queue, state, shard) DO UPDATE SET n = c.n - 1;
    END IF;
    IF TG_OP <> 'DELETE' AND NEW.state IN ('completed', 'failed') THEN
        INSERT INTO {{schema}}.finished_counts AS c (queue, state, shard, n)
        VALUES (NEW.queue, NEW.state, pg_backend_pid() % 16, 1)
        ON CONFLICT (queue, state, shard) DO UPDATE SET n = c.n + 1;
    END IF;
    RETURN NULL;
END $$;

-- The WHEN clauses keep every other change (adds, claims, lock renewals)
-- from calling the function at all.
CREATE TRIGGER jobs_finished_insert AFTER INSERT ON {{schema}}.jobs FOR EACH ROW
    WHEN (NEW.state IN ('completed', 'failed')) EXECUTE FUNCTION {{schema}}.count_finished();
CREATE TRIGGER jobs_finished_update AFTER UPDATE OF state ON {{schema}}.jobs FOR EACH ROW
    WHEN (OLD.state IS DISTINCT FROM NEW.state AND (OLD.state IN ('completed', 'failed') OR NEW.state IN ('completed', 'failed')))
    EXECUTE FUNCTION {{schema}}.count_finished();
CREATE TRIGGER jobs_finished_delete AFTER DELETE ON {{schema}}.jobs FOR EACH ROW
    WHEN (OLD.state IN ('completed', 'failed')) EXECUTE FUNCTION {{schema}}.count_finished();

-- held(n) raises fila_lock_lost (SQLSTATE FL001) when n is 0: a complete
-- sent in one pipelined batch with the claim of the next job aborts the
-- whole batch when its lock was not held, and the caller takes the slow
-- path that tells why.
CREATE FUNCTION {{schema}}.held(n bigint) RETURNS bigint LANGUAGE plpgsql AS $$
BEGIN
    IF n = 0 THEN
        RAISE EXCEPTION 'fila: lock not held' USING ERRCODE = 'FL001';
    END IF;
    RETURN n;
END $$;
