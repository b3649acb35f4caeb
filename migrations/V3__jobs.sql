-- Fairlane schema, step 3: jobs, the record of every accepted job (invariant 1).
-- Redis holds dispatch state for these rows only; it can be rebuilt from this table.

CREATE TABLE jobs (
    -- uuid v7: time-ordered, so new rows land at the right of the primary key.
    id                  uuid        PRIMARY KEY,
    user_id             uuid        NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    kind                text        NOT NULL CHECK (length(kind) BETWEEN 1 AND 64),
    params              jsonb       NOT NULL,
    state               text        NOT NULL DEFAULT 'queued'
                        CHECK (state IN ('queued', 'running', 'retrying', 'succeeded', 'failed', 'cancelled')),
    -- Claims so far (a claim increments it; a graceful release gives it back).
    attempt             integer     NOT NULL DEFAULT 0 CHECK (attempt >= 0),
    max_attempts        integer     NOT NULL CHECK (max_attempts >= 1),
    timeout_ms          bigint      NOT NULL CHECK (timeout_ms > 0),
    idempotency_key     text        CHECK (length(idempotency_key) BETWEEN 1 AND 255),
    -- {done, total, message} as last reported by the running job.
    progress            jsonb,
    error_code          text,
    error_message       text,
    -- {summary, files} once succeeded.
    result              jsonb,
    -- Fencing: every write by a worker is conditional on the token of its claim.
    lease_token         uuid,
    lease_expires_at    timestamptz,
    worker_id           text,
    -- Not before: the backoff of a retrying job.
    run_at              timestamptz NOT NULL DEFAULT now(),
    cancel_requested_at timestamptz,
    created_at          timestamptz NOT NULL DEFAULT now(),
    started_at          timestamptz,
    finished_at         timestamptz,
    updated_at          timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT jobs_user_idempotency_key UNIQUE (user_id, idempotency_key),
    CONSTRAINT jobs_running_has_lease CHECK (
        (state = 'running') = (lease_token IS NOT NULL AND lease_expires_at IS NOT NULL)
    )
);

-- GET /jobs: newest first per user, keyset-paginated on (created_at, id).
CREATE INDEX jobs_user_listing ON jobs (user_id, created_at DESC, id DESC);
-- Promotion of due retries and reconciliation of queued jobs.
CREATE INDEX jobs_waiting ON jobs (state, run_at) WHERE state IN ('queued', 'retrying');
-- The rescuer's scan for expired leases.
CREATE INDEX jobs_running_leases ON jobs (lease_expires_at) WHERE state = 'running';
-- The per-user running count taken at every claim (invariant 4).
CREATE INDEX jobs_user_running ON jobs (user_id) WHERE state = 'running';
