-- Restores the first schema's webhook_delivery_log, webhook_delivery_attempts and delivery_queue.

DROP TABLE webhook_replay_jobs;
DROP TABLE webhook_delivery_attempts;
DROP TABLE webhook_delivery_log;

CREATE TABLE webhook_delivery_log (
    id              TEXT    PRIMARY KEY,
    provider        TEXT    NOT NULL,
    event_id        TEXT    NOT NULL,
    event_type      TEXT    NOT NULL,
    status          TEXT    NOT NULL,
    signature_valid INTEGER NOT NULL DEFAULT 1,
    raw_body        BLOB,
    sanitized_body  TEXT,
    attempts        INTEGER NOT NULL DEFAULT 0,
    last_error      TEXT,
    received_at     INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL,
    next_attempt_at INTEGER,
    completed_at    INTEGER
);
CREATE UNIQUE INDEX webhook_delivery_log_provider_event ON webhook_delivery_log (provider, event_id);
CREATE INDEX webhook_delivery_log_received_at ON webhook_delivery_log (received_at DESC);
CREATE INDEX webhook_delivery_log_status_received_at ON webhook_delivery_log (status, received_at DESC);
CREATE INDEX webhook_delivery_log_raw_body_received_at ON webhook_delivery_log (received_at) WHERE raw_body IS NOT NULL;

CREATE TABLE webhook_delivery_attempts (
    id          INTEGER PRIMARY KEY,
    delivery_id TEXT    NOT NULL REFERENCES webhook_delivery_log (id) ON DELETE CASCADE,
    attempt     INTEGER NOT NULL,
    started_at  INTEGER NOT NULL,
    finished_at INTEGER NOT NULL,
    outcome     TEXT    NOT NULL,
    http_status INTEGER,
    error       TEXT,
    UNIQUE (delivery_id, attempt)
);
CREATE INDEX webhook_delivery_attempts_finished_at ON webhook_delivery_attempts (finished_at);

CREATE TABLE delivery_queue (
    id          INTEGER PRIMARY KEY,
    queue       TEXT    NOT NULL,
    delivery_id TEXT    NOT NULL,
    priority    INTEGER NOT NULL DEFAULT 0,
    run_at      INTEGER NOT NULL,
    attempts    INTEGER NOT NULL DEFAULT 0,
    lease_owner TEXT,
    lease_until INTEGER,
    created_at  INTEGER NOT NULL
);
CREATE INDEX delivery_queue_ready ON delivery_queue (queue, priority DESC, run_at, id) WHERE lease_until IS NULL;
CREATE INDEX delivery_queue_leased ON delivery_queue (lease_until) WHERE lease_until IS NOT NULL;
CREATE INDEX delivery_queue_delivery_id ON delivery_queue (delivery_id);
