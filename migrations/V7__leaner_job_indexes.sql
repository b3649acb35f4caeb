-- Fairlane schema, step 7: fewer index entries per job state change. A claim and a
-- completion each rewrite the job's row, and since `state` changes, every index of
-- the table gets a new entry; two of them were not worth their cost.
--
-- The idempotency key is unique per user only where there is one: most jobs have
-- none, and a NULL key was still indexed at every insert, claim and completion. The
-- lookup (`jobs::insert`) says `idempotency_key IS NOT NULL`, so it uses the partial
-- index.
ALTER TABLE jobs DROP CONSTRAINT jobs_user_idempotency_key;
CREATE UNIQUE INDEX jobs_user_idempotency_key ON jobs (user_id, idempotency_key)
    WHERE idempotency_key IS NOT NULL;

-- The rescuer's scan for expired leases reads the partial index of running jobs
-- (`jobs_user_running`), which holds only the jobs in workers' hands; an index on
-- `lease_expires_at` was rewritten at every claim and made every heartbeat a non-HOT
-- update.
DROP INDEX jobs_running_leases;
