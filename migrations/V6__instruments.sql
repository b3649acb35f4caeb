-- Fairlane schema, step 6: the shared instruments cache. The broker's daily dump is
-- fetched at most once a trading day per exchange (Asia/Kolkata) and shared by every
-- user; rows are keyed by (exchange, tradingsymbol) because instrument tokens can be
-- reused after expiry.
CREATE TABLE instruments (
    exchange         text             NOT NULL,
    tradingsymbol    text             NOT NULL,
    instrument_token bigint           NOT NULL,
    name             text             NOT NULL,
    expiry           date,
    strike           double precision NOT NULL,
    instrument_type  text             NOT NULL,
    segment          text             NOT NULL,
    lot_size         integer          NOT NULL,
    tick_size        double precision NOT NULL,
    PRIMARY KEY (exchange, tradingsymbol)
);
CREATE INDEX instruments_options ON instruments (exchange, name, expiry)
    WHERE instrument_type IN ('CE', 'PE');

CREATE TABLE instrument_dumps (
    exchange    text        PRIMARY KEY,
    -- The trading day (Asia/Kolkata) whose dump the rows are.
    trading_day date        NOT NULL,
    fetched_at  timestamptz NOT NULL,
    row_count   integer     NOT NULL
);
