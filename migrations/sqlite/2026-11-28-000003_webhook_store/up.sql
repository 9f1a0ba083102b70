-- The webhook deliveries in the shape `wedsync_webhooks::store::WebhookStore` needs, with the
-- delivery queue folded into the delivery row (see the PostgreSQL migration of the same name).
-- Timestamps are INTEGER microseconds since the Unix epoch (UTC); ids are UUID text.

DROP TABLE delivery_queue;
DROP TABLE webhook_delivery_attempts;
DROP TABLE webhook_delivery_log;

CREATE TABLE webhook_delivery_log (
    id                  TEXT    PRIMARY KEY,
    provider            TEXT    NOT NULL,
    event_id            TEXT,
    dedupe_key          TEXT    NOT NULL,
    event_type          TEXT,
    received_at         INTEGER NOT NULL,
    verdict             TEXT    NOT NULL CHECK (verdict IN ('verified', 'rejected')),
    verdict_reason      TEXT,
    sanitized_headers   TEXT    NOT NULL DEFAULT '[]',
    sanitized_body      TEXT    NOT NULL,
    content_type        TEXT,
    raw_body_key_id     TEXT,
    raw_body_nonce      BLOB,
    raw_body            BLOB,
    raw_body_expires_at INTEGER,
    priority            INTEGER NOT NULL DEFAULT 0,
    status              TEXT    NOT NULL CHECK (status IN
                        ('received', 'pending', 'retrying', 'delivered', 'failed', 'duplicate', 'rejected')),
    duplicate_of        TEXT,
    attempt_count       INTEGER NOT NULL DEFAULT 0,
    run_attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at     INTEGER,
    next_trigger        TEXT    NOT NULL DEFAULT 'scheduled',
    single_attempt      INTEGER NOT NULL DEFAULT 0,
    lease_token         TEXT,
    lease_owner         TEXT,
    lease_expires_at    INTEGER,
    delivered_at        INTEGER,
    last_error          TEXT,
    last_status         INTEGER,
    updated_at          INTEGER NOT NULL
);
CREATE UNIQUE INDEX webhook_delivery_log_dedupe ON webhook_delivery_log (provider, dedupe_key)
    WHERE status NOT IN ('duplicate', 'rejected');
CREATE INDEX webhook_delivery_log_queue ON webhook_delivery_log
    (priority DESC, next_attempt_at, received_at, id) WHERE status IN ('pending', 'retrying');
CREATE INDEX webhook_delivery_log_received_at ON webhook_delivery_log (received_at, id);
CREATE INDEX webhook_delivery_log_raw_body_expires_at ON webhook_delivery_log (raw_body_expires_at)
    WHERE raw_body IS NOT NULL;

CREATE TABLE webhook_delivery_attempts (
    delivery_id      TEXT    NOT NULL REFERENCES webhook_delivery_log (id) ON DELETE CASCADE,
    attempt          INTEGER NOT NULL,
    trigger          TEXT    NOT NULL,
    worker           TEXT    NOT NULL,
    started_at       INTEGER NOT NULL,
    duration_ms      INTEGER NOT NULL,
    response_status  INTEGER,
    error_kind       TEXT,
    response_excerpt TEXT,
    PRIMARY KEY (delivery_id, attempt)
);
CREATE INDEX webhook_delivery_attempts_started_at ON webhook_delivery_attempts (started_at);

CREATE TABLE webhook_replay_jobs (
    id           TEXT    PRIMARY KEY,
    filter       TEXT    NOT NULL,
    requested_by TEXT    NOT NULL,
    state        TEXT    NOT NULL CHECK (state IN ('queued', 'running', 'completed', 'failed')),
    total        INTEGER NOT NULL DEFAULT 0,
    scheduled    INTEGER NOT NULL DEFAULT 0,
    skipped      INTEGER NOT NULL DEFAULT 0,
    error        TEXT,
    created_at   INTEGER NOT NULL,
    updated_at   INTEGER NOT NULL
);
