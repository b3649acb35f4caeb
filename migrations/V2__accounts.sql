-- Fairlane schema, step 2: accounts, API keys, broker credentials and the audit log.
-- Sessions live in Redis (token hash -> session), not here.

CREATE TABLE users (
    id                uuid        PRIMARY KEY,
    -- The human handle U00001, U00002, ... (from counters.user_number: gap-free, ordered).
    number            bigint      NOT NULL UNIQUE CHECK (number > 0),
    -- The address as the user typed it (trimmed), for display and mail.
    email             text        NOT NULL CHECK (length(email) <= 254),
    -- The canonical form used for uniqueness and lookup (see api/src/accounts/email.rs).
    email_key         text        NOT NULL UNIQUE,
    name              text        NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    -- PHC string, argon2id.
    password_hash     text        NOT NULL,
    monthly_income    numeric(18, 2) CHECK (monthly_income >= 0),
    currency          text        NOT NULL DEFAULT 'INR' CHECK (currency ~ '^[A-Z]{3}$'),
    role              text        NOT NULL DEFAULT 'user' CHECK (role IN ('user', 'admin')),
    active            boolean     NOT NULL DEFAULT true,
    -- TOTP seed sealed with the credential keyring (AES-256-GCM envelope); null when never set up.
    totp_secret       bytea,
    totp_enabled      boolean     NOT NULL DEFAULT false,
    -- The last accepted TOTP time step: a code is accepted only for a later step (no replay).
    totp_last_step    bigint      NOT NULL DEFAULT 0,
    -- Per-user quota overrides; null means the deployment default.
    max_running_jobs  integer     CHECK (max_running_jobs > 0),
    max_queued_jobs   integer     CHECK (max_queued_jobs > 0),
    max_storage_bytes bigint      CHECK (max_storage_bytes > 0),
    storage_bytes     bigint      NOT NULL DEFAULT 0 CHECK (storage_bytes >= 0),
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now(),
    last_login_at     timestamptz
);

CREATE TABLE api_keys (
    id           uuid        PRIMARY KEY,
    user_id      uuid        NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name         text        NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
    -- SHA-256 of the key; the key itself is shown once and never stored.
    key_hash     bytea       NOT NULL UNIQUE,
    created_at   timestamptz NOT NULL DEFAULT now(),
    last_used_at timestamptz
);
CREATE INDEX api_keys_user_id ON api_keys (user_id);

-- One broker credential per user. Both fields are AES-256-GCM envelopes
-- (version | key id | nonce | ciphertext+tag) whose associated data binds
-- (purpose, user id, credential id, field, key id).
CREATE TABLE broker_credentials (
    user_id         uuid        PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    id              uuid        NOT NULL UNIQUE,
    -- The key id both fields are sealed with (also inside each envelope); lets
    -- rotate-keys find rows still on an old key.
    key_id          integer     NOT NULL,
    api_key_ct      bytea       NOT NULL,
    access_token_ct bytea       NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX broker_credentials_key_id ON broker_credentials (key_id);

-- Append-only record of security-relevant events. user_id has no foreign key: the
-- event that records an account's deletion outlives the account.
CREATE TABLE audit_events (
    id          bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at          timestamptz NOT NULL DEFAULT now(),
    user_id     uuid,
    -- Who acted when it is not the user (an admin), else null.
    actor_id    uuid,
    action      text        NOT NULL,
    outcome     text        NOT NULL CHECK (outcome IN ('success', 'failure', 'denied')),
    ip          inet,
    user_agent  text,
    target      text,
    details     jsonb       NOT NULL DEFAULT '{}',
    request_id  text
);
CREATE INDEX audit_events_user_id ON audit_events (user_id, id DESC);
CREATE INDEX audit_events_at ON audit_events (at);
