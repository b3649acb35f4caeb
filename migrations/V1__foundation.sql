-- Fairlane schema, step 1: named counters that must be gap-free and ordered
-- (the user handle U00001, U00002, ... comes from here). Incrementing a row inside
-- the registering transaction means a rolled-back registration leaves no gap.
CREATE TABLE counters (
    name  text   PRIMARY KEY,
    value bigint NOT NULL DEFAULT 0 CHECK (value >= 0)
);

INSERT INTO counters (name, value) VALUES ('user_number', 0);
