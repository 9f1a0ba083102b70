-- Restores the first schema's webhook_delivery_log, webhook_delivery_attempts and delivery_queue.

DROP TABLE webhook_replay_jobs;
DROP TABLE webhook_delivery_attempts;
DROP TABLE webhook_delivery_log;

-- Webhook deliveries received from providers.
CREATE TABLE webhook_delivery_log (
    id              TEXT        PRIMARY KEY,
    provider        TEXT        NOT NULL,
    event_id        TEXT        NOT NULL,
    event_type      TEXT        NOT NULL,
    status          TEXT        NOT NULL,
    signature_valid BOOLEAN     NOT NULL DEFAULT TRUE,
    raw_body        BYTEA,
    sanitized_body  TEXT,
    attempts        INTEGER     NOT NULL DEFAULT 0,
    last_error      TEXT,
    received_at     TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    next_attempt_at TIMESTAMPTZ,
    completed_at    TIMESTAMPTZ
);
-- provider retries of the same event are recognised
CREATE UNIQUE INDEX webhook_delivery_log_provider_event ON webhook_delivery_log (provider, event_id);
CREATE INDEX webhook_delivery_log_received_at ON webhook_delivery_log (received_at DESC);
CREATE INDEX webhook_delivery_log_status_received_at ON webhook_delivery_log (status, received_at DESC);
-- raw-body retention only looks at rows that still hold a body
CREATE INDEX webhook_delivery_log_raw_body_received_at ON webhook_delivery_log (received_at) WHERE raw_body IS NOT NULL;

-- Each forwarding attempt of a delivery.
CREATE TABLE webhook_delivery_attempts (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    delivery_id TEXT        NOT NULL REFERENCES webhook_delivery_log (id) ON DELETE CASCADE,
    attempt     INTEGER     NOT NULL,
    started_at  TIMESTAMPTZ NOT NULL,
    finished_at TIMESTAMPTZ NOT NULL,
    outcome     TEXT        NOT NULL,
    http_status INTEGER,
    error       TEXT,
    UNIQUE (delivery_id, attempt)
);
CREATE INDEX webhook_delivery_attempts_finished_at ON webhook_delivery_attempts (finished_at);

-- The delivery queue: one row per job waiting or leased; a finished job is deleted.
CREATE TABLE delivery_queue (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    queue       TEXT        NOT NULL,
    delivery_id TEXT        NOT NULL,
    priority    SMALLINT    NOT NULL DEFAULT 0,
    run_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    attempts    INTEGER     NOT NULL DEFAULT 0,
    lease_owner TEXT,
    lease_until TIMESTAMPTZ,
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now()
);
-- claim: ready jobs, highest priority first, then earliest due
CREATE INDEX delivery_queue_ready ON delivery_queue (queue, priority DESC, run_at, id) WHERE lease_until IS NULL;
-- reclaim: leases that ran out
CREATE INDEX delivery_queue_leased ON delivery_queue (lease_until) WHERE lease_until IS NOT NULL;
CREATE INDEX delivery_queue_delivery_id ON delivery_queue (delivery_id);

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

ALTER TABLE delivery_queue ENABLE ROW LEVEL SECURITY;
CREATE POLICY delivery_queue_read ON delivery_queue FOR SELECT
    USING (wedsync_has_permission('monitoring:read') OR wedsync_has_permission('monitoring:admin'));
CREATE POLICY delivery_queue_write ON delivery_queue FOR ALL
    USING (wedsync_has_permission('monitoring:admin'))
    WITH CHECK (wedsync_has_permission('monitoring:admin'));

