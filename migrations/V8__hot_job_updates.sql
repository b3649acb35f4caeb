-- Fairlane schema, step 8: claims and completions become HOT updates.
--
-- A claim and a completion each rewrite the job's row. While an index mentioned
-- `state` (in a key or a partial-index predicate), neither could be a HOT update: every
-- index of the table got a new entry at every state change, and that was most of the
-- cost of a job (measured: half of the claim and completion statements' time). Now no
-- index of `jobs` mentions a column a claim or a completion changes:
--
-- * the per-user running count the claim reads (invariant 4) is a counter,
--   `user_job_counts.running`, that statement triggers on `jobs` keep exact: every
--   statement that moves jobs into or out of `running` adds its difference, in the same
--   transaction, whatever code path (or hand-written SQL) ran it;
-- * the jobs maintenance looks for (queued, running, retrying) are found through
--   `jobs_unfinished`, partial on `finished_at IS NULL`: a claim, a retry and a release
--   leave `finished_at` NULL (HOT), only the end of a job sets it. A CHECK makes
--   "unfinished" and "not in a final state" the same thing.
--
-- `fillfactor` leaves room on each page for a row's next version, which a HOT update
-- needs (it must stay on the same page).
--
-- Workers from before this step still run against it (they count running jobs
-- themselves, then through the listing index: correct, slower until replaced).

CREATE TABLE user_job_counts (
    user_id uuid    PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    -- Jobs in state `running` (leases held, expired or not, until rescued).
    running integer NOT NULL DEFAULT 0
);

-- Adds each statement's change to the owners' running counts, owners in id order (so two
-- statements touching the same owners cannot deadlock). Runs once per statement, over
-- the transition tables, not once per row.
CREATE FUNCTION jobs_count_running() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    change record;
BEGIN
    IF TG_OP = 'UPDATE' THEN
        FOR change IN
            SELECT user_id, sum(delta)::integer AS delta FROM (
                SELECT user_id, 1 AS delta FROM new_jobs WHERE state = 'running'
                UNION ALL
                SELECT user_id, -1 FROM old_jobs WHERE state = 'running'
            ) c GROUP BY user_id HAVING sum(delta) <> 0 ORDER BY user_id
        LOOP
            INSERT INTO user_job_counts AS n (user_id, running) VALUES (change.user_id, change.delta)
            ON CONFLICT (user_id) DO UPDATE SET running = n.running + excluded.running;
        END LOOP;
    ELSIF TG_OP = 'INSERT' THEN
        FOR change IN
            SELECT user_id, count(*)::integer AS delta FROM new_jobs WHERE state = 'running'
            GROUP BY user_id ORDER BY user_id
        LOOP
            INSERT INTO user_job_counts AS n (user_id, running) VALUES (change.user_id, change.delta)
            ON CONFLICT (user_id) DO UPDATE SET running = n.running + excluded.running;
        END LOOP;
    ELSIF TG_OP = 'DELETE' THEN
        FOR change IN
            SELECT user_id, count(*)::integer AS delta FROM old_jobs WHERE state = 'running'
            GROUP BY user_id ORDER BY user_id
        LOOP
            UPDATE user_job_counts SET running = running - change.delta
            WHERE user_id = change.user_id;
        END LOOP;
    END IF;
    RETURN NULL;
END
$$;

CREATE FUNCTION jobs_truncate_counts() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE user_job_counts SET running = 0 WHERE running <> 0;
    RETURN NULL;
END
$$;

-- Creating the triggers locks `jobs` against writes until this migration commits, so
-- the counts below start exact.
CREATE TRIGGER jobs_count_running_insert AFTER INSERT ON jobs
    REFERENCING NEW TABLE AS new_jobs
    FOR EACH STATEMENT EXECUTE FUNCTION jobs_count_running();
CREATE TRIGGER jobs_count_running_update AFTER UPDATE ON jobs
    REFERENCING OLD TABLE AS old_jobs NEW TABLE AS new_jobs
    FOR EACH STATEMENT EXECUTE FUNCTION jobs_count_running();
CREATE TRIGGER jobs_count_running_delete AFTER DELETE ON jobs
    REFERENCING OLD TABLE AS old_jobs
    FOR EACH STATEMENT EXECUTE FUNCTION jobs_count_running();
CREATE TRIGGER jobs_count_running_truncate AFTER TRUNCATE ON jobs
    FOR EACH STATEMENT EXECUTE FUNCTION jobs_truncate_counts();

INSERT INTO user_job_counts (user_id, running)
SELECT u.id, (SELECT count(*) FROM jobs j WHERE j.user_id = u.id AND j.state = 'running')
FROM users u;

ALTER TABLE jobs ADD CONSTRAINT jobs_finished_when_final
    CHECK ((finished_at IS NULL) = (state IN ('queued', 'running', 'retrying')));

CREATE INDEX jobs_unfinished ON jobs (user_id, id) WHERE finished_at IS NULL;
DROP INDEX jobs_waiting;
DROP INDEX jobs_user_running;

ALTER TABLE jobs SET (fillfactor = 50);
