-- WedSync monitoring schema (SQLite, the embedded default store).
-- Timestamps are INTEGER microseconds since the Unix epoch, UTC (sortable, compact, unambiguous).
-- Same tables, columns and indexes as migrations/postgres; see docs/storage.md.

CREATE TABLE service_health_metrics (
    id          INTEGER PRIMARY KEY,
    service     TEXT    NOT NULL,
    status      TEXT    NOT NULL
                CHECK (status IN ('healthy', 'degraded', 'unhealthy', 'auth_failed', 'rate_limited', 'unknown')),
    latency_ms  INTEGER CHECK (latency_ms >= 0),
    http_status INTEGER,
    detail      TEXT,
    checked_at  INTEGER NOT NULL,
    result      TEXT -- the full probe result as JSON, when known
);
CREATE INDEX service_health_metrics_service_checked_at ON service_health_metrics (service, checked_at DESC, status);
CREATE INDEX service_health_metrics_checked_at ON service_health_metrics (checked_at);

CREATE TABLE service_alerts (
    id                 INTEGER PRIMARY KEY,
    dedup_key          TEXT    NOT NULL UNIQUE,
    service            TEXT    NOT NULL,
    state              TEXT    NOT NULL DEFAULT 'open' CHECK (state IN ('open', 'resolved')),
    status             TEXT    NOT NULL,
    severity           TEXT    NOT NULL DEFAULT 'critical' CHECK (severity IN ('info', 'warning', 'critical')),
    summary            TEXT    NOT NULL DEFAULT '',
    wedding_day        INTEGER NOT NULL DEFAULT 0,
    opened_at          INTEGER NOT NULL,
    updated_at         INTEGER NOT NULL,
    resolved_at        INTEGER,
    last_notified_at   INTEGER,
    notifications_sent INTEGER NOT NULL DEFAULT 0
);
CREATE UNIQUE INDEX service_alerts_one_open_per_service ON service_alerts (service) WHERE state = 'open';
CREATE INDEX service_alerts_open_opened_at ON service_alerts (opened_at) WHERE state = 'open';
CREATE INDEX service_alerts_service_opened_at ON service_alerts (service, opened_at DESC);
CREATE INDEX service_alerts_resolved_at ON service_alerts (resolved_at) WHERE resolved_at IS NOT NULL;

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

CREATE TABLE circuit_breaker_status (
    name          TEXT    PRIMARY KEY,
    state         TEXT    NOT NULL
                  CHECK (state IN ('closed', 'open', 'half_open', 'disabled', 'forced_open', 'metrics_only')),
    failure_count INTEGER NOT NULL DEFAULT 0,
    success_count INTEGER NOT NULL DEFAULT 0,
    open_until    INTEGER,
    wedding_day   INTEGER,
    last_change   TEXT    NOT NULL,
    changed_from  TEXT,
    changed_by    TEXT    NOT NULL,
    changed_at    INTEGER NOT NULL,
    seq           INTEGER NOT NULL DEFAULT 0,
    version       INTEGER NOT NULL DEFAULT 1,
    updated_at    INTEGER NOT NULL
);
CREATE INDEX circuit_breaker_status_seq_idx ON circuit_breaker_status (seq);
CREATE INDEX circuit_breaker_status_updated_at ON circuit_breaker_status (updated_at);

CREATE TABLE monitoring_configuration (
    service    TEXT    NOT NULL,
    version    INTEGER NOT NULL CHECK (version > 0),
    settings   TEXT    NOT NULL,
    enabled    INTEGER NOT NULL DEFAULT 1,
    created_at INTEGER NOT NULL,
    created_by TEXT    NOT NULL,
    PRIMARY KEY (service, version)
);

CREATE TABLE api_keys (
    id           TEXT    PRIMARY KEY,
    name         TEXT    NOT NULL,
    key_prefix   TEXT    NOT NULL,
    key_hash     BLOB    NOT NULL UNIQUE,
    scopes       TEXT    NOT NULL, -- space-separated
    created_at   INTEGER NOT NULL,
    expires_at   INTEGER,
    revoked_at   INTEGER,
    last_used_at INTEGER
);
CREATE INDEX api_keys_created_at ON api_keys (created_at DESC);

CREATE TABLE audit_log (
    id         INTEGER PRIMARY KEY,
    at         INTEGER NOT NULL,
    actor      TEXT    NOT NULL,
    action     TEXT    NOT NULL,
    target     TEXT,
    detail     TEXT,
    request_id TEXT
);
CREATE INDEX audit_log_at ON audit_log (at DESC, id DESC);

CREATE TABLE notification_outbox (
    seq             INTEGER PRIMARY KEY,
    id              TEXT    NOT NULL UNIQUE,
    incident_key    TEXT    NOT NULL,
    service         TEXT    NOT NULL,
    sink            TEXT    NOT NULL,
    kind            TEXT    NOT NULL,
    payload         TEXT    NOT NULL,
    state           TEXT    NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'sent', 'dead')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,
    lease_owner     TEXT,
    lease_until     INTEGER,
    last_error      TEXT,
    created_at      INTEGER NOT NULL,
    sent_at         INTEGER
);
CREATE INDEX notification_outbox_due ON notification_outbox (next_attempt_at, seq) WHERE state = 'pending';
CREATE INDEX notification_outbox_incident ON notification_outbox (incident_key, seq);
CREATE INDEX notification_outbox_created_at ON notification_outbox (created_at);

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

CREATE TABLE service_health_rollups_hourly (
    service        TEXT    NOT NULL,
    bucket         INTEGER NOT NULL,
    checks         INTEGER NOT NULL,
    healthy        INTEGER NOT NULL,
    degraded       INTEGER NOT NULL,
    down           INTEGER NOT NULL,
    latency_sum_ms INTEGER NOT NULL,
    latency_max_ms INTEGER,
    PRIMARY KEY (service, bucket)
);
CREATE INDEX service_health_rollups_hourly_bucket ON service_health_rollups_hourly (bucket);

CREATE TABLE service_health_rollups_daily (
    service        TEXT    NOT NULL,
    bucket         INTEGER NOT NULL,
    checks         INTEGER NOT NULL,
    healthy        INTEGER NOT NULL,
    degraded       INTEGER NOT NULL,
    down           INTEGER NOT NULL,
    latency_sum_ms INTEGER NOT NULL,
    latency_max_ms INTEGER,
    PRIMARY KEY (service, bucket)
);
CREATE INDEX service_health_rollups_daily_bucket ON service_health_rollups_daily (bucket);
