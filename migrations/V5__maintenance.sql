-- Fairlane schema, step 5: the record of maintenance runs (fairlane-scheduler).
--
-- A scheduled run's id is deterministic, `<task>:<scheduled time RFC 3339>`, and is
-- claimed with INSERT ... ON CONFLICT DO NOTHING: however many scheduler replicas see
-- a tick, exactly one inserts its row and runs it. On-demand runs get
-- `<task>:request:<request id>` (admin) or `<task>:cli:<uuid>` (command line).
CREATE TABLE maintenance_runs (
    id            text        PRIMARY KEY,
    task          text        NOT NULL CHECK (task IN ('workspace_cleanup', 'context_eviction', 'session_purge',
                                                       'job_retention', 'backup')),
    -- The tick this run is for (the request time for on-demand runs).
    scheduled_for timestamptz NOT NULL,
    trigger       text        NOT NULL CHECK (trigger IN ('schedule', 'request', 'cli')),
    -- The process that claimed it.
    instance      text        NOT NULL,
    started_at    timestamptz NOT NULL DEFAULT now(),
    -- Renewed while the run is alive; a running row whose heartbeat is older than the
    -- lease belongs to a dead scheduler and is marked failed by any replica.
    heartbeat_at  timestamptz NOT NULL DEFAULT now(),
    finished_at   timestamptz,
    outcome       text        NOT NULL DEFAULT 'running' CHECK (outcome IN ('running', 'succeeded', 'failed')),
    -- Counts reported by the task, e.g. {"files_removed": 3, "bytes_freed": 1024}.
    summary       jsonb       NOT NULL DEFAULT '{}',
    error         text,
    CONSTRAINT maintenance_runs_finished CHECK ((outcome = 'running') = (finished_at IS NULL))
);
-- The latest run per task (admin stats) and the latest scheduled tick (catch-up on start).
CREATE INDEX maintenance_runs_task ON maintenance_runs (task, started_at DESC);
CREATE INDEX maintenance_runs_running ON maintenance_runs (heartbeat_at) WHERE outcome = 'running';

-- Runs an admin asked for (POST /admin/maintenance/{task}). The API only records the
-- request; a scheduler claims it (FOR UPDATE SKIP LOCKED) and runs it.
CREATE TABLE maintenance_requests (
    id           uuid        PRIMARY KEY,
    task         text        NOT NULL CHECK (task IN ('workspace_cleanup', 'context_eviction', 'session_purge',
                                                      'job_retention', 'backup')),
    -- The admin who asked; no foreign key, the request outlives the account.
    requested_by uuid,
    requested_at timestamptz NOT NULL DEFAULT now(),
    claimed_at   timestamptz,
    run_id       text        REFERENCES maintenance_runs (id) ON DELETE SET NULL
);
CREATE INDEX maintenance_requests_pending ON maintenance_requests (requested_at) WHERE claimed_at IS NULL;
