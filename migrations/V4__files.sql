-- Fairlane schema, step 4: files in users' workspaces — uploads and job results.
-- A file's bytes live at <data>/users/<user_id>/<area>/<id>; the path is built from
-- these columns only, never from a client-supplied name.
CREATE TABLE files (
    id           uuid        PRIMARY KEY,
    user_id      uuid        NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    kind         text        NOT NULL CHECK (kind IN ('upload', 'result')),
    -- The workspace area holding the bytes.
    area         text        NOT NULL CHECK (area IN ('uploads', 'processed_options', 'calculated_columns',
                                                       'filtered_options', 'exports')),
    -- Display name only (sanitised client name, or a generated result name).
    name         text        NOT NULL CHECK (length(name) BETWEEN 1 AND 255),
    size_bytes   bigint      NOT NULL CHECK (size_bytes >= 0),
    sha256       text        NOT NULL CHECK (sha256 ~ '^[0-9a-f]{64}$'),
    content_type text        NOT NULL,
    job_id       uuid        REFERENCES jobs (id) ON DELETE CASCADE,
    -- Pinned files are kept by workspace cleanup.
    pinned       boolean     NOT NULL DEFAULT false,
    created_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX files_user_id ON files (user_id, created_at DESC, id);
CREATE INDEX files_job_id ON files (job_id) WHERE job_id IS NOT NULL;
