-- The webhook deliveries in the shape `wedsync_webhooks::store::WebhookStore` needs, with the
-- delivery queue folded into the delivery row: a delivery is queued while its status is
-- `pending`/`retrying`, and `webhook_delivery_log_queue` (a partial index) is the queue.
-- Replaces the first schema's `webhook_delivery_log`, `webhook_delivery_attempts` and
-- `delivery_queue` (which no released code wrote to); `down.sql` restores them.

DROP TABLE delivery_queue;
DROP TABLE webhook_delivery_attempts;
DROP TABLE webhook_delivery_log;

CREATE TABLE webhook_delivery_log (
    id                  UUID        PRIMARY KEY,
    provider            TEXT        NOT NULL,
    event_id            TEXT,
    dedupe_key          TEXT        NOT NULL,
    event_type          TEXT,
    received_at         TIMESTAMPTZ NOT NULL,
    verdict             TEXT        NOT NULL CHECK (verdict IN ('verified', 'rejected')),
    verdict_reason      TEXT,
    sanitized_headers   JSONB       NOT NULL DEFAULT '[]', -- [[name, value], ...]
    sanitized_body      TEXT        NOT NULL,
    content_type        TEXT,
    -- the raw body, sealed by the webhooks crate (AEAD); never decrypted by the store
    raw_body_key_id     TEXT,
    raw_body_nonce      BYTEA,
    raw_body            BYTEA,
    raw_body_expires_at TIMESTAMPTZ,
    priority            SMALLINT    NOT NULL DEFAULT 0, -- 0 normal, 1 critical
    status              TEXT        NOT NULL CHECK (status IN
                        ('received', 'pending', 'retrying', 'delivered', 'failed', 'duplicate', 'rejected')),
    duplicate_of        UUID,
    attempt_count       INTEGER     NOT NULL DEFAULT 0,
    run_attempts        INTEGER     NOT NULL DEFAULT 0,
    next_attempt_at     TIMESTAMPTZ,
    next_trigger        TEXT        NOT NULL DEFAULT 'scheduled',
    single_attempt      BOOLEAN     NOT NULL DEFAULT FALSE,
    lease_token         UUID,
    lease_owner         TEXT,
    lease_expires_at    TIMESTAMPTZ,
    delivered_at        TIMESTAMPTZ,
    last_error          TEXT,
    last_status         INTEGER,
    updated_at          TIMESTAMPTZ NOT NULL
) WITH (fillfactor = 80); -- room on each page, so a claim (which changes no indexed column) is a HOT update
-- dedupe: one verified, non-duplicate delivery owns (provider, dedupe_key), across processes
CREATE UNIQUE INDEX webhook_delivery_log_dedupe ON webhook_delivery_log (provider, dedupe_key)
    WHERE status NOT IN ('duplicate', 'rejected');
-- the queue: claim takes critical first, then the earliest due
CREATE INDEX webhook_delivery_log_queue ON webhook_delivery_log
    (priority DESC, next_attempt_at, received_at, id) WHERE status IN ('pending', 'retrying');
-- (reclaim scans the queue index: a leased delivery is always queued. No index on the lease
-- columns, so that claiming never has to touch an index.)
-- listings and statistics by time (filters on provider/status/type are applied on the window)
CREATE INDEX webhook_delivery_log_received_at ON webhook_delivery_log (received_at, id);
-- raw-body retention only looks at rows that still hold a body
CREATE INDEX webhook_delivery_log_raw_body_expires_at ON webhook_delivery_log (raw_body_expires_at)
    WHERE raw_body IS NOT NULL;

-- Each forwarding attempt of a delivery.
CREATE TABLE webhook_delivery_attempts (
    delivery_id      UUID        NOT NULL REFERENCES webhook_delivery_log (id) ON DELETE CASCADE,
    attempt          INTEGER     NOT NULL,
    trigger          TEXT        NOT NULL,
    worker           TEXT        NOT NULL,
    started_at       TIMESTAMPTZ NOT NULL,
    duration_ms      BIGINT      NOT NULL,
    response_status  INTEGER,
    error_kind       TEXT,
    response_excerpt TEXT,
    PRIMARY KEY (delivery_id, attempt)
);
CREATE INDEX webhook_delivery_attempts_started_at ON webhook_delivery_attempts (started_at);

-- Bulk replay jobs and their progress.
CREATE TABLE webhook_replay_jobs (
    id           UUID        PRIMARY KEY,
    filter       JSONB       NOT NULL,
    requested_by TEXT        NOT NULL,
    state        TEXT        NOT NULL CHECK (state IN ('queued', 'running', 'completed', 'failed')),
    total        BIGINT      NOT NULL DEFAULT 0,
    scheduled    BIGINT      NOT NULL DEFAULT 0,
    skipped      BIGINT      NOT NULL DEFAULT 0,
    error        TEXT,
    created_at   TIMESTAMPTZ NOT NULL,
    updated_at   TIMESTAMPTZ NOT NULL
);

-- Row Level Security, as for every other table (see 2026-11-28-000002_row_level_security).
ALTER TABLE webhook_delivery_log ENABLE ROW LEVEL SECURITY;
CREATE POLICY webhook_delivery_log_read ON webhook_delivery_log FOR SELECT
    USING (wedsync_has_permission('monitoring:read') OR wedsync_has_permission('monitoring:admin'));
CREATE POLICY webhook_delivery_log_write ON webhook_delivery_log FOR ALL
    USING (wedsync_has_permission('monitoring:admin'))
    WITH CHECK (wedsync_has_permission('monitoring:admin'));

ALTER TABLE webhook_delivery_attempts ENABLE ROW LEVEL SECURITY;
CREATE POLICY webhook_delivery_attempts_read ON webhook_delivery_attempts FOR SELECT
    USING (wedsync_has_permission('monitoring:read') OR wedsync_has_permission('monitoring:admin'));
CREATE POLICY webhook_delivery_attempts_write ON webhook_delivery_attempts FOR ALL
    USING (wedsync_has_permission('monitoring:admin'))
    WITH CHECK (wedsync_has_permission('monitoring:admin'));

ALTER TABLE webhook_replay_jobs ENABLE ROW LEVEL SECURITY;
CREATE POLICY webhook_replay_jobs_read ON webhook_replay_jobs FOR SELECT
    USING (wedsync_has_permission('monitoring:read') OR wedsync_has_permission('monitoring:admin'));
CREATE POLICY webhook_replay_jobs_write ON webhook_replay_jobs FOR ALL
    USING (wedsync_has_permission('monitoring:admin'))
    WITH CHECK (wedsync_has_permission('monitoring:admin'));
